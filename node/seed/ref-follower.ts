/**
 * The seed follows refs (DESIGN §4, §10; issue 17): it reads the refs the group committed (a linearizable
 * `ref.ls`, and `ref.log NAME` for a ref whose version changed) and fetches, fsyncs and pins (reason `ref`)
 * every target it lacks, keeping the newest `keepVersions` targets of each ref and withdrawing the `ref` reason
 * from older ones (src/seed decides which). So a `ref set` without `--require-seed`, or one made while the seed
 * was down, still ends up on the seed.
 *
 * - Quick: it polls every `followIntervalMs` (a read of the refs is one round trip to the leader; a ref whose
 *   version did not change costs nothing more), and a fetch that ends wakes it at once for the next one.
 * - No leader: a read that fails is tried again after a pause that doubles up to `retryMaxMs`; nothing is
 *   released on a read that failed.
 * - A target nobody can serve yet is tried again later (its own doubling pause); it never holds up the others:
 *   fetches of targets tried before take their own slots (`maxRetryFetches`), apart from new ones (`maxFetches`).
 * - Restarts: what it keeps is derived from the ref logs and the repo's `ref` pins, nothing else; a fetch cut
 *   short keeps what it stored, and the next one fetches only the rest.
 * - Bounded: a hostile target (huge, deep) is bounded by the fetcher's walk limits; the number of refs by the
 *   consensus reply's size limit.
 */
import { walkBlocks } from '../../src/manifest/index.ts'
import { DAG_CBOR_CODE, parseCid } from '../../src/cid.ts'
import { DEFAULT_FOLLOW_INTERVAL_MS, DEFAULT_KEEP_VERSIONS, planRefPins, refTargets, retryDelayMs } from '../../src/seed/index.ts'
import { BlockSync } from '../block-sync.ts'
import { macrotask } from '../deferred.ts'
import type { CID } from 'multiformats/cid'
import type { RefLogReply, RefRecord } from '../../src/state/index.ts'
import type { DitsBlockstore } from '../blockstore.ts'
import type { Pins } from '../repo.ts'
import type { FetchOptions, FetchReport } from '../net/fetcher.ts'

/** Fetches of targets never tried before, at once. */
export const DEFAULT_MAX_FETCHES = 4
/** Fetches of targets that failed before, at once (apart from the new ones: they never hold those up). */
export const DEFAULT_MAX_RETRY_FETCHES = 2
/** First pause after a failed read of the refs or a failed fetch; it doubles with each failure in a row. */
export const DEFAULT_RETRY_MIN_MS = 1_000
/** Longest such pause. */
export const DEFAULT_RETRY_MAX_MS = 30_000
/**
 * How often the repo's `ref` pins are read again even when no ref changed: a `pin rm --reason ref` by hand is
 * undone within this time (the pins are read again at every change of a ref anyway).
 */
export const DEFAULT_PIN_RESCAN_MS = 60_000
/** Pending fetches `status` lists (it counts them all). */
export const MAX_LISTED_PENDING = 64

export interface RefFollowerComponents {
  /** the group's refs, as `ref ls` and `ref log` read them (linearizable) */
  refs: {
    ls(): Promise<RefRecord[]>
    log(name: string): Promise<RefLogReply>
  }
  /** the network's verified fetch: fills the repo with every block of `root` it lacks */
  fetch(root: CID, options: FetchOptions): Promise<FetchReport>
  blocks: Pick<DitsBlockstore, 'get' | 'syncData' | 'syncDirs' | 'beginWrite'>
  pins: Pick<Pins, 'add' | 'rm' | 'ls' | 'reasons'>
  log?(message: string): void
}

