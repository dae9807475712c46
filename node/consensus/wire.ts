/**
 * Converting between the Raft core's plain-data messages (src/raft/types.ts) and their /dits/raft protobuf
 * form, and decoding both consensus protocols with every list and size bounded (PROTOCOL.md, consensus "Limits and timeouts").
 */
import { RaftMessage, Entry as WireEntry, SnapshotAck } from '../../protocol/raft.ts'
import { ConsensusRequest, ConsensusResponse } from '../../protocol/consensus.ts'
import {
  MAX_RAFT_ENTRIES_PER_MESSAGE, MAX_RAFT_VOTERS, MAX_CONSENSUS_ADDRS, MAX_CONSENSUS_PAYLOAD_BYTES, MAX_STRING_CHARS
} from '../../protocol/limits.ts'
import { ProtocolViolationError } from '../net/errors.ts'
import { varint } from '../net/framing.ts'
import type { Entry, EntryType, Message, MessageType } from '../../src/raft/index.ts'
import type { Uint8ArrayList } from 'uint8arraylist'

const TO_WIRE_TYPE: Record<MessageType, RaftMessage.Type> = {
  App: RaftMessage.Type.APP,
  AppResp: RaftMessage.Type.APP_RESP,
  Vote: RaftMessage.Type.VOTE,
  VoteResp: RaftMessage.Type.VOTE_RESP,
  PreVote: RaftMessage.Type.PRE_VOTE,
  PreVoteResp: RaftMessage.Type.PRE_VOTE_RESP,
  Heartbeat: RaftMessage.Type.HEARTBEAT,
  HeartbeatResp: RaftMessage.Type.HEARTBEAT_RESP,
  Snapshot: RaftMessage.Type.SNAPSHOT,
  TimeoutNow: RaftMessage.Type.TIMEOUT_NOW,
  ReadIndex: RaftMessage.Type.READ_INDEX,
  ReadIndexResp: RaftMessage.Type.READ_INDEX_RESP
}
const FROM_WIRE_TYPE = new Map<RaftMessage.Type, MessageType>(Object.entries(TO_WIRE_TYPE).map(([k, v]) => [v, k as MessageType]))

const TO_WIRE_ENTRY: Record<EntryType, WireEntry.Type> = {
  normal: WireEntry.Type.NORMAL,
  confchange: WireEntry.Type.CONF_CHANGE,
  empty: WireEntry.Type.EMPTY
}
const FROM_WIRE_ENTRY = new Map<WireEntry.Type, EntryType>(Object.entries(TO_WIRE_ENTRY).map(([k, v]) => [v, k as EntryType]))

/** Longest peer id string accepted in a Raft message (ours are ~52 characters). */
const MAX_PEER_ID_CHARS = 128

export function encodeRaftMessage (m: Message): Uint8Array {
  return RaftMessage.encode({
    type: TO_WIRE_TYPE[m.type],
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: (m.entries ?? []).map(e => ({ term: e.term, index: e.index, type: TO_WIRE_ENTRY[e.type], data: e.data })),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    snapshot: m.snapshot,
    context: m.context
  })
}

