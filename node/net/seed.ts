/**
 * `/dits/seed/1.0.0` (PROTOCOL.md, "/dits/seed/1.0.0"): asking a seed to keep a root, or chunks for a while. Both ends
 * live here: the seed's service (`SeedService`: admission by role, one request per stream, progress streamed while a
 * push or a speculate runs, the work cancelled when its stream goes) and the client calls `pushRoot`,
 * `requestRootStatus` and `speculate`. What a push does on the seed — fetch what it lacks from the pusher, fsync,
 * pin — and what a speculate does — fetch the chunks it lacks from the requester, fsync, record them as speculative
 * until an expiry — is the `SeedHandler`'s business (node/seed/keeper.ts).
 *
 * @example
 * ```ts
 * const done = await pushRoot(network.libp2p, '/ip4/10.0.0.2/tcp/4101/p2p/12D3KooW…', root, {
 *   signal, onProgress: p => console.log(p.bytes_fetched, 'of', p.bytes_total - p.bytes_already)
 * })
 * const status = await requestRootStatus(network.libp2p, seedPeerId, root)   // { reasons: ['push'], dag: 'complete', … }
 *
 * // chunks this node holds, uploaded ahead of a push (issue 18's speculative transport); at most
 * // MAX_SPECULATE_CHUNKS of at most MAX_SPECULATE_BYTES together per call
 * const r = await speculate(network.libp2p, seedPeerId, [{ cid, bytes: 1048576 }], { signal })
 * // { chunks: 1, chunks_already: 0, chunks_fetched: 1, bytes_accepted: 1048576, expires_at: 1765…, quota_bytes, quota_used_bytes, … }
 * ```
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { SeedRequest, SeedResponse, PushProgress as WirePushProgress, RootStatus as WireRootStatus } from '../../protocol/seed.ts'
import { SEED_PROTOCOL, MAX_SEED_REQUEST_BYTES, MAX_SEED_RESPONSE_BYTES, MAX_SEED_PIN_REASONS, MAX_STRING_CHARS, MAX_SPECULATE_CHUNKS, MAX_SPECULATE_BYTES, MAX_BLOCK_BYTES } from '../../protocol/index.ts'
import { FrameReader, varint } from './framing.ts'
import { wireCid } from './wire.ts'
import { waitWritten } from './chunk-exchange.ts'
import { withDeadline } from './deadline.ts'
import { AccessRefusedError, NotASeedError, PeerTimeoutError, ProtocolViolationError, SeedRequestError, SpeculativeBatchError, SpeculativeQuotaError } from './errors.ts'
import { CidSet, DAG_CBOR_CODE, isDitsCid } from '../../src/cid.ts'
import { UnavailableError, UsageError } from '../../src/errors.ts'
import { parseMultiaddr } from '../../src/multiaddr.ts'
import type { ExitCode } from '../../src/errors.ts'
import type { AbortOptions, Connection, Libp2p, PeerId, Stream, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'
import type { Speculated as WireSpeculated } from '../../protocol/seed.ts'

/** The request must arrive within this once a stream opens. */
export const DEFAULT_SEED_REQUEST_TIMEOUT_MS = 10_000
/** A ROOT_STATUS walk (budgeted in blocks too: DEFAULT_ROOT_STATUS_MAX_BLOCKS, node/seed/keeper.ts) must end within this. */
export const DEFAULT_ROOT_STATUS_TIMEOUT_MS = 20_000
/** A push's progress goes to the pusher at most this often. */
export const DEFAULT_PUSH_PROGRESS_INTERVAL_MS = 250
/** ... and at least this often, changed or not, so that a long fsync does not look like a dead seed. */
export const DEFAULT_PUSH_KEEPALIVE_MS = 5_000
/** A client that takes none of an answer for this long (it stopped reading) has its request cancelled. */
export const DEFAULT_SEED_WRITE_IDLE_TIMEOUT_MS = 10_000
/** A client waits this long for the seed's next message (a push sends one at least every DEFAULT_PUSH_KEEPALIVE_MS). */
export const DEFAULT_SEED_ANSWER_TIMEOUT_MS = 30_000
/** /dits/seed streams per connection, each way. */
export const DEFAULT_MAX_SEED_STREAMS = 8

export type PushStage = 'manifests' | 'chunks' | 'sync' | 'done'

/** How far a push is, as the seed reports it: the shape of `push --json`'s per-seed figures. */
export interface PushStatus {
  root: string
  /** the seed's peer id */
  seed: string
  stage: PushStage
  /** the chunk counts below are known once the seed holds every manifest node of the root */
  totals_known: boolean
  /** distinct chunks under the root, and their bytes */
  chunks_total: number
  bytes_total: number
  /** distinct chunks (and bytes) the seed held before this push */
  chunks_already: number
  bytes_already: number
  /** chunks (and bytes) the seed fetched for this push so far */
  chunks_fetched: number
  bytes_fetched: number
  /** manifest bytes fetched (not part of bytes_total) */
  manifest_bytes_fetched: number
  /** since the seed started the push */
  elapsed_ms: number
}

