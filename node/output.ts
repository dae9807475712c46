/**
 * The output of a `get`, written while the chunks arrive (DESIGN §6), so the bytes go to the output once, not to
 * the repo and then back out of it. Every chunk handed in has been verified against its CID by the caller (the
 * fetcher verifies before it stores; chunks already held are read back through the verifying blockstore here).
 * Each file is hashed and written in file order over the prefix that is complete (chunks that arrive ahead of it
 * wait in memory, or beyond that are written in place and read back); its whole-file BLAKE3 is checked before
 * anything is renamed into place. A large file is written with O_DIRECT (see Output.stage).
 * The tree is laid out as a window over its chunks in file order: at most `windowChunks` chunk positions are known
 * at once, from the oldest not yet hashed on, so a get of 2 TB holds no more than a get of 2 GB. `plan()` hands the
 * chunks entering the window to whoever fetches them.
 * Everything is built under a temporary name beside the target, so a failed or killed get leaves no output.
 */
import { chmodSync, closeSync, constants, openSync, utimesSync } from 'node:fs'
import { open, mkdir, readdir, rename, rm, stat as fsStat, statfs } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { readNode, walkChunks, walkDir, measureTree, childPath, showPath, WalkPacer, cacheManifests } from '../src/manifest/index.ts'
import type { GetBlock, FileNode, DirNode, DirEntry, ManifestNode, Metadata, TreeSize } from '../src/manifest/index.ts'
import { createBlake3 } from '../src/hash/blake3.ts'
import { cidKey, equalBytes, toHex, RAW_CODE } from '../src/cid.ts'
import { DitsError, UsageError, VerificationError, TreeLimitError, InsufficientSpaceError } from '../src/errors.ts'
import { printableName } from '../src/paths.ts'
import { MAX_DIR_DEPTH } from '../protocol/limits.ts'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { FileHandle } from 'node:fs/promises'
import type { Blake3Hasher } from '../src/hash/blake3.ts'
import type { FetchReport } from './net/fetcher.ts'
import { isAlive } from './repo.ts'
import { Pulse, macrotask } from './deferred.ts'
import { mapAhead } from './limit.ts'
import { readFully, writeFully, writeFullySync, alignedBuffer, contiguous, copyInto, O_DIRECT, DIRECT_ALIGN_BYTES } from './files.ts'

/** A download into the repo, as the daemon's network offers it (node/net's `fetch`, FetchOptions there). */
export type FetchFn = (root: CID, options: {
  signal?: AbortSignal
  maxRateBytesPerSec?: number
  scope?: 'all' | 'manifests'
  plan?: AsyncIterable<PlannedChunk>
  onChunk?: (cid: CID, bytes?: Uint8Array | Uint8ArrayList) => Promise<void> | void
  onProgress?: (p: { bytes: number, total: number }) => void
}) => Promise<FetchReport>

export interface FetchToOptions {
  force?: boolean
  /** restore modes and mtimes (see OutputInit) @default true */
  metadata?: boolean
  signal?: AbortSignal
  maxRateBytesPerSec?: number
  /** @default DEFAULT_MAX_OUTPUT_ENTRIES */
  maxEntries?: number
  onProgress?: (p: { bytes: number, total: number }) => void
  onLayout?: (p: LayoutProgress) => void
}

/**
 * `get` of `root` from the network into `outPath` in one pass: the manifests first (they lay out the output),
 * then the chunks in the output's window are fetched (or, held already, copied from the repo) and go to the
 * output as they arrive (and to the repo, by `fetch`).
 */
export async function fetchTo (fetch: FetchFn, getBlock: GetBlock, root: CID, outPath: string, options: FetchToOptions = {}): Promise<{ fetched: FetchReport, result: OutputResult }> {
  const started = performance.now()
  // a tree of many files spends a while here (3,000 files: ~2 s on loopback), hence the progress
  const tree = await fetch(root, { signal: options.signal, scope: 'manifests', onProgress: options.onProgress })
  const output = await Output.create(getBlock, root, outPath, { force: options.force, metadata: options.metadata, signal: options.signal, maxEntries: options.maxEntries, onLayout: options.onLayout })
  let fetched
  try {
    fetched = await fetch(root, {
      signal: options.signal,
      maxRateBytesPerSec: options.maxRateBytesPerSec,
      onProgress: options.onProgress,
      plan: output.plan(),
      onChunk: async (cid, bytes) => {
        if (bytes == null) output.writeLocal(cid)
        else await output.write(cid, bytes)
      }
    })
  } catch (err) {
    await output.abort()
    throw err
  }
  const result = await output.finish()
  // one report for the get: the manifests' bytes and time are part of it
  return {
    fetched: {
      ...fetched,
      manifest_bytes_fetched: tree.manifest_bytes_fetched + fetched.manifest_bytes_fetched,
      duration_ms: Math.round(performance.now() - started),
      excluded: { ...tree.excluded, ...fetched.excluded }
    },
    result
  }
}

