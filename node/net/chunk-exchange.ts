/**
 * `/dits/chunks/1.0.0` (PROTOCOL.md §Chunks): serving the blocks this node holds, and `ChunkSession`, the
 * requesting end that a download opens to each source.
 *
 * Serving: wants are queued per stream in arrival order (a cancel removes a queued want), answered one by
 * one from the blockstore — whose `get` verifies, so a corrupt local block is quarantined there and answered
 * DONT_HAVE here — and sent with backpressure and an optional node-wide rate cap. The blocks read ahead and not
 * yet taken by the transport count against a budget per peer and one for the node (ServeBudget): a peer that
 * does not read gets nothing more, and its stream is closed once it has taken nothing for the write-idle timeout.
 * Anything over a limit, malformed or unexpected gets an `error` message, and the peer is penalized, which
 * closes its connections (PeerPenalties).
 */
import { ChunksMessage, Want, Presence } from '../../protocol/chunks.ts'
import { CHUNKS_PROTOCOL, MAX_MESSAGE_BYTES, MAX_REQUEST_MESSAGE_BYTES, MAX_BLOCK_BYTES, MAX_ENTRIES_PER_MESSAGE, MAX_STRING_CHARS, DEFAULT_MAX_OUTSTANDING_WANTS, DEFAULT_SERVE_PEER_BUDGET_BYTES, DEFAULT_SERVE_TOTAL_BUDGET_BYTES, DEFAULT_MAX_SERVE_STREAMS_PER_PEER, HAVE_UPDATE_INTERVAL_MS, MAX_HAVE_UPDATES_PER_SEC } from '../../protocol/index.ts'
import { FrameReader, writeFrame, varint } from './framing.ts'
import { ServeBudget } from '../../src/exchange/serve-budget.ts'
import { ServeSlots } from '../../src/exchange/serve-slots.ts'
import { isLanAddr } from './lan.ts'
import { cidKey, DAG_CBOR_CODE } from '../../src/cid.ts'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeBlockFrame, decodeChunksMessage, encodeBlockFrame, wireCid } from './wire.ts'
import { AccessRefusedError, ProtocolViolationError, RemoteProtocolError, PeerTimeoutError } from './errors.ts'
import { withDeadline } from './deadline.ts'
import { RateLimiter } from './rate-limiter.ts'
import { deferred } from '../deferred.ts'
import { MAX_FEEDS_PER_STREAM } from './swarm.ts'
import type { AbortOptions, Connection, PeerId, Startable, Stream, ComponentLogger, Logger } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { CID } from 'multiformats/cid'
import type { Deferred } from '../deferred.ts'
import type { PeerPenalties } from './penalties.ts'
import type { HaveFeed, SuperSeeder } from './swarm.ts'

/** A serving stream with no queued work that receives nothing for this long is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000
/** A requester's message must be accepted by the transport within this, and a closing stream must close. */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000
/**
 * A serving stream with bytes waiting to be sent that the peer takes none of for this long (it stopped reading)
 * is aborted, and its share of the serving budget freed.
 */
export const DEFAULT_WRITE_IDLE_TIMEOUT_MS = 10_000
/** Concurrent /dits/chunks streams per connection, each way. */
export const DEFAULT_MAX_STREAMS = 32
/** Blocks a serving stream reads (and verifies) ahead of the one it is sending. */
export const DEFAULT_READ_AHEAD_BLOCKS = 4
/** Received blocks a requesting stream verifies and stores at once. */
export const DEFAULT_BLOCK_CONCURRENCY = 4
/**
 * Presences a serving stream gathers before it sends them, while more wants are queued (an empty queue sends what
 * there is). Half the outstanding wants: a requester checking many CIDs (have-check.ts: it sends more once half are
 * answered) gets answers while the rest are looked up, and its next wants arrive before this end runs dry, instead
 * of one round trip per 1024; a quarter cost twice the messages (each a socket write) for no gain.
 */
const PRESENCE_FLUSH_ENTRIES = DEFAULT_MAX_OUTSTANDING_WANTS / 2
/** Decoded wants a responder buffers before it pauses the stream. */
const SERVE_HIGH_WATER_BYTES = MAX_REQUEST_MESSAGE_BYTES
/** Have-updates a serving stream holds for its peer before it drops the oldest (they are hints: bounded memory). */
const MAX_QUEUED_HAVE_UPDATES = 4 * MAX_ENTRIES_PER_MESSAGE