export type DagCompleteness = 'complete' | 'incomplete' | 'unknown'

/** What a seed holds of a root and why it keeps it (ROOT_STATUS). */
export interface RootStatusReport {
  root: string
  seed: string
  /** the seed's pin reasons for the root: `user`, `ref`, `push`; empty when it does not pin it */
  reasons: string[]
  /** `unknown`: the walk stopped at the seed's budget, and the counts are of what it saw */
  dag: DagCompleteness
  chunks_held: number
  bytes_held: number
  chunks_missing: number
  bytes_missing: number
  /** manifest nodes the seed lacks: their subtrees are not counted */
  manifests_missing: number
  blocks_walked: number
  /**
   * of the chunks held, those the seed keeps only as speculative (recorded by a SPECULATE, unexpired; 0 when the root
   * is pinned): a push would not send them, and they go at their expiry unless a pin takes them over
   */
  chunks_speculative: number
  bytes_speculative: number
}

/** A chunk a SPECULATE names: its CID (a chunk's, never a manifest node's) and its length in bytes. */
export interface SpeculativeChunk {
  cid: CID
  bytes: number
}

/** What a seed did with a SPECULATE (the client's result; the seed's progress has the same shape). */
export interface SpeculateResult {
  /** the seed's peer id */
  seed: string
  /** distinct chunks in the request, and their bytes */
  chunks: number
  bytes: number
  /** chunks (and bytes) the seed held before */
  chunks_already: number
  bytes_already: number
  /** chunks (and bytes) it fetched from the requester */
  chunks_fetched: number
  bytes_fetched: number
  /** bytes newly charged to the requester's quota (chunks no one had recorded as speculative) */
  bytes_accepted: number
  /** until when (ms since the epoch) the seed keeps them, unless a pin takes them over */
  expires_at: number
  /** the requester's quota of unexpired speculative bytes on this seed, and its use after this request */
  quota_bytes: number
  quota_used_bytes: number
}

export type Speculation = Omit<SpeculateResult, 'seed'>

/** What a seed does for the requests it admits (node/seed/keeper.ts). */
export interface SeedHandler {
  /**
   * Make every block of `root` durable on this node and pin it (reason `push`), fetching what it lacks (from
   * `pusher` first). Resolves with the final status once pinned; `onProgress` sees it on the way.
   */
  push(root: CID, pusher: PeerId, options: { signal: AbortSignal, onProgress(p: Omit<PushStatus, 'seed'>): void }): Promise<Omit<PushStatus, 'seed'>>
  rootStatus(root: CID, options: { signal: AbortSignal }): Promise<Omit<RootStatusReport, 'seed'>>
  /**
   * Keep `chunks` (checked by checkSpeculativeBatch) unpinned until now + the ttl (the seed's, or `ttlMs` when that is
   * shorter), fetching those it lacks from `requester`. Resolves once every one is durable and recorded; throws
   * SpeculativeQuotaError (nothing stored) beyond the requester's quota, SpeculativeBatchError when the requester
   * lacks a chunk or sends bytes of another size than it said.
   */
  speculate(chunks: SpeculativeChunk[], requester: PeerId, options: { signal: AbortSignal, ttlMs?: number, onProgress(p: Speculation): void }): Promise<Speculation>
}

/** A push that failed on the seed, with how far it got. */
export interface PushFailureDetail {
  progress?: Omit<PushStatus, 'seed'>
}

export interface SeedServiceInit {
  handler: SeedHandler
  /** why `peer` may not do what needs `role` (PUSH, SPECULATE: write, ROOT_STATUS: read), or undefined when it may; all may when absent */
  refuse?(peer: PeerId, role: 'read' | 'write', what: string): string | undefined
  /** @default DEFAULT_SEED_REQUEST_TIMEOUT_MS */
  requestTimeoutMs?: number
  /** @default DEFAULT_ROOT_STATUS_TIMEOUT_MS */
  rootStatusTimeoutMs?: number
  /** @default DEFAULT_PUSH_PROGRESS_INTERVAL_MS */
  progressIntervalMs?: number
  /** @default DEFAULT_PUSH_KEEPALIVE_MS */
  keepaliveMs?: number
  /** @default DEFAULT_SEED_WRITE_IDLE_TIMEOUT_MS */
  writeIdleTimeoutMs?: number
  /** @default DEFAULT_MAX_SEED_STREAMS */
  maxStreams?: number
}

/** A failure the seed sends, as data (for an error that is not a DitsError: exit 1). */
function failureOf (err: Error): { name: string, message: string, exitCode: number } {
  const exitCode = (err as Error & { exitCode?: number }).exitCode ?? 1
  return { name: err.name, message: err.message.slice(0, MAX_STRING_CHARS), exitCode }
}