/**
 * Chunks written ahead of a file's hashed prefix are kept in memory up to this many bytes in all (across files),
 * so that the in-order hash needs no read-back; beyond it they are read back from the output file when the
 * prefix reaches them. One peer delivers in order, so this is only used by out-of-order arrivals.
 */
export const DEFAULT_HOLD_BYTES = 32 * 1024 * 1024
/**
 * Files from this size on are written with O_DIRECT (see Output.stage): the page cache copy of a buffered write
 * cost ~1.2-2.2 s of system CPU per GiB here (dd), a direct write ~0.07 s, on two cores that a get keeps busy.
 */
export const DEFAULT_DIRECT_MIN_BYTES = 8 * 1024 * 1024
/** The span of one direct write of the output. */
export const DEFAULT_STAGING_BYTES = 2 * 1024 * 1024
/**
 * Staging buffers in all: a direct file takes two (one fills while the other is written); a file that finds none
 * free is written through the page cache.
 */
const MAX_STAGING_BUFFERS = 4
/** Chunks already in the repo read and written out at once. */
const LOCAL_CONCURRENCY = 4
/**
 * Manifests of a directory's entries read ahead of the entry being walked, rather than one trip through the thread
 * pool at a time: a local get of 3,000 small files in 30 folders took 1.6-1.8 s here instead of 2.0-2.1 s.
 */
const MANIFEST_READ_AHEAD = 16
/**
 * Chunk positions of the output known at once, from the oldest not yet hashed on: what bounds a get's memory
 * (a few hundred bytes each) whatever the size of the tree. 8192 positions span 8 GiB of media-profile chunks,
 * far beyond what the fetcher keeps in flight, so a window never holds back a download that is going well.
 */
export const DEFAULT_WINDOW_CHUNKS = 8192
const DIRECT_FLAGS = constants.O_WRONLY | (O_DIRECT ?? 0)
/**
 * Files and directories one get lays out at most, unless the caller allows more (`get --max-entries`). Counted
 * before anything is written, every repeat of a subtree included: three blocks can name a million files
 * (1,000 entries of a directory of 1,000 entries of one file), which laid out ~3,500 files/s for minutes. A
 * million is beyond the largest project folders (a 2-hour reel as an image sequence is ~173,000 frames).
 */
export const DEFAULT_MAX_OUTPUT_ENTRIES = 1_000_000

/** The layout of a get's tree: counted first (no totals yet), then laid out (files and directories created). */
export interface LayoutProgress {
  phase: 'layout'
  /** entries counted, then laid out */
  entries: number
  /** file bytes counted (every copy), then those of the files laid out */
  bytes: number
  /** once counted: the tree's entries and bytes */
  entries_total?: number
  bytes_total?: number
}

/** a chunk's bytes: not here yet, being taken in, in memory (`held`), or written in place and not held */
const EMPTY = 0
const TAKING = 1
const HELD = 2
const SPILLED = 3

export interface OutputInit {
  force?: boolean
  /**
   * Restore each file's and directory's mode and mtime from its manifest (version 2 on; a version 1 manifest has
   * none, and its files keep the umask's mode and the time of the get).
   * @default true
   */
  metadata?: boolean
  /** @default DEFAULT_HOLD_BYTES */
  holdBytes?: number
  /** stops the writing of chunks already held */
  signal?: AbortSignal
  /** @default DEFAULT_WINDOW_CHUNKS */
  windowChunks?: number
  /** @default DEFAULT_DIRECT_MIN_BYTES */
  directMinBytes?: number
  /** a multiple of DIRECT_ALIGN_BYTES @default DEFAULT_STAGING_BYTES */
  stagingBytes?: number
  /** files and directories the output may have @default DEFAULT_MAX_OUTPUT_ENTRIES */
  maxEntries?: number
  onProgress?(p: { bytes: number, total: number }): void
  onLayout?(p: LayoutProgress): void
}

export interface OutputResult {
  bytes: number
  files: number
  dirs: number
}

/** A chunk of the output entering the window, for the fetcher: the first position of its CID in the window. */
export interface PlannedChunk {
  cid: CID
  length: number
}

/** One position of a chunk in the output: chunk number `index` of `file`. */
interface Position {
  file: OutFile
  cid: CID
  index: number
  offset: number
  length: number
  state: number
  /** the bytes, while HELD */
  held?: Uint8Array | Uint8ArrayList
  /** SPILLED without a write: the bytes are all zeros (a hole now, not read back) */
  zeros?: boolean
}

/** The positions of one CID in the window; `delivered` once its bytes came (they are in the repo since). */
interface Slots {
  positions: Position[]
  delivered: boolean
}