/** How a presence answered (PROTOCOL.md): `partial` and `defer` only to a peer with the "swarm" feature. */
export type PresenceKind = 'have' | 'dont-have' | 'partial' | 'defer'

/** The node's swarm, as the serving side sees it (set by the network once the host exists). */
export interface SwarmHooks {
  /** `peer` negotiated the "swarm" feature */
  supports(peer: PeerId): boolean
  /** a HAVE want of `root` from `peer`: the feed of a download of that root running here, if one runs */
  probe(root: CID, peer: PeerId): HaveFeed | undefined
  /** a peer is connected, so it can serve what it got (super-seeding asks it instead) */
  connected(peer: string): boolean
  /** on a seed: the super-seeding memory; absent elsewhere */
  superSeeder?: SuperSeeder
}

/** The blockstore as the network uses it. `get` verifies: corrupt → VerificationError, missing → NotFoundError. */
export interface NetworkBlockstore {
  has(cid: CID, options?: AbortOptions): Promise<boolean>
  /** has, for a fetch that will use the block: a gc keeps it while the fetch runs (DitsBlockstore.hold) */
  hold(cid: CID, options?: AbortOptions): Promise<boolean>
  /** a fetch in flight: a gc keeps what it writes and holds until `end` (DitsBlockstore.beginWrite) */
  beginWrite(): { end: () => void }
  get(cid: CID, options?: AbortOptions): Promise<Uint8Array>
  /**
   * `bytes` may come in pieces (a fetched block, in the frames it arrived in). `direct`: a hint that the block
   * goes to the disk now and is not read back soon; `inline`: that the caller does not sync blocks as it puts them
   * (see DitsBlockstore.put, whose result the network does not use)
   */
  put(cid: CID, bytes: Uint8Array | Uint8ArrayList, options?: AbortOptions & { trusted?: boolean, direct?: boolean, inline?: boolean }): Promise<unknown>
}

export interface ChunkExchangeInit {
  blockstore: NetworkBlockstore
  penalties: PeerPenalties
  /** Cap on the bytes this node serves per second, across all peers; unlimited when absent. */
  maxServeRateBytesPerSec?: number
  /**
   * Peers sent blocks at once (config `serve.slots`, ServeSlots): LAN peers get a free slot first, and a holder gives
   * its slot up after DEFAULT_SLOT_QUANTUM_MS while others wait; every peer at once when absent
   */
  slots?: number
  /** @default DEFAULT_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  /** @default DEFAULT_SEND_TIMEOUT_MS */
  sendTimeoutMs?: number
  /** @default DEFAULT_WRITE_IDLE_TIMEOUT_MS */
  writeIdleTimeoutMs?: number
  /** @default DEFAULT_SERVE_PEER_BUDGET_BYTES */
  servePeerBudgetBytes?: number
  /** @default DEFAULT_SERVE_TOTAL_BUDGET_BYTES */
  serveTotalBudgetBytes?: number
  /** @default DEFAULT_MAX_SERVE_STREAMS_PER_PEER */
  maxServeStreamsPerPeer?: number
  /** @default DEFAULT_MAX_OUTSTANDING_WANTS */
  maxOutstandingWants?: number
  /** @default DEFAULT_MAX_STREAMS */
  maxStreams?: number
  /** @default DEFAULT_READ_AHEAD_BLOCKS */
  readAheadBlocks?: number
  /**
   * Who may be served (the `read` role, DESIGN §10): the reason `peer` may not, or undefined when it may.
   * Asked for each stream a peer opens; everyone is served when absent.
   */
  refuse?(peer: PeerId): string | undefined
  /** told of every block the transport took for a peer (the daemon's metrics) */
  onServed?(peer: PeerId, bytes: number): void
}

export interface ChunkExchangeComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

export interface ServeStats {
  /** serving streams open now */
  streams: number
  blocksServed: number
  bytesServed: number
  /** wants answered DONT_HAVE (missing or failed verification on read) */
  dontHaves: number
  /** wants answered DEFER (super-seeding: sent to another peer of the swarm moments ago) */
  deferred: number
  violations: number
  /** serving streams closed because the peer took nothing for the write-idle timeout */
  writeTimeouts: number
  /** streams refused because the peer had DEFAULT_MAX_SERVE_STREAMS_PER_PEER open */
  refusedStreams: number
  /** block bytes held for peers now (read ahead or not yet taken by the transport) */
  heldBytes: number
  /** the most held at once, all peers and one peer */
  peakHeldBytes: number
  peakPeerBytes: number
}

