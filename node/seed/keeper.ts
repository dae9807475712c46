/**
 * What a seed does for `/dits/seed` requests (DESIGN §10, "the seed as memory"): a push fetches every block of the
 * root it lacks through the verified fetcher (the pusher first), makes every block under the root durable, and only
 * then pins it with reason `push`; a root status walks its own blocks under a budget. One push per root at a time: a
 * second push of the same root joins the first, and a push is cancelled once every pusher waiting on it has gone.
 * A speculate (issue 18) pulls the chunks the seed lacks from its requester, makes them durable, and records them in
 * the SpeculativeRecord until an expiry, within the requester's quota.
 *
 * @example
 * ```ts
 * const keeper = new SeedKeeper({ blocks: repo.blocks, pins: repo.pins, fetch: (root, o) => network.fetch(root, o) })
 * const seed = new SeedService(network.libp2p, { handler: keeper, refuse: … })
 * await seed.start()
 * ```
 */
import { CidSet, DAG_CBOR_CODE } from '../../src/cid.ts'
import { decodeNode, walkChunkLinks } from '../../src/manifest/index.ts'
import { UnavailableError } from '../../src/errors.ts'
import { SpeculativeQuotaError } from '../net/errors.ts'
import { forEachLimit } from '../limit.ts'
import { childLinks } from '../net/fetcher.ts'
import { BlockSync } from '../block-sync.ts'
import { macrotask } from '../deferred.ts'
import type { CID } from 'multiformats/cid'
import type { PeerId } from '@libp2p/interface'
import type { FetchOptions, FetchReport } from '../net/fetcher.ts'
import type { DagCompleteness, PushStatus, RootStatusReport, SeedHandler, SpeculativeChunk, Speculation } from '../net/seed.ts'
import type { PullOptions, PullReport } from '../net/pull.ts'
import type { SpeculativeRecord } from './speculative.ts'
import type { DitsBlockstore } from '../blockstore.ts'
import type { Pins } from '../repo.ts'

/** Blocks (manifests and chunks) a root status walk visits at most; beyond it the DAG's state is `unknown`. */
export const DEFAULT_ROOT_STATUS_MAX_BLOCKS = 200_000
/** Pushes of different roots one seed runs at once; more are refused (exit 4) until one ends. */
export const DEFAULT_MAX_PUSHES = 16
/** Speculates one seed runs at once (each at most MAX_SPECULATE_BYTES); more are refused (exit 4) until one ends. */
export const DEFAULT_MAX_SPECULATES = 8
/** Local `has` checks at once in a walk. */
const HAS_CONCURRENCY = 64

type Status = Omit<PushStatus, 'seed'>

export interface SeedKeeperInit {
  blocks: Pick<DitsBlockstore, 'has' | 'hold' | 'get' | 'syncData' | 'syncDirs' | 'beginWrite'>
  pins: Pick<Pins, 'add' | 'reasons'>
  /** the node's verified fetcher (DitsNetwork.fetch) */
  fetch(root: CID, options: FetchOptions): Promise<FetchReport>
  /** @default DEFAULT_ROOT_STATUS_MAX_BLOCKS */
  rootStatusMaxBlocks?: number
  /** @default DEFAULT_MAX_PUSHES */
  maxPushes?: number
  /** what a speculate needs; without it this seed refuses speculates */
  speculative?: {
    record: SpeculativeRecord
    /** the network's single-source verified pull (DitsNetwork.pull) */
    pull(peer: PeerId, chunks: SpeculativeChunk[], options: PullOptions): Promise<PullReport>
    /** config `speculative.ttl`: how long a speculative chunk is kept, and the longest a requester may ask for */
    ttlMs: number
    /** config `seed.speculativeQuotaBytes` */
    quotaBytes: number
    /** @default DEFAULT_MAX_SPECULATES */
    maxSpeculates?: number
  }
}

interface RunningPush {
  done: Promise<Status>
  listeners: Set<(p: Status) => void>
  /** pushers waiting on it */
  waiting: number
  controller: AbortController
}

export class SeedKeeper implements SeedHandler {
  private readonly init: SeedKeeperInit
  private readonly maxBlocks: number
  private readonly maxPushes: number
  private readonly running = new Map<string, RunningPush>()
  /** speculates in flight, and the one each requester runs (a requester's speculates run one after another) */
  private speculating = 0
  private readonly perRequester = new Map<string, Promise<unknown>>()