interface OutFile {
  cid: CID
  node: FileNode
  path: string
  /** its path in the tree, as errors show it */
  shown: string
  /** the positions registered and not yet hashed, in order: queue[0] is chunk number `hashed` */
  queue: Position[]
  /** every chunk of the file is registered */
  ended: boolean
  /** chunks [0, hashed) are in the whole-file hash */
  hashed: number
  hasher: Blake3Hasher
  /** open while the file is being written: from its first chunk until its hash is complete */
  fh?: Promise<FileHandle>
  /** serialises the hash's advance, which writes the prefix (and may read back from the file) */
  hashing: Promise<void>
  /** large enough to be written direct */
  large: boolean
  /** a large file's direct writing, from its first chunk until it is complete (none when no staging was free) */
  direct?: Direct
  /** bytes of zeros were left as holes: the file is cut to its size when complete (a hole at its end) */
  holes: boolean
}

/** What walking the tree finds next: a chunk position, or the end of a file's chunks. */
type Step = { kind: 'chunk', position: Position } | { kind: 'end', file: OutFile }

/** The direct writing of one file: `bufs[0]` fills with the bytes from `at` on while `bufs[1]` may be being written. */
interface Direct {
  bufs: [Uint8Array, Uint8Array]
  at: number
  fill: number
  /** the write of `bufs[1]` */
  writing: Promise<void>
  fh?: Promise<FileHandle>
  /** the file system refused O_DIRECT: the spans go through the page cache */
  refused: boolean
}

/** What the temporary name of an output starts with; the writer's pid follows. */
function partialPrefix (outPath: string): string {
  return `.${basename(outPath)}.dits-partial-`
}

/**
 * Removes what a get of the same output killed before its rename (SIGKILL, power loss) left beside it: the
 * partial outputs of processes no longer alive, and this process's own from an earlier, failed attempt.
 */
async function removeStalePartials (outPath: string): Promise<void> {
  const prefix = partialPrefix(outPath)
  for (const name of await readdir(dirname(outPath)).catch(() => [])) {
    if (!name.startsWith(prefix)) continue
    const pid = Number(name.slice(prefix.length))
    if (Number.isInteger(pid) && (pid === process.pid || !isAlive(pid))) await rm(join(dirname(outPath), name), { recursive: true, force: true })
  }
}

export class Output {
  readonly result: OutputResult = { bytes: 0, files: 0, dirs: 0 }
  private readonly getBlock: GetBlock
  private readonly outPath: string
  private readonly tmp: string
  private readonly exists: boolean
  private readonly holdBytes: number
  private readonly directMinBytes: number
  private readonly stagingBytes: number
  private readonly windowChunks: number
  private readonly init: OutputInit
  private total = 0
  /** the positions in the window, by CID (cidKey) */
  private readonly slots = new Map<string, Slots>()
  /** files with positions in the window, or not yet complete */
  private readonly files = new Set<OutFile>()
  /** positions registered and not yet hashed, over all files */
  private windowUsed = 0
  /** chunks that entered the window, not yet taken by plan() */
  private readonly planned: PlannedChunk[] = []
  private steps?: AsyncGenerator<Step>
  /** what measureTree counted */
  private size: TreeSize = { bytes: 0, files: 0, dirs: 0, chunks: 0 }
  /** entries and file bytes laid out, for the layout's progress */
  private laidOut = { entries: 0, bytes: 0 }
  /** create() is laying out the first window: layout progress is reported */
  private laying = true
  /** the walk of the tree has registered its last position */
  private walked = false
  private filling?: Promise<void>
  /**
   * the directories made, with the metadata to restore once everything in them is written (writing into a
   * directory changes its mtime, and a read-only one takes no more files)
   */
  private readonly dirsMade: Array<{ path: string, meta: Metadata }> = []
  /** settles at the next hashed position or failure */
  private readonly progress = new Pulse()
  private heldBytes = 0
  /** staging buffers not in use, and how many exist */
  private readonly spareStaging: Uint8Array[] = []
  private stagingBuffers = 0
  /** false once the file system has refused O_DIRECT */
  private directSupported = O_DIRECT !== undefined
  private failure?: Error
  private readonly localQueue: CID[] = []
  private localRunning = 0
  private localIdle: Promise<void> = Promise.resolve()
  private resolveLocalIdle?: () => void

  private constructor (getBlock: GetBlock, outPath: string, exists: boolean, init: OutputInit) {
    this.getBlock = getBlock
    this.outPath = outPath
    this.exists = exists
    this.holdBytes = init.holdBytes ?? DEFAULT_HOLD_BYTES
    this.directMinBytes = init.directMinBytes ?? DEFAULT_DIRECT_MIN_BYTES
    this.stagingBytes = init.stagingBytes ?? DEFAULT_STAGING_BYTES
    this.windowChunks = init.windowChunks ?? DEFAULT_WINDOW_CHUNKS
    if (this.stagingBytes <= 0 || this.stagingBytes % DIRECT_ALIGN_BYTES !== 0) throw new UsageError(`stagingBytes must be a positive multiple of ${DIRECT_ALIGN_BYTES}, got ${this.stagingBytes}`)
    if (!(this.windowChunks >= 1)) throw new UsageError(`windowChunks must be at least 1, got ${this.windowChunks}`)
    this.init = init
    this.tmp = join(dirname(outPath), `${partialPrefix(outPath)}${process.pid}`)
    // a cancelled get stops where it is: the walk, the plan and the writes see the failure at their next step
    init.signal?.addEventListener('abort', this.onAbort, { once: true })
  }