export class ChunkExchange implements Startable {
  readonly idleTimeoutMs: number
  readonly sendTimeoutMs: number
  readonly writeIdleTimeoutMs: number
  readonly maxOutstandingWants: number
  private readonly maxServeStreamsPerPeer: number
  private readonly budget: ServeBudget
  private readonly maxStreams: number
  private readonly readAheadBlocks: number
  private readonly components: ChunkExchangeComponents
  private readonly blockstore: NetworkBlockstore
  private readonly penalties: PeerPenalties
  private readonly limiter?: RateLimiter
  private readonly slots?: ServeSlots
  private readonly refuse?: (peer: PeerId) => string | undefined
  private readonly onServed?: (peer: PeerId, bytes: number) => void
  private readonly log: Logger
  private readonly serving = new Set<Stream>()
  /** serving streams open per peer */
  private readonly servingPerPeer = new Map<string, number>()
  private readonly sessions = new Set<ChunkSession>()
  private readonly counters = { blocksServed: 0, bytesServed: 0, dontHaves: 0, violations: 0, writeTimeouts: 0, refusedStreams: 0, deferred: 0 }
  /** the node's swarm: partial answers, have-updates, super-seeding; none until the network sets it */
  swarm?: SwarmHooks
  private started = false

  constructor (components: ChunkExchangeComponents, init: ChunkExchangeInit) {
    this.components = components
    this.blockstore = init.blockstore
    this.penalties = init.penalties
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.sendTimeoutMs = init.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS
    this.writeIdleTimeoutMs = init.writeIdleTimeoutMs ?? DEFAULT_WRITE_IDLE_TIMEOUT_MS
    this.maxServeStreamsPerPeer = init.maxServeStreamsPerPeer ?? DEFAULT_MAX_SERVE_STREAMS_PER_PEER
    this.budget = new ServeBudget({
      perPeerBytes: Math.max(MAX_BLOCK_BYTES, init.servePeerBudgetBytes ?? DEFAULT_SERVE_PEER_BUDGET_BYTES),
      totalBytes: Math.max(MAX_BLOCK_BYTES, init.serveTotalBudgetBytes ?? DEFAULT_SERVE_TOTAL_BUDGET_BYTES)
    })
    this.maxOutstandingWants = init.maxOutstandingWants ?? DEFAULT_MAX_OUTSTANDING_WANTS
    this.maxStreams = init.maxStreams ?? DEFAULT_MAX_STREAMS
    this.readAheadBlocks = init.readAheadBlocks ?? DEFAULT_READ_AHEAD_BLOCKS
    this.limiter = init.maxServeRateBytesPerSec != null ? new RateLimiter(init.maxServeRateBytesPerSec) : undefined
    this.slots = init.slots != null ? new ServeSlots({ slots: init.slots }) : undefined
    this.refuse = init.refuse
    this.onServed = init.onServed
    this.log = components.logger.forComponent('dits:chunks')
  }

  readonly [Symbol.toStringTag] = 'dits:chunks'

  async start (): Promise<void> {
    await this.components.registrar.handle(CHUNKS_PROTOCOL, this.onStream, {
      maxInboundStreams: this.maxStreams,
      maxOutboundStreams: this.maxStreams
    })
    this.started = true
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(CHUNKS_PROTOCOL)
    for (const stream of this.serving) stream.abort(new Error('node stopping'))
    for (const session of this.sessions) session.close()
    this.serving.clear()
    this.started = false
  }

  isStarted (): boolean {
    return this.started
  }

  stats (): ServeStats {
    const { heldBytes, peakHeldBytes, peakPeerBytes } = this.budget.stats()
    return { streams: this.serving.size, ...this.counters, heldBytes, peakHeldBytes, peakPeerBytes }
  }

