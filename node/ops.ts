/**
 * The operations behind the CLI verbs, on one repo. The CLI calls them directly when no daemon runs, and the
 * daemon's API calls the very same methods for a CLI that talks to it (node/api.ts), so both paths behave
 * alike. Arguments and results are plain JSON-able data.
 */
import { stat as fsStat } from 'node:fs/promises'
import { dirname, isAbsolute, join } from 'node:path'
import { z } from 'zod'
import type { CID } from 'multiformats/cid'
import { Adder } from './adder.ts'
import type { AddOptions, AddProgress } from './adder.ts'
import { BlockSync } from './block-sync.ts'
import { exportTo, readRange, ls, statCid } from './exporter.ts'
import { fetchTo } from './output.ts'
import { macrotask } from './deferred.ts'
import type { ExportProgress, LsEntry, StatResult } from './exporter.ts'
import type { FetchFn, LayoutProgress } from './output.ts'
import type { FetchProgress } from './net/fetcher.ts'
import type { PushStatus } from './net/seed.ts'
import type { SyncProgress } from './watch/speculative.ts'
import { verifyBlocks, gc } from './maintenance.ts'
import type { VerifyResult, VerifyProgress, GcResult, GcProgress, KeptForSeed } from './maintenance.ts'
import type { UsageReport } from './block-usage.ts'
import { exportCar, importCar } from './car/index.ts'
import type { CarProgress, ExportCarResult, ImportCarResult } from './car/index.ts'
import { readFileNode, walkBlocks, walkChunks, parseCidPath, resolvePath, walkTree } from '../src/manifest/index.ts'
import type { GetBlock, Resolved } from '../src/manifest/index.ts'
import { parseCid } from '../src/cid.ts'
import { UsageError, NotFoundError, UnavailableError, InvalidPathError } from '../src/errors.ts'
import { PROFILES, DEFAULT_PROFILE_NAME, validateProfile } from '../src/fastcdc/index.ts'
import { GC_CHECKPOINT_FILE, SPECULATIVE_DIR } from './repo.ts'
import { openSpeculativeRecord } from './seed/speculative.ts'
import type { SpeculativeRecord } from './seed/speculative.ts'
import type { Repo, PinReason, PinReasons } from './repo.ts'
import { readSwarmKeyFile, swarmKeyPath, swarmStatus } from './net/swarm-key.ts'
import type { SwarmStatus } from './net/swarm-key.ts'

/** Longest path or CID (with its `/sub/path`) an operation takes, in UTF-16 code units: Linux's PATH_MAX. */
export const MAX_ARG_PATH_CHARS = 4096

/*
 * The arguments of each operation, as the API (node/api.ts) and the CLI's direct calls check them before the
 * operation runs: a wrong type, a missing or unknown field or a value out of range is an InvalidArgumentError
 * naming the field. The operations then trust the types; what needs the repo or the network to judge (a CID
 * that does not parse, an output that exists) they check themselves.
 */

/** A CID, as text (parsed by the operation, which names what is wrong with it). */
export const CidArg = z.string().min(1).max(MAX_ARG_PATH_CHARS)

/**
 * A path on the daemon's machine, absolute: the daemon's working folder is not the caller's, so the CLI
 * resolves paths against its own before it sends them.
 */
export const AbsolutePathArg = z.string().min(1).max(MAX_ARG_PATH_CHARS)
  .refine(p => !p.includes('\0'), 'must not contain a NUL character')
  .refine(p => isAbsolute(p), 'must be an absolute path (resolve it against the caller\'s working folder first)')

const ByteCountArg = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

/** A chunker profile (src/fastcdc/profile.ts): its sizes in range and ordered, as validateProfile checks. */
export const ChunkerProfileArg = z.strictObject({
  name: z.string().min(1).max(64),
  min: z.number().int(),
  avg: z.number().int(),
  max: z.number().int(),
  normalization: z.number().int(),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional()
}).superRefine((profile, ctx) => {
  try {
    validateProfile(profile)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
  }
})

export const AddArgs = z.strictObject({
  paths: z.array(AbsolutePathArg).min(1),
  profile: ChunkerProfileArg.default({ ...PROFILES[DEFAULT_PROFILE_NAME] }).describe('--profile or --chunk-size'),
  pin: z.boolean().default(true)
})
export type AddArgs = z.output<typeof AddArgs>