  private readonly onAbort = (): void => {
    this.failure ??= this.init.signal?.reason as Error
    this.progress.notify()
  }

  /**
   * Start the output of `root` (file or directory) under a temporary name, with the first window of its chunks
   * laid out: directories made and files created (empty) as the walk reaches them. Every manifest node of `root`
   * must be in the repo; chunks need not be.
   */
  static async create (store: GetBlock, root: CID, outPath: string, init: OutputInit = {}): Promise<Output> {
    // the count reads every manifest node before the layout reads them again: once from the store while they fit
    const getBlock = cacheManifests(store)
    const exists = await fsStat(outPath).then(() => true, () => false)
    if (exists && init.force !== true) throw new UsageError(`${outPath} already exists; pass --force to replace it`)
    if (root.code === RAW_CODE) throw new UsageError(`${root} is a raw chunk, not a file or directory manifest; use \`dits-node cat\` to read it`)
    const node = await readNode(getBlock, root)
    if (node.type !== 'file' && node.type !== 'dir') throw new UsageError(`${root} is an inner ${node.type} node, not a file or directory manifest`)
    const size = await measureOutput(getBlock, root, outPath, init)
    const out = new Output(getBlock, outPath, exists, init)
    out.total = size.bytes
    out.size = size
    await removeStalePartials(outPath)
    out.steps = out.walk(root, node, out.tmp)
    try {
      await out.fill()
    } catch (err) {
      await out.abort()
      throw err
    }
    out.laying = false
    return out
  }

  /**
   * The chunks of the output as they enter the window, each CID once while it is in the window, for the one
   * consumer that fetches them (their bytes go to `write`, or `writeLocal` for those the repo holds). It waits
   * while the window is full: the window moves on as the files' prefixes are hashed.
   */
  async * plan (): AsyncGenerator<PlannedChunk> {
    for (;;) {
      if (this.failure != null) throw this.failure
      const next = this.planned.shift()
      if (next != null) {
        yield next
      } else if (this.walked) {
        return
      } else if (this.windowUsed >= this.windowChunks) {
        await this.progress.wait()
      } else {
        await this.fill()
      }
    }
  }

  /**
   * `cid`'s bytes, verified by the caller against `cid`, go to every place the window has it. They may come in
   * pieces (a fetched chunk, in the frames it arrived in). Bytes for a CID not in the window are not needed yet:
   * the caller has them stored, and the window reads them from the repo when it gets there.
   */
  async write (cid: CID, bytes: Uint8Array | Uint8ArrayList): Promise<void> {
    if (this.failure != null) throw this.failure
    const slots = this.slots.get(cidKey(cid))
    if (slots == null) return
    slots.delivered = true
    await Promise.all([...slots.positions].map(async p => { await this.writeSlot(p, bytes) }))
  }

  /**
   * `cid` is in the repo already: read it (the blockstore verifies) and write it out, in the background, a few at
   * a time; `finish` waits for these.
   */
  writeLocal (cid: CID): void {
    if (!this.slots.has(cidKey(cid))) return
    this.localQueue.push(cid)
    this.pumpLocal()
  }

  /**
   * Walk the rest of the tree, filling whatever was not handed in from the repo, check every file's size and
   * whole-file BLAKE3, and rename the output into place.
   */
  async finish (): Promise<OutputResult> {
    try {
      // what the plan's consumer did not take, and what nobody handed in, comes from the repo
      for await (const { cid } of this.plan()) this.writeLocal(cid)
      await this.localIdle
      if (this.failure != null) throw this.failure
      for (const file of this.files) {
        await file.hashing
        if (!isComplete(file)) throw new VerificationError(`file ${file.cid} at ${showPath(file.shown)} was never completed`)
      }
      if (this.failure != null) throw this.failure
      // the deepest first: a directory's own metadata is set after its subdirectories' (and files')
      for (const { path, meta } of this.dirsMade.reverse()) await restoreMetadata(path, meta)
      if (this.exists) await rm(this.outPath, { recursive: true, force: true })
      await rename(this.tmp, this.outPath)
      this.init.signal?.removeEventListener('abort', this.onAbort)
      return this.result
    } catch (err) {
      await this.abort()
      throw err
    }
  }