  /** Open a requesting stream to `peer` (dialing it if needed). */
  async openSession (peer: PeerId, handlers: ChunkSessionHandlers, options: AbortOptions = {}): Promise<ChunkSession> {
    const stream = await this.components.connectionManager.openStream(peer, CHUNKS_PROTOCOL, options)
    const session = new ChunkSession(stream, peer, {
      ...handlers,
      onClose: (err) => {
        this.sessions.delete(session)
        if (err instanceof ProtocolViolationError) {
          this.counters.violations++
          this.penalties.penalize(peer, err.message, 1, true)
        }
        handlers.onClose(err)
      }
    }, { sendTimeoutMs: this.sendTimeoutMs })
    this.sessions.add(session)
    return session
  }

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    const refusal = this.refuse?.(connection.remotePeer)
    if (refusal !== undefined) {
      // not a violation: the peer gets the reason, and nothing it asked for
      this.log('refusing chunks stream from %p: %s', connection.remotePeer, refusal)
      this.serving.add(stream)
      this.refuseStream(stream, new AccessRefusedError(refusal)).finally(() => this.serving.delete(stream))
      return
    }
    const peer = connection.remotePeer
    const key = peer.toString()
    const open = this.servingPerPeer.get(key) ?? 0
    if (open >= this.maxServeStreamsPerPeer) {
      this.counters.refusedStreams++
      stream.abort(new Error(`peer has ${open} /dits/chunks streams open, the most allowed`))
      return
    }
    this.servingPerPeer.set(key, open + 1)
    this.serving.add(stream)
    this.serve(stream, peer, isLanAddr(connection.remoteAddr))
      .catch(err => { this.log.error('serving %p failed - %e', peer, err) })
      .finally(() => {
        this.serving.delete(stream)
        const left = (this.servingPerPeer.get(key) ?? 1) - 1
        if (left === 0) this.servingPerPeer.delete(key)
        else this.servingPerPeer.set(key, left)
      })
  }

  private async serve (stream: Stream, peer: PeerId, lan: boolean): Promise<void> {
    const reader = new FrameReader(stream, { maxFrameBytes: MAX_REQUEST_MESSAGE_BYTES, highWaterBytes: SERVE_HIGH_WATER_BYTES })
    const queue = new Map<string, { cid: CID, type: Want.Type }>()
    const stop = new AbortController()
    const peerKey = peer.toString()
    let wake: Deferred<void> | undefined
    let readerDone = false
    let busy = false
    // this stream's share of the serving budget: blocks read ahead, and the block the transport has not yet taken
    let holding = 0
    const take = (bytes: number): boolean => {
      if (!this.budget.tryTake(peerKey, bytes)) return false
      holding += bytes
      return true
    }
    const give = (bytes: number): void => {
      holding -= bytes
      this.budget.give(peerKey, bytes)
    }
    let waitingForBudget = false
    let waitingForSlot = false
    const stopListening = this.budget.onRelease(() => { if (waitingForBudget) wake?.resolve() })
    const stopSlots = this.slots?.onRelease(() => { if (waitingForSlot) wake?.resolve() })
    let presences: Presence[] = []

    // have-updates (feature "swarm"): the chunks that downloads of the roots this peer asked for get here, sent at
    // most one message per HAVE_UPDATE_INTERVAL_MS, the oldest dropped beyond MAX_QUEUED_HAVE_UPDATES
    const swarm = this.swarm?.supports(peer) === true ? this.swarm : undefined
    const feeds = new Map<string, () => void>()
    const haveUpdates = new Map<string, CID>()
    let haveTimer: ReturnType<typeof setTimeout> | undefined
    let lastHaveAt = -Infinity
    // one message per interval, timed from the last one (setInterval's ticks bunch up after a busy event loop)
    const scheduleHaves = (): void => {
      if (haveTimer != null || haveUpdates.size === 0 || stop.signal.aborted) return
      haveTimer = setTimeout(() => {
        haveTimer = undefined
        lastHaveAt = performance.now()
        for (const [key, cid] of haveUpdates) {
          if (presences.length >= MAX_ENTRIES_PER_MESSAGE) break
          haveUpdates.delete(key)
          presences.push({ cid: cid.bytes, type: Presence.Type.HAVE })
        }
        wake?.resolve()
        scheduleHaves()
      }, Math.max(0, lastHaveAt + HAVE_UPDATE_INTERVAL_MS - performance.now()))
    }
    const queueHaves = (cids: CID[]): void => {
      for (const cid of cids) {
        const key = cidKey(cid)
        haveUpdates.delete(key)
        haveUpdates.set(key, cid)
        if (haveUpdates.size > MAX_QUEUED_HAVE_UPDATES) haveUpdates.delete(haveUpdates.keys().next().value as string)
      }
      scheduleHaves()
    }
    const follow = (root: CID, feed: HaveFeed): void => {
      const key = cidKey(root)
      if (feeds.has(key) || feeds.size >= MAX_FEEDS_PER_STREAM || stop.signal.aborted) return
      feeds.set(key, feed.subscribe(queueHaves))
      queueHaves(feed.held())
    }
    const unfollow = (): void => {
      clearTimeout(haveTimer)
      for (const off of feeds.values()) off()
      feeds.clear()
      haveUpdates.clear()
    }

    // wants taken off the queue whose block is being read (and verified) while earlier ones are sent; a block read
    // holds MAX_BLOCK_BYTES of the budget until its size is known
    const ahead: Array<{ key: string, want: { cid: CID, type: Want.Type }, result: Promise<Uint8Array | boolean | 'partial' | undefined>, reserved: number }> = []
    const cancelled = new Set<string>()
    const readAhead = (): void => {
      waitingForBudget = false
      waitingForSlot = false
      while (ahead.length < this.readAheadBlocks) {
        const next = queue.entries().next()
        if (next.done === true) return
        const [key, want] = next.value
        if (want.type === Want.Type.HAVE) {
          queue.delete(key)
          // a root being fetched here: this node holds part of it, and tells the peer what it gets from now on
          const feed = swarm?.probe(want.cid, peer)
          if (feed != null) follow(want.cid, feed)
          const result = feed != null ? Promise.resolve<'partial'>('partial') : this.blockstore.has(want.cid, { signal: stop.signal }).catch(() => false)
          ahead.push({ key, want, result, reserved: 0 })
          continue
        }
        if (this.slots != null && !this.slots.tryTake(peerKey, lan, performance.now())) {
          waitingForSlot = true
          return
        }
        if (!take(MAX_BLOCK_BYTES)) {
          waitingForBudget = true
          return
        }
        queue.delete(key)
        const entry = { key, want, reserved: MAX_BLOCK_BYTES, result: Promise.resolve<Uint8Array | undefined>(undefined) }
        entry.result = this.blockstore.get(want.cid, { signal: stop.signal }).then(block => {
          give(entry.reserved - block.byteLength)
          entry.reserved = block.byteLength
          return block
        }, (err: Error) => {
          if (err.name !== 'NotFoundError') this.log('not serving %c to %p: %s', want.cid, peer, err.message)
          give(entry.reserved)
          entry.reserved = 0
          return undefined
        })
        ahead.push(entry)
      }
    }

    const worker = async (): Promise<void> => {
      const flush = async (): Promise<void> => {
        if (presences.length === 0) return
        const batch = presences
        presences = []
        await this.send(stream, { presences: batch }, stop.signal)
      }
      for (;;) {
        readAhead()
        const head = ahead.shift()
        if (head == null) {
          // nothing more to send this peer for now: its serving slot goes to the next
          if (queue.size === 0) this.slots?.release(peerKey)
          await flush()
          if (readerDone && !waitingForBudget && !waitingForSlot) return
          wake = deferred<void>()
          await wake.promise
          if (stop.signal.aborted) return
          continue
        }
        busy = true
        const result = await head.result
        readAhead()
        if (cancelled.delete(head.key)) {
          give(head.reserved)
          busy = false
          continue
        }
        const cid = head.want.cid
        if (result === 'partial') {
          presences.push({ cid: cid.bytes, type: Presence.Type.PARTIAL })
        } else if (typeof result === 'boolean') {
          presences.push({ cid: cid.bytes, type: result ? Presence.Type.HAVE : Presence.Type.DONT_HAVE })
        } else if (result == null) {
          this.counters.dontHaves++
          presences.push({ cid: cid.bytes, type: Presence.Type.DONT_HAVE })
        } else if (cid.code !== DAG_CBOR_CODE && swarm?.superSeeder?.shouldDefer(head.key, peerKey, performance.now(), p => swarm.connected(p)) === true) {
          // a chunk sent to another peer of the swarm moments ago: this one gets it from there (or asks again).
          // Manifest nodes are small and nobody announces them: always sent
          this.counters.deferred++
          give(head.reserved)
          presences.push({ cid: cid.bytes, type: Presence.Type.DEFER })
        } else {
          await flush()
          await this.limiter?.take(result.byteLength, { signal: stop.signal })
          await this.sendBlock(stream, cid, result, stop.signal)
          // the transport has taken the block: its share of the budget goes to the next read
          give(head.reserved)
          this.counters.blocksServed++
          this.counters.bytesServed += result.byteLength
          this.onServed?.(peer, result.byteLength)
        }
        if (presences.length >= PRESENCE_FLUSH_ENTRIES) await flush()
        busy = false
      }
    }
    const working = worker().catch((err: Error) => {
      stop.abort(err)
      if (err instanceof PeerTimeoutError) {
        this.counters.writeTimeouts++
        this.log('closing chunks stream from %p: %s', peer, err.message)
      }
      stream.abort(err)
    })
    // the reader waits for the worker once the stream fails or ends
    const settle = async (): Promise<void> => {
      unfollow()
      stopSlots?.()
      await working
      await Promise.all(ahead.map(async a => await a.result))
      stopListening()
      this.slots?.release(peerKey)
      if (holding > 0) give(holding)
    }

    try {
      for (;;) {
        let frame
        try {
          frame = await withDeadline(stop.signal, this.idleTimeoutMs, async signal => await reader.next({ signal }))
        } catch (err) {
          // quiet while we are still answering: not idle
          if (err instanceof PeerTimeoutError && !stop.signal.aborted && (busy || queue.size > 0 || ahead.length > 0)) continue
          throw err
        }
        if (frame == null) break
        const msg = decodeChunksMessage(frame)
        if (msg.blocks.length > 0 || msg.presences.length > 0) throw new ProtocolViolationError('a requester may send only wants and cancels')
        if (msg.error !== '') throw new RemoteProtocolError(`peer closed the stream: ${msg.error}`)
        for (const c of msg.cancels) {
          const key = cidKey(wireCid(c, 'cancel'))
          if (!queue.delete(key) && ahead.some(a => a.key === key)) cancelled.add(key)
        }
        for (const w of msg.wants) {
          const cid = wireCid(w.cid, 'want')
          queue.set(cidKey(cid), { cid, type: w.type })
          if (queue.size + ahead.length > this.maxOutstandingWants) throw new ProtocolViolationError(`more than ${this.maxOutstandingWants} outstanding wants`)
        }
        wake?.resolve()
      }
      readerDone = true
      wake?.resolve()
      await settle()
      reader.release()
      if (stop.signal.aborted) return
      await stream.close({ signal: AbortSignal.timeout(this.sendTimeoutMs) }).catch(() => stream.abort(new PeerTimeoutError('close timed out')))
    } catch (err) {
      readerDone = true
      stop.abort(err)
      wake?.resolve()
      reader.release()
      if (err instanceof ProtocolViolationError) {
        this.counters.violations++
        this.log('closing chunks connection of %p: %s', peer, err.message)
        await sendErrorAndAbort(stream, err)
        this.penalties.penalize(peer, err.message, 1, true)
      } else if (err instanceof PeerTimeoutError) {
        await stream.close({ signal: AbortSignal.timeout(this.sendTimeoutMs) }).catch(() => stream.abort(err))
      } else {
        stream.abort(err as Error)
      }
      await settle()
    }
  }

  /**
   * Answer a stream with `err` and nothing else. The reason goes out once the peer's first message has come
   * (a requester attaches its reader when its stream opens; a message sent before that may be lost), and this
   * end then closes for writing; whatever else the peer sends is never read. The stream is aborted if the peer
   * says nothing, or does not close its end, within the idle and send timeouts.
   */
  private async refuseStream (stream: Stream, err: Error): Promise<void> {
    const reader = new FrameReader(stream, { maxFrameBytes: MAX_MESSAGE_BYTES })
    try {
      await withDeadline(undefined, this.idleTimeoutMs, async signal => await reader.next({ signal }))
      reader.release()
      await this.send(stream, { error: err.message.slice(0, MAX_STRING_CHARS) }, AbortSignal.timeout(this.sendTimeoutMs))
      await stream.close({ signal: AbortSignal.timeout(this.sendTimeoutMs) })
    } catch {
      reader.release()
      stream.abort(err)
    }
  }

  private async send (stream: Stream, msg: Partial<ChunksMessage>, signal: AbortSignal): Promise<void> {
    const body = ChunksMessage.encode(msg)
    stream.send(varint(body.byteLength))
    stream.send(body)
    await waitWritten(stream, this.writeIdleTimeoutMs, signal)
  }

  /**
   * A block message without copying the block into it: the bulk of what a node sends. Returns once the transport
   * has taken all of it (the stream's write buffer is empty), so a stream buffers at most one block.
   */
  private async sendBlock (stream: Stream, cid: CID, data: Uint8Array, signal: AbortSignal): Promise<void> {
    const [header, body] = encodeBlockFrame(cid.bytes, data)
    stream.send(header)
    stream.send(body)
    await waitWritten(stream, this.writeIdleTimeoutMs, signal)
  }
}

