/**
 * Size limits shared by the wire protocols, the manifest format and the blockstore (DESIGN §2, §5).
 */

/** No block — chunk or manifest node — may exceed this. */
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024

/**
 * The largest length-prefixed /dits/chunks message body: one block of MAX_BLOCK_BYTES plus room for its
 * CID, the protobuf envelope and a batch of presences. The varint length prefix comes on top.
 */
export const MAX_MESSAGE_BYTES = MAX_BLOCK_BYTES + 64 * 1024
/** The largest /dits/hello message body. */
export const MAX_HELLO_BYTES = 16 * 1024
/** Entries of each kind (wants, cancels, presences, blocks) one /dits/chunks message may carry. */
export const MAX_ENTRIES_PER_MESSAGE = 1024
/** Longest binary CID accepted on the wire (ours are 36 bytes; 64 leaves room for other hashes). */
export const MAX_CID_BYTES = 64
/** Items in each list of a Hello (protocols, roles, features). */
export const MAX_HELLO_LIST_ITEMS = 64
/** Characters in any one string of a Hello, and in a chunks `error`. */
export const MAX_STRING_CHARS = 1024
/** Wants a responder queues for one stream before it treats more as abuse (advertised in Hello). */
export const DEFAULT_MAX_OUTSTANDING_WANTS = 1024
/** Block bytes a requester may have asked one peer for and not yet received (advertised in Hello). */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024