  /** Remove everything written so far. */
  async abort (): Promise<void> {
    this.failure ??= new DitsError('get aborted')
    this.progress.notify()
    await this.filling?.catch(() => {})
    await this.localIdle
    await Promise.all([...this.files].map(async f => { await this.closeFile(f).catch(() => {}) }))
    for (const file of this.files) for (const p of file.queue) p.held = undefined
    this.heldBytes = 0
    await this.steps?.return(undefined).catch(() => {})
    await rm(this.tmp, { recursive: true, force: true })
    this.init.signal?.removeEventListener('abort', this.onAbort)
  }

  /** Register positions while the window has room; one walker at a time. */
  private async fill (): Promise<void> {
    this.filling ??= (async () => {
      try {
        while (!this.walked && this.failure == null && this.windowUsed < this.windowChunks) {
          const step = await (this.steps as AsyncGenerator<Step>).next()
          if (step.done === true) this.walked = true
          else this.register(step.value)
        }
      } finally {
        this.filling = undefined
      }
    })()
    await this.filling
  }

  private register (step: Step): void {
    if (step.kind === 'end') {
      step.file.ended = true
      // a file whose chunks were all hashed already (or that has none) completes now
      this.advanceLater(step.file)
      return
    }
    const p = step.position
    p.file.queue.push(p)
    this.windowUsed++
    const key = cidKey(p.cid)
    const slots = this.slots.get(key)
    if (slots == null) {
      this.slots.set(key, { positions: [p], delivered: false })
      this.planned.push({ cid: p.cid, length: p.length })
    } else {
      slots.positions.push(p)
      // its bytes came before this position was known: they are in the repo
      if (slots.delivered) this.writeLocal(p.cid)
    }
  }

  /**
   * The steps of the tree in file order: directories are made and files created as the walk reaches them. An
   * explicit stack of the directories open, one per level (measureTree has bounded the levels and checked every
   * declaration; the depth is checked here again, cheaply, for a block that changed since).
   */
  private async * walk (cid: CID, node: ManifestNode, path: string): AsyncGenerator<Step> {
    const pacer = new WalkPacer({ signal: this.init.signal, pause: macrotask })
    if (node.type === 'file') {
      yield * this.walkFile(cid, node, path, '')
      return
    }
    if (node.type !== 'dir') throw new DitsError(`${cid} is a ${node.type} node where a file or directory was expected`)
    const stack: Array<{ entries: AsyncGenerator<[DirEntry, ManifestNode]>, at: string, shown: string }> = []
    const enter = async (cid: CID, dir: DirNode, at: string, shown: string): Promise<void> => {
      await mkdir(at)
      if (this.init.metadata !== false) this.dirsMade.push({ path: at, meta: { mode: dir.mode, mtime: dir.mtime } })
      this.result.dirs++
      this.laidOut.entries++
      const entries = walkDir(this.getBlock, dir, { cid, path: shown, signal: this.init.signal })
      stack.push({ entries: mapAhead(entries, MANIFEST_READ_AHEAD, async ([, child]) => await readNode(this.getBlock, child)), at, shown })
    }
    await enter(cid, node, path, '')
    while (stack.length > 0) {
      const top = stack[stack.length - 1]
      const next = await top.entries.next()
      if (next.done === true) {
        stack.pop()
        continue
      }
      if (await pacer.step()) this.reportLayout()
      // decodeNode has checked the name: one normalized path segment
      const [[name, child], childNode] = next.value
      const at = join(top.at, name)
      const shown = childPath(top.shown, name)
      if (childNode.type === 'file') {
        yield * this.walkFile(child, childNode, at, shown)
      } else if (childNode.type === 'dir') {
        if (stack.length >= MAX_DIR_DEPTH) throw new TreeLimitError(`directory ${child} at ${showPath(shown)} is deeper than ${MAX_DIR_DEPTH} directory levels (MAX_DIR_DEPTH)`)
        await enter(child, childNode, at, shown)
      } else {
        throw new DitsError(`entry ${showPath(shown)} links ${child}, a ${childNode.type} node, where a file or directory was expected`)
      }
    }
  }

  private reportLayout (): void {
    if (!this.laying) return
    this.init.onLayout?.({ phase: 'layout', entries: this.laidOut.entries, bytes: this.laidOut.bytes, entries_total: this.size.files + this.size.dirs, bytes_total: this.size.bytes })
  }

