/**
 * Size limits shared by the wire protocols, the manifest format and the blockstore (DESIGN §2, §5).
 */

/** No block — chunk or manifest node — may exceed this. */
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024

/**
 * Nested directories a manifest tree may have, its root directory included. A walk of a deeper tree stops at
 * this level with an error naming it: a directory chain of 32,000 levels otherwise took a daemon from 159 MiB
 * to 3.9 GiB and then out of memory. Paths on disk stop well before it (PATH_MAX is 4,096 bytes).
 */
export const MAX_DIR_DEPTH = 256

/**
 * Levels of `part` nodes below a file manifest. A file is at most Number.MAX_SAFE_INTEGER (< 2^53) bytes, and
 * every node of an honest tree but the last of a level holds at least two links (the builder fills a node to
 * MAX_LINKS_PER_NODE, 8,192, before it opens the next: ~370 KiB of links, well within MAX_BLOCK_BYTES), so even
 * a tree of one-byte chunks at two links per node is at most 53 levels deep; a real one is 2-3. A deeper tree is
 * hostile (a 10,000-deep chain overflowed the stack).
 */
export const MAX_PART_DEPTH = 64

/**
 * The largest length-prefixed /dits/chunks message body: one block of MAX_BLOCK_BYTES plus room for its
 * CID, the protobuf envelope and a batch of presences. The varint length prefix comes on top.
 */
export const MAX_MESSAGE_BYTES = MAX_BLOCK_BYTES + 64 * 1024
/**
 * The largest /dits/chunks message a requester may send (wants and cancels only): 1024 wants and 1024 cancels of
 * the longest CIDs fit with room to spare. A responder reads no larger frame, so a stream's unread wants stay small.
 */
export const MAX_REQUEST_MESSAGE_BYTES = 256 * 1024
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
/**
 * Block bytes a responder holds for one peer, across all its streams: blocks read ahead and blocks the transport
 * has not yet taken. A block read reserves MAX_BLOCK_BYTES until its size is known, so a peer that reads nothing
 * holds at most two blocks' worth of the responder's memory, and gets nothing more until it reads.
 */
export const DEFAULT_SERVE_PEER_BUDGET_BYTES = 2 * MAX_BLOCK_BYTES
/** Block bytes a responder holds for all peers together (the same accounting): wants beyond it wait. */
export const DEFAULT_SERVE_TOTAL_BUDGET_BYTES = 32 * 1024 * 1024
/** Serving /dits/chunks streams one peer may have open at once, across its connections; more are refused. */
export const DEFAULT_MAX_SERVE_STREAMS_PER_PEER = 16

/**
 * The largest /dits/raft message body. An append carries at most ~1 MiB of entries (the Raft core's
 * DEFAULT_MAX_SIZE_PER_MSG_BYTES) plus one entry of up to MAX_CONSENSUS_PAYLOAD_BYTES; a snapshot of the
 * refs+locks state machine is the one large message, and a group whose snapshot outgrows this cannot bring a
 * lagging voter back (PROTOCOL.md, consensus "Limits and timeouts").
 */
export const MAX_RAFT_MESSAGE_BYTES = 64 * 1024 * 1024
/** Entries one /dits/raft append may carry (a 1 MiB batch of the smallest entries stays below this). */
export const MAX_RAFT_ENTRIES_PER_MESSAGE = 65_536
/** Voters named in one /dits/raft snapshot. */
export const MAX_RAFT_VOTERS = 16
/** A /dits/consensus request or response `payload` (a command is at most 64 KiB; replies to reads are bigger). */
export const MAX_CONSENSUS_PAYLOAD_BYTES = 16 * 1024 * 1024
/** The largest /dits/consensus message body: a payload plus its envelope. */
export const MAX_CONSENSUS_MESSAGE_BYTES = MAX_CONSENSUS_PAYLOAD_BYTES + 64 * 1024
/** Requests a voter works on at once for one client stream; it stops reading the stream beyond this. */
export const MAX_CONSENSUS_INFLIGHT_REQUESTS = 256
/** Multiaddrs in one ADD_VOTER request or Redirect. */
export const MAX_CONSENSUS_ADDRS = 32
/**
 * Chunks one SPECULATE request may name. A request is kept small so that the seed fetches it in seconds and answers
 * it whole: a workstation uploading more sends more requests.
 */
export const MAX_SPECULATE_CHUNKS = 1024
/** Bytes the chunks of one SPECULATE request may add up to (as the requester states them, each checked on receipt). */
export const MAX_SPECULATE_BYTES = 64 * 1024 * 1024
/**
 * The largest /dits/seed request body: a kind and one CID, or a SPECULATE of MAX_SPECULATE_CHUNKS entries of the
 * longest CIDs (each at most 2 + (2 + MAX_CID_BYTES) + 11 bytes) and its ttl.
 */
export const MAX_SEED_REQUEST_BYTES = MAX_SPECULATE_CHUNKS * (2 + 2 + MAX_CID_BYTES + 11) + 1024
/** The largest /dits/seed response body: counters, a few pin reasons, or a failure of MAX_STRING_CHARS characters. */
export const MAX_SEED_RESPONSE_BYTES = 8 * 1024
/** Pin reasons one ROOT_STATUS answer may list (there are three today). */
export const MAX_SEED_PIN_REASONS = 16
/**
 * A node fetching a root sends have-updates (HAVE presences for the chunks it got) on each stream that asked it for
 * that root, at most one message per this interval (feature "swarm", PROTOCOL.md "Swarm").
 */
export const HAVE_UPDATE_INTERVAL_MS = 250
/**
 * HAVE presences a requester accepts per second on one stream beyond the answers to its HAVE wants (have-updates;
 * the sender's pace is at most MAX_ENTRIES_PER_MESSAGE per HAVE_UPDATE_INTERVAL_MS): a token bucket of this size,
 * refilled at this rate. More is a violation.
 */
export const MAX_HAVE_UPDATES_PER_SEC = 8192
