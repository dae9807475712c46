/**
 * Speculative transport, the workstation's side (issue 18): files in the watched folders are chunked in the
 * background as they settle, their chunks stored here (fsynced, unpinned, kept from gc by the chunk cache that names
 * their manifests) and uploaded to the seed(s) as speculative chunks, so that a later `add` + `push` of the file has
 * nothing left to read or send.
 *
 * Two loops, each doing one thing at a time: the chunker takes one settled file at a time (the chunk pipeline's
 * worker thread cuts and hashes; between chunks it waits while foreground work — an add, a get — runs, so it never
 * competes with what the user waits for); the uploader takes one chunked file at a time and sends its chunk list in
 * batches (a SPECULATE each, node/net/seed.ts: the seed fetches only what it lacks, from this node), paced to average
 * at most `speculative.maxRate`.
 */
import { lstat, open } from 'node:fs/promises'
import { readSync } from 'node:fs'
import { MAX_SPECULATE_BYTES, MAX_SPECULATE_CHUNKS } from '../../protocol/limits.ts'
import { Adder } from '../adder.ts'
import { BlockSync } from '../block-sync.ts'
import { chunkAndHash } from '../chunk-pipeline.ts'
import { abortable, macrotask, Pulse } from '../deferred.ts'
import { FolderWatcher } from './watcher.ts'
import type { FolderWatcherInit } from './watcher.ts'
import { identityOf, profileKey, sameIdentity } from './chunk-cache.ts'
import type { ChunkCache, ChunkCacheEntry } from './chunk-cache.ts'
import { cidFromDigest, parseCid, RAW_CODE, cidKey } from '../../src/cid.ts'
import { readFileNode, walkChunks } from '../../src/manifest/index.ts'
import { DitsError, InvalidPathError, UnavailableError } from '../../src/errors.ts'
import type { ChunkerProfile } from '../../src/fastcdc/index.ts'
import type { DitsBlockstore } from '../blockstore.ts'
import type { CID } from 'multiformats/cid'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Chunks one upload batch names at most: a SPECULATE's limit. */
export const DEFAULT_UPLOAD_BATCH_CHUNKS = MAX_SPECULATE_CHUNKS
/** Bytes one upload batch names at most: a SPECULATE's limit. */
export const DEFAULT_UPLOAD_BATCH_BYTES = MAX_SPECULATE_BYTES
/** With a rate cap, a batch is at most this many seconds of the cap, so that the pacing between batches stays even. */
export const DEFAULT_UPLOAD_BATCH_SECONDS = 2
/** A failed upload is tried again after this, doubling up to DEFAULT_UPLOAD_RETRY_MAX_MS. */
export const DEFAULT_UPLOAD_RETRY_MIN_MS = 1000
export const DEFAULT_UPLOAD_RETRY_MAX_MS = 60_000
/**
 * A file is recorded in the chunk cache only when its mtime was at least this old as the read began: a write within
 * the file system's timestamp granularity after the read could otherwise leave its identity unchanged ("racy git").
 */
export const DEFAULT_RACY_MS = 1000
/** How often background work looks again whether the foreground work it waits for is done. */
export const FOREGROUND_POLL_MS = 50
/** The upload rate is an exponentially weighted average over batches with this weight for the newest. */
const RATE_WEIGHT = 0.3
/** Chunks a coverage has-checks at once. */
const COVERAGE_BATCH_CHUNKS = 4096

/** A chunk to upload: the shape node/net/seed.ts `speculate` takes. */
export interface SpeculativeChunk {
  cid: CID
  bytes: number
}

/** What a seed did with one batch (node/net/seed.ts SpeculateResult, the part used here). */
export interface SpeculatedCounts {
  chunks_fetched: number
  bytes_fetched: number
  chunks_already: number
  bytes_already: number
}

/** A seed: as configured (a peer id or a multiaddr ending in /p2p/ID), and its peer id. */
export interface Seed {
  text: string
  id: string
  target: PeerId | Multiaddr
}

export interface SpeculativeComponents {
  blocks: DitsBlockstore
  cache: ChunkCache
  /** foreground work (add, get, import, pin add) runs now */
  busy(): boolean
  /** the seeds to upload to (node/seed/targets.ts studioSeeds); none: chunks are stored and cached, not uploaded */
  seeds(): Seed[]
  /** upload `chunks` to `seed` as speculative (node/net/seed.ts speculate) */
  speculate(seed: Seed, chunks: SpeculativeChunk[], options: { ttlMs: number, signal: AbortSignal }): Promise<SpeculatedCounts>
  /** which of `cids` `seed` holds (a have-check) */
  has(seed: Seed, cids: CID[], options: { signal?: AbortSignal }): Promise<boolean[]>
  log?(message: string): void
}