/** The seed's end: registered only by a node whose role is `seed` (node/daemon.ts). */
export class SeedService {
  private readonly libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'logger'>
  private readonly handler: SeedHandler
  private readonly refuse?: (peer: PeerId, role: 'read' | 'write', what: string) => string | undefined
  private readonly requestTimeoutMs: number
  private readonly rootStatusTimeoutMs: number
  private readonly progressIntervalMs: number
  private readonly keepaliveMs: number
  private readonly writeIdleTimeoutMs: number
  private readonly maxStreams: number
  private readonly log: Logger
  private readonly streams = new Set<Stream>()
  private stopping = new AbortController()

  constructor (libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'logger'>, init: SeedServiceInit) {
    this.libp2p = libp2p
    this.handler = init.handler
    this.refuse = init.refuse
    this.requestTimeoutMs = init.requestTimeoutMs ?? DEFAULT_SEED_REQUEST_TIMEOUT_MS
    this.rootStatusTimeoutMs = init.rootStatusTimeoutMs ?? DEFAULT_ROOT_STATUS_TIMEOUT_MS
    this.progressIntervalMs = init.progressIntervalMs ?? DEFAULT_PUSH_PROGRESS_INTERVAL_MS
    this.keepaliveMs = init.keepaliveMs ?? DEFAULT_PUSH_KEEPALIVE_MS
    this.writeIdleTimeoutMs = init.writeIdleTimeoutMs ?? DEFAULT_SEED_WRITE_IDLE_TIMEOUT_MS
    this.maxStreams = init.maxStreams ?? DEFAULT_MAX_SEED_STREAMS
    this.log = libp2p.logger.forComponent('dits:seed')
  }

  async start (): Promise<void> {
    this.stopping = new AbortController()
    await this.libp2p.handle(SEED_PROTOCOL, this.onStream, { maxInboundStreams: this.maxStreams, maxOutboundStreams: this.maxStreams })
  }

