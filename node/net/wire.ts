/**
 * Decoding and checking /dits/chunks messages (PROTOCOL.md §Chunks): every list is bounded, every CID must
 * parse, every block must fit MAX_BLOCK_BYTES, and each side may only send the fields of its role.
 */
import { CID } from 'multiformats/cid'
import { ChunksMessage } from '../../protocol/chunks.ts'
import { MAX_ENTRIES_PER_MESSAGE, MAX_CID_BYTES, MAX_BLOCK_BYTES, MAX_STRING_CHARS } from '../../protocol/index.ts'
import { ProtocolViolationError } from './errors.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

const LIMITS = {
  wants: MAX_ENTRIES_PER_MESSAGE,
  cancels: MAX_ENTRIES_PER_MESSAGE,
  presences: MAX_ENTRIES_PER_MESSAGE,
  blocks: MAX_ENTRIES_PER_MESSAGE
}

/** Decode one chunks message; anything malformed or over a limit is a ProtocolViolationError. */
export function decodeChunksMessage (frame: Uint8Array | Uint8ArrayList): ChunksMessage {
  let msg: ChunksMessage
  try {
    msg = ChunksMessage.decode(frame, { limits: LIMITS })
  } catch (err) {
    throw new ProtocolViolationError(`malformed chunks message: ${(err as Error).message}`)
  }
  if (msg.error.length > MAX_STRING_CHARS) throw new ProtocolViolationError(`error text longer than ${MAX_STRING_CHARS} characters`)
  for (const b of msg.blocks) {
    if (b.data.byteLength > MAX_BLOCK_BYTES) throw new ProtocolViolationError(`block of ${b.data.byteLength} bytes exceeds the ${MAX_BLOCK_BYTES}-byte limit`)
  }
  return msg
}

/** Parse a binary CID off the wire, naming the field in the error. */
export function wireCid (bytes: Uint8Array, field: string): CID {
  if (bytes.byteLength > MAX_CID_BYTES) throw new ProtocolViolationError(`${field}: CID of ${bytes.byteLength} bytes exceeds ${MAX_CID_BYTES}`)
  try {
    return CID.decode(bytes)
  } catch (err) {
    throw new ProtocolViolationError(`${field}: malformed CID: ${(err as Error).message}`)
  }
}
