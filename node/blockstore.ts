/**
 * The on-disk blockstore: blockstore-fs's layout, with a sharding strategy that keeps the whole CID in the
 * file name, so the codec survives and listing works for BLAKE3 CIDs (DESIGN §1). Writes are atomic
 * (temp + rename) and done here in one write call. Listing goes a shard directory at a time. Every read is
 * verified against the CID; a block that fails is moved to `quarantine/` and never returned. Every change (put,
 * delete, quarantine) goes through `usage`, which keeps the counts of blocks and bytes.
 */
import { constants, lstatSync, openSync, read as readFd, readSync, fstatSync, closeSync, existsSync, mkdirSync, renameSync, utimesSync } from 'node:fs'
import { open, rename, mkdir, readdir, unlink, lstat } from 'node:fs/promises'
import { join, basename, dirname } from 'node:path'
import { CID } from 'multiformats/cid'
import { base32 } from 'multiformats/bases/base32'
import type { ShardingStrategy } from 'blockstore-fs/sharding'
import type { FileHandle } from 'node:fs/promises'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { AbortOptions } from '@libp2p/interface'
import { base32Cid, verifyBlock } from '../src/cid.ts'
import { VerificationError, NotFoundError, DitsError } from '../src/errors.ts'
import { MAX_BLOCK_BYTES } from '../protocol/limits.ts'
import { writeFully, writeFullySync, alignedBuffer, contiguous, copyInto, fsyncPath, syncFileSystem, O_DIRECT, DIRECT_ALIGN_BYTES, PRIVATE_FILE_MODE, PRIVATE_DIR_MODE } from './files.ts'
import { BlockUsage } from './block-usage.ts'
import { Limit, forEachLimit } from './limit.ts'
import type { Usage, UsageReport } from './block-usage.ts'

const EXTENSION = '.data'
/** a put's temporary file, `.<name>.data.<pid>.<n>.tmp`: the pid of the process writing it */
const TEMP_FILE_PID = /^\..+\.data\.(\d+)\.\d+\.tmp$/
/** lstats in flight at once when counting a shard's bytes */
const SHARD_STAT_CONCURRENCY = 16
/** fsyncs in flight at once when making a batch of blocks durable */
const DEFAULT_SYNC_CONCURRENCY = 32
/**
 * A batch of at least this many blocks is made durable by one syncfs of the store's file system (see syncData) rather
 * than an fdatasync per block and an fsync per shard directory, each a journal commit and a disk cache flush here.
 */
export const DEFAULT_SYNCFS_MIN_BLOCKS = 64
/** libuv's thread pool, which runs every fs call: UV_THREADPOOL_SIZE, else libuv's default of 4 */
const THREAD_POOL_SIZE = Number(process.env.UV_THREADPOOL_SIZE) > 0 ? Number(process.env.UV_THREADPOOL_SIZE) : 4
/** open(2) flags of a direct write. O_DIRECT is Linux's (where Node lacks it, direct writes are off). */
const DIRECT_WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (O_DIRECT ?? 0)
/**
 * Blocks under this size are read, and written inline, on the calling thread (see readWhole, writeSmall); direct puts
 * of larger ones use O_DIRECT, for which a small block would pay a whole page and a truncate.
 */
const SMALL_BLOCK_BYTES = 64 * 1024
/** the characters of multibase base32 (RFC 4648, lower case, no padding) */
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'

export class DiskFullError extends DitsError {
  static override name = 'DiskFullError'
  override name = 'DiskFullError'
}

/** `<shard>/<base32 cid>.data`, the shard being the next-to-last two characters (like go-ipfs' flatfs). */
export class WholeCidSharding implements ShardingStrategy {
  /** every shard directory there can be: 32 × 32 */
  static readonly shards: readonly string[] = [...BASE32_ALPHABET].flatMap(a => [...BASE32_ALPHABET].map(b => a + b))
  extension = EXTENSION

  encode (cid: CID): { dir: string, file: string } {
    const s = base32Cid(cid)
    return { dir: s.slice(-3, -1), file: s + EXTENSION }
  }

  decode (path: string): CID {
    return CID.parse(basename(path, EXTENSION), base32)
  }
}