  async stop (): Promise<void> {
    this.stopping.abort(new UnavailableError('the seed is stopping'))
    await this.libp2p.unhandle(SEED_PROTOCOL)
    for (const stream of this.streams) stream.abort(new UnavailableError('the seed is stopping'))
    this.streams.clear()
  }

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    this.streams.add(stream)
    this.serve(stream, connection.remotePeer)
      .catch(err => {
        this.log('seed request from %p failed: %s', connection.remotePeer, (err as Error).message)
        stream.abort(err as Error)
      })
      .finally(() => this.streams.delete(stream))
  }

  private async serve (stream: Stream, peer: PeerId): Promise<void> {
    const reader = new FrameReader(stream, { maxFrameBytes: MAX_SEED_REQUEST_BYTES })
    let request: DecodedSeedRequest
    try {
      const frame = await withDeadline(this.stopping.signal, this.requestTimeoutMs, async signal => await reader.next({ signal }))
      if (frame == null) throw new ProtocolViolationError('the stream ended without a request')
      request = decodeSeedRequest(frame)
    } finally {
      // one request per stream: anything more the client sends is never read (libp2p bounds the unread buffer)
      reader.release()
    }
    const refusal = this.refuse?.(peer, request.kind === 'root status' ? 'read' : 'write', request.kind)
    if (refusal !== undefined) {
      this.log('refusing %s from %p: %s', request.kind, peer, refusal)
      await this.finish(stream, { error: { ...failureOf(new AccessRefusedError(refusal)) } })
      return
    }
    if (request.kind === 'speculate') await this.speculate(stream, peer, request.chunks, request.ttlMs)
    else if (request.kind === 'push') await this.push(stream, peer, request.root)
    else await this.rootStatus(stream, request.root)
  }

  /**
   * Check the batch (a bad one is answered with a SpeculativeBatchError, not a violation: its requester learns why),
   * then run it like a push: progress as it changes, cancelled when the requester's stream goes.
   */
  private async speculate (stream: Stream, requester: PeerId, chunks: SpeculativeChunk[], ttlMs: number | undefined): Promise<void> {
    try {
      checkSpeculativeBatch(chunks)
    } catch (err) {
      if (!(err instanceof SpeculativeBatchError)) throw err
      await this.finish(stream, { error: failureOf(err) })
      return
    }
    await this.streamed<Speculation>(stream, requester, 'speculate', async (signal, onProgress) => await this.handler.speculate(chunks, requester, { signal, ttlMs, onProgress }), {
      progress: p => ({ speculating: toWireSpeculated(p) }),
      done: p => ({ speculated: toWireSpeculated(p) }),
      failure: (err, latest) => {
        const figures = err instanceof SpeculativeQuotaError ? quotaFigures(err, latest) : latest
        return { ...failureOf(err), ...(figures !== undefined ? { speculated: toWireSpeculated(figures) } : {}) }
      }
    })
  }

  private async rootStatus (stream: Stream, root: CID): Promise<void> {
    let answer: Partial<SeedResponse>
    try {
      const { root: _, ...status } = await withDeadline(this.stopping.signal, this.rootStatusTimeoutMs, async signal => await this.handler.rootStatus(root, { signal }))
      answer = { status: { ...status, dag: toWireDag(status.dag), chunksHeld: status.chunks_held, bytesHeld: status.bytes_held, chunksMissing: status.chunks_missing, bytesMissing: status.bytes_missing, manifestsMissing: status.manifests_missing, blocksWalked: status.blocks_walked, chunksSpeculative: status.chunks_speculative, bytesSpeculative: status.bytes_speculative } }
    } catch (err) {
      answer = { error: failureOf(err as Error) }
    }
    await this.finish(stream, answer)
  }

  /** Run (or join) the push of `root`: see `streamed`. */
  private async push (stream: Stream, pusher: PeerId, root: CID): Promise<void> {
    await this.streamed<Omit<PushStatus, 'seed'>>(stream, pusher, 'push', async (signal, onProgress) => await this.handler.push(root, pusher, { signal, onProgress }), {
      progress: p => ({ progress: toWireProgress(p) }),
      done: p => ({ done: toWireProgress(p) }),
      failure: (err, latest) => ({ ...failureOf(err), ...(latest !== undefined ? { progress: toWireProgress(latest) } : {}) })
    })
  }

  /**
   * Long work for a client (a push, a speculate), sending its progress as it changes, and its outcome. The work is
   * cancelled when the client's stream goes (a reset, a closed connection) or the client stops reading.
   */
  private async streamed<S> (stream: Stream, client: PeerId, what: string, work: (signal: AbortSignal, onProgress: (p: S) => void) => Promise<S>, wire: { progress(p: S): Partial<SeedResponse>, done(p: S): Partial<SeedResponse>, failure(err: Error, latest?: S): SeedResponse['error'] }): Promise<void> {
    const gone = new AbortController()
    const onClose = (): void => { gone.abort(new UnavailableError(`the client ${client.toString()} closed the ${what} stream`)) }
    stream.addEventListener('close', onClose)
    const signal = AbortSignal.any([gone.signal, this.stopping.signal])
    let latest: S | undefined
    let changed = false
    let lastSent = performance.now()
    /** the progress message being written, if any */
    let sending: Promise<void> | undefined
    const tick = (): void => {
      if (sending !== undefined || latest === undefined) return
      if (!changed && performance.now() - lastSent < this.keepaliveMs) return
      changed = false
      sending = this.send(stream, wire.progress(latest), signal)
        .then(() => { lastSent = performance.now() })
        .catch((err: Error) => { gone.abort(err) })
        .finally(() => { sending = undefined })
    }
    const timer = setInterval(tick, this.progressIntervalMs)
    try {
      let answer: Partial<SeedResponse>
      try {
        const done = await work(signal, p => {
          latest = p
          changed = true
        })
        answer = wire.done(done)
      } catch (err) {
        if (gone.signal.aborted) throw gone.signal.reason
        answer = { error: wire.failure(err as Error, latest) }
      }
      clearInterval(timer)
      // the last progress message may still be on its way: the outcome goes after it
      await sending
      await this.finish(stream, answer)
    } finally {
      clearInterval(timer)
      stream.removeEventListener('close', onClose)
    }
  }

  private async send (stream: Stream, msg: Partial<SeedResponse>, signal: AbortSignal): Promise<void> {
    const body = SeedResponse.encode(msg)
    stream.send(varint(body.byteLength))
    stream.send(body)
    await waitWritten(stream, this.writeIdleTimeoutMs, signal)
  }

  /** The last message, then close (the client reads to the end). */
  private async finish (stream: Stream, msg: Partial<SeedResponse>): Promise<void> {
    if (stream.writeStatus !== 'writable') return
    await this.send(stream, msg, this.stopping.signal)
    await stream.close({ signal: AbortSignal.timeout(this.writeIdleTimeoutMs) }).catch(() => { stream.abort(new PeerTimeoutError('close timed out')) })
  }
}

/** A /dits/seed request as the seed reads it: a root to push or report on, or a batch of chunks (checked apart). */
export type DecodedSeedRequest =
  | { kind: 'push' | 'root status', root: CID }
  | { kind: 'speculate', chunks: SpeculativeChunk[], ttlMs?: number }

/**
 * Decode one request body; anything malformed (an unknown kind, a CID that does not parse or is too long) is a
 * ProtocolViolationError. A SPECULATE's batch is returned as sent: checkSpeculativeBatch says what is wrong with it.
 */