/**
 * Wait until the transport has taken everything written to `stream`. A peer that takes nothing for `idleMs`
 * (a reader that stopped reading: its yamux window stays shut) fails the wait with a PeerTimeoutError. libp2p's
 * `onDrain` is no help here: once one drain has happened it resolves at once for good (@libp2p/utils 7.4).
 */
export async function waitWritten (stream: Stream, idleMs: number, signal: AbortSignal): Promise<void> {
  while (stream.writeBufferLength > 0) {
    signal.throwIfAborted()
    if (stream.writeStatus !== 'writable') throw new PeerTimeoutError(`stream closed with ${stream.writeBufferLength} bytes unsent`)
    const before = stream.writeBufferLength
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        cleanup()
        // a drain lets the stream send again in a microtask: look after it has
        setImmediate(resolve)
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new PeerTimeoutError(`peer took none of ${before} bytes in ${idleMs / 1000} s: not reading`))
      }, idleMs)
      const onAbort = (): void => {
        cleanup()
        reject(signal.reason)
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        stream.removeEventListener('drain', done)
        stream.removeEventListener('idle', done)
        stream.removeEventListener('close', done)
        signal.removeEventListener('abort', onAbort)
      }
      stream.addEventListener('drain', done)
      stream.addEventListener('idle', done)
      stream.addEventListener('close', done)
      signal.addEventListener('abort', onAbort)
    })
  }
}