export interface AddResponse {
  root: string
  size: number
  chunks: number
  files: number
  dirs: number
  bytes_new: number
  bytes_dedup: number
  /** chunk bytes the repo held damaged and this add replaced */
  bytes_repaired: number
  /** file bytes whose chunks the folder watcher had stored: their chunk list was reused, the files not read */
  bytes_reused: number
  pinned: boolean
  added: Array<{ path: string, cid: string, size: number, type: 'file' | 'dir' }>
}

export const GetArgs = z.strictObject({
  cid: CidArg,
  /** where to write: an existing path is refused unless `force` (as a local get does) */
  out: AbsolutePathArg.describe('-o'),
  force: z.boolean().optional(),
  maxRateBytesPerSec: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional().describe('--max-rate'),
  /** files and directories the output may have @default DEFAULT_MAX_OUTPUT_ENTRIES (output.ts) */
  maxEntries: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional().describe('--max-entries'),
  /** pin what was got (reason `user`), so that gc keeps it */
  pin: z.boolean().optional().describe('--pin'),
  /** restore modes and mtimes from the manifests (default true) */
  metadata: z.boolean().optional().describe('--no-metadata')
})
export type GetArgs = z.output<typeof GetArgs>
export interface GetResponse {
  cid: string
  out: string
  bytes_total: number
  /** chunk bytes received from peers */
  bytes_fetched: number
  /** chunk bytes the repo held already */
  bytes_local: number
  /** the rest: later occurrences of a chunk that occurs more than once in the root, written from the first */
  bytes_dedup: number
  files: number
  dirs: number
  sources: Record<string, number>
  /** manifest bytes received from peers (not part of bytes_total) */
  manifest_bytes_fetched: number
  /** the whole get: manifests, chunks and the output */
  duration_ms: number
  /** pinned (get --pin): gc keeps it; else gc may remove what the get fetched */
  pinned: boolean
}

export const CatArgs = z.strictObject({ cid: CidArg, offset: ByteCountArg.optional().describe('--offset'), length: ByteCountArg.optional().describe('--length') })
export type CatArgs = z.output<typeof CatArgs>

/** The arguments of `ls`, `lsTree`, `stat` and `pinAdd`: a CID, or `CID/sub/path`. */
export const CidArgs = z.strictObject({ cid: CidArg })
export type CidArgs = z.output<typeof CidArgs>

/** `pin rm CID [--reason R | --all]`: withdraws the `user` reason unless told otherwise. */
export const PinRmArgs = z.strictObject({
  cid: CidArg,
  reason: z.enum(['user', 'ref', 'push']).optional().describe('--reason'),
  all: z.boolean().optional().describe('--all')
})
export type PinRmArgs = z.output<typeof PinRmArgs>

export interface PinEntry {
  cid: string
  /** each reason the root is pinned for, and when it was given */
  reasons: PinReasons
}

export const ExportCarArgs = z.strictObject({
  cid: CidArg,
  /** the CAR file to write: an existing file is refused unless `force` */
  out: AbsolutePathArg.describe('-o'),
  force: z.boolean().optional().describe('--force')
})
export type ExportCarArgs = z.output<typeof ExportCarArgs>

export const ImportCarArgs = z.strictObject({ file: AbsolutePathArg })
export type ImportCarArgs = z.output<typeof ImportCarArgs>

export const VerifyArgs = z.strictObject({ cid: CidArg.optional(), repair: z.boolean().optional() })
export type VerifyArgs = z.output<typeof VerifyArgs>

export const GcArgs = z.strictObject({ dryRun: z.boolean().optional().describe('--dry-run') })
export type GcArgs = z.output<typeof GcArgs>

export interface IdResponse {
  peerId: string
  /** where the running daemon listens (empty when none runs) */
  addresses: string[]
  roles: string[]
  repo: string
  /** whether the network is private (a swarm key), the key's fingerprint, the transports in use; never the key */
  swarm: SwarmStatus
  /** whether a daemon serves this repo: without one, `addresses` is empty and `listen` is only configured */
  live: boolean
  /** config `addresses.listen`: where a daemon of this repo listens once started */
  listen: string[]
}