export function decodeSeedRequest (frame: Uint8Array): DecodedSeedRequest {
  let request: SeedRequest
  try {
    // the frame's size bounds the entries; past MAX_SPECULATE_CHUNKS, checkSpeculativeBatch tells the client why
    request = SeedRequest.decode(frame, { limits: { chunks: MAX_SEED_REQUEST_BYTES } })
  } catch (err) {
    throw new ProtocolViolationError(`malformed seed request: ${(err as Error).message}`)
  }
  const kind = KINDS[request.kind]
  if (kind === undefined) throw new ProtocolViolationError(`unknown seed request kind ${String(request.kind)}`)
  if (kind !== 'speculate') return { kind, root: wireCid(request.root, 'root') }
  return {
    kind,
    chunks: request.chunks.map((c, i) => ({ cid: wireCid(c.cid, `chunks[${i}]`), bytes: c.bytes })),
    ttlMs: request.ttlMs > 0 ? request.ttlMs : undefined
  }
}

const KINDS: Record<SeedRequest.Kind, 'push' | 'root status' | 'speculate'> = {
  [SeedRequest.Kind.PUSH]: 'push',
  [SeedRequest.Kind.ROOT_STATUS]: 'root status',
  [SeedRequest.Kind.SPECULATE]: 'speculate'
}

/**
 * A SPECULATE batch as both ends check it: 1 to MAX_SPECULATE_CHUNKS distinct chunks (no manifest node), each of 1 to
 * MAX_BLOCK_BYTES bytes, MAX_SPECULATE_BYTES at most together. Returns it, or throws SpeculativeBatchError saying what
 * is wrong.
 */
export function checkSpeculativeBatch (chunks: SpeculativeChunk[]): SpeculativeChunk[] {
  if (chunks.length === 0) throw new SpeculativeBatchError('a speculate names no chunk')
  if (chunks.length > MAX_SPECULATE_CHUNKS) throw new SpeculativeBatchError(`a speculate names ${chunks.length} chunks, more than the ${MAX_SPECULATE_CHUNKS} one request may (MAX_SPECULATE_CHUNKS): split it`)
  const seen = new CidSet()
  let total = 0
  for (const c of chunks) {
    if (!isDitsCid(c.cid)) throw new SpeculativeBatchError(`${c.cid.toString()} is not a dits chunk CID (CIDv1, raw, BLAKE3)`)
    if (c.cid.code === DAG_CBOR_CODE) throw new SpeculativeBatchError(`${c.cid.toString()} is a manifest node: a speculate carries chunks only (a push carries manifests)`)
    if (!seen.add(c.cid)) throw new SpeculativeBatchError(`chunk ${c.cid.toString()} is named twice in one speculate`)
    if (!Number.isSafeInteger(c.bytes) || c.bytes < 1 || c.bytes > MAX_BLOCK_BYTES) throw new SpeculativeBatchError(`chunk ${c.cid.toString()} is said to be ${c.bytes} bytes: a chunk is 1 to ${MAX_BLOCK_BYTES} bytes (MAX_BLOCK_BYTES)`)
    total += c.bytes
  }
  if (total > MAX_SPECULATE_BYTES) throw new SpeculativeBatchError(`a speculate of ${total} bytes is more than the ${MAX_SPECULATE_BYTES} one request may carry (MAX_SPECULATE_BYTES): split it`)
  return chunks
}

function toWireSpeculated (p: Speculation): WireSpeculated {
  return {
    chunks: p.chunks,
    bytes: p.bytes,
    chunksAlready: p.chunks_already,
    bytesAlready: p.bytes_already,
    chunksFetched: p.chunks_fetched,
    bytesFetched: p.bytes_fetched,
    bytesAccepted: p.bytes_accepted,
    expiresAtMs: p.expires_at,
    quotaBytes: p.quota_bytes,
    quotaUsedBytes: p.quota_used_bytes
  }
}

function fromWireSpeculated (p: WireSpeculated, seed: string): SpeculateResult {
  return {
    seed,
    chunks: p.chunks,
    bytes: p.bytes,
    chunks_already: p.chunksAlready,
    bytes_already: p.bytesAlready,
    chunks_fetched: p.chunksFetched,
    bytes_fetched: p.bytesFetched,
    bytes_accepted: p.bytesAccepted,
    expires_at: p.expiresAtMs,
    quota_bytes: p.quotaBytes,
    quota_used_bytes: p.quotaUsedBytes
  }
}

/** A quota refusal's figures, as the requester gets them with the failure. */
function quotaFigures (err: SpeculativeQuotaError, latest?: Speculation): Speculation {
  return { chunks: 0, bytes: err.requestedBytes, chunks_already: 0, bytes_already: 0, chunks_fetched: 0, bytes_fetched: 0, bytes_accepted: 0, expires_at: 0, ...latest, quota_bytes: err.quotaBytes, quota_used_bytes: err.usedBytes }
}

const PHASES: Record<WirePushProgress.Phase, PushStage> = {
  [WirePushProgress.Phase.MANIFESTS]: 'manifests',
  [WirePushProgress.Phase.CHUNKS]: 'chunks',
  [WirePushProgress.Phase.SYNC]: 'sync',
  [WirePushProgress.Phase.DONE]: 'done'
}