  private async * walkFile (cid: CID, node: FileNode, path: string, shown: string): AsyncGenerator<Step> {
    const file: OutFile = { cid, node, path, shown, queue: [], ended: false, hashed: 0, hasher: createBlake3(), hashing: Promise.resolve(), large: node.size >= this.directMinBytes, holes: false }
    // Created exclusively, so that a name clash fails: an empty or a large file now (its direct writes open it
    // without creating it), any other when its handle first opens (see handle): for a small file an open and a
    // close fewer, of the few trips through the thread pool it takes.
    if (node.size === 0 || file.large) await (await open(path, 'wx')).close()
    this.files.add(file)
    this.laidOut.entries++
    this.laidOut.bytes += node.size
    let index = 0
    // walkChunks checks that the chunks add up to the file's size, part by part
    for await (const c of walkChunks(this.getBlock, node, undefined, { cid, path: shown, signal: this.init.signal })) {
      yield { kind: 'chunk', position: { file, cid: c.cid, index: index++, offset: c.offset, length: c.length, state: EMPTY } }
    }
    yield { kind: 'end', file }
  }

  private async writeSlot (p: Position, bytes: Uint8Array | Uint8ArrayList): Promise<void> {
    const { file } = p
    if (p.state !== EMPTY) return
    if (bytes.byteLength !== p.length) throw new VerificationError(`chunk ${p.cid} is ${bytes.byteLength} bytes but file ${file.cid} says ${p.length}`)
    p.state = TAKING
    // the next chunk of the prefix is written at once; others wait in memory while there is room, and beyond
    // that are written in place now and read back when the prefix reaches them
    if (p.index === file.hashed || this.heldBytes + bytes.byteLength <= this.holdBytes) {
      p.held = bytes
      this.heldBytes += bytes.byteLength
      p.state = HELD
    } else {
      const whole = contiguous(bytes)
      // a chunk of zeros ahead of the prefix (a sparse file repeats one thousands of times) is not written: it is
      // zeros again when the prefix reaches it
      if (isZeros(whole)) p.zeros = true
      else await writeFully(await this.handle(file), whole, p.offset)
      p.state = SPILLED
    }
    this.result.bytes += bytes.byteLength
    this.init.onProgress?.({ bytes: this.result.bytes, total: this.total })
    file.hashing = file.hashing.then(async () => { await this.advance(file) })
    await file.hashing
  }

  /** Run the file's advance after what is queued, reporting a failure (no caller waits for it). */
  private advanceLater (file: OutFile): void {
    file.hashing = file.hashing.then(async () => { await this.advance(file) })
    file.hashing.catch((err: Error) => {
      this.failure ??= err
      this.progress.notify()
    })
  }

  /** The file's handle for buffered writes and reads, opened on first use (creating a small file: see walkFile). */
  private async handle (file: OutFile): Promise<FileHandle> {
    file.fh ??= open(file.path, file.large ? 'r+' : 'wx+')
    return await file.fh
  }

  /**
   * Hash and write the chunks that now follow the prefix, reading back those written ahead of it; each leaves the
   * window. A file complete with all its chunks is closed and its whole-file BLAKE3 checked.
   */
  private async advance (file: OutFile): Promise<void> {
    while (file.queue.length > 0 && file.queue[0].state >= HELD) {
      const p = file.queue[0]
      let bytes = p.held
      if (bytes != null) {
        p.held = undefined
        this.heldBytes -= bytes.byteLength
      } else if (p.zeros === true) {
        bytes = zerosOf(p.length)
      } else {
        const read = new Uint8Array(p.length)
        if (await readFully(await this.handle(file), read, p.offset) < p.length) throw new VerificationError(`file ${file.cid} at ${showPath(file.shown)} is shorter than its chunks`)
        bytes = read
      }
      if (bytes instanceof Uint8Array) file.hasher.update(bytes)
      else for (const piece of bytes) file.hasher.update(piece)
      if (p.index === 0 && file.large && this.directSupported) file.direct = this.takeStaging()
      if (file.direct != null) await this.stage(file, file.direct, bytes)
      else if (p.state === HELD) {
        const whole = contiguous(bytes)
        // a file of one chunk (most small files) in three calls on this thread, see writeWholeSync
        if (file.fh === undefined && !file.large && p.length === file.node.size && !isZeros(whole)) writeWholeSync(file.path, whole)
        else await this.writeData(file, whole, p.offset)
      }
      file.queue.shift()
      file.hashed++
      this.leaveWindow(p)
    }
    if (isComplete(file) && this.files.has(file)) {
      // complete: a directory of many files never holds more than a few open
      await this.closeFile(file)
      if (file.holes) await cutToSize(file.path, file.node.size)
      const digest = file.hasher.digest()
      if (!equalBytes(digest, file.node.blake3)) throw new VerificationError(`file ${file.cid}: whole-file BLAKE3 ${toHex(digest)} does not match the manifest's ${toHex(file.node.blake3)}`)
      if (this.init.metadata !== false) await restoreMetadata(file.path, file.node)
      this.files.delete(file)
      this.result.files++
    }
  }

  private leaveWindow (p: Position): void {
    const key = cidKey(p.cid)
    const slots = this.slots.get(key)
    if (slots != null) {
      slots.positions.splice(slots.positions.indexOf(p), 1)
      if (slots.positions.length === 0) this.slots.delete(key)
    }
    this.windowUsed--
    this.progress.notify()
  }