/** Tell the peer why (best effort, bounded), then abort the stream. */
async function sendErrorAndAbort (stream: Stream, err: Error): Promise<void> {
  try {
    if (stream.writeStatus === 'writable') {
      const body = ChunksMessage.encode({ error: err.message.slice(0, MAX_STRING_CHARS) })
      stream.send(varint(body.byteLength))
      stream.send(body)
      await stream.close({ signal: AbortSignal.timeout(1000) })
    }
  } catch {}
  stream.abort(err)
}

export function chunkExchange (init: ChunkExchangeInit): (components: ChunkExchangeComponents) => ChunkExchange {
  return (components) => new ChunkExchange(components, init)
}

export interface ChunkSessionHandlers {
  /**
   * A block arrived (unverified), in the pieces it arrived in. Awaited: the session reads nothing more until it
   * settles.
   */
  onBlock(cid: CID, bytes: Uint8ArrayList): Promise<void>
  /** `have`: HAVE or PARTIAL; `kind` says which presence it was */
  onPresence(cid: CID, have: boolean, kind: PresenceKind): void
  /** The session ended: `err` is undefined for a clean close by either side. */
  onClose(err?: Error): void
}

export interface ChunkSessionInit {
  sendTimeoutMs: number
  /** @default DEFAULT_BLOCK_CONCURRENCY */
  blockConcurrency?: number
}