/** `status` without a daemon: what the repo alone knows. */
export interface OfflineStatus {
  live: false
  peerId: string
  roles: string[]
  repo: UsageReport & { pins: number, dir: string }
  config: { listen: string[], bootstrap: string[], mdns: boolean }
  /** what is missing, in words */
  network: string
}

/** One entry of a listing (`lsTree` streams them as JSON lines): `name` is its path below the listed directory. */
export type TreeListing = LsEntry

/** A listing stream sends its lines in batches of about this many bytes. */
const LISTING_BATCH_BYTES = 64 * 1024

export type Progress = AddProgress | ExportProgress | CarProgress | FetchProgress | LayoutProgress | GcProgress | PushStatus | VerifyProgress | SyncProgress | { checked: number }

export interface OpContext {
  signal?: AbortSignal
  onProgress?: (p: Progress) => void
}

/**
 * Hooks the daemon supplies once its network runs: fetching what the repo lacks and announcing new roots.
 * Without them the operations work on local content only.
 */
export interface NetworkHooks {
  fetch: FetchFn
  provide(root: CID): Promise<void>
  addresses(): string[]
  swarm(): SwarmStatus
}

export class RepoOps {
  readonly repo: Repo
  network?: NetworkHooks
  /** told of every gc run (the daemon's metrics) */
  onGc?: (result: GcResult) => void
  /**
   * on a workstation of a consensus group: the ref targets gc keeps because no seed holds them yet
   * (node/seed/gc-keep.ts); set by the daemon
   */
  keepForSeed?: (signal?: AbortSignal) => Promise<KeptForSeed[]>
  /**
   * on a seed: the chunks it keeps as speculative until they expire (node/seed/speculative.ts); set by the daemon. A gc
   * without a daemon opens the repo's own record, when there is one
   */
  speculative?: SpeculativeRecord
  /**
   * the folder watcher's chunk cache (node/watch), set by the daemon: `add` reuses the chunk lists it names, and gc
   * keeps the manifests it names (the watcher's chunks stay until they are added or the file changes)
   */
  watched?: {
    reuse: NonNullable<AddOptions['reuse']>
    roots(): string[]
  }
  /** one gc at a time: a second waits for the first */
  private gcRunning?: Promise<unknown>
  /** foreground work writing blocks now (add, get, import, pin add): background work waits while there is any */
  private foreground = 0

  constructor (repo: Repo) {
    this.repo = repo
  }

  private readonly getBlock: GetBlock = async (cid) => await this.repo.blocks.get(cid)

  async id (): Promise<IdResponse> {
    const roles: string[] = [this.repo.config.role]
    if (this.repo.config.consensus.voter) roles.push('voter')
    const { peerId } = await this.repo.identity()
    return { peerId, addresses: this.network?.addresses() ?? [], roles, repo: this.repo.dir, live: this.network != null, listen: this.repo.config.addresses.listen, swarm: this.network?.swarm() ?? await this.swarmOffline() }
  }

  /**
   * `status` without a daemon: identity, blocks, bytes and pins, and the configuration the network would start
   * with. Counts left unknown by an unclean stop are recounted here, to the end, as nothing else will, and saved when
   * no writer holds the repo.
   */
  async offlineStatus (): Promise<OfflineStatus> {
    const { peerId, roles } = await this.id()
    if (!this.repo.blocks.countsKnown()) {
      // Taking the lock first when it is free, the recount is exact (no writer can change the store meanwhile) and is
      // saved as the repo is closed: on 1,000,000 blocks the recount took 29 s, which every status paid again until a
      // daemon ran. With a writer at work (an add), it counts without the lock and saves nothing.
      await this.repo.lockIfFree('dits-node status (recount)')
      await this.repo.blocks.recount()
    }
    const c = this.repo.config
    return {
      live: false,
      peerId,
      roles,
      repo: { ...await this.repoStats(), dir: this.repo.dir },
      config: { listen: c.addresses.listen, bootstrap: c.bootstrap, mdns: c.discovery.mdns },
      network: `no daemon is running for ${this.repo.dir}: peers, DHT and transfers need one (\`dits-node start\`)`
    }
  }