export class DitsBlockstore {
  readonly dir: string
  private readonly quarantineDir: string
  /** where the counts of blocks and bytes are saved (see BlockUsage) */
  private readonly usageFile: string
  private readonly sharding = new WholeCidSharding()
  /** direct writes at once: one per pool thread (no more could run), each with a staging buffer */
  private readonly directWrites = new Limit(THREAD_POOL_SIZE)
  /** aligned buffers for writeDirect, as many as directWrites allows */
  private readonly staging: Uint8Array[] = []
  /** false once the file system has refused O_DIRECT */
  private directSupported = O_DIRECT !== undefined
  private tmpCounter = 0
  private usage?: BlockUsage
  /** changes in flight, by block path: a second change to the same block waits for the first */
  private readonly changing = new Map<string, Promise<unknown>>()
  /** when each work that writes or reuses blocks (add, fetch, import) began, by a number of its own */
  private readonly writers = new Map<number, number>()
  private nextWriter = 0

  constructor (dir: string, quarantineDir: string, usageFile: string) {
    this.dir = dir
    this.quarantineDir = quarantineDir
    this.usageFile = usageFile
  }

  async open (): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE })
    this.usage = await BlockUsage.load(this.usageFile)
  }

  /** Save the counts of blocks and bytes for the next process: the repo's writer does, as it closes the repo. */
  async close (): Promise<void> {
    await this.usage?.save()
  }

  /**
   * Create every shard directory up front (at repo init), so that writes need no mkdir. A store made without them
   * (an older repo, a bare directory) still works: a write creates its shard on first use.
   */
  async createShards (): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE })
    await forEachLimit(WholeCidSharding.shards, DEFAULT_SYNC_CONCURRENCY, async shard => { await mkdir(join(this.dir, shard), { recursive: true, mode: PRIVATE_DIR_MODE }) })
    await fsyncPath(this.dir)
    await BlockUsage.empty(this.usageFile).save()
  }

  /**
   * Blocks and bytes held. When the counts are unknown (the last process to change the store did not close it), a
   * recount starts in the background and the report says `counting` until it is done.
   */
  usageReport (): UsageReport {
    const usage = this.opened()
    // recount() has made the recount (and so the report) before it first waits
    if (usage.report() === undefined) this.recount().catch(() => {})
    return usage.report() as UsageReport
  }

  /** Whether the counts of blocks and bytes are known (saved by the last writer, or recounted since). */
  countsKnown (): boolean {
    const report = this.opened().report()
    return report !== undefined && !report.counting
  }

  /** Count the blocks and bytes held by walking every shard (sharing a recount already under way). */
  async recount (): Promise<Usage> {
    return await this.opened().count(WholeCidSharding.shards, async shard => await shardUsage(join(this.dir, shard)))
  }

  path (cid: CID): string {
    const { dir, file } = this.sharding.encode(cid)
    return join(this.dir, dir, file)
  }

  /**
   * Looked up on the calling thread, like put's check. blockstore-fs' `has`, used before, went through the thread pool
   * and, for a block not held, a rejected promise: ~0.7 s of the main thread in a fetch of 6,000 small blocks.
   */
  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    return existsSync(this.path(cid))
  }

  /**
   * `has`, for work that will use the block (a fetch skipping what it holds): the block's time is renewed, so that a
   * gc running now or starting before that work ends keeps it (see gcCutoff). False when it is not here.
   */
  async hold (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    const path = this.path(cid)
    return await this.inTurn(path, async () => freshen(path))
  }

  /**
   * Register work that writes or reuses blocks before naming them (add, fetch, import): until `end`, gc keeps every
   * block written or held (hold, put) since it began, however long it runs. Blocks are named by a pin (or a ref)
   * only when such work ends, so without this a gc would see them as garbage.
   */
  beginWrite (): { end: () => void } {
    const id = this.nextWriter++
    this.writers.set(id, Date.now())
    return { end: () => { this.writers.delete(id) } }
  }

  /**
   * The time before which a block untouched is garbage to a gc starting now: the start of the oldest work in flight
   * (or now), less GC_CLOCK_SLACK_MS for the file system's clock. A block written, or held or put again, since then
   * has a later modification time.
   */
  gcCutoff (): number {
    return Math.min(Date.now(), ...this.writers.values()) - GC_CLOCK_SLACK_MS
  }

  /**
   * gc's removal: `cid` goes only when its modification time is before `cutoffMs`, checked and done as one change
   * to the block, so that a hold or put of it cannot slip in between. The bytes it held, or `kept` when it is newer.
   */
  async deleteUnused (cid: CID, cutoffMs: number, options: AbortOptions = {}): Promise<number | 'kept'> {
    options.signal?.throwIfAborted()
    const path = this.path(cid)
    let kept = false
    const { bytes } = await this.change(path, async () => {
      const s = await lstat(path).catch(() => undefined)
      if (s === undefined) return UNCHANGED
      if (s.mtimeMs >= cutoffMs) {
        kept = true
        return UNCHANGED
      }
      try {
        await unlink(path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return UNCHANGED
        throw new DitsError(`cannot delete block ${cid} (${path}): ${(err as Error).message}`)
      }
      return { blocks: -1, bytes: -s.size }
    })
    return kept ? 'kept' : -bytes
  }

  /** The verified bytes of `cid`. A corrupt block is quarantined and reported, never returned. */
  async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    options.signal?.throwIfAborted()
    const path = this.path(cid)
    let bytes: Uint8Array
    try {
      bytes = await readWhole(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`block ${cid} is not in the repo`)
      throw err
    }
    if (!verifyBlock(cid, bytes)) {
      const moved = await this.quarantine(cid)
      throw new VerificationError(`block ${cid} is corrupt (its BLAKE3 does not match; file ${path}); moved to ${moved}`)
    }
    return bytes
  }

  /**
   * Store a block. Unless the caller computed the CID from these very bytes (`trusted`), the bytes are
   * verified first: nothing that fails verification is ever stored. `direct` is for blocks that are about to
   * be synced and are not read back soon (`add`'s): a large one goes straight to the disk (see writeDirect).
   * `inline` is for callers that do not sync the blocks as they put them (a fetch): a small one is written on the
   * calling thread (see writeSmall). The bytes may come in pieces (a fetched block, in the frames it arrived in). A
   * block already stored is left as it is, unless `checkPresent`. Returns whether this put wrote the block (false:
   * it was here).
   */
  async put (cid: CID, bytes: Uint8Array | Uint8ArrayList, options: PutOptions = {}): Promise<boolean> {
    return await this.putChecked(cid, bytes, options) !== 'present'
  }

  /**
   * put, saying what it did: `stored` a block that was not here; found it `present`; or, with `checkPresent`,
   * `replaced` a stored copy that was not these bytes (damaged in place, cut short) with them. The check compares
   * the stored file with the bytes in hand (its size, then its bytes), which are verified: sound, and a memcmp
   * where re-hashing the stored copy would cost a BLAKE3 of it.
   */
  async putChecked (cid: CID, bytes: Uint8Array | Uint8ArrayList, options: PutOptions = {}): Promise<PutOutcome> {
    if (bytes.byteLength > MAX_BLOCK_BYTES) throw new VerificationError(`block ${cid} is ${bytes.byteLength} bytes, over the ${MAX_BLOCK_BYTES}-byte limit`)
    if (options.trusted !== true && !verifyBlock(cid, bytes)) throw new VerificationError(`bytes offered for ${cid} do not match its BLAKE3 digest; not stored`)
    options.signal?.throwIfAborted()
    const path = this.path(cid)
    let outcome: PutOutcome = 'stored'
    await this.change(path, async () => {
      // A block is named by its content: one already here holds these bytes (or fails verification when read).
      // Looked up here, not in the thread pool, where it would queue behind the block writes of an add.
      let replacing: number | undefined
      // a block found here is renewed (a gc keeps it for the work that put it again); one a gc just removed is written
      if (freshen(path)) {
        if (options.checkPresent !== true) {
          outcome = 'present'
          return UNCHANGED
        }
        const stored = await storedDiffers(path, contiguous(bytes))
        if (stored === 'same') {
          outcome = 'present'
          return UNCHANGED
        }
        if (stored !== 'gone') {
          replacing = stored
          outcome = 'replaced'
        }
      }
      const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${this.tmpCounter++}.tmp`)
      try {
        if (options.inline === true && bytes.byteLength < SMALL_BLOCK_BYTES) {
          writeSmall(tmp, contiguous(bytes))
          renameSync(tmp, path)
        } else {
          if (options.direct === true && this.directSupported && bytes.byteLength >= SMALL_BLOCK_BYTES) {
            await this.writeDirect(tmp, bytes).catch(async (err: NodeJS.ErrnoException) => {
              // EINVAL: this file system takes no O_DIRECT (tmpfs), or not with this alignment.
              if (err.code !== 'EINVAL') throw err
              this.directSupported = false
              await this.writeBuffered(tmp, contiguous(bytes))
            })
          } else {
            await this.writeBuffered(tmp, contiguous(bytes))
          }
          await rename(tmp, path)
        }
      } catch (err) {
        await unlink(tmp).catch(() => {})
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOSPC') throw new DiskFullError(`disk full while writing block ${cid} into ${this.dir}: free space and run the command again (blocks already written are reused; \`dits-node gc\` reclaims unpinned ones)`)
        throw new DitsError(`cannot write block ${cid} into ${this.dir}: ${(err as Error).message}`)
      }
      return replacing === undefined ? { blocks: 1, bytes: bytes.byteLength } : { blocks: 0, bytes: bytes.byteLength - replacing }
    })
    return outcome
  }

  /**
   * One write call for the whole block: blockstore-fs' put goes through steno's writeFile, which writes in
   * 512 KiB pieces through the thread pool — measured here at ~190 MiB/s against ~1.6 GiB/s for this.
   */
  private async writeBuffered (tmp: string, bytes: Uint8Array): Promise<void> {
    const fh = await createFile(tmp, 'w')
    try {
      await writeFully(fh, bytes, 0)
    } finally {
      await fh.close()
    }
  }

  /**
   * A block that must reach the disk anyway goes there with O_DIRECT, from memory to the device, skipping the
   * copy into the page cache: on this machine class that copy (into freshly allocated page cache) cost ~2 s of
   * CPU per GiB, more than chunking and hashing together; a 1 GiB add took ~1.5 s less CPU and ~30% less time.
   * The sync before pinning then has only metadata left to write: it took ~0.1 s for 1 GiB, where syncing each
   * block as it was written took ~0.3 s longer (a journal commit per block instead of one for them all).
   * O_DIRECT needs the memory, the offset and the length aligned, so the block is copied into an aligned staging
   * buffer, written directly padded with zeros to a whole page, and the file is cut back to the block's length:
   * one open per block, where writing the tail through the page cache took a second one.
   */
  private async writeDirect (tmp: string, bytes: Uint8Array | Uint8ArrayList): Promise<void> {
    const padded = Math.ceil(bytes.byteLength / DIRECT_ALIGN_BYTES) * DIRECT_ALIGN_BYTES
    await this.directWrites.run(async () => {
      const staging = this.staging.pop() ?? alignedBuffer(MAX_BLOCK_BYTES)
      try {
        copyInto(staging, bytes, 0)
        staging.fill(0, bytes.byteLength, padded)
        const fh = await createFile(tmp, DIRECT_WRITE_FLAGS)
        try {
          await writeFully(fh, staging.subarray(0, padded), 0)
          if (padded !== bytes.byteLength) await fh.truncate(bytes.byteLength)
        } finally {
          await fh.close()
        }
      } finally {
        this.staging.push(staging)
      }
    })
  }

  /** Remove a block; returns the bytes it held (0 when it was not here). */
  async delete (cid: CID, options: AbortOptions = {}): Promise<number> {
    options.signal?.throwIfAborted()
    const path = this.path(cid)
    const { bytes } = await this.change(path, async () => {
      const size = await lstat(path).then(s => s.size, () => undefined)
      if (size === undefined) return UNCHANGED
      try {
        await unlink(path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return UNCHANGED
        throw new DitsError(`cannot delete block ${cid} (${path}): ${(err as Error).message}`)
      }
      return { blocks: -1, bytes: -size }
    })
    return -bytes
  }

  /**
   * Every CID stored, without reading the blocks: a shard directory at a time, so that listing millions of blocks holds
   * one shard's names (blockstore-fs' glob keeps every path it has yielded).
   */
  async * cids (options: AbortOptions = {}): AsyncGenerator<CID> {
    for (const shard of WholeCidSharding.shards) {
      options.signal?.throwIfAborted()
      yield * await this.cidsIn(shard)
    }
  }

  /** The CIDs stored in one shard directory (one of WholeCidSharding.shards). */
  async cidsIn (shard: string): Promise<CID[]> {
    return (await blockNames(join(this.dir, shard))).map(name => this.sharding.decode(name))
  }

  /**
   * The first half of making blocks durable (blockstore-fs itself never fsyncs; BlockSync drives both halves):
   * fdatasync each file. fdatasync suffices for a block: it writes the data and the size, and blocks never change
   * (their mtime is of no use). A block listed twice is synced once. Returns the shard directories the blocks are
   * in: until syncDirs has fsynced them, a crash may still lose the blocks' names. A batch of
   * DEFAULT_SYNCFS_MIN_BLOCKS or more is made durable, names and all, by one syncfs instead (none are returned).
   */
  async syncData (cids: Iterable<CID>, concurrency = DEFAULT_SYNC_CONCURRENCY): Promise<Set<string>> {
    const paths = new Set([...cids].map(c => this.path(c)))
    // A large batch: one syncfs makes the blocks and their names durable at once, so no directory is left to fsync. A
    // pinned add of 3,000 small files spent most of its time in the 6,000 fdatasyncs and ~1,000 directory fsyncs.
    if (paths.size >= DEFAULT_SYNCFS_MIN_BLOCKS && await syncFileSystem(this.dir)) return new Set()
    await forEachLimit([...paths], concurrency, datasyncPath)
    return new Set([...paths].map(p => dirname(p)))
  }

  /** The second half: fsync shard directories (from syncData), then the store's own, which lists shards made on first use. */
  async syncDirs (dirs: Iterable<string>, concurrency = DEFAULT_SYNC_CONCURRENCY): Promise<void> {
    await forEachLimit([...dirs], concurrency, fsyncPath)
    await fsyncPath(this.dir)
  }

  /** Remove temp files (`.<name>.<pid>.<n>.tmp`) left by a killed writer. Returns how many. */
  async removeTempFiles (): Promise<number> {
    let removed = 0
    for (const shard of await readdir(this.dir).catch(() => [])) {
      for (const f of await readdir(join(this.dir, shard)).catch(() => [])) {
        // this process's own are puts in flight (gc runs beside them); another's were left by a writer that died,
        // since one process at a time holds the repo
        if (f.startsWith('.') && f.endsWith('.tmp') && TEMP_FILE_PID.exec(f)?.[1] !== String(process.pid)) {
          await unlink(join(this.dir, shard, f)).catch(() => {})
          removed++
        }
      }
    }
    return removed
  }

  private async quarantine (cid: CID): Promise<string> {
    await mkdir(this.quarantineDir, { recursive: true, mode: PRIVATE_DIR_MODE })
    const path = this.path(cid)
    const target = join(this.quarantineDir, `${cid.toString(base32)}.${process.pid}.${performance.now().toFixed(0)}${EXTENSION}`)
    await this.change(path, async () => {
      const size = await lstat(path).then(s => s.size, () => undefined)
      if (size === undefined) return UNCHANGED
      try {
        await rename(path, target)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return UNCHANGED
        throw err
      }
      return { blocks: -1, bytes: -size }
    })
    return target
  }

  /**
   * Run a change to the block at `path` that returns its effect on the counts (returned too). Changes to one block
   * run one after the other (two fetches of one chunk write it once), changes to different blocks at once.
   */
  private async change (path: string, op: () => Promise<Usage>): Promise<Usage> {
    const usage = this.opened()
    return await this.inTurn(path, async () => await usage.change(basename(dirname(path)), async () => {
      const delta = await op()
      return { result: delta, delta }
    }))
  }

  /**
   * Run `op` on the block at `path` after the changes to it already under way, and before those that come next. A
   * hold, which changes no count, takes its turn here without going through the counts (whose first change removes
   * the saved ones: a fetch of held blocks alone would leave a recount to the next start).
   */
  private async inTurn<T> (path: string, op: () => Promise<T>): Promise<T> {
    const before = this.changing.get(path)
    const run = (async () => {
      if (before !== undefined) await before.catch(() => {})
      return await op()
    })()
    this.changing.set(path, run)
    try {
      return await run
    } finally {
      if (this.changing.get(path) === run) this.changing.delete(path)
    }
  }

  private opened (): BlockUsage {
    if (this.usage === undefined) throw new DitsError(`the blockstore ${this.dir} is not open`)
    return this.usage
  }
}