/** A Raft message off the wire, in the core's form; ProtocolViolationError if malformed or over a limit. */
export function decodeRaftMessage (frame: Uint8Array | Uint8ArrayList): Message {
  let w: RaftMessage
  try {
    w = RaftMessage.decode(frame, { limits: { entries: MAX_RAFT_ENTRIES_PER_MESSAGE, snapshot: { voters: MAX_RAFT_VOTERS } } })
  } catch (err) {
    throw new ProtocolViolationError(`malformed raft message: ${(err as Error).message}`)
  }
  const type = FROM_WIRE_TYPE.get(w.type)
  if (type === undefined) throw new ProtocolViolationError(`raft message of unknown type ${String(w.type)}`)
  if (w.from === '' || w.from.length > MAX_PEER_ID_CHARS || w.to === '' || w.to.length > MAX_PEER_ID_CHARS) {
    throw new ProtocolViolationError('raft message without a valid from/to peer id')
  }
  const m: Message = { type, from: w.from, to: w.to, term: w.term }
  if (w.logTerm !== undefined) m.logTerm = w.logTerm
  if (w.index !== undefined) m.index = w.index
  if (w.commit !== undefined) m.commit = w.commit
  if (w.reject !== undefined) m.reject = w.reject
  if (w.rejectHint !== undefined) m.rejectHint = w.rejectHint
  if (w.context !== undefined) m.context = w.context
  if (type === 'App') {
    m.entries = w.entries.map((e): Entry => {
      const t = FROM_WIRE_ENTRY.get(e.type)
      if (t === undefined) throw new ProtocolViolationError(`raft entry of unknown type ${String(e.type)}`)
      return { term: e.term, index: e.index, type: t, data: e.data }
    })
  }
  if (w.snapshot !== undefined) {
    if (w.snapshot.voters.some(v => v === '' || v.length > MAX_PEER_ID_CHARS)) throw new ProtocolViolationError('snapshot names an invalid voter id')
    m.snapshot = { index: w.snapshot.index, term: w.snapshot.term, voters: w.snapshot.voters, data: w.snapshot.data }
  }
  if (type === 'Snapshot' && m.snapshot === undefined) throw new ProtocolViolationError('raft SNAPSHOT message without a snapshot')
  return m
}

export function encodeSnapshotAck (ok: boolean, error = ''): Uint8Array {
  return SnapshotAck.encode({ ok, error: error.slice(0, MAX_STRING_CHARS) })
}

export function decodeSnapshotAck (frame: Uint8Array | Uint8ArrayList): SnapshotAck {
  try {
    return SnapshotAck.decode(frame)
  } catch (err) {
    throw new ProtocolViolationError(`malformed snapshot ack: ${(err as Error).message}`)
  }
}

export function decodeConsensusRequest (frame: Uint8Array | Uint8ArrayList): ConsensusRequest {
  let r: ConsensusRequest
  try {
    r = ConsensusRequest.decode(frame, { limits: { addrs: MAX_CONSENSUS_ADDRS } })
  } catch (err) {
    throw new ProtocolViolationError(`malformed consensus request: ${(err as Error).message}`)
  }
  if (r.payload.byteLength > MAX_CONSENSUS_PAYLOAD_BYTES) throw new ProtocolViolationError(`consensus request payload over ${MAX_CONSENSUS_PAYLOAD_BYTES} bytes`)
  if (r.peer.length > MAX_PEER_ID_CHARS || r.addrs.some(a => a.length > MAX_STRING_CHARS)) throw new ProtocolViolationError('consensus request peer or address too long')
  return r
}

export function decodeConsensusResponse (frame: Uint8Array | Uint8ArrayList): ConsensusResponse {
  let r: ConsensusResponse
  try {
    r = ConsensusResponse.decode(frame, { limits: { redirect: { addrs: MAX_CONSENSUS_ADDRS } } })
  } catch (err) {
    throw new ProtocolViolationError(`malformed consensus response: ${(err as Error).message}`)
  }
  if (r.payload.byteLength > MAX_CONSENSUS_PAYLOAD_BYTES) throw new ProtocolViolationError(`consensus response payload over ${MAX_CONSENSUS_PAYLOAD_BYTES} bytes`)
  const strings = [r.error?.name ?? '', r.error?.message ?? '', r.redirect?.leader ?? '', ...(r.redirect?.addrs ?? [])]
  if (strings.some(s => s.length > 4 * MAX_STRING_CHARS)) throw new ProtocolViolationError('consensus response carries an over-long string')
  return r
}

/** Frames `bodies` (unsigned-varint length prefixes) into one buffer, for a single `stream.send`. */
export function frameAll (bodies: Uint8Array[]): Uint8Array {
  let size = 0
  const prefixes = bodies.map(b => {
    const p = varint(b.byteLength)
    size += p.byteLength + b.byteLength
    return p
  })
  const out = new Uint8Array(size)
  let at = 0
  for (const [i, b] of bodies.entries()) {
    out.set(prefixes[i], at)
    at += prefixes[i].byteLength
    out.set(b, at)
    at += b.byteLength
  }
  return out
}