  /** The network's privacy as the config sets it, for `id` without a daemon: a bad key file is reported here too. */
  private async swarmOffline (): Promise<SwarmStatus> {
    const { keyFile } = this.repo.config.swarm
    return swarmStatus(keyFile == null ? undefined : await readSwarmKeyFile(swarmKeyPath(this.repo.dir, keyFile)))
  }

  async add (args: AddArgs, ctx: OpContext = {}): Promise<AddResponse> {
    if (args.paths.length === 0) throw new UsageError('add needs at least one PATH')
    return await this.writing(async () => await this.addPaths(args, ctx))
  }

  /**
   * Run work that writes or reuses blocks before a pin names them (add, get, import, pin add): a gc running beside
   * it keeps all of them (DitsBlockstore.beginWrite), so gc never waits for it nor it for gc.
   */
  private async writing<T> (work: () => Promise<T>): Promise<T> {
    const w = this.repo.blocks.beginWrite()
    this.foreground++
    try {
      return await work()
    } finally {
      this.foreground--
      w.end()
    }
  }

  /** Foreground work (add, get, import, pin add) runs now: the watcher's background chunking waits for it. */
  get busy (): boolean {
    return this.foreground > 0
  }

  private async addPaths (args: AddArgs, ctx: OpContext): Promise<AddResponse> {
    const sync = args.pin ? new BlockSync(this.repo.blocks) : undefined
    const adder = new Adder(this.repo.blocks, { profile: args.profile, onProgress: ctx.onProgress, signal: ctx.signal, sync, reuse: this.watched?.reuse })
    await adder.scan(args.paths)
    const added = []
    for (const path of args.paths) added.push(await adder.addPath(path))
    const { cid: root, size } = added.length > 1 ? await adder.wrap(added) : added[0]
    if (sync !== undefined) {
      // Durability order: the blocks, then the pin that makes them reachable.
      await sync.flush()
      await this.repo.pins.add(root, 'user')
    }
    await this.network?.provide(root)
    const s = adder.stats
    return {
      root: root.toString(),
      size,
      chunks: s.chunks,
      files: s.files,
      dirs: s.dirs,
      bytes_new: s.bytesNew,
      bytes_dedup: s.bytesDedup,
      bytes_repaired: s.bytesRepaired,
      bytes_reused: s.bytesReused,
      pinned: args.pin,
      added: added.map(a => ({ path: a.path, cid: a.cid.toString(), size: a.size, type: a.kind }))
    }
  }

  async get (args: GetArgs, ctx: OpContext = {}): Promise<GetResponse> {
    const { root, path } = parseCidPath(args.cid)
    await checkOutputParent(args.out)
    // a path is resolved first (its manifests fetched as the daemon runs); a root alone is laid out as it comes
    return await this.writing(async () => {
      const cid = path === '' ? root : (await this.resolve(args.cid, ctx)).cid
      const response = await this.getCid(cid, args, ctx)
      if (args.pin === true) await this.pinAdd({ cid: cid.toString() }, ctx)
      return { ...response, pinned: args.pin === true }
    })
  }

  private async getCid (cid: CID, args: GetArgs, ctx: OpContext): Promise<Omit<GetResponse, 'pinned'>> {
    if (this.network == null) {
      if (!(await this.repo.blocks.has(cid))) throw this.notHere(cid)
      const started = performance.now()
      const result = await exportTo(this.getBlock, cid, args.out, { force: args.force, metadata: args.metadata, maxEntries: args.maxEntries, signal: ctx.signal, onProgress: ctx.onProgress, onLayout: ctx.onProgress })
      return { cid: cid.toString(), out: args.out, bytes_total: result.bytes, bytes_fetched: 0, bytes_local: result.bytes, bytes_dedup: 0, sources: {}, manifest_bytes_fetched: 0, duration_ms: Math.round(performance.now() - started), files: result.files, dirs: result.dirs }
    }
    const { fetched, result } = await fetchTo(this.network.fetch.bind(this.network), this.getBlock, cid, args.out, { force: args.force, metadata: args.metadata, maxEntries: args.maxEntries, signal: ctx.signal, maxRateBytesPerSec: args.maxRateBytesPerSec, onProgress: ctx.onProgress, onLayout: ctx.onProgress })
    // every byte of the output was written and checked (whole-file BLAKE3): what was neither fetched nor held
    // came from another occurrence of the same chunk (a chunk fetched twice, once forgotten past the download's
    // window, would make this negative: none of it is then a repeat)
    const dedup = fetched.bytes_total - fetched.bytes_fetched - fetched.bytes_local
    return { cid: cid.toString(), out: args.out, ...fetched, bytes_dedup: Math.max(0, dedup), files: result.files, dirs: result.dirs }
  }

