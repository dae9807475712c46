/**
 * `/dits/raft/1.0.0`: Raft messages between voters over the node's libp2p host (PROTOCOL.md, "Consensus protocols").
 *
 * Sending: one long-lived outbound stream per peer and a bounded queue in front of it; whatever queued while
 * the previous write was in flight goes out as one write. A failed dial or write drops the queue and reports
 * the peer unreachable to the core (which stops pipelining to it and probes again: Raft tolerates lost
 * messages), and the next send after a short backoff dials again. A snapshot travels alone on a fresh stream
 * and the receiver acknowledges it, so the core learns whether it arrived (reportSnapshot).
 *
 * Receiving: every frame is bounded (MAX_RAFT_MESSAGE_BYTES) and handed, with the connection's authenticated
 * remote peer, to `onMessage`, which steps it only if the core admits it (src/raft/membership.ts): sent by
 * the peer it claims, addressed to us, from a voter of the current configuration. A forged sender or a wrong
 * address is a protocol violation (the stream is aborted and the peer scored down); a message from a peer
 * that is not a voter is dropped, logged once per peer per `refusalIntervalMs`, and scored down at that same
 * pace — so that a voter this node has not yet learned of (its `add` is still on the way) is not banned for
 * the few messages it sends before the log catches up, while a stranger that keeps talking is. A stream idle
 * for longer than `idleTimeoutMs` is closed (the sender opens a new one when it has something to say).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { RAFT_PROTOCOL } from '../../protocol/ids.ts'
import { MAX_RAFT_MESSAGE_BYTES } from '../../protocol/limits.ts'
import { FrameReader, writeFrame } from '../net/framing.ts'
import { PeerTimeoutError, ProtocolViolationError } from '../net/errors.ts'
import { decodeRaftMessage, decodeSnapshotAck, encodeRaftMessage, encodeSnapshotAck, frameAll } from './wire.ts'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Message, Refusal } from '../../src/raft/index.ts'

/** How long a dial to a voter may take. */
export const DEFAULT_RAFT_DIAL_TIMEOUT_MS = 2_000
/** How long one write may wait for the stream to drain before the peer counts as unreachable. */
export const DEFAULT_RAFT_SEND_TIMEOUT_MS = 5_000
/** An inbound stream that carries nothing for this long is closed. */
export const DEFAULT_RAFT_IDLE_TIMEOUT_MS = 60_000
/** How long a snapshot transfer (send + acknowledgement) may take. */
export const DEFAULT_RAFT_SNAPSHOT_TIMEOUT_MS = 60_000
/** Messages queued for one peer; beyond this the oldest are dropped (the core re-sends what matters). */
export const DEFAULT_RAFT_MAX_QUEUED_MESSAGES = 4_096
/** After a failed dial, sends to that peer are dropped for this long before the next dial. */
export const DEFAULT_RAFT_REDIAL_BACKOFF_MS = 100
/** Messages refused from a non-voter are logged, and the peer scored down, at most once per this interval. */
export const DEFAULT_RAFT_REFUSAL_INTERVAL_MS = 10_000
/** Peers whose last refusal time is remembered; beyond this the oldest are forgotten. */
const MAX_REFUSAL_RECORDS = 1_024

/** What the transport needs from the libp2p host. */
export interface RaftTransportComponents {
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number, maxOutboundStreams?: number }): Promise<void>
  unhandle(protocol: string): Promise<void>
  dialProtocol(target: PeerId | Multiaddr | Multiaddr[], protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
  getConnections(peer?: PeerId): Connection[]
}

export interface RaftTransportInit {
  /** this voter's peer id */
  self: string
  /** known addresses of voters, by peer id (from consensus.voters and `cluster add`) */
  addresses: Map<string, string[]>
  electionMs: number
  /** step a message that arrived from `remote` (the authenticated peer); a refusal if it was not admitted */
  onMessage(m: Message, remote: string): Refusal | undefined
  /**
   * score a misbehaving peer down (node/net/penalties.ts); `disconnect` for a protocol violation (a malformed or
   * oversized frame, a forged sender), which also closes every connection to it
   */
  penalize?(peer: string, reason: string, disconnect?: boolean): void
  onUnreachable(peer: string): void
  onSnapshotStatus(peer: string, ok: boolean): void
  /** @default DEFAULT_RAFT_DIAL_TIMEOUT_MS */
  dialTimeoutMs?: number
  /** @default DEFAULT_RAFT_SEND_TIMEOUT_MS */
  sendTimeoutMs?: number
  /** @default DEFAULT_RAFT_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  /** @default DEFAULT_RAFT_SNAPSHOT_TIMEOUT_MS */
  snapshotTimeoutMs?: number
  /** @default DEFAULT_RAFT_MAX_QUEUED_MESSAGES */
  maxQueuedMessages?: number
  /** @default DEFAULT_RAFT_REFUSAL_INTERVAL_MS */
  refusalIntervalMs?: number
  log?(message: string): void
}