export interface SpeculativeInit extends Omit<FolderWatcherInit, 'onRemoved' | 'log'> {
  profile: ChunkerProfile
  /** upload at all (config speculative.enabled) */
  enabled: boolean
  /** bytes per second the uploads may average; null: no cap */
  maxRate: number | null
  ttlMs: number
  /** @default DEFAULT_RACY_MS */
  racyMs?: number
  /** @default DEFAULT_UPLOAD_BATCH_CHUNKS */
  batchChunks?: number
  /** @default DEFAULT_UPLOAD_BATCH_BYTES */
  batchBytes?: number
}

export interface SpeculativeStatus {
  state: 'active' | 'paused'
  /** config speculative.enabled: uploads happen at all */
  enabled: boolean
  dirs: string[]
  seeds: string[]
  /** files chunked since the daemon started */
  files: number
  /** files whose every chunk is on the seed(s), since the daemon started */
  files_uploaded: number
  /** files the chunk cache names now (chunked, unchanged since) */
  files_cached: number
  /** files changed while they were read, read again once settled */
  rereads: number
  /** chunks and bytes the seed(s) fetched from this node since the daemon started */
  chunks_uploaded: number
  bytes_uploaded: number
  /** chunks and bytes of uploaded files the seed(s) held already */
  chunks_already_on_seed: number
  bytes_already_on_seed: number
  /** files waiting: to settle, to be chunked, to be uploaded */
  queue_depth: number
  uploads_waiting: number
  /** bytes per second of the recent uploads (0 before any) */
  rate: number
  /** what runs now */
  current: Array<{ path: string, stage: 'chunking' | 'uploading' }>
  idle: boolean
  last_error?: { message: string, at: string }
}

export interface CoverageReport {
  file: string
  size: number
  /** distinct chunks of the file */
  chunks: number
  bytes: number
  /** of them, those on the seed (the seed holding fewest, with several) */
  chunks_on_seed: number
  bytes_on_seed: number
  percent: number
  bytes_remaining: number
  /** bytes_remaining at the measured upload rate; null before any upload */
  estimated_push_ms: number | null
  rate: number
  /** the chunk list came from the chunk cache (else the file was read now) */
  cached: boolean
  seeds: Array<{ seed: string, chunks_on_seed: number, bytes_on_seed: number, error?: string }>
}

export interface SyncProgress {
  sync: string
  files_queued: number
  queue_depth: number
  bytes_uploaded: number
}

export class SpeculativeError extends DitsError {
  static override name = 'SpeculativeError'
  override name = 'SpeculativeError'
}

export class SpeculativeService {
  private readonly components: SpeculativeComponents
  private readonly init: SpeculativeInit
  readonly watcher: FolderWatcher
  private readonly racyMs: number
  /** paths chunked and recorded, whose upload is due, in order */
  private readonly uploads = new Set<string>()
  private readonly wake = new Pulse()
  /** settles each time a loop finds nothing to do */
  private readonly quiet = new Pulse()
  private readonly counts = { files: 0, files_uploaded: 0, rereads: 0, chunks_uploaded: 0, bytes_uploaded: 0, chunks_already_on_seed: 0, bytes_already_on_seed: 0 }
  private rate = 0
  private chunking?: { path: string, abort: AbortController }
  private uploading?: { path: string, abort: AbortController }
  private retryAt = 0
  private retryMs = DEFAULT_UPLOAD_RETRY_MIN_MS
  private lastError?: { message: string, at: string }
  private paceFrom = 0
  private pacedBytes = 0
  private stopping = new AbortController()
  private loops: Array<Promise<void>> = []

  constructor (components: SpeculativeComponents, init: SpeculativeInit) {
    this.components = components
    this.init = init
    this.racyMs = init.racyMs ?? DEFAULT_RACY_MS
    this.watcher = new FolderWatcher({
      ...init,
      onRemoved: path => { void components.cache.dropUnder(path).catch(err => { this.fail(err as Error) }) },
      log: m => components.log?.(m)
    })
  }