const PRESENCE_KINDS: Record<Presence.Type, PresenceKind> = {
  [Presence.Type.HAVE]: 'have',
  [Presence.Type.DONT_HAVE]: 'dont-have',
  [Presence.Type.PARTIAL]: 'partial',
  [Presence.Type.DEFER]: 'defer'
}

/** The requesting end of one /dits/chunks stream. Wants and cancels are written in call order. */
export class ChunkSession {
  readonly peer: PeerId
  private readonly stream: Stream
  private readonly handlers: ChunkSessionHandlers
  private readonly sendTimeoutMs: number
  private readonly blockConcurrency: number
  private readonly reader: FrameReader
  private tail: Promise<void> = Promise.resolve()
  private closed = false
  /** HAVE wants not yet answered: a HAVE presence beyond them is a have-update, which is rate-bounded */
  private haveWants = 0
  private haveTokens = MAX_HAVE_UPDATES_PER_SEC
  private haveTokensAt = performance.now()

  constructor (stream: Stream, peer: PeerId, handlers: ChunkSessionHandlers, init: ChunkSessionInit) {
    this.stream = stream
    this.peer = peer
    this.handlers = handlers
    this.sendTimeoutMs = init.sendTimeoutMs
    this.blockConcurrency = init.blockConcurrency ?? DEFAULT_BLOCK_CONCURRENCY
    this.reader = new FrameReader(stream, { maxFrameBytes: MAX_MESSAGE_BYTES })
    this.readLoop().then(() => { this.end() }, (err: Error) => { this.end(err) })
  }

  get isClosed (): boolean {
    return this.closed
  }