const UNCHANGED: Usage = { blocks: 0, bytes: 0 }

/**
 * How much earlier than the oldest work in flight a gc's cutoff lies: file times come from the kernel's clock,
 * which may trail Date.now() by a tick.
 */
export const GC_CLOCK_SLACK_MS = 1000

/**
 * Renew a block file's times (it is in use); false when it is not here. A block not here is told by existsSync, which
 * does not throw: a failed utimesSync builds an error with its stack, ~40 µs of every new block an add or fetch puts.
 */
function freshen (path: string): boolean {
  if (!existsSync(path)) return false
  const now = new Date()
  try {
    utimesSync(path, now, now)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

export interface PutOptions extends AbortOptions {
  /** the caller computed the CID from these very bytes: they are not hashed again */
  trusted?: boolean
  /** a large block goes straight to the disk (see writeDirect) */
  direct?: boolean
  /** a small block is written on the calling thread (see writeSmall) */
  inline?: boolean
  /** a block already stored is compared with these bytes and replaced when it differs (see putChecked) */
  checkPresent?: boolean
}

/** what a put did (see putChecked) */
export type PutOutcome = 'stored' | 'present' | 'replaced'

/**
 * `same` when the file at `path` holds exactly `bytes`, `gone` when it is not there, otherwise the size it has (to
 * take off the counts when it is replaced). A size that differs is told by lstat alone (on the calling thread, like
 * put's lookup), without a read.
 */
async function storedDiffers (path: string, bytes: Uint8Array): Promise<number | 'same' | 'gone'> {
  let size: number
  try {
    size = lstatSync(path).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
    throw err
  }
  if (size !== bytes.byteLength) return size
  const stored = await readWhole(path)
  return Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).equals(bytes) ? 'same' : size
}

/** The names of the blocks in one shard directory (temp files left by writers are not blocks). */
async function blockNames (dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })
  return names.filter(n => n.endsWith(EXTENSION) && !n.startsWith('.'))
}