  get paused (): boolean {
    return this.components.cache.isPaused
  }

  async start (dirs: string[]): Promise<void> {
    this.stopping = new AbortController()
    for (const dir of dirs) await this.watch(dir)
    // what was chunked and not uploaded before the daemon stopped
    for (const e of this.components.cache.list()) if (!e.uploaded) this.uploads.add(e.path)
    this.loops = [this.chunkLoop(), this.uploadLoop()]
  }

  async stop (): Promise<void> {
    this.stopping.abort(new UnavailableError('the daemon is stopping'))
    this.chunking?.abort.abort(this.stopping.signal.reason)
    this.uploading?.abort.abort(this.stopping.signal.reason)
    this.wake.notify()
    this.watcher.changed.notify()
    await Promise.allSettled(this.loops)
    await this.watcher.close()
  }

  async watch (dir: string): Promise<void> {
    const st = await lstat(dir).catch(() => undefined)
    if (st === undefined) throw new InvalidPathError(`cannot watch ${dir}: no such directory`)
    if (!st.isDirectory()) throw new InvalidPathError(`cannot watch ${dir}: not a directory`)
    await this.watcher.add(dir)
  }

  async unwatch (dir: string): Promise<boolean> {
    const was = await this.watcher.remove(dir)
    for (const path of [...this.uploads]) if (path.startsWith(dir + '/')) this.uploads.delete(path)
    await this.components.cache.dropUnder(dir)
    return was
  }

  status (): SpeculativeStatus {
    const current: SpeculativeStatus['current'] = []
    if (this.chunking !== undefined) current.push({ path: this.chunking.path, stage: 'chunking' })
    if (this.uploading !== undefined) current.push({ path: this.uploading.path, stage: 'uploading' })
    return {
      state: this.paused ? 'paused' : 'active',
      enabled: this.init.enabled,
      dirs: this.watcher.dirs(),
      seeds: this.components.seeds().map(s => s.id),
      ...this.counts,
      files_cached: this.components.cache.size,
      queue_depth: this.watcher.queued + this.uploads.size + current.length,
      uploads_waiting: this.uploads.size,
      rate: Math.round(this.rate),
      current,
      idle: this.idle(),
      ...(this.lastError !== undefined ? { last_error: this.lastError } : {})
    }
  }

  async pause (): Promise<void> {
    await this.components.cache.setPaused(true)
    // what runs now stops; the file it read is read again after resume
    const path = this.chunking?.path
    this.chunking?.abort.abort(new SpeculativeError('paused'))
    this.uploading?.abort.abort(new SpeculativeError('paused'))
    if (path !== undefined) this.watcher.readyNow(path)
  }

  async resume (): Promise<void> {
    await this.components.cache.setPaused(false)
    this.retryAt = 0
    this.wake.notify()
  }

  /**
   * Forget everything queued and cached: the chunk cache's entries go, so gc may reclaim the chunks the watcher
   * stored (those already on the seed stay there until their expiry). The folders stay watched.
   */
  async clear (): Promise<{ files_forgotten: number }> {
    this.watcher.clear()
    this.uploads.clear()
    this.chunking?.abort.abort(new SpeculativeError('cleared'))
    this.uploading?.abort.abort(new SpeculativeError('cleared'))
    const n = await this.components.cache.clear()
    for (const k of Object.keys(this.counts) as Array<keyof typeof this.counts>) this.counts[k] = 0
    this.rate = 0
    this.lastError = undefined
    return { files_forgotten: n }
  }

  /**
   * Take every file under `dir` now (no debounce), and resolve once the watcher is idle: every file chunked and
   * uploaded. Fails when an upload fails meanwhile (the seed unreachable, a quota), naming it.
   */
  async sync (dir: string, options: { signal?: AbortSignal, onProgress?: (p: SyncProgress) => void } = {}): Promise<SpeculativeStatus> {
    const st = await lstat(dir).catch(() => undefined)
    if (st === undefined || !st.isDirectory()) throw new InvalidPathError(`cannot sync ${dir}: not a directory`)
    if (this.paused) throw new SpeculativeError('speculative transport is paused: `dits-node speculative resume` first')
    const errorBefore = this.lastError
    let queued = 0
    const progress = (): void => options.onProgress?.({ sync: dir, files_queued: queued, queue_depth: this.status().queue_depth, bytes_uploaded: this.counts.bytes_uploaded })
    for await (const path of this.watcher.files(dir)) {
      while (!this.watcher.readyNow(path)) await this.waitQuiet(options.signal)
      queued++
      progress()
    }
    this.wake.notify()
    for (;;) {
      options.signal?.throwIfAborted()
      if (this.lastError !== errorBefore && this.lastError !== undefined && this.uploads.size > 0) {
        throw new UnavailableError(`${this.uploads.size} file(s) not uploaded yet: ${this.lastError.message} (tried again every ${DEFAULT_UPLOAD_RETRY_MAX_MS / 1000} s at most)`)
      }
      if (this.idle()) return this.status()
      progress()
      await this.waitQuiet(options.signal)
    }
  }