  /**
   * `export`: the root (or `CID/sub/path`) and every block under it as a CARv1 file. The daemon first fetches what the
   * repo lacks; without it, the whole DAG must be here.
   */
  async exportCar (args: ExportCarArgs, ctx: OpContext = {}): Promise<ExportCarResult> {
    const { root, path } = parseCidPath(args.cid)
    await checkOutputParent(args.out)
    const cid = path === '' ? root : (await this.resolve(args.cid, ctx)).cid
    if (this.network != null) await this.network.fetch(cid, { signal: ctx.signal })
    else if (!(await this.repo.blocks.has(cid))) throw this.notHere(cid)
    try {
      return await exportCar(this.getBlock, cid, args.out, { force: args.force, signal: ctx.signal, onProgress: ctx.onProgress })
    } catch (err) {
      if (this.network == null && err instanceof NotFoundError) throw new UnavailableError(`cannot export ${cid}: ${err.message} (no daemon is running to fetch it from the network: run \`dits-node start\`)`)
      throw err
    }
  }

  /** `import`: a CARv1 file's blocks, each verified, then its root pinned (reason user) once its whole DAG is here. */
  async importCar (args: ImportCarArgs, ctx: OpContext = {}): Promise<ImportCarResult> {
    const s = await fsStat(args.file).catch(() => undefined)
    if (s === undefined) throw new InvalidPathError(`cannot import ${args.file}: no such file`)
    if (!s.isFile()) throw new InvalidPathError(`cannot import ${args.file}: not a file`)
    const r = await this.writing(async () => await importCar(this.repo.blocks, this.repo.pins, args.file, { signal: ctx.signal, onProgress: ctx.onProgress }))
    await this.network?.provide(parseCid(r.root))
    return r
  }

  /** The bytes of a file (or range of it), in order. */
  async * cat (args: CatArgs, ctx: OpContext = {}): AsyncGenerator<Uint8Array> {
    // the manifests (as the daemon runs: fetched), then only the chunks the range needs: a few KiB of a 100 GB
    // file fetch one chunk
    const { cid } = await this.resolve(args.cid, ctx)
    const offset = args.offset ?? 0
    const length = args.length ?? Infinity
    if (this.network != null) {
      const file = await readFileNode(this.getBlock, cid)
      await this.network.fetch(cid, { signal: ctx.signal, plan: walkChunks(this.getBlock, file, { offset, length }) })
    }
    const file = await readFileNode(this.getBlock, cid)
    yield * readRange(this.getBlock, file, offset, length)
  }

  async ls (args: CidArgs, ctx: OpContext = {}): Promise<LsEntry[]> {
    const r = await this.resolve(args.cid, ctx)
    const entries = await ls(this.getBlock, r.cid)
    // a file lists itself, under the name the path gave it
    return r.type === 'file' ? entries.map(e => ({ ...e, name: r.name })) : entries
  }

  /**
   * Every entry below a directory (`ls -r`), as JSON lines ({@link TreeListing}) in batches: the listing streams
   * however large the tree, holding one open directory per level. A file lists itself.
   */
  async * lsTree (args: CidArgs, ctx: OpContext = {}): AsyncGenerator<Uint8Array> {
    const r = await this.resolve(args.cid, ctx)
    if (r.type !== 'dir') {
      for (const e of await this.ls(args, ctx)) yield utf8.encode(JSON.stringify(e) + '\n')
      return
    }
    let batch = ''
    for await (const e of walkTree(this.getBlock, r.cid, { signal: ctx.signal, pause: macrotask })) {
      batch += JSON.stringify({ name: e.path, cid: e.cid.toString(), size: e.size, type: e.type } satisfies TreeListing) + '\n'
      if (batch.length >= LISTING_BATCH_BYTES) {
        yield utf8.encode(batch)
        batch = ''
      }
    }
    if (batch !== '') yield utf8.encode(batch)
  }