/** The blocks in one shard directory and their bytes. */
async function shardUsage (dir: string): Promise<Usage> {
  const usage = { blocks: 0, bytes: 0 }
  await forEachLimit(await blockNames(dir), SHARD_STAT_CONCURRENCY, async name => {
    const size = await lstat(join(dir, name)).then(s => s.size, () => undefined)
    if (size === undefined) return
    usage.blocks++
    usage.bytes += size
  })
  return usage
}

/**
 * A small block (a manifest, a small file's chunk) put `inline` is written on the calling thread, and renamed there
 * too: it only copies a few pages into the page cache, and here each trip through the thread pool cost ~10× the call
 * it made (2,000 renames in one tmpfs directory: ~120 µs each through the pool, ~10 µs each on the calling thread).
 * A network get of 3,000 small files took 7.4-8.1 s with its blocks written so, 9.3-10.5 s without. A caller that
 * syncs as it puts (`add`) once stalled here, a create waiting for the journal commit of an fdatasync per block; with
 * a batch synced by one syncfs (syncData) a pinned add of those files took 3.2-7.4 s so, 5.9-11.5 s through the pool.
 */
function writeSmall (tmp: string, bytes: Uint8Array): void {
  let fd: number
  try {
    fd = openSync(tmp, 'w', PRIVATE_FILE_MODE)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    mkdirSync(dirname(tmp), { recursive: true, mode: PRIVATE_DIR_MODE })
    fd = openSync(tmp, 'w', PRIVATE_FILE_MODE)
  }
  try {
    writeFullySync(fd, bytes, 0)
  } finally {
    closeSync(fd)
  }
}