function toWireProgress (p: Omit<PushStatus, 'seed'>): WirePushProgress {
  const phase = (Object.keys(PHASES) as WirePushProgress.Phase[]).find(k => PHASES[k] === p.stage) ?? WirePushProgress.Phase.MANIFESTS
  return {
    phase,
    chunksTotal: p.chunks_total,
    bytesTotal: p.bytes_total,
    totalsKnown: p.totals_known,
    chunksAlready: p.chunks_already,
    bytesAlready: p.bytes_already,
    chunksFetched: p.chunks_fetched,
    bytesFetched: p.bytes_fetched,
    manifestBytesFetched: p.manifest_bytes_fetched,
    elapsedMs: p.elapsed_ms
  }
}

function fromWireProgress (p: WirePushProgress, root: CID, seed: string): PushStatus {
  return {
    root: root.toString(),
    seed,
    stage: PHASES[p.phase] ?? 'manifests',
    totals_known: p.totalsKnown,
    chunks_total: p.chunksTotal,
    bytes_total: p.bytesTotal,
    chunks_already: p.chunksAlready,
    bytes_already: p.bytesAlready,
    chunks_fetched: p.chunksFetched,
    bytes_fetched: p.bytesFetched,
    manifest_bytes_fetched: p.manifestBytesFetched,
    elapsed_ms: p.elapsedMs
  }
}

const DAGS: Record<WireRootStatus.Dag, DagCompleteness> = {
  [WireRootStatus.Dag.COMPLETE]: 'complete',
  [WireRootStatus.Dag.INCOMPLETE]: 'incomplete',
  [WireRootStatus.Dag.UNKNOWN]: 'unknown'
}

function toWireDag (dag: DagCompleteness): WireRootStatus.Dag {
  return (Object.keys(DAGS) as WireRootStatus.Dag[]).find(k => DAGS[k] === dag) ?? WireRootStatus.Dag.UNKNOWN
}

// ---- the client ---------------------------------------------------------------------------------------------

/** A seed: its peer id, or a multiaddr ending in /p2p/<peer id>, as text or parsed. */
export type SeedTarget = PeerId | Multiaddr | string

export interface PushOptions extends AbortOptions {
  /** each progress message of the seed */
  onProgress?(status: PushStatus): void
  /** @default DEFAULT_SEED_ANSWER_TIMEOUT_MS */
  answerTimeoutMs?: number
}

/**
 * Ask `seed` to keep `root`: it fetches from this node (and other sources) the blocks it lacks, verifies and
 * fsyncs them, and pins the root with reason `push`. Resolves once the seed says every block is durable and the root
 * pinned. Aborting `signal` closes the stream, which cancels the push on the seed (what it stored stays: a push
 * again sends only the rest). Throws AccessRefusedError (exit 3) when this node lacks the write role there,
 * NotASeedError when the peer is no seed, SeedRequestError saying how far the seed got otherwise.
 */
export async function pushRoot (libp2p: Pick<Libp2p, 'dialProtocol'>, seed: SeedTarget, root: CID, options: PushOptions = {}): Promise<PushStatus> {
  let last: PushStatus | undefined
  return await request(libp2p, seed, { kind: SeedRequest.Kind.PUSH, root: root.bytes, chunks: [], ttlMs: 0 }, options, (msg, seedId) => {
    if (msg.progress != null) {
      last = fromWireProgress(msg.progress, root, seedId)
      options.onProgress?.(last)
      return undefined
    }
    if (msg.done != null) return fromWireProgress(msg.done, root, seedId)
    if (msg.error != null) {
      if (msg.error.name === 'AccessRefusedError') throw new AccessRefusedError(`seed ${seedId} refuses the push of ${root.toString()}: ${msg.error.message}`)
      const progress = msg.error.progress != null ? fromWireProgress(msg.error.progress, root, seedId) : last
      throw seedFailure(msg.error.name, msg.error.exitCode, `${pushStanding(seedId, root, progress)}: ${msg.error.message}`)
    }
    throw new ProtocolViolationError('a push answer must carry progress, done or error')
  }, () => last)
}