  /** Bytes the peer has sent on this stream, whole messages or not. */
  get bytesReceived (): number {
    return this.reader.bytesRead
  }

  want (cids: CID[], type: 'block' | 'have'): void {
    const t = type === 'block' ? Want.Type.BLOCK : Want.Type.HAVE
    if (type === 'have') this.haveWants += cids.length
    for (let i = 0; i < cids.length; i += MAX_ENTRIES_PER_MESSAGE) {
      this.write({ wants: cids.slice(i, i + MAX_ENTRIES_PER_MESSAGE).map(c => ({ cid: c.bytes, type: t })) })
    }
  }

  cancel (cids: CID[]): void {
    for (let i = 0; i < cids.length; i += MAX_ENTRIES_PER_MESSAGE) {
      this.write({ cancels: cids.slice(i, i + MAX_ENTRIES_PER_MESSAGE).map(c => c.bytes) })
    }
  }

  /** Stop: nothing more is sent or delivered. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.reader.release()
    this.stream.close({ signal: AbortSignal.timeout(this.sendTimeoutMs) })
      .catch(() => {})
      .finally(() => {
        if (this.stream.status === 'open') this.stream.abort(new Error('session closed'))
      })
    this.handlers.onClose()
  }

  private write (msg: Partial<ChunksMessage>): void {
    if (this.closed) return
    const bytes = ChunksMessage.encode(msg)
    this.tail = this.tail.then(async () => {
      if (this.closed) return
      await writeFrame(this.stream, bytes, { signal: AbortSignal.timeout(this.sendTimeoutMs) })
    }).catch((err: Error) => { this.end(err) })
  }

  private async readLoop (): Promise<void> {
    // blocks are verified and stored a few at a time, so disk writes overlap; reading waits when all are busy
    const handling = new Set<Promise<void>>()
    const deliver = async (cid: CID, bytes: Uint8ArrayList): Promise<void> => {
      const handled: Promise<void> = this.handlers.onBlock(cid, bytes)
        .catch((err: Error) => { this.end(err) })
        .finally(() => handling.delete(handled))
      handling.add(handled)
      if (handling.size >= this.blockConcurrency) await Promise.race(handling)
    }
    try {
      for (;;) {
        const frame = await this.reader.nextPieces()
        if (frame == null || this.closed) return
        // the bulk of what a session receives: one block per message, read without copying its data together
        const block = decodeBlockFrame(frame)
        if (block != null) {
          await deliver(wireCid(block.cid, 'block'), block.data)
          continue
        }
        const msg = decodeChunksMessage(frame)
        if (msg.wants.length > 0 || msg.cancels.length > 0) throw new ProtocolViolationError('a responder may send only presences and blocks')
        if (msg.error !== '') throw new RemoteProtocolError(`peer closed the stream: ${msg.error}`)
        for (const p of msg.presences) {
          const cid = wireCid(p.cid, 'presence')
          const kind = PRESENCE_KINDS[p.type]
          if (kind === 'have' || kind === 'partial' || (kind === 'dont-have' && this.haveWants > 0)) {
            if (this.haveWants > 0) this.haveWants--
            else this.chargeHaveUpdate()
          }
          this.handlers.onPresence(cid, kind === 'have' || kind === 'partial', kind)
        }
        for (const b of msg.blocks) {
          const cid = wireCid(b.cid, 'block')
          if (this.closed) return
          await deliver(cid, new Uint8ArrayList(b.data))
        }
      }
    } finally {
      await Promise.all(handling)
    }
  }

  /** One unsolicited HAVE presence (a have-update) against the stream's bucket; over MAX_HAVE_UPDATES_PER_SEC, a violation. */
  private chargeHaveUpdate (): void {
    const now = performance.now()
    this.haveTokens = Math.min(MAX_HAVE_UPDATES_PER_SEC, this.haveTokens + (now - this.haveTokensAt) * MAX_HAVE_UPDATES_PER_SEC / 1000)
    this.haveTokensAt = now
    if (--this.haveTokens < 0) throw new ProtocolViolationError(`more than ${MAX_HAVE_UPDATES_PER_SEC} have-updates a second`)
  }

  private end (err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.reader.release()
    if (err != null) {
      if (err instanceof ProtocolViolationError) void sendErrorAndAbort(this.stream, err)
      else this.stream.abort(err)
    } else {
      this.stream.close({ signal: AbortSignal.timeout(this.sendTimeoutMs) }).catch(() => {})
    }
    this.handlers.onClose(err)
  }
}