/** Opens a new block's temp file; a missing shard directory (not made at init) is made on the way. */
async function createFile (path: string, flags: string | number): Promise<FileHandle> {
  try {
    return await open(path, flags, PRIVATE_FILE_MODE)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    await mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE })
    return await open(path, flags, PRIVATE_FILE_MODE)
  }
}

/**
 * The whole file in one read of the size fstat gives: readFile reads in 512 KiB pieces, each a trip through the
 * thread pool, and a block is up to 4 MiB. Only the read of a large block goes through the pool, the call that can
 * wait on the disk longest. The open is a lookup of the path like has' and put's, and runs here; so do fstat of an
 * open file and close of a read-only one, which only look at the in-memory inode, and the read of a small block (see
 * writeSmall). The buffer is not zeroed first: the read fills it, and only what it filled is returned. A file that
 * changed size meanwhile reads short or long, and fails verification like any other damage; so does a file over the
 * block size limit, of which no more is read.
 */
async function readWhole (path: string): Promise<Uint8Array> {
  const fd = openSync(path, 'r')
  try {
    const bytes = Buffer.allocUnsafe(Math.min(fstatSync(fd).size, MAX_BLOCK_BYTES + 1))
    let at = 0
    while (at < bytes.byteLength) {
      const bytesRead = bytes.byteLength < SMALL_BLOCK_BYTES
        ? readSync(fd, bytes, at, bytes.byteLength - at, at)
        : await new Promise<number>((resolve, reject) => {
          readFd(fd, bytes, at, bytes.byteLength - at, at, (err, n) => { err == null ? resolve(n) : reject(err) })
        })
      if (bytesRead === 0) break
      at += bytesRead
    }
    return bytes.subarray(0, at)
  } finally {
    closeSync(fd)
  }
}

async function datasyncPath (path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.datasync()
  } finally {
    await fh.close()
  }
}