export interface RefFollowerInit {
  /** @default DEFAULT_KEEP_VERSIONS */
  keepVersions?: number
  /** @default DEFAULT_FOLLOW_INTERVAL_MS */
  followIntervalMs?: number
  /** @default DEFAULT_MAX_FETCHES */
  maxFetches?: number
  /** @default DEFAULT_MAX_RETRY_FETCHES */
  maxRetryFetches?: number
  /** @default DEFAULT_RETRY_MIN_MS */
  retryMinMs?: number
  /** @default DEFAULT_RETRY_MAX_MS */
  retryMaxMs?: number
  /** @default DEFAULT_PIN_RESCAN_MS */
  pinRescanMs?: number
}

/** A kept target not pinned yet: being fetched, or waiting for its next try. */
export interface PendingFetch {
  root: string
  /** the refs that keep it (at most a few named) */
  refs: string[]
  state: 'fetching' | 'waiting'
  /** content bytes of the root held so far, of `bytes_total` (0 until its manifest is known) */
  bytes: number
  bytes_total: number
  /** failed tries so far */
  attempts: number
  /** why the last try failed */
  error?: string
  /** when it is tried again (ms from now), while waiting */
  retry_in_ms?: number
}

/** The `seed` section of `status --json`. */
export interface SeedStatus {
  /** whether the refs were read at least once since the start */
  following: boolean
  keep_versions: number
  follow_interval_ms: number
  /** refs followed */
  refs: number
  /** targets the refs keep */
  targets_wanted: number
  /** of those, pinned for `ref` (held, fsynced) */
  targets_kept: number
  pending_count: number
  pending: PendingFetch[]
  /** the last successful read of the refs (ISO 8601) */
  last_sync: string | null
  /** the last target kept: how many bytes it fetched, and how long the fetch and the fsync before the pin took */
  last_kept: { root: string, bytes_fetched: number, bytes_total: number, fetch_ms: number, sync_ms: number, at: string } | null
  last_error: { message: string, at: string } | null
}

interface FollowedRef {
  index: number
  targets: string[]
}

interface Job {
  controller: AbortController
  bytes: number
  total: number
  /** settles when the fetch has ended, however */
  done?: Promise<void>
}

interface Retry {
  attempts: number
  error: string
  at: number
}

export class RefFollower {
  private readonly c: RefFollowerComponents
  readonly keepVersions: number
  readonly followIntervalMs: number
  private readonly maxFetches: number
  private readonly maxRetryFetches: number
  private readonly retryMinMs: number
  private readonly retryMaxMs: number
  private readonly pinRescanMs: number
  private readonly refs = new Map<string, FollowedRef>()
  /** roots pinned for `ref`, as last read from the repo and changed since by this follower */
  private pinned = new Set<string>()
  private pinsReadAt = -Infinity
  private readonly jobs = new Map<string, Job>()
  private readonly retries = new Map<string, Retry>()
  private plan = { keep: [] as string[], fetch: [] as string[] }
  private running = false
  private loop?: Promise<void>
  private wake?: () => void
  /** a wake-up that came while no sleep was under way: the next one is skipped */
  private poked = false
  private readFailures = 0
  private lastSync: number | null = null
  private lastError: { message: string, at: number } | null = null
  private lastKept: SeedStatus['last_kept'] = null

  constructor (components: RefFollowerComponents, init: RefFollowerInit = {}) {
    this.c = components
    this.keepVersions = init.keepVersions ?? DEFAULT_KEEP_VERSIONS
    this.followIntervalMs = init.followIntervalMs ?? DEFAULT_FOLLOW_INTERVAL_MS
    this.maxFetches = init.maxFetches ?? DEFAULT_MAX_FETCHES
    this.maxRetryFetches = init.maxRetryFetches ?? DEFAULT_MAX_RETRY_FETCHES
    this.retryMinMs = init.retryMinMs ?? DEFAULT_RETRY_MIN_MS
    this.retryMaxMs = init.retryMaxMs ?? DEFAULT_RETRY_MAX_MS
    this.pinRescanMs = init.pinRescanMs ?? DEFAULT_PIN_RESCAN_MS
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.loop = this.run()
  }

