/**
 * Decoding and checking /dits/chunks messages (PROTOCOL.md §Chunks): every list is bounded, every CID must
 * parse, every block must fit MAX_BLOCK_BYTES, and each side may only send the fields of its role.
 */
import { CID } from 'multiformats/cid'
import { ChunksMessage } from '../../protocol/chunks.ts'
import { MAX_ENTRIES_PER_MESSAGE, MAX_CID_BYTES, MAX_BLOCK_BYTES, MAX_STRING_CHARS } from '../../protocol/index.ts'
import { ProtocolViolationError } from './errors.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

const BLOCKS_TAG = (4 << 3) | 2
const CID_TAG = (1 << 3) | 2
const DATA_TAG = (2 << 3) | 2

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

/**
 * One length-prefixed chunks message carrying one block, as the bytes to send: a small header (the frame's length
 * prefix, the message and Block envelopes, the CID, the data's length) and the block's own bytes, not copied.
 * Byte for byte what `ChunksMessage.encode({ blocks: [{ cid, data }] })` behind its varint prefix would be.
 */
export function encodeBlockFrame (cid: Uint8Array, data: Uint8Array): [header: Uint8Array, data: Uint8Array] {
  // Block { bytes cid = 1; bytes data = 2 } inside ChunksMessage { repeated Block blocks = 4 }
  const blockLength = 1 + varintLength(cid.byteLength) + cid.byteLength + 1 + varintLength(data.byteLength) + data.byteLength
  const messageLength = 1 + varintLength(blockLength) + blockLength
  const header = new Uint8Array(varintLength(messageLength) + messageLength - data.byteLength)
  let at = putVarint(header, 0, messageLength)
  header[at++] = BLOCKS_TAG
  at = putVarint(header, at, blockLength)
  header[at++] = CID_TAG
  at = putVarint(header, at, cid.byteLength)
  header.set(cid, at)
  at += cid.byteLength
  header[at++] = DATA_TAG
  putVarint(header, at, data.byteLength)
  return [header, data]
}

/**
 * The block of a message laid out exactly as encodeBlockFrame lays it out (one block, cid then data, nothing
 * else): its CID's bytes and its data as a view of the frame's pieces, not copied. Undefined for any other
 * message, which decodeChunksMessage reads (the same fields in any other protobuf layout decode the same there).
 */
export function decodeBlockFrame (frame: Uint8ArrayList): { cid: Uint8Array, data: Uint8ArrayList } | undefined {
  const end = frame.byteLength
  if (end === 0 || frame.get(0) !== BLOCKS_TAG) return undefined
  const block = getVarint(frame, 1)
  if (block == null || block.at + block.value !== end || block.at >= end || frame.get(block.at) !== CID_TAG) return undefined
  const cid = getVarint(frame, block.at + 1)
  if (cid == null || cid.at + cid.value >= end) return undefined
  let at = cid.at + cid.value
  if (frame.get(at++) !== DATA_TAG) return undefined
  const data = getVarint(frame, at)
  if (data == null || data.at + data.value !== end) return undefined
  if (data.value > MAX_BLOCK_BYTES) throw new ProtocolViolationError(`block of ${data.value} bytes exceeds the ${MAX_BLOCK_BYTES}-byte limit`)
  return { cid: frame.subarray(cid.at, cid.at + cid.value), data: frame.sublist(data.at, end) }
}

/** The varint at `at` (at most 5 bytes, within the frame) and where what follows it starts. */
function getVarint (frame: Uint8ArrayList, at: number): { value: number, at: number } | undefined {
  let value = 0
  for (let shift = 0; shift < 35 && at < frame.byteLength; shift += 7) {
    const b = frame.get(at++)
    value += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) return { value, at }
  }
  return undefined
}

function varintLength (n: number): number {
  let length = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    length++
  }
  return length
}

function putVarint (into: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    into[at++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  into[at++] = n
  return at
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