/** What `seed` holds of `root` and why it keeps it. */
export async function requestRootStatus (libp2p: Pick<Libp2p, 'dialProtocol'>, seed: SeedTarget, root: CID, options: AbortOptions & { answerTimeoutMs?: number } = {}): Promise<RootStatusReport> {
  return await request(libp2p, seed, { kind: SeedRequest.Kind.ROOT_STATUS, root: root.bytes, chunks: [], ttlMs: 0 }, options, (msg, seedId) => {
    if (msg.status != null) {
      const s = msg.status
      if (s.reasons.some(r => r.length > MAX_STRING_CHARS)) throw new ProtocolViolationError(`a pin reason longer than ${MAX_STRING_CHARS} characters`)
      return {
        root: root.toString(),
        seed: seedId,
        reasons: s.reasons,
        dag: DAGS[s.dag] ?? 'unknown',
        chunks_held: s.chunksHeld,
        bytes_held: s.bytesHeld,
        chunks_missing: s.chunksMissing,
        bytes_missing: s.bytesMissing,
        manifests_missing: s.manifestsMissing,
        blocks_walked: s.blocksWalked,
        chunks_speculative: s.chunksSpeculative,
        bytes_speculative: s.bytesSpeculative
      }
    }
    if (msg.error != null) throw seedFailure(msg.error.name, msg.error.exitCode, `seed ${seedId} could not tell what it holds of ${root.toString()}: ${msg.error.message}`)
    throw new ProtocolViolationError('a root status answer must carry status or error')
  })
}

export interface SpeculateOptions extends AbortOptions {
  /** how long the seed should keep the chunks, ms; it keeps them no longer than its own `speculative.ttl` @default the seed's */
  ttlMs?: number
  /** the seed's counts while it fetches */
  onProgress?(progress: SpeculateResult): void
  /** @default DEFAULT_SEED_ANSWER_TIMEOUT_MS */
  answerTimeoutMs?: number
}

/**
 * Upload `chunks` (which this node holds) to `seed` as speculative: the seed fetches from this node those it lacks,
 * verifies and fsyncs them, and keeps them unpinned until `expires_at` — or for good once a push or a ref names a
 * root over them. At most MAX_SPECULATE_CHUNKS distinct chunks of MAX_SPECULATE_BYTES together per call (checked here
 * first: SpeculativeBatchError, exit 2). Throws SpeculativeQuotaError (exit 4, with `quotaBytes`, `usedBytes`,
 * `requestedBytes`) when the seed's per-peer quota would be passed — nothing of the batch is kept then;
 * AccessRefusedError (exit 3) without the write role there; NotASeedError when the peer is no seed;
 * SpeculativeBatchError when the seed finds this node lacks a chunk or sent another size than it said;
 * SeedRequestError otherwise. Aborting `signal` cancels the fetch on the seed.
 *
 *     speculate(libp2p: Pick<Libp2p, 'dialProtocol'>, seed: SeedTarget, chunks: Array<{ cid: CID, bytes: number }>,
 *               options?: { signal?, ttlMs?, onProgress?, answerTimeoutMs? }): Promise<SpeculateResult>
 */
export async function speculate (libp2p: Pick<Libp2p, 'dialProtocol'>, seed: SeedTarget, chunks: SpeculativeChunk[], options: SpeculateOptions = {}): Promise<SpeculateResult> {
  checkSpeculativeBatch(chunks)
  if (options.ttlMs !== undefined && (!Number.isSafeInteger(options.ttlMs) || options.ttlMs < 1)) throw new UsageError(`a speculate's ttl must be a whole number of milliseconds >= 1, not ${options.ttlMs}`)
  const req: SeedRequest = { kind: SeedRequest.Kind.SPECULATE, root: new Uint8Array(0), chunks: chunks.map(c => ({ cid: c.cid.bytes, bytes: c.bytes })), ttlMs: options.ttlMs ?? 0 }
  return await request(libp2p, seed, req, options, (msg, seedId) => {
    if (msg.speculating != null) {
      options.onProgress?.(fromWireSpeculated(msg.speculating, seedId))
      return undefined
    }
    if (msg.speculated != null) return fromWireSpeculated(msg.speculated, seedId)
    if (msg.error != null) {
      const message = `seed ${seedId} refuses the speculate of ${chunks.length} chunk(s): ${msg.error.message}`
      if (msg.error.name === 'SpeculativeQuotaError') {
        const f = msg.error.speculated
        throw new SpeculativeQuotaError(message, { quotaBytes: f?.quotaBytes ?? 0, usedBytes: f?.quotaUsedBytes ?? 0, requestedBytes: f?.bytes ?? 0 })
      }
      if (msg.error.name === 'SpeculativeBatchError') throw new SpeculativeBatchError(message)
      throw seedFailure(msg.error.name, msg.error.exitCode, message)
    }
    throw new ProtocolViolationError('a speculate answer must carry speculating, speculated or error')
  })
}

/** "seed 12D3… has 812 of 840 chunks of <root>" (or as much of that as the seed said). */
export function pushStanding (seed: string, root: CID | string, p?: Pick<PushStatus, 'totals_known' | 'chunks_total' | 'chunks_already' | 'chunks_fetched'>): string {
  if (p === undefined) return `seed ${seed} did not push ${root.toString()}`
  const held = p.chunks_already + p.chunks_fetched
  return p.totals_known
    ? `seed ${seed} has ${held} of ${p.chunks_total} chunks of ${root.toString()}`
    : `seed ${seed} has ${held} chunks of ${root.toString()} (how many it lacks is not known: it lacks manifests)`
}