export class RaftTransport {
  private readonly host: RaftTransportComponents
  private readonly init: RaftTransportInit
  private readonly dialTimeoutMs: number
  private readonly sendTimeoutMs: number
  private readonly idleTimeoutMs: number
  private readonly snapshotTimeoutMs: number
  private readonly maxQueued: number
  private readonly refusalIntervalMs: number
  /** when each non-voter's refusal was last logged and scored */
  private readonly refusedAt = new Map<string, number>()
  private readonly peers = new Map<string, PeerSender>()
  private readonly lastHeard = new Map<string, number>()
  private readonly inbound = new Set<Stream>()
  private running = false

  constructor (host: RaftTransportComponents, init: RaftTransportInit) {
    this.host = host
    this.init = init
    this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULT_RAFT_DIAL_TIMEOUT_MS
    this.sendTimeoutMs = init.sendTimeoutMs ?? DEFAULT_RAFT_SEND_TIMEOUT_MS
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_RAFT_IDLE_TIMEOUT_MS
    this.snapshotTimeoutMs = init.snapshotTimeoutMs ?? DEFAULT_RAFT_SNAPSHOT_TIMEOUT_MS
    this.maxQueued = init.maxQueuedMessages ?? DEFAULT_RAFT_MAX_QUEUED_MESSAGES
    this.refusalIntervalMs = init.refusalIntervalMs ?? DEFAULT_RAFT_REFUSAL_INTERVAL_MS
  }

  async start (): Promise<void> {
    await this.host.handle(RAFT_PROTOCOL, this.onStream, { maxInboundStreams: 64, maxOutboundStreams: 64 })
    this.running = true
  }

  async stop (): Promise<void> {
    this.running = false
    await this.host.unhandle(RAFT_PROTOCOL).catch(() => {})
    for (const p of this.peers.values()) p.close()
    this.peers.clear()
    for (const s of this.inbound) s.abort(new Error('node stopping'))
    this.inbound.clear()
  }

  /** Remember where a voter can be reached (a voter added with `cluster add`). */
  addPeer (id: string, addrs: string[]): void {
    const known = this.init.addresses.get(id) ?? []
    this.init.addresses.set(id, [...new Set([...known, ...addrs])])
  }

  /** Queue messages for their voters; never blocks. A voter's messages of one call go out in one write. */
  send (messages: Message[]): void {
    if (!this.running) return
    const byPeer = new Map<string, Message[]>()
    for (const m of messages) {
      if (m.to === this.init.self) continue
      if (m.type === 'Snapshot') {
        this.sendSnapshot(m).catch(() => {})
        continue
      }
      const batch = byPeer.get(m.to)
      if (batch === undefined) byPeer.set(m.to, [m])
      else batch.push(m)
    }
    for (const [to, batch] of byPeer) {
      let peer = this.peers.get(to)
      if (peer === undefined) {
        peer = new PeerSender(this, to)
        this.peers.set(to, peer)
      }
      peer.enqueue(batch)
    }
  }

  /**
   * Connected right now, or heard from within half an election timeout. A killed voter's connections close
   * at once (its kernel resets them), so it stops counting without waiting for a timeout; a voter that
   * stays silent on an open connection (a follower talks only to the leader) still counts.
   */
  /**
   * A voter is reachable over an open connection — unless that connection has carried messages before and
   * then fell silent for two election timeouts: after a silent cut (a blackholed route) libp2p keeps showing
   * the connection open for a while, and the no-quorum message then said "3 of 3 voters reachable". Two
   * followers never message each other, so a connection that has never carried anything still counts.
   */
  reachable (id: string): boolean {
    if (id === this.init.self) return true
    let open = false
    try {
      open = this.host.getConnections(peerIdFromString(id)).some(c => c.status === 'open')
    } catch {
      return false
    }
    const heard = this.lastHeard.get(id)
    return open && (heard === undefined || Date.now() - heard <= 2 * this.init.electionMs)
  }

  // ---- used by PeerSender ----

  get maxQueuedMessages (): number {
    return this.maxQueued
  }