  async stat (args: CidArgs, ctx: OpContext = {}): Promise<StatResult> {
    return await statCid(this.getBlock, (await this.resolve(args.cid, ctx)).cid, { signal: ctx.signal })
  }

  /**
   * Scrub: the given root, or every stored block and then every pin's DAG (what a pin needs and the store lacks
   * is missing). With `repair`, blocks found corrupt (now quarantined) or missing are fetched again from the
   * network — for the given root, or for every pin — and the scrub runs again to show the outcome.
   */
  async verify (args: VerifyArgs, ctx: OpContext = {}): Promise<VerifyResult & { repaired?: number }> {
    const roots = args.cid === undefined ? undefined : [(await this.resolve(args.cid, ctx)).cid]
    // a whole-store verify also walks the pins: what a pin needs and the store lacks is found too (this node keeps no
    // other roots: ref targets are not kept by it)
    const scrub = async (): Promise<VerifyResult> => {
      // the kept count of blocks gives a whole-store verify its end (the progress line's share and ETA)
      const held = this.repo.blocks.usageReport()
      return await verifyBlocks(this.repo.blocks, roots, {
        signal: ctx.signal,
        pins: roots === undefined ? await this.repo.pins.ls() : undefined,
        total: roots === undefined && !held.counting ? held.blocks : undefined,
        onProgress: p => ctx.onProgress?.(p)
      })
    }
    const first = await scrub()
    // A scrub of the whole store also recounts it: a block changed behind dits' back may have skewed the counts.
    if (roots === undefined) await this.repo.blocks.recount()
    if (args.repair !== true || (first.bad_count === 0 && first.missing_count === 0)) return first
    if (this.network == null) throw new UnavailableError(`verify --repair fetches ${first.bad_count + first.missing_count} block(s) from peers: it needs a running daemon (\`dits-node start\`)`)
    for (const root of roots ?? await this.repo.pins.ls()) await this.network.fetch(root, { signal: ctx.signal })
    const second = await scrub()
    return { ...second, repaired: first.bad_count + first.missing_count - second.bad_count - second.missing_count }
  }

  /** Blocks and bytes held (kept as they change; `counting` while a recount after a crash is under way), for `status`. */
  async repoStats (): Promise<UsageReport & { pins: number }> {
    return { ...this.repo.blocks.usageReport(), pins: (await this.repo.pins.ls()).length }
  }

  /**
   * gc beside everything else (see maintenance.ts gc); one at a time: a second waits for the first to finish.
   */
  async gc (args: GcArgs, ctx: OpContext = {}): Promise<GcResult> {
    const before = this.gcRunning
    const run = (async () => {
      await before
      // a workstation keeps, as if pinned, the ref targets no seed holds yet: its copy may be the studio's last
      const keptForSeed = await this.keepForSeed?.(ctx.signal) ?? []
      // and the manifests of what the watcher chunked: its chunks wait there for an add and for their upload
      const roots = [...keptForSeed.map(k => k.root), ...this.watched?.roots() ?? []].map(r => parseCid(r))
      const record = this.speculative ?? await openSpeculativeRecord(join(this.repo.dir, SPECULATIVE_DIR))
      const result = await gc(this.repo.blocks, async () => [...await this.repo.pins.ls(), ...roots], {
        speculative: record === undefined ? undefined : (pinned, o) => record.sweep(Date.now(), pinned, o),
        dryRun: args.dryRun,
        signal: ctx.signal,
        checkpointFile: join(this.repo.dir, GC_CHECKPOINT_FILE),
        onProgress: p => ctx.onProgress?.(p)
      })
      return { ...result, keptForSeed }
    })()
    this.gcRunning = run.catch(() => {})
    const result = await run
    this.onGc?.(result)
    return result
  }

  async pinAdd (args: CidArgs, ctx: OpContext = {}): Promise<{ pinned: string }> {
    return await this.writing(async () => await this.pinWhole(args, ctx))
  }