function seedFailure (name: string, exitCode: number, message: string): Error {
  if (name === 'AccessRefusedError') return new AccessRefusedError(message)
  return new SeedRequestError(message, ([1, 2, 3, 4].includes(exitCode) ? exitCode : 4) as ExitCode, name)
}

/**
 * One request on a new stream, and its answers until `onAnswer` returns a result. `standing` says how far a push got
 * when the seed goes silent or away.
 */
async function request<T> (libp2p: Pick<Libp2p, 'dialProtocol'>, seed: SeedTarget, req: SeedRequest, options: AbortOptions & { answerTimeoutMs?: number }, onAnswer: (msg: SeedResponse, seed: string) => T | undefined, standing?: () => PushStatus | undefined): Promise<T> {
  const target = typeof seed === 'string' ? parseSeedTarget(seed) : seed
  const name = typeof seed === 'string' ? seed : seed.toString()
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(target, SEED_PROTOCOL, { signal: options.signal ?? AbortSignal.timeout(DEFAULT_SEED_REQUEST_TIMEOUT_MS) })
  } catch (err) {
    if (options.signal?.aborted === true) throw err
    if ((err as Error).name === 'UnsupportedProtocolError') throw new NotASeedError(`peer ${name} is not a seed: it does not speak ${SEED_PROTOCOL} (only a node with role seed does)`, { cause: err })
    throw new UnavailableError(`seed ${name} is unreachable: ${(err as Error).message}`, { cause: err })
  }
  const seedId = seedPeerId(target)
  const reader = new FrameReader(stream, { maxFrameBytes: MAX_SEED_RESPONSE_BYTES })
  const onAbort = (): void => { stream.abort(options.signal?.reason ?? new Error('aborted')) }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const body = SeedRequest.encode(req)
    stream.send(varint(body.byteLength))
    stream.send(body)
    for (;;) {
      let frame
      try {
        frame = await withDeadline(options.signal, options.answerTimeoutMs ?? DEFAULT_SEED_ANSWER_TIMEOUT_MS, async signal => await reader.next({ signal }))
      } catch (err) {
        options.signal?.throwIfAborted()
        const gone = err instanceof PeerTimeoutError ? `no answer for ${(options.answerTimeoutMs ?? DEFAULT_SEED_ANSWER_TIMEOUT_MS) / 1000} s` : `the stream failed (${(err as Error).message})`
        throw new SeedRequestError(`${standing !== undefined ? pushStanding(seedId, CIDText(req), standing()) : `seed ${seedId}`}: ${gone}`)
      }
      if (frame == null) throw new SeedRequestError(`${standing !== undefined ? pushStanding(seedId, CIDText(req), standing()) : `seed ${seedId}`}: it closed the stream without an answer`)
      const msg = decodeSeedResponse(frame)
      const result = onAnswer(msg, seedId)
      if (result !== undefined) {
        reader.release()
        await stream.close({ signal: AbortSignal.timeout(DEFAULT_SEED_WRITE_IDLE_TIMEOUT_MS) }).catch(() => { stream.abort(new Error('close timed out')) })
        return result
      }
    }
  } catch (err) {
    reader.release()
    stream.abort(err as Error)
    throw err
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}

function CIDText (req: SeedRequest): string {
  return wireCid(req.root, 'root').toString()
}

/** Decode one answer of a seed; anything malformed or over a limit is a ProtocolViolationError. */
export function decodeSeedResponse (frame: Uint8Array): SeedResponse {
  let msg: SeedResponse
  try {
    msg = SeedResponse.decode(frame, { limits: { status: { reasons: MAX_SEED_PIN_REASONS } } })
  } catch (err) {
    throw new ProtocolViolationError(`malformed seed answer: ${(err as Error).message}`)
  }
  if (msg.error != null && (msg.error.name.length > MAX_STRING_CHARS || msg.error.message.length > MAX_STRING_CHARS)) throw new ProtocolViolationError(`a seed failure longer than ${MAX_STRING_CHARS} characters`)
  return msg
}

/** A peer id or a multiaddr ending in /p2p/<peer id>; anything else is a UsageError naming it. */
export function parseSeedTarget (text: string): PeerId | Multiaddr {
  if (!text.startsWith('/')) {
    try {
      return peerIdFromString(text)
    } catch {
      throw new UsageError(`"${text}" is neither a peer id (12D3KooW…) nor a multiaddr ending in /p2p/<peer id>`)
    }
  }
  const ma = parseMultiaddr(text)
  const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
  if (id === undefined) throw new UsageError(`the seed address ${text} does not end in /p2p/<peer id>`)
  return ma
}

/** The peer id a target names. */
export function seedPeerId (target: PeerId | Multiaddr): string {
  if ('getComponents' in target) return target.getComponents().findLast(c => c.name === 'p2p')?.value ?? target.toString()
  return target.toString()
}