  constructor (init: SeedKeeperInit) {
    this.init = init
    this.maxBlocks = init.rootStatusMaxBlocks ?? DEFAULT_ROOT_STATUS_MAX_BLOCKS
    this.maxPushes = init.maxPushes ?? DEFAULT_MAX_PUSHES
  }

  /** Roots being pushed now. */
  get pushing (): number {
    return this.running.size
  }

  async push (root: CID, pusher: PeerId, options: { signal: AbortSignal, onProgress(p: Status): void }): Promise<Status> {
    options.signal.throwIfAborted()
    const key = root.toString()
    let run = this.running.get(key)
    if (run === undefined) {
      if (this.running.size >= this.maxPushes) throw new UnavailableError(`this seed runs ${this.running.size} pushes already (the most it runs at once): push again in a moment`)
      const controller = new AbortController()
      const listeners = new Set<(p: Status) => void>()
      const started: RunningPush = {
        controller,
        listeners,
        waiting: 0,
        done: this.guarded(root, pusher, controller.signal, p => { for (const l of listeners) l(p) })
      }
      run = started
      this.running.set(key, started)
      started.done.finally(() => { if (this.running.get(key) === started) this.running.delete(key) }).catch(() => {})
    }
    const joined = run
    joined.waiting++
    joined.listeners.add(options.onProgress)
    const leave = (): void => {
      joined.listeners.delete(options.onProgress)
      if (--joined.waiting === 0) joined.controller.abort(options.signal.reason)
    }
    options.signal.addEventListener('abort', leave, { once: true })
    try {
      return await new Promise<Status>((resolve, reject) => {
        joined.done.then(resolve, reject)
        options.signal.addEventListener('abort', () => { reject(options.signal.reason) }, { once: true })
        if (options.signal.aborted) reject(options.signal.reason)
      })
    } finally {
      options.signal.removeEventListener('abort', leave)
      if (!options.signal.aborted) {
        joined.listeners.delete(options.onProgress)
        joined.waiting--
      }
    }
  }

  /**
   * Keep `chunks` (a checked batch) for `requester` until now + ttl: refused beyond its quota before anything is
   * fetched; the chunks the seed lacks pulled from the requester, every chunk of the batch made durable, then recorded.
   * One speculate per requester at a time, so that its quota is checked against what it has recorded.
   */
  async speculate (chunks: SpeculativeChunk[], requester: PeerId, options: { signal: AbortSignal, ttlMs?: number, onProgress(p: Speculation): void }): Promise<Speculation> {
    const spec = this.init.speculative
    if (spec === undefined) throw new UnavailableError('this seed keeps no speculative chunks')
    options.signal.throwIfAborted()
    if (this.speculating >= (spec.maxSpeculates ?? DEFAULT_MAX_SPECULATES)) throw new UnavailableError(`this seed runs ${this.speculating} speculates already (the most it runs at once): send again in a moment`)
    this.speculating++
    const key = requester.toString()
    const before = this.perRequester.get(key) ?? Promise.resolve()
    const run = before.catch(() => {}).then(async () => await this.speculateNow(chunks, requester, spec, options))
    this.perRequester.set(key, run)
    try {
      return await run
    } finally {
      this.speculating--
      if (this.perRequester.get(key) === run) this.perRequester.delete(key)
    }
  }