  /**
   * What of `file` the seed(s) hold: its chunks (from the chunk cache when the file is as the watcher read it, else
   * cut now, reading the file), each has-checked against every seed.
   */
  async coverage (file: string, options: { signal?: AbortSignal } = {}): Promise<CoverageReport> {
    const seeds = this.components.seeds()
    if (seeds.length === 0) throw new UnavailableError('no seed to ask: set config seeds, or bootstrap a peer whose role is seed')
    const { chunks, size, cached } = await this.chunkList(file, options.signal)
    const distinct = new Map<string, SpeculativeChunk>()
    for (const c of chunks) distinct.set(cidKey(c.cid), c)
    const list = [...distinct.values()]
    const bytes = list.reduce((n, c) => n + c.bytes, 0)
    const perSeed = await Promise.all(seeds.map(async seed => {
      let n = 0
      let b = 0
      try {
        for (let i = 0; i < list.length; i += COVERAGE_BATCH_CHUNKS) {
          const batch = list.slice(i, i + COVERAGE_BATCH_CHUNKS)
          const held = await this.components.has(seed, batch.map(c => c.cid), options)
          batch.forEach((c, j) => {
            if (held[j]) {
              n++
              b += c.bytes
            }
          })
        }
        return { seed: seed.id, chunks_on_seed: n, bytes_on_seed: b }
      } catch (err) {
        options.signal?.throwIfAborted()
        return { seed: seed.id, chunks_on_seed: n, bytes_on_seed: b, error: (err as Error).message }
      }
    }))
    if (perSeed.every(s => s.error !== undefined)) throw new UnavailableError(`no seed answered: ${perSeed.map(s => `${s.seed}: ${s.error as string}`).join('; ')}`)
    const worst = perSeed.filter(s => s.error === undefined).reduce((a, s) => s.bytes_on_seed < a.bytes_on_seed ? s : a)
    const remaining = bytes - worst.bytes_on_seed
    return {
      file,
      size,
      chunks: list.length,
      bytes,
      chunks_on_seed: worst.chunks_on_seed,
      bytes_on_seed: worst.bytes_on_seed,
      percent: list.length === 0 ? 100 : Math.floor(10_000 * worst.chunks_on_seed / list.length) / 100,
      bytes_remaining: remaining,
      estimated_push_ms: this.rate > 0 ? Math.round(1000 * remaining / this.rate) : remaining === 0 ? 0 : null,
      rate: Math.round(this.rate),
      cached,
      seeds: perSeed
    }
  }

  private idle (): boolean {
    return this.watcher.idle && this.chunking === undefined && this.uploading === undefined &&
      (this.uploads.size === 0 || !this.uploadsPossible())
  }

  private uploadsPossible (): boolean {
    return this.init.enabled && !this.paused && this.components.seeds().length > 0
  }

  private async waitQuiet (signal?: AbortSignal): Promise<void> {
    await abortable(Promise.race([this.quiet.wait(), sleep(250)]), signal)
  }

  private fail (err: Error): void {
    this.lastError = { message: err.message, at: new Date().toISOString() }
    this.components.log?.(`speculative: ${err.message}`)
  }

  // ---- the chunker --------------------------------------------------------------------------------------------

  private async chunkLoop (): Promise<void> {
    const signal = this.stopping.signal
    while (!signal.aborted) {
      const path = this.paused ? undefined : this.watcher.take()
      if (path === undefined) {
        this.quiet.notify()
        await Promise.race([this.watcher.changed.wait(), this.wake.wait()])
        continue
      }
      const abort = new AbortController()
      this.chunking = { path, abort }
      try {
        await this.chunkFile(path, AbortSignal.any([abort.signal, signal]))
      } catch (err) {
        if (!abort.signal.aborted && !signal.aborted) this.fail(new SpeculativeError(`chunking ${path}: ${(err as Error).message}`))
      } finally {
        this.chunking = undefined
      }
    }
  }