  get sendTimeout (): number {
    return this.sendTimeoutMs
  }

  async open (id: string, signal: AbortSignal): Promise<Stream> {
    const addrs = this.init.addresses.get(id) ?? []
    const target: PeerId | Multiaddr[] = addrs.length > 0 ? addrs.map(a => multiaddr(a)) : peerIdFromString(id)
    return await this.host.dialProtocol(target, RAFT_PROTOCOL, { signal })
  }

  get dialTimeout (): number {
    return this.dialTimeoutMs
  }

  /** A message to `id` was dropped unsent (queue full, or backing off after a failed dial). */
  reportDropped (id: string): void {
    this.init.onUnreachable(id)
  }

  unreachable (id: string, why: string): void {
    this.init.log?.(`raft: ${id} unreachable: ${why}`)
    this.init.onUnreachable(id)
  }

  // ---------------------------------------------------------------------------------------------------------

  private async sendSnapshot (m: Message): Promise<void> {
    const signal = AbortSignal.timeout(this.snapshotTimeoutMs)
    let stream: Stream | undefined
    try {
      stream = await this.open(m.to, signal)
      const reader = new FrameReader(stream, { maxFrameBytes: 4096 })
      await writeFrame(stream, encodeRaftMessage(m), { signal })
      const frame = await reader.next({ signal })
      if (frame === undefined) throw new ProtocolViolationError('stream closed before the snapshot was acknowledged')
      const ack = decodeSnapshotAck(frame)
      reader.release()
      await stream.close({ signal }).catch(() => {})
      if (!ack.ok) throw new Error(`peer refused the snapshot: ${ack.error}`)
      this.init.onSnapshotStatus(m.to, true)
    } catch (err) {
      stream?.abort(err as Error)
      this.init.log?.(`raft: snapshot at ${m.snapshot?.index ?? '?'} to ${m.to} failed: ${(err as Error).message}`)
      this.init.onSnapshotStatus(m.to, false)
      this.init.onUnreachable(m.to)
    }
  }

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    this.serve(stream, connection).catch(err => {
      this.init.log?.(`raft: inbound stream from ${connection.remotePeer.toString()} failed: ${(err as Error).message}`)
    })
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer.toString()
    this.inbound.add(stream)
    const reader = new FrameReader(stream, { maxFrameBytes: MAX_RAFT_MESSAGE_BYTES })
    try {
      for (;;) {
        const frame = await reader.next({ signal: AbortSignal.timeout(this.idleTimeoutMs) })
        if (frame === undefined) break
        const m = decodeRaftMessage(frame)
        if (!this.running) break
        if (m.type === 'Snapshot') {
          let error = ''
          try {
            const refusal = this.deliver(m, remote)
            if (refusal !== undefined) error = refusal.message
          } catch (err) {
            error = (err as Error).message
          }
          await writeFrame(stream, encodeSnapshotAck(error === '', error), { signal: AbortSignal.timeout(this.sendTimeoutMs) })
          break
        }
        this.deliver(m, remote)
      }
      reader.release()
      await stream.close({ signal: AbortSignal.timeout(this.sendTimeoutMs) }).catch(() => stream.abort(new PeerTimeoutError('close timed out')))
    } catch (err) {
      reader.release()
      stream.abort(err as Error)
      if (err instanceof ProtocolViolationError) this.init.penalize?.(remote, `raft: ${err.message}`, true)
      throw err
    } finally {
      this.inbound.delete(stream)
    }
  }

  /**
   * Step one message, or deal with its refusal: a forged sender or a wrong address throws (a violation: the
   * stream is aborted, the peer disconnected and scored); a non-voter's message is dropped and costs a point once
   * per interval, without a disconnect (a removed voter may not know it yet).
   */
  private deliver (m: Message, remote: string): Refusal | undefined {
    const refusal = this.init.onMessage(m, remote)
    if (refusal === undefined) {
      this.lastHeard.set(remote, Date.now())
      return undefined
    }
    if (refusal.reason !== 'not-a-member') throw new ProtocolViolationError(refusal.message)
    const now = Date.now()
    const last = this.refusedAt.get(remote)
    if (last === undefined || now - last >= this.refusalIntervalMs) {
      if (this.refusedAt.size >= MAX_REFUSAL_RECORDS) this.refusedAt.delete(this.refusedAt.keys().next().value as string)
      this.refusedAt.delete(remote)
      this.refusedAt.set(remote, now)
      this.init.log?.(`raft: dropped ${refusal.message} (logged once per ${this.refusalIntervalMs} ms per peer)`)
      this.init.penalize?.(remote, refusal.message)
    }
    return refusal
  }
}