  /**
   * Copy the prefix's next bytes into the file's staging buffer and write each full one with O_DIRECT at the
   * offset it stages; the buffers and their offsets are aligned as O_DIRECT needs, where chunks have any length.
   * A span the file system refuses (EINVAL: tmpfs) goes through the page cache, and so does the rest of that file
   * and every file after it. A chunk written ahead in place (SPILLED) is staged and written again: a direct write
   * has the kernel write back and drop the cached pages it covers.
   */
  private async stage (file: OutFile, d: Direct, bytes: Uint8Array | Uint8ArrayList): Promise<void> {
    for (let at = 0; at < bytes.byteLength;) {
      const buf = d.bufs[0]
      const n = Math.min(bytes.byteLength - at, buf.byteLength - d.fill)
      copyInto(buf, n === bytes.byteLength ? bytes : bytes instanceof Uint8Array ? bytes.subarray(at, at + n) : bytes.sublist(at, at + n), d.fill)
      d.fill += n
      at += n
      if (d.fill < buf.byteLength) continue
      // one write in flight per file: the other buffer must be written before it fills again
      await d.writing
      d.bufs = [d.bufs[1], buf]
      d.writing = this.writeSpan(file, d, buf, d.at, buf.byteLength)
      // awaited by the next flush or closeFile; meanwhile not an unhandled rejection
      d.writing.catch(() => {})
      d.at += buf.byteLength
      d.fill = 0
    }
  }

  private async writeSpan (file: OutFile, d: Direct, span: Uint8Array, at: number, length: number): Promise<void> {
    if (!d.refused) {
      try {
        if (isZeros(span.subarray(0, length))) {
          file.holes = true
          return
        }
        d.fh ??= open(file.path, DIRECT_FLAGS)
        await writeFully(await d.fh, span.subarray(0, length), at)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        d.refused = true
        this.directSupported = false
      }
    }
    await this.writeData(file, span.subarray(0, length), at)
  }

  /**
   * Write through the page cache, except bytes that are all zeros: those are left a hole (a seek past them), so a
   * sparse file comes back sparse — a 5 GiB file of 2 MiB of data was written out whole, 31 s for a 5 s add.
   */
  private async writeData (file: OutFile, bytes: Uint8Array, at: number): Promise<void> {
    if (isZeros(bytes)) {
      file.holes = true
      return
    }
    await writeFully(await this.handle(file), bytes, at)
  }

  /**
   * Write what is left staged of a complete file (its whole pages direct, the part of a page at its end through
   * the page cache), wait for its writes and close it.
   */
  private async closeFile (file: OutFile): Promise<void> {
    const d = file.direct
    file.direct = undefined
    try {
      if (d != null) {
        try {
          await d.writing
          const whole = d.fill - d.fill % DIRECT_ALIGN_BYTES
          if (isComplete(file) && whole > 0) await this.writeSpan(file, d, d.bufs[0], d.at, whole)
          if (isComplete(file) && whole < d.fill) await this.writeData(file, d.bufs[0].subarray(whole, d.fill), d.at + whole)
        } finally {
          this.spareStaging.push(...d.bufs)
          await d.fh?.then(async fh => { await fh.close() }, () => {})
        }
      }
    } finally {
      const fh = file.fh
      file.fh = undefined
      await fh?.then(async fh => { await fh.close() }, () => {})
    }
  }

  /** Two staging buffers for a direct file, or undefined when all are taken (the file is written buffered). */
  private takeStaging (): Direct | undefined {
    const bufs: Uint8Array[] = []
    while (bufs.length < 2 && this.spareStaging.length > 0) bufs.push(this.spareStaging.pop() as Uint8Array)
    while (bufs.length < 2 && this.stagingBuffers < MAX_STAGING_BUFFERS) {
      bufs.push(alignedBuffer(this.stagingBytes))
      this.stagingBuffers++
    }
    if (bufs.length < 2) {
      this.spareStaging.push(...bufs)
      return undefined
    }
    return { bufs: [bufs[0], bufs[1]], at: 0, fill: 0, writing: Promise.resolve(), refused: false }
  }

  private pumpLocal (): void {
    while (this.localRunning < LOCAL_CONCURRENCY && this.localQueue.length > 0) {
      const cid = this.localQueue.shift() as CID
      if (this.localRunning === 0) this.localIdle = new Promise(resolve => { this.resolveLocalIdle = resolve })
      this.localRunning++
      const key = cidKey(cid)
      const work = (async () => {
        this.init.signal?.throwIfAborted()
        const empty = this.slots.get(key)?.positions.find(p => p.state === EMPTY)
        if (empty == null) return
        await this.write(cid, await this.readLocal(empty))
      })()
      work.catch((err: Error) => {
        this.failure ??= err
        this.progress.notify()
      }).finally(() => {
        if (--this.localRunning === 0 && this.localQueue.length === 0) this.resolveLocalIdle?.()
        this.pumpLocal()
      })
    }
  }