  private async chunkFile (path: string, signal: AbortSignal): Promise<void> {
    const { cache, blocks } = this.components
    let st = await lstat(path, { bigint: true }).catch(() => undefined)
    if (st === undefined || !st.isFile() || Number(st.size) < this.init.minBytes) {
      await cache.drop(path)
      return
    }
    let before = identityOf(st)
    const known = cache.lookup(path, before, this.init.profile)
    if (known !== undefined) {
      if (!known.uploaded) this.queueUpload(path)
      return
    }
    const age = Date.now() - Number(st.mtimeMs)
    if (age < this.racyMs) {
      await abortable(sleep(this.racyMs - age), signal)
      st = await lstat(path, { bigint: true }).catch(() => undefined)
      if (st === undefined || !sameIdentity(before, identityOf(st))) {
        this.watcher.again(path)
        return
      }
      before = identityOf(st)
    }
    const writing = blocks.beginWrite()
    try {
      const sync = new BlockSync(blocks)
      const adder = new Adder(blocks, { profile: this.init.profile, signal, sync, pace: async () => await this.yieldToForeground(signal) })
      const added = await adder.addPath(path)
      const after = await lstat(path, { bigint: true }).catch(() => undefined)
      if (after === undefined || !sameIdentity(before, identityOf(after))) {
        // written while it was read: what was read is not the file; it is read again once it settles
        this.counts.rereads++
        if (after !== undefined) this.watcher.again(path)
        return
      }
      // the chunk cache names only chunks that are durable here (as a pin does)
      await sync.flush()
      await cache.record({ path, ...before, profile: profileKey(this.init.profile), root: added.cid.toString(), chunks: adder.stats.chunks, uploaded: false })
      this.counts.files++
      this.queueUpload(path)
    } finally {
      writing.end()
    }
  }

  /** Between chunks: wait while foreground work runs, and let the event loop in. */
  private async yieldToForeground (signal: AbortSignal): Promise<void> {
    while (this.components.busy()) await abortable(sleep(FOREGROUND_POLL_MS), signal)
    await macrotask()
  }

  // ---- the uploader -------------------------------------------------------------------------------------------

  private queueUpload (path: string): void {
    this.uploads.delete(path)
    this.uploads.add(path)
    this.wake.notify()
  }

  private async uploadLoop (): Promise<void> {
    const signal = this.stopping.signal
    while (!signal.aborted) {
      const path = this.uploads.values().next().value
      const wait = this.retryAt - Date.now()
      if (path === undefined || !this.uploadsPossible() || wait > 0) {
        this.quiet.notify()
        await Promise.race([this.wake.wait(), sleep(wait > 0 ? wait : 1000)])
        continue
      }
      const entry = this.components.cache.get(path)
      if (entry === undefined || entry.uploaded) {
        this.uploads.delete(path)
        continue
      }
      const abort = new AbortController()
      this.uploading = { path, abort }
      try {
        await this.upload(entry, AbortSignal.any([abort.signal, signal]))
        await this.components.cache.markUploaded(path, entry.root)
        if (this.components.cache.get(path)?.root === entry.root) this.uploads.delete(path)
        this.counts.files_uploaded++
        this.retryMs = DEFAULT_UPLOAD_RETRY_MIN_MS
      } catch (err) {
        if (!abort.signal.aborted && !signal.aborted) {
          this.fail(err as Error)
          // the next try after a pause that doubles: the seed may be down for a while
          this.retryAt = Date.now() + this.retryMs
          this.retryMs = Math.min(DEFAULT_UPLOAD_RETRY_MAX_MS, this.retryMs * 2)
          this.uploads.delete(path)
          this.uploads.add(path)
        }
      } finally {
        this.uploading = undefined
      }
    }
  }

