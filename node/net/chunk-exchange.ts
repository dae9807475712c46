/**
 * `/dits/chunks/1.0.0` (PROTOCOL.md §Chunks): serving the blocks this node holds, and `ChunkSession`, the
 * requesting end that a download opens to each source.
 *
 * Serving: wants are queued per stream in arrival order (a cancel removes a queued want), answered one by
 * one from the blockstore — whose `get` verifies, so a corrupt local block is quarantined there and answered
 * DONT_HAVE here — and sent with backpressure and an optional node-wide rate cap. Anything over a limit,
 * malformed or unexpected gets an `error` message, the stream is aborted and the peer is penalized.
 */
import { ChunksMessage, Want, Presence } from '../../protocol/chunks.ts'
import { CHUNKS_PROTOCOL, MAX_MESSAGE_BYTES, MAX_ENTRIES_PER_MESSAGE, MAX_STRING_CHARS, DEFAULT_MAX_OUTSTANDING_WANTS } from '../../protocol/index.ts'
import { FrameReader, writeFrame, varint } from './framing.ts'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeBlockFrame, decodeChunksMessage, encodeBlockFrame, wireCid } from './wire.ts'
import { AccessRefusedError, ProtocolViolationError, RemoteProtocolError, PeerTimeoutError } from './errors.ts'
import { withDeadline } from './deadline.ts'
import { RateLimiter } from './rate-limiter.ts'
import { deferred } from '../deferred.ts'
import type { AbortOptions, Connection, PeerId, Startable, Stream, ComponentLogger, Logger } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { CID } from 'multiformats/cid'
import type { Deferred } from '../deferred.ts'
import type { PeerPenalties } from './penalties.ts'

/** A serving stream with no queued work that receives nothing for this long is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000
/** One message must be accepted by the transport within this, or the stream is aborted. */
export const DEFAULT_SEND_TIMEOUT_MS = 30_000
/** Concurrent /dits/chunks streams per connection, each way. */
export const DEFAULT_MAX_STREAMS = 32
/** Blocks a serving stream reads (and verifies) ahead of the one it is sending. */
export const DEFAULT_READ_AHEAD_BLOCKS = 4
/** Received blocks a requesting stream verifies and stores at once. */
export const DEFAULT_BLOCK_CONCURRENCY = 4
/** Decoded wants a responder buffers before it pauses the stream. */
const SERVE_HIGH_WATER_BYTES = 1024 * 1024

/** The blockstore as the network uses it. `get` verifies: corrupt → VerificationError, missing → NotFoundError. */
export interface NetworkBlockstore {
  has(cid: CID, options?: AbortOptions): Promise<boolean>
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
  /** @default DEFAULT_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  /** @default DEFAULT_SEND_TIMEOUT_MS */
  sendTimeoutMs?: number
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
  violations: number
}

export class ChunkExchange implements Startable {
  readonly idleTimeoutMs: number
  readonly sendTimeoutMs: number
  readonly maxOutstandingWants: number
  private readonly maxStreams: number
  private readonly readAheadBlocks: number
  private readonly components: ChunkExchangeComponents
  private readonly blockstore: NetworkBlockstore
  private readonly penalties: PeerPenalties
  private readonly limiter?: RateLimiter
  private readonly refuse?: (peer: PeerId) => string | undefined
  private readonly log: Logger
  private readonly serving = new Set<Stream>()
  private readonly sessions = new Set<ChunkSession>()
  private readonly counters = { blocksServed: 0, bytesServed: 0, dontHaves: 0, violations: 0 }
  private started = false

  constructor (components: ChunkExchangeComponents, init: ChunkExchangeInit) {
    this.components = components
    this.blockstore = init.blockstore
    this.penalties = init.penalties
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.sendTimeoutMs = init.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS
    this.maxOutstandingWants = init.maxOutstandingWants ?? DEFAULT_MAX_OUTSTANDING_WANTS
    this.maxStreams = init.maxStreams ?? DEFAULT_MAX_STREAMS
    this.readAheadBlocks = init.readAheadBlocks ?? DEFAULT_READ_AHEAD_BLOCKS
    this.limiter = init.maxServeRateBytesPerSec != null ? new RateLimiter(init.maxServeRateBytesPerSec) : undefined
    this.refuse = init.refuse
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
    return { streams: this.serving.size, ...this.counters }
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
          this.penalties.penalize(peer, err.message)
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
    this.serving.add(stream)
    this.serve(stream, connection.remotePeer)
      .catch(err => { this.log.error('serving %p failed - %e', connection.remotePeer, err) })
      .finally(() => this.serving.delete(stream))
  }