  /** Stop reading and abort the fetches under way (what they stored stays; the next start goes on from it). */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const job of this.jobs.values()) job.controller.abort(new Error('the seed follower stopped'))
    this.poke()
    await this.loop
  }

  /** Read the refs now rather than at the end of the pause under way. */
  poke (): void {
    this.poked = true
    this.wake?.()
  }

  status (): SeedStatus {
    const now = Date.now()
    const pending: PendingFetch[] = []
    for (const root of this.plan.fetch) {
      if (pending.length >= MAX_LISTED_PENDING) break
      const job = this.jobs.get(root)
      const retry = this.retries.get(root)
      const entry: PendingFetch = {
        root,
        refs: this.refsKeeping(root),
        state: job !== undefined ? 'fetching' : 'waiting',
        bytes: job?.bytes ?? 0,
        bytes_total: job?.total ?? 0,
        attempts: retry?.attempts ?? 0
      }
      if (retry !== undefined) entry.error = retry.error
      if (job === undefined && retry !== undefined) entry.retry_in_ms = Math.max(0, retry.at - now)
      pending.push(entry)
    }
    return {
      following: this.lastSync !== null,
      keep_versions: this.keepVersions,
      follow_interval_ms: this.followIntervalMs,
      refs: this.refs.size,
      targets_wanted: this.plan.keep.length,
      targets_kept: this.plan.keep.length - this.plan.fetch.length,
      pending_count: this.plan.fetch.length,
      pending,
      last_sync: this.lastSync === null ? null : new Date(this.lastSync).toISOString(),
      last_kept: this.lastKept,
      last_error: this.lastError === null ? null : { message: this.lastError.message, at: new Date(this.lastError.at).toISOString() }
    }
  }

  private async run (): Promise<void> {
    while (this.running) {
      let pause = this.followIntervalMs
      try {
        await this.step()
        this.readFailures = 0
      } catch (err) {
        this.readFailures++
        this.fail(`reading the refs: ${(err as Error).message}`)
        pause = Math.max(pause, retryDelayMs(this.readFailures, this.retryMinMs, this.retryMaxMs))
      }
      await this.sleep(pause)
    }
    await Promise.allSettled([...this.jobs.values()].map(async j => { await j.done }))
  }

  /** One round: read the refs, plan, release, start fetches. */
  private async step (): Promise<void> {
    const records = await this.c.refs.ls()
    let changed = false
    const listed = new Set<string>()
    for (const r of records) {
      listed.add(r.name)
      if (this.refs.get(r.name)?.index === r.index) continue
      const log = await this.c.refs.log(r.name)
      this.refs.set(r.name, { index: r.index, targets: refTargets(r.cid, log.entries, this.keepVersions) })
      changed = true
    }
    for (const name of [...this.refs.keys()]) {
      if (listed.has(name)) continue
      this.refs.delete(name)
      changed = true
    }
    this.lastSync = Date.now()
    if (changed || this.lastSync - this.pinsReadAt >= this.pinRescanMs) await this.readPins()
    const plan = planRefPins([...this.refs.values()].map(r => r.targets), this.pinned)
    this.plan = plan
    const keep = new Set(plan.keep)
    for (const target of plan.release) {
      try {
        await this.c.pins.rm(parseCid(target), 'ref')
      } catch (err) {
        // tried again at the next round; the fetches go on meanwhile
        this.fail(`releasing ${target}: ${(err as Error).message}`)
        continue
      }
      this.pinned.delete(target)
      this.c.log?.(`released ${target}: no ref keeps it among its ${this.keepVersions} newest versions`)
    }
    for (const [root, job] of this.jobs) if (!keep.has(root)) job.controller.abort(new Error(`no ref keeps ${root} any more`))
    for (const root of this.retries.keys()) if (!keep.has(root)) this.retries.delete(root)
    this.startFetches()
  }

  private startFetches (): void {
    const now = Date.now()
    let fresh = 0
    let retrying = 0
    for (const root of this.jobs.keys()) {
      if (this.retries.has(root)) retrying++
      else fresh++
    }
    for (const root of this.plan.fetch) {
      if (this.jobs.has(root)) continue
      const retry = this.retries.get(root)
      if (retry === undefined ? fresh >= this.maxFetches : retrying >= this.maxRetryFetches || retry.at > now) continue
      if (retry === undefined) fresh++
      else retrying++
      this.startFetch(root)
    }
  }

  private startFetch (root: string): void {
    const job: Job = { controller: new AbortController(), bytes: 0, total: 0 }
    this.jobs.set(root, job)
    job.done = this.keepTarget(root, job).then(() => {
      this.retries.delete(root)
      this.pinned.add(root)
      this.plan = { keep: this.plan.keep, fetch: this.plan.fetch.filter(t => t !== root) }
      this.c.log?.(`kept ${root} (${job.total} bytes) for ${this.refsKeeping(root).join(', ')}`)
    }, (err: Error) => {
      if (job.controller.signal.aborted) return
      const attempts = (this.retries.get(root)?.attempts ?? 0) + 1
      const message = `fetching ${root}: ${err.message}`
      this.retries.set(root, { attempts, error: err.message, at: Date.now() + retryDelayMs(attempts, this.retryMinMs, this.retryMaxMs) })
      this.fail(message)
    }).finally(() => {
      this.jobs.delete(root)
      this.poke()
    })
  }

  /**
   * Fetch (verified) every block of `root` the repo lacks, fsync all of them, then pin it for `ref`. Until the pin
   * names them, the blocks are work in flight that a gc beside it keeps (DitsBlockstore.beginWrite).
   */
  private async keepTarget (target: string, job: Job): Promise<void> {
    const writing = this.c.blocks.beginWrite()
    try {
      await this.fetchAndPin(target, job)
    } finally {
      writing.end()
    }
  }

  private async fetchAndPin (target: string, job: Job): Promise<void> {
    const root = parseCid(target)
    const { signal } = job.controller
    const sync = new BlockSync(this.c.blocks)
    const started = performance.now()
    // chunks are synced as they come (held ones too: a get without --pin never synced them) ...
    const report = await this.c.fetch(root, {
      signal,
      onChunk: async (cid, bytes) => { await sync.add(cid, bytes?.byteLength ?? 0) },
      onProgress: p => { job.bytes = p.bytes; job.total = p.bytes_total }
    })
    // ... and the manifests once all are here: the pin promises the whole DAG is durable
    const getBlock = async (cid: CID): Promise<Uint8Array> => await this.c.blocks.get(cid)
    for await (const cid of walkBlocks(getBlock, root, { signal, pause: macrotask })) {
      if (cid.code === DAG_CBOR_CODE || cid.equals(root)) await sync.add(cid)
    }
    const fetched = performance.now()
    await sync.flush()
    signal.throwIfAborted()
    await this.c.pins.add(root, 'ref')
    const done = performance.now()
    this.lastKept = { root: target, bytes_fetched: report.bytes_fetched, bytes_total: report.bytes_total, fetch_ms: Math.round(fetched - started), sync_ms: Math.round(done - fetched), at: new Date().toISOString() }
  }

  private async readPins (): Promise<void> {
    const pinned = new Set<string>()
    for (const cid of await this.c.pins.ls()) {
      if ((await this.c.pins.reasons(cid)).ref !== undefined) pinned.add(cid.toString())
    }
    this.pinned = pinned
    this.pinsReadAt = Date.now()
  }

  private refsKeeping (root: string): string[] {
    const names: string[] = []
    for (const [name, r] of this.refs) {
      if (r.targets.includes(root)) names.push(name)
      if (names.length >= 4) break
    }
    return names
  }

  private fail (message: string): void {
    this.lastError = { message, at: Date.now() }
    this.c.log?.(message)
  }

  private async sleep (ms: number): Promise<void> {
    if (this.poked || !this.running) {
      this.poked = false
      return
    }
    await new Promise<void>(resolve => {
      const timer = setTimeout(done, ms)
      function done (): void {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
    this.wake = undefined
    this.poked = false
  }
}