  private async readLocal (p: Position): Promise<Uint8Array> {
    try {
      return await this.getBlock(p.cid)
    } catch (err) {
      throw new DitsError(`chunk ${p.cid.toString()} of ${showPath(p.file.shown)} is not in the repo: ${(err as Error).message}`)
    }
  }
}

/**
 * Set what a manifest keeps of a file or directory: its permission bits, then its mtime (atime: the same). On the
 * calling thread, like writeWholeSync: two inode updates, for every file of a tree of small files.
 */
async function restoreMetadata (path: string, meta: Metadata): Promise<void> {
  if (meta.mode !== undefined) chmodSync(path, meta.mode)
  if (meta.mtime !== undefined) utimesSync(path, meta.mtime / 1000, meta.mtime / 1000)
}

/**
 * A small file whole, created exclusively (as handle does), on the calling thread: it only copies a few pages into the
 * page cache, and each trip through the thread pool cost ~10× the call it made here (see writeSmall in blockstore.ts).
 * Through the pool, a file of one chunk took five trips (open, write, close, chmod, utimes).
 */
function writeWholeSync (path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'wx')
  try {
    writeFullySync(fd, bytes, 0)
  } finally {
    closeSync(fd)
  }
}

/** Extend a file that ends in a hole (or, all holes, was never written: create it) to its size. */
async function cutToSize (path: string, size: number): Promise<void> {
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT)
  try {
    await fh.truncate(size)
  } finally {
    await fh.close()
  }
}

/** zeros to compare spans with: a memcmp, which stops at the first byte of data */
let zeros = new Uint8Array(0)

/** `length` zeros, a view that nobody writes to */
function zerosOf (length: number): Uint8Array {
  if (zeros.byteLength < length) zeros = new Uint8Array(Math.max(length, DEFAULT_STAGING_BYTES))
  return zeros.subarray(0, length)
}

function isZeros (bytes: Uint8Array): boolean {
  if (bytes.byteLength === 0) return false
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(zerosOf(bytes.byteLength))
}

/** Every chunk of the file is registered and hashed. */
function isComplete (file: OutFile): boolean {
  return file.ended && file.queue.length === 0
}

/**
 * Count what the output of `root` will be (measureTree) before anything is written, and refuse it when it has more
 * entries than `init.maxEntries` or needs more space (bytes or inodes) than the file system of `outPath` has free,
 * as soon as the count crosses the limit. Reports the count as layout progress.
 */
async function measureOutput (getBlock: GetBlock, root: CID, outPath: string, init: OutputInit): Promise<TreeSize> {
  const maxEntries = init.maxEntries ?? DEFAULT_MAX_OUTPUT_ENTRIES
  const dir = dirname(outPath)
  const fs = await statfs(dir).catch((err: NodeJS.ErrnoException) => {
    // a missing parent is reported by the output's mkdir, with the path
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  const freeBytes = fs == null ? Infinity : fs.bavail * fs.bsize
  // a file system that keeps no inode count (btrfs) reports 0 of them
  const freeInodes = fs == null || fs.files === 0 ? Infinity : fs.ffree
  const report = (c: TreeSize): void => { init.onLayout?.({ phase: 'layout', entries: c.files + c.dirs, bytes: c.bytes }) }
  const size = await measureTree(getBlock, root, {
    signal: init.signal,
    pause: macrotask,
    onProgress: report,
    check: (c, at) => {
      const entries = c.files + c.dirs
      if (entries > maxEntries) {
        throw new TreeLimitError(`${root} lays out more than ${maxEntries.toLocaleString('en')} files and directories (counted at ${showPath(at.path)}, ${at.cid}); a tree can name one subtree many times, and every copy is written. Pass --max-entries to allow more`)
      }
      // directories take a block each; a file's last block is counted in its bytes only roughly, hence "about"
      const bytes = c.bytes + c.dirs * (fs?.bsize ?? 0)
      if (bytes > freeBytes) {
        throw new InsufficientSpaceError(`${root} needs more space than ${printableName(dir)} has free: at least ${formatSize(bytes)} (counted at ${showPath(at.path)}, ${at.cid}) against ${formatSize(freeBytes)} free`)
      }
      if (entries > freeInodes) {
        throw new InsufficientSpaceError(`${root} lays out more files and directories than ${printableName(dir)} has inodes free: at least ${entries.toLocaleString('en')} against ${freeInodes.toLocaleString('en')}`)
      }
    }
  })
  report(size)
  return size
}

/** `n` bytes in a unit a person reads at a glance, the exact count beside it. */
function formatSize (n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB']
  let v = n
  let u = 0
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000
    u++
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]} (${n.toLocaleString('en')} bytes)`
}