  private async speculateNow (chunks: SpeculativeChunk[], requester: PeerId, spec: NonNullable<SeedKeeperInit['speculative']>, options: { signal: AbortSignal, ttlMs?: number, onProgress(p: Speculation): void }): Promise<Speculation> {
    const { signal } = options
    signal.throwIfAborted()
    const peer = requester.toString()
    const now = Date.now()
    const status: Speculation = {
      chunks: chunks.length,
      bytes: chunks.reduce((n, c) => n + c.bytes, 0),
      chunks_already: 0,
      bytes_already: 0,
      chunks_fetched: 0,
      bytes_fetched: 0,
      bytes_accepted: 0,
      expires_at: now + Math.min(options.ttlMs ?? spec.ttlMs, spec.ttlMs),
      quota_bytes: spec.quotaBytes,
      quota_used_bytes: spec.record.usedBytes(peer, now)
    }
    const charge = await spec.record.uncovered(chunks, now)
    if (status.quota_used_bytes + charge > spec.quotaBytes) {
      throw new SpeculativeQuotaError(`${peer} has ${status.quota_used_bytes} unexpired speculative bytes on this seed; ${charge} more would pass its quota of ${spec.quotaBytes} bytes (config seed.speculativeQuotaBytes); nothing of this batch is kept: send it again once some expire or a push takes them over`, { quotaBytes: spec.quotaBytes, usedBytes: status.quota_used_bytes, requestedBytes: charge })
    }
    // the blocks it holds or writes are kept from gc until they are recorded
    const writing = this.init.blocks.beginWrite()
    try {
      const sync = new BlockSync(this.init.blocks)
      const lacking: SpeculativeChunk[] = []
      await forEachLimit(chunks, HAS_CONCURRENCY, async c => {
        if (await this.init.blocks.hold(c.cid, { signal })) {
          status.chunks_already++
          status.bytes_already += c.bytes
          await sync.add(c.cid, c.bytes)
        } else {
          lacking.push(c)
        }
      })
      options.onProgress({ ...status })
      await spec.pull(requester, lacking, {
        signal,
        onChunk: async (cid, bytes) => {
          status.chunks_fetched++
          status.bytes_fetched += bytes
          await sync.add(cid, bytes)
          options.onProgress({ ...status })
        }
      })
      await sync.flush()
      signal.throwIfAborted()
      // Durability order: the blocks, then the record that keeps them.
      status.bytes_accepted = await spec.record.record(peer, chunks, status.expires_at)
      status.quota_used_bytes = spec.record.usedBytes(peer, Date.now())
      return { ...status }
    } finally {
      writing.end()
    }
  }

  /**
   * The push as work in flight for gc (DitsBlockstore.beginWrite): what it fetches or finds is kept until the pin
   * names it, across the gaps between its fetches and the sync.
   */
  private async guarded (root: CID, pusher: PeerId, signal: AbortSignal, report: (p: Status) => void): Promise<Status> {
    const writing = this.init.blocks.beginWrite()
    try {
      return await this.run(root, pusher, signal, report)
    } finally {
      writing.end()
    }
  }

  /**
   * The push itself: the manifests first (so that the totals are known), a count of the distinct chunks and of those
   * held already, then the chunks the seed lacks, then the flush of every block, and the pin.
   */
  private async run (root: CID, pusher: PeerId, signal: AbortSignal, report: (p: Status) => void): Promise<Status> {
    const started = performance.now()
    const status: Status = {
      root: root.toString(),
      stage: 'manifests',
      totals_known: false,
      chunks_total: 0,
      bytes_total: 0,
      chunks_already: 0,
      bytes_already: 0,
      chunks_fetched: 0,
      bytes_fetched: 0,
      manifest_bytes_fetched: 0,
      elapsed_ms: 0
    }
    const emit = (): void => {
      status.elapsed_ms = Math.round(performance.now() - started)
      report({ ...status })
    }
    const prefer = [pusher]
    // every block under the root passes through the sync: the manifests as the count reads them, the chunks as the
    // fetch stores or finds them
    const sync = new BlockSync(this.init.blocks)
    const getBlock = async (cid: CID): Promise<Uint8Array> => {
      const bytes = await this.init.blocks.get(cid, { signal })
      await sync.add(cid, bytes.byteLength)
      return bytes
    }
    emit()
    const manifests = await this.init.fetch(root, { signal, prefer, scope: 'manifests', onProgress: p => { status.manifest_bytes_fetched = p.manifest_bytes_fetched; emit() } })
    status.manifest_bytes_fetched = manifests.manifest_bytes_fetched
    // what the seed held before: every distinct chunk, looked up a batch at a time
    if (root.code === DAG_CBOR_CODE) {
      let batch: Array<{ cid: CID, length: number }> = []
      const count = async (): Promise<void> => {
        const held = await Promise.all(batch.map(async c => await this.init.blocks.has(c.cid, { signal })))
        for (let i = 0; i < batch.length; i++) {
          status.chunks_total++
          status.bytes_total += batch[i].length
          if (held[i]) {
            status.chunks_already++
            status.bytes_already += batch[i].length
          }
        }
        batch = []
      }
      const seen = new CidSet()
      for await (const c of walkChunkLinks(getBlock, root, { unique: true, signal, pause: macrotask })) {
        if (!seen.add(c.cid)) continue
        batch.push(c)
        if (batch.length >= HAS_CONCURRENCY) await count()
      }
      await count()
      status.totals_known = true
    }
    status.stage = 'chunks'
    emit()
    const fetched = await this.init.fetch(root, {
      signal,
      prefer,
      onChunk: async (cid, bytes) => { await sync.add(cid, bytes?.byteLength ?? 0) },
      onProgress: p => {
        status.chunks_fetched = p.blocks_fetched
        status.bytes_fetched = p.bytes_fetched
        emit()
      }
    })
    status.chunks_fetched = fetched.blocks_fetched
    status.bytes_fetched = fetched.bytes_fetched
    if (root.code !== DAG_CBOR_CODE) {
      // a root that is itself a chunk: the fetch alone knows its size
      status.chunks_total = 1
      status.bytes_total = fetched.bytes_total
      status.chunks_already = fetched.blocks_local
      status.bytes_already = fetched.bytes_local
      status.totals_known = true
      await sync.add(root)
    }
    status.stage = 'sync'
    emit()
    await sync.flush()
    signal.throwIfAborted()
    // Durability order: every block, then the pin that makes them reachable.
    await this.init.pins.add(root, 'push')
    status.stage = 'done'
    emit()
    return { ...status }
  }