  private async serve (stream: Stream, peer: PeerId): Promise<void> {
    const reader = new FrameReader(stream, { maxFrameBytes: MAX_MESSAGE_BYTES, highWaterBytes: SERVE_HIGH_WATER_BYTES })
    const queue = new Map<string, { cid: CID, type: Want.Type }>()
    const stop = new AbortController()
    let wake: Deferred<void> | undefined
    let readerDone = false
    let busy = false

    // wants taken off the queue whose block is being read (and verified) while earlier ones are sent
    const ahead: Array<{ key: string, want: { cid: CID, type: Want.Type }, result: Promise<Uint8Array | boolean | undefined> }> = []
    const cancelled = new Set<string>()
    const readAhead = (): void => {
      while (ahead.length < this.readAheadBlocks) {
        const next = queue.entries().next()
        if (next.done === true) return
        const [key, want] = next.value
        queue.delete(key)
        const result = want.type === Want.Type.HAVE
          ? this.blockstore.has(want.cid, { signal: stop.signal }).catch(() => false)
          : this.blockstore.get(want.cid, { signal: stop.signal }).catch((err: Error) => {
            if (err.name !== 'NotFoundError') this.log('not serving %c to %p: %s', want.cid, peer, err.message)
            return undefined
          })
        ahead.push({ key, want, result })
      }
    }

    const worker = async (): Promise<void> => {
      let presences: Presence[] = []
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
          await flush()
          if (readerDone) return
          wake = deferred<void>()
          await wake.promise
          continue
        }
        busy = true
        const result = await head.result
        readAhead()
        if (cancelled.delete(head.key)) {
          busy = false
          continue
        }
        const cid = head.want.cid
        if (typeof result === 'boolean') {
          presences.push({ cid: cid.bytes, type: result ? Presence.Type.HAVE : Presence.Type.DONT_HAVE })
        } else if (result == null) {
          this.counters.dontHaves++
          presences.push({ cid: cid.bytes, type: Presence.Type.DONT_HAVE })
        } else {
          await flush()
          await this.limiter?.take(result.byteLength, { signal: stop.signal })
          await this.sendBlock(stream, cid, result, stop.signal)
          this.counters.blocksServed++
          this.counters.bytesServed += result.byteLength
        }
        if (presences.length >= MAX_ENTRIES_PER_MESSAGE) await flush()
        busy = false
      }
    }
    const working = worker().catch((err: Error) => {
      stop.abort(err)
      stream.abort(err)
    })

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
          const key = wireCid(c, 'cancel').toString()
          if (!queue.delete(key) && ahead.some(a => a.key === key)) cancelled.add(key)
        }
        for (const w of msg.wants) {
          const cid = wireCid(w.cid, 'want')
          queue.set(cid.toString(), { cid, type: w.type })
          if (queue.size + ahead.length > this.maxOutstandingWants) throw new ProtocolViolationError(`more than ${this.maxOutstandingWants} outstanding wants`)
        }
        wake?.resolve()
      }
      readerDone = true
      wake?.resolve()
      await working
      reader.release()
      await stream.close({ signal: AbortSignal.timeout(this.sendTimeoutMs) }).catch(() => stream.abort(new PeerTimeoutError('close timed out')))
    } catch (err) {
      readerDone = true
      stop.abort(err)
      wake?.resolve()
      reader.release()
      if (err instanceof ProtocolViolationError) {
        this.counters.violations++
        this.log('closing chunks stream from %p: %s', peer, err.message)
        this.penalties.penalize(peer, err.message)
        await sendErrorAndAbort(stream, err)
      } else if (err instanceof PeerTimeoutError) {
        await stream.close({ signal: AbortSignal.timeout(this.sendTimeoutMs) }).catch(() => stream.abort(err))
      } else {
        stream.abort(err as Error)
      }
      await working
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
    await withDeadline(signal, this.sendTimeoutMs, async signal => { await writeFrame(stream, ChunksMessage.encode(msg), { signal }) })
  }

  /** A block message without copying the block into it: the bulk of what a node sends. */
  private async sendBlock (stream: Stream, cid: CID, data: Uint8Array, signal: AbortSignal): Promise<void> {
    const [header, body] = encodeBlockFrame(cid.bytes, data)
    const sent = stream.send(header)
    if (!stream.send(body) || !sent) await withDeadline(signal, this.sendTimeoutMs, async signal => { await stream.onDrain({ signal }) })
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
  onPresence(cid: CID, have: boolean): void
  /** The session ended: `err` is undefined for a clean close by either side. */
  onClose(err?: Error): void
}

export interface ChunkSessionInit {
  sendTimeoutMs: number
  /** @default DEFAULT_BLOCK_CONCURRENCY */
  blockConcurrency?: number
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

  want (cids: CID[], type: 'block' | 'have'): void {
    const t = type === 'block' ? Want.Type.BLOCK : Want.Type.HAVE
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
        for (const p of msg.presences) this.handlers.onPresence(wireCid(p.cid, 'presence'), p.type === Presence.Type.HAVE)
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