/** The outbound side towards one voter: a queue and at most one stream, written by one pump at a time. */
class PeerSender {
  private readonly transport: RaftTransport
  private readonly id: string
  private queue: Message[] = []
  private stream?: Stream
  private pumping = false
  private backoffUntil = 0
  private closed = false

  constructor (transport: RaftTransport, id: string) {
    this.transport = transport
    this.id = id
  }

  enqueue (messages: Message[]): void {
    if (this.closed) return
    if (Date.now() < this.backoffUntil) {
      // dialing again this soon would only fail again; the core re-sends what it still needs
      this.transport.reportDropped(this.id)
      return
    }
    this.queue.push(...messages)
    const excess = this.queue.length - this.transport.maxQueuedMessages
    if (excess > 0) {
      this.queue.splice(0, excess)
      this.transport.reportDropped(this.id)
    }
    if (!this.pumping) this.pump().catch(() => {})
  }

  close (): void {
    this.closed = true
    this.queue = []
    this.stream?.abort(new Error('node stopping'))
    this.stream = undefined
  }

  /**
   * Writes until the queue is empty. `pumping` is cleared in this function's own `finally`, which runs before
   * it returns when it never had to wait (the usual case). Cleared by a callback on the returned promise, it
   * stayed set past the end of the enqueue() that started the pump, and a message enqueued in that window
   * (the next one of the same Ready) sat in the queue until some later message came along.
   */
  private async pump (): Promise<void> {
    this.pumping = true
    try {
      while (this.queue.length > 0 && !this.closed) {
        if (this.stream === undefined || this.stream.status !== 'open' || this.stream.writeStatus !== 'writable') {
          this.stream?.abort(new Error('stale stream'))
          this.stream = undefined
          try {
            const stream = await this.transport.open(this.id, AbortSignal.timeout(this.transport.dialTimeout))
            // the receiver never writes on this stream; when it closes its end (idle, restart), stop using it
            const stale = (): void => { if (this.stream === stream) this.stream = undefined }
            stream.addEventListener('remoteCloseWrite', stale, { once: true })
            stream.addEventListener('close', stale, { once: true })
            this.stream = stream
          } catch (err) {
            this.fail(`dial failed: ${(err as Error).message}`, true)
            return
          }
        }
        const batch = coalesceAppends(this.queue)
        this.queue = []
        try {
          const stream = this.stream
          if (!stream.send(frameAll(batch.map(encodeRaftMessage)))) {
            await stream.onDrain({ signal: AbortSignal.timeout(this.transport.sendTimeout) })
          }
        } catch (err) {
          this.fail(`send failed: ${(err as Error).message}`, false)
          return
        }
      }
    } finally {
      this.pumping = false
    }
  }

  private fail (why: string, backoff: boolean): void {
    this.stream?.abort(new Error(why))
    this.stream = undefined
    this.queue = []
    if (backoff) this.backoffUntil = Date.now() + DEFAULT_RAFT_REDIAL_BACKOFF_MS
    this.transport.unreachable(this.id, why)
  }
}

/** Entry bytes one coalesced append may carry (the core's own batches are at most 1 MiB). */
const MAX_COALESCED_ENTRY_BYTES = 1024 * 1024

/**
 * Merge appends that continue each other (the leader sends one per proposal) into one message: the
 * follower appends the same entries in the same order and answers once for all of them, which the leader
 * reads as the answer to each (an acknowledged index covers everything before it, and Raft tolerates the
 * intermediate answers never being sent). Other messages keep their place.
 */
export function coalesceAppends (messages: Message[]): Message[] {
  const out: Message[] = []
  let bytes = 0
  for (const m of messages) {
    const prev = out[out.length - 1]
    const size = (m.entries ?? []).reduce((n, e) => n + e.data.byteLength, 0)
    if (
      prev !== undefined && prev.type === 'App' && m.type === 'App' && prev.term === m.term && prev.to === m.to &&
      (m.entries?.length ?? 0) > 0 && (prev.index ?? 0) + (prev.entries?.length ?? 0) === m.index &&
      bytes + size <= MAX_COALESCED_ENTRY_BYTES
    ) {
      out[out.length - 1] = { ...prev, entries: [...(prev.entries ?? []), ...(m.entries ?? [])], commit: Math.max(prev.commit ?? 0, m.commit ?? 0) }
      bytes += size
      continue
    }
    out.push(m)
    bytes = size
  }
  return out
}