  private async pinWhole (args: CidArgs, ctx: OpContext): Promise<{ pinned: string }> {
    const { root, path } = parseCidPath(args.cid)
    const cid = path === '' ? root : (await this.resolve(args.cid, ctx)).cid
    if (this.network != null) await this.network.fetch(cid, { signal: ctx.signal })
    // A pin promises the whole DAG is here and durable: check it, then fsync it, then pin.
    const check = await verifyBlocks(this.repo.blocks, [cid], { signal: ctx.signal })
    if (check.missing_count > 0 || check.bad_count > 0) {
      throw new NotFoundError(`cannot pin ${cid}: ${check.missing_count} block(s) missing and ${check.bad_count} corrupt under it (first: ${check.missing[0] ?? check.bad[0]?.cid})${this.network == null ? '; start the daemon to fetch them' : ''}`)
    }
    const sync = new BlockSync(this.repo.blocks)
    for await (const c of walkBlocks(this.getBlock, cid, { signal: ctx.signal, pause: macrotask })) {
      // held: a gc from now on keeps it until the pin names it; one that a gc removed since the check is missing
      if (!(await this.repo.blocks.hold(c))) throw new NotFoundError(`cannot pin ${cid}: block ${c} under it went (a gc removed it while unpinned); get it again and pin`)
      await sync.add(c)
    }
    await sync.flush()
    await this.repo.pins.add(cid, 'user')
    await this.network?.provide(cid)
    return { pinned: cid.toString() }
  }

  /**
   * Withdraws one reason of a pin (`user` unless told), or all of them; what is left keeps the root pinned. The
   * answer says which reasons remain, so that `pin rm` of a root a seed keeps for a ref does not look like a
   * success that frees it.
   */
  async pinRm (args: PinRmArgs): Promise<{ unpinned: string, removed: PinReason[], remaining: PinReason[] }> {
    const cid = parseCid(args.cid)
    if (args.all === true && args.reason !== undefined) throw new UsageError('pin rm: give --reason or --all, not both')
    const before = await this.repo.pins.reasons(cid)
    const held = Object.keys(before) as PinReason[]
    if (held.length === 0) throw new NotFoundError(`${cid} is not pinned`)
    const reason = args.all === true ? undefined : args.reason ?? 'user'
    if (reason !== undefined && before[reason] === undefined) throw new NotFoundError(`${cid} is not pinned for the reason ${reason} (it is pinned for: ${held.join(', ')}; \`pin rm --reason R\` or --all)`)
    await this.repo.pins.rm(cid, reason)
    const removed = reason === undefined ? held : [reason]
    return { unpinned: cid.toString(), removed, remaining: held.filter(r => !removed.includes(r)) }
  }

  async pinLs (): Promise<PinEntry[]> {
    const entries: PinEntry[] = []
    for (const cid of await this.repo.pins.ls()) entries.push({ cid: cid.toString(), reasons: await this.repo.pins.reasons(cid) })
    return entries
  }

  /**
   * `CID` or `CID/sub/path` → the entry it names. A root the repo lacks is fetched (its manifests) as the daemon
   * runs; without the daemon it is unavailable (exit 4), as content no peer has is.
   */
  private async resolve (input: string, ctx: OpContext = {}): Promise<Resolved> {
    const { root, path } = parseCidPath(input)
    if (!(await this.repo.blocks.has(root))) {
      if (this.network == null) throw this.notHere(root)
      await this.network.fetch(root, { signal: ctx.signal, scope: 'manifests' })
    }
    return await resolvePath(this.getBlock, root, path, { signal: ctx.signal })
  }

  private notHere (cid: CID): UnavailableError {
    return new UnavailableError(`${cid} is not in the repo ${this.repo.dir}${this.network == null ? ' (no daemon is running to fetch it from the network: run `dits-node start`)' : ''}`)
  }
}

const utf8 = new TextEncoder()

/** The folder `out` goes into must exist: a get makes the output, not the folders above it. */
async function checkOutputParent (out: string): Promise<void> {
  const parent = dirname(out)
  const s = await fsStat(parent).catch(() => undefined)
  if (s === undefined) throw new InvalidPathError(`cannot write ${out}: the folder ${parent} does not exist (create it first)`)
  if (!s.isDirectory()) throw new InvalidPathError(`cannot write ${out}: ${parent} is not a folder`)
}