  /**
   * Walk the seed's own blocks under `root`: each block once (a visited set), iterative, at most `maxBlocks` visits;
   * a manifest node it lacks hides its subtree (the DAG is then incomplete, and the counts are of what was seen).
   */
  async rootStatus (root: CID, options: { signal: AbortSignal }): Promise<Omit<RootStatusReport, 'seed'>> {
    const { signal } = options
    const reasons = Object.keys(await this.init.pins.reasons(root))
    const counts = { chunks_held: 0, bytes_held: 0, chunks_missing: 0, bytes_missing: 0, manifests_missing: 0, blocks_walked: 0, chunks_speculative: 0, bytes_speculative: 0 }
    // a pinned root's chunks are kept for good: only an unpinned root's can be speculative
    const record = reasons.length === 0 && this.init.speculative?.record.empty === false ? this.init.speculative.record : undefined
    const now = Date.now()
    // a block enters `seen` as it is stacked, so the stack holds distinct blocks, each a visit to come: more than the
    // budget has room for are never stacked (the walk is then `unknown`), which bounds the stack and the set alike
    const seen = new CidSet()
    seen.add(root)
    const stack: Array<{ cid: CID, bytes?: number }> = [{ cid: root }]
    let truncated = false
    while (stack.length > 0) {
      signal.throwIfAborted()
      const batch = stack.splice(Math.max(0, stack.length - HAS_CONCURRENCY)).reverse()
      const held = await Promise.all(batch.map(async l => await this.init.blocks.has(l.cid, { signal })))
      for (let i = 0; i < batch.length; i++) {
        const { cid, bytes } = batch[i]
        counts.blocks_walked++
        if (cid.code !== DAG_CBOR_CODE) {
          // a chunk's length is what its manifest says (a raw root's, what the seed holds)
          const length = bytes ?? (held[i] ? (await this.init.blocks.get(cid, { signal })).byteLength : 0)
          if (held[i]) {
            counts.chunks_held++
            counts.bytes_held += length
            const entry = await record?.get(cid)
            if (entry !== undefined && entry.expiresAt > now) {
              counts.chunks_speculative++
              counts.bytes_speculative += length
            }
          } else {
            counts.chunks_missing++
            counts.bytes_missing += length
          }
          continue
        }
        if (!held[i]) {
          counts.manifests_missing++
          continue
        }
        const links = childLinks(decodeNode(cid, await this.init.blocks.get(cid, { signal })))
        for (let j = links.length - 1; j >= 0; j--) {
          if (seen.has(links[j].cid)) continue
          if (counts.blocks_walked + (batch.length - i - 1) + stack.length >= this.maxBlocks) {
            truncated = true
            break
          }
          seen.add(links[j].cid)
          stack.push({ cid: links[j].cid, bytes: links[j].bytes })
        }
      }
      await macrotask()
    }
    const dag: DagCompleteness = truncated ? 'unknown' : counts.chunks_missing + counts.manifests_missing > 0 ? 'incomplete' : 'complete'
    return { root: root.toString(), reasons, dag, ...counts }
  }
}