  /** Every chunk of `entry`'s manifest to every seed, in batches, paced to maxRate. */
  private async upload (entry: ChunkCacheEntry, signal: AbortSignal): Promise<void> {
    const { blocks } = this.components
    const getBlock = async (cid: CID): Promise<Uint8Array> => await blocks.get(cid, { signal })
    const file = await readFileNode(getBlock, parseCid(entry.root))
    const cap = this.init.maxRate
    const maxBytes = Math.min(this.init.batchBytes ?? DEFAULT_UPLOAD_BATCH_BYTES, cap === null ? Infinity : Math.max(1, cap * DEFAULT_UPLOAD_BATCH_SECONDS))
    const maxChunks = this.init.batchChunks ?? DEFAULT_UPLOAD_BATCH_CHUNKS
    let batch: SpeculativeChunk[] = []
    let batchBytes = 0
    const seen = new Set<string>()
    for await (const c of walkChunks(getBlock, file, undefined, { signal })) {
      const key = cidKey(c.cid)
      if (seen.has(key)) continue
      if (batch.length > 0 && (batch.length >= maxChunks || batchBytes + c.length > maxBytes)) {
        await this.send(batch, signal)
        batch = []
        batchBytes = 0
        seen.clear()
      }
      seen.add(key)
      batch.push({ cid: c.cid, bytes: c.length })
      batchBytes += c.length
    }
    if (batch.length > 0) await this.send(batch, signal)
  }

  private async send (batch: SpeculativeChunk[], signal: AbortSignal): Promise<void> {
    const seeds = this.components.seeds()
    if (seeds.length === 0) throw new UnavailableError('no seed to upload to')
    const started = performance.now()
    const results = await Promise.all(seeds.map(async seed => await this.components.speculate(seed, batch, { ttlMs: this.init.ttlMs, signal })))
    const seconds = (performance.now() - started) / 1000
    let fetched = 0
    for (const r of results) {
      this.counts.chunks_uploaded += r.chunks_fetched
      this.counts.bytes_uploaded += r.bytes_fetched
      this.counts.chunks_already_on_seed += r.chunks_already
      this.counts.bytes_already_on_seed += r.bytes_already
      fetched += r.bytes_fetched
    }
    if (fetched > 0 && seconds > 0) {
      const measured = fetched / seconds
      this.rate = this.rate === 0 ? measured : RATE_WEIGHT * measured + (1 - RATE_WEIGHT) * this.rate
    }
    await this.pace(fetched, signal)
  }

  /** Wait until the bytes uploaded since the pacing began average at most maxRate. */
  private async pace (bytes: number, signal: AbortSignal): Promise<void> {
    const cap = this.init.maxRate
    if (cap === null || bytes === 0) return
    const now = performance.now()
    // a pause longer than a batch's worth starts the pacing afresh: no burst to make up for idle time
    if (now - this.paceFrom > 1000 * (this.pacedBytes / cap + DEFAULT_UPLOAD_BATCH_SECONDS)) {
      this.paceFrom = now
      this.pacedBytes = 0
    }
    this.pacedBytes += bytes
    const due = this.paceFrom + 1000 * this.pacedBytes / cap
    if (due > now) await abortable(sleep(due - now), signal)
  }

  // ---- coverage -----------------------------------------------------------------------------------------------

  /** The chunks of `file` as it is now. */
  private async chunkList (file: string, signal?: AbortSignal): Promise<{ chunks: SpeculativeChunk[], size: number, cached: boolean }> {
    const st = await lstat(file, { bigint: true }).catch(() => undefined)
    if (st === undefined || !st.isFile()) throw new InvalidPathError(`${file}: no such file`)
    const entry = this.components.cache.lookup(file, identityOf(st), this.init.profile)
    if (entry !== undefined) {
      try {
        const getBlock = async (cid: CID): Promise<Uint8Array> => await this.components.blocks.get(cid, { signal })
        const node = await readFileNode(getBlock, parseCid(entry.root))
        const chunks: SpeculativeChunk[] = []
        for await (const c of walkChunks(getBlock, node, undefined, { signal })) chunks.push({ cid: c.cid, bytes: c.length })
        return { chunks, size: node.size, cached: true }
      } catch {
        // a manifest gone: the file is cut below
      }
    }
    const fh = await open(file, 'r')
    try {
      const chunks: SpeculativeChunk[] = []
      const read = (into: Uint8Array): number => readSync(fh.fd, into)
      for await (const c of chunkAndHash(read, this.init.profile, { signal, sizeHint: Number(st.size) })) {
        chunks.push({ cid: cidFromDigest(RAW_CODE, c.digest), bytes: c.bytes.byteLength })
      }
      return { chunks, size: chunks.reduce((n, c) => n + c.bytes, 0), cached: false }
    } finally {
      await fh.close()
    }
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
