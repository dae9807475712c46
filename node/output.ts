/**
 * The output of a network `get`, written while the chunks arrive (DESIGN §6), so the bytes go to the output
 * once, not to the repo and then back out of it. Every chunk handed in has been verified against its CID by the
 * caller (the fetcher verifies before it stores; chunks already held are read back through the verifying
 * blockstore here). Each file is hashed and written in file order over the prefix that is complete (chunks that
 * arrive ahead of it wait in memory, or beyond that are written in place and read back); its whole-file BLAKE3 is
 * checked before anything is renamed into place. A large file is written with O_DIRECT (see Output.stage).
 * Everything is built under a temporary name beside the target, so a failed or killed get leaves no output.
 */
import { constants } from 'node:fs'
import { open, mkdir, readdir, rename, rm, stat as fsStat } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { readNode, walkChunks, walkDir } from '../src/manifest/index.ts'
import type { GetBlock, FileNode, ManifestNode } from '../src/manifest/index.ts'
import { createBlake3 } from '../src/hash/blake3.ts'
import { equalBytes, toHex, RAW_CODE } from '../src/cid.ts'
import { DitsError, UsageError, VerificationError, InvalidPathError } from '../src/errors.ts'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { FileHandle } from 'node:fs/promises'
import type { Blake3Hasher } from '../src/hash/blake3.ts'
import { isAlive } from './repo.ts'
import { readFully, writeFully, alignedBuffer, contiguous, copyInto, O_DIRECT, DIRECT_ALIGN_BYTES } from './files.ts'

/** A download into the repo, as the daemon's network offers it (node/net's `fetch`, FetchOptions there). */
export type FetchFn = (root: CID, options: {
  signal?: AbortSignal
  maxRateBytesPerSec?: number
  scope?: 'all' | 'manifests'
  onChunk?: (cid: CID, bytes?: Uint8Array | Uint8ArrayList) => Promise<void> | void
  onProgress?: (p: { bytes: number, total: number }) => void
}) => Promise<{ bytes_total: number, bytes_fetched: number, bytes_local: number, sources: Record<string, number>, excluded?: Record<string, string> }>

export interface FetchToOptions {
  force?: boolean
  signal?: AbortSignal
  maxRateBytesPerSec?: number
  onProgress?: (p: { bytes: number, total: number }) => void
}

/**
 * `get` of `root` from the network into `outPath` in one pass: the manifests first (they lay out the output),
 * then every chunk goes to the output as it arrives (and to the repo, by `fetch`), and chunks the repo holds
 * already are copied from it.
 */
export async function fetchTo (fetch: FetchFn, getBlock: GetBlock, root: CID, outPath: string, options: FetchToOptions = {}): Promise<{ fetched: Awaited<ReturnType<FetchFn>>, result: OutputResult }> {
  await fetch(root, { signal: options.signal, scope: 'manifests' })
  const output = await Output.create(getBlock, root, outPath, { force: options.force, signal: options.signal })
  let fetched
  try {
    fetched = await fetch(root, {
      signal: options.signal,
      maxRateBytesPerSec: options.maxRateBytesPerSec,
      onProgress: options.onProgress,
      onChunk: async (cid, bytes) => {
        if (bytes == null) output.writeLocal(cid)
        else await output.write(cid, bytes)
      }
    })
  } catch (err) {
    await output.abort()
    throw err
  }
  return { fetched, result: await output.finish() }
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
const DIRECT_FLAGS = constants.O_WRONLY | (O_DIRECT ?? 0)

/** a chunk's bytes: not here yet, being taken in, in memory (`held`), or written in place and not held */
const EMPTY = 0
const TAKING = 1
const HELD = 2
const SPILLED = 3

export interface OutputInit {
  force?: boolean
  /** @default DEFAULT_HOLD_BYTES */
  holdBytes?: number
  /** stops the writing of chunks already held */
  signal?: AbortSignal
  /** @default DEFAULT_DIRECT_MIN_BYTES */
  directMinBytes?: number
  /** a multiple of DIRECT_ALIGN_BYTES @default DEFAULT_STAGING_BYTES */
  stagingBytes?: number
  onProgress?(p: { bytes: number, total: number }): void
}

export interface OutputResult {
  bytes: number
  files: number
  dirs: number
}

/** One position of a chunk in the output: file `file`, its chunk number `index`. */
interface Slot {
  file: OutFile
  index: number
}

interface OutFile {
  cid: CID
  node: FileNode
  path: string
  chunks: Array<{ cid: CID, offset: number, length: number }>
  state: Uint8Array
  /** chunks [0, hashed) are in the whole-file hash */
  hashed: number
  hasher: Blake3Hasher
  /** chunks past the hashed prefix whose bytes are in memory, not yet written */
  held: Map<number, Uint8Array | Uint8ArrayList>
  /** open while the file is being written: from its first chunk until its hash is complete */
  fh?: Promise<FileHandle>
  /** serialises the hash's advance, which writes the prefix (and may read back from the file) */
  hashing: Promise<void>
  /** large enough to be written direct */
  large: boolean
  /** a large file's direct writing, from its first chunk until it is complete (none when no staging was free) */
  direct?: Direct
}

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
  private readonly init: OutputInit
  private total = 0
  private readonly slots = new Map<string, Slot[]>()
  private readonly files: OutFile[] = []
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
    if (this.stagingBytes <= 0 || this.stagingBytes % DIRECT_ALIGN_BYTES !== 0) throw new UsageError(`stagingBytes must be a positive multiple of ${DIRECT_ALIGN_BYTES}, got ${this.stagingBytes}`)
    this.init = init
    this.tmp = join(dirname(outPath), `${partialPrefix(outPath)}${process.pid}`)
  }

  /**
   * Lay out the output of `root` (file or directory) under a temporary name: directories made, empty files
   * created. Every manifest node of `root` must be in the repo; chunks need not be.
   */
  static async create (getBlock: GetBlock, root: CID, outPath: string, init: OutputInit = {}): Promise<Output> {
    const exists = await fsStat(outPath).then(() => true, () => false)
    if (exists && init.force !== true) throw new UsageError(`${outPath} already exists; pass --force to replace it`)
    if (root.code === RAW_CODE) throw new UsageError(`${root} is a raw chunk, not a file or directory manifest; use \`dits-node cat\` to read it`)
    const node = await readNode(getBlock, root)
    if (node.type !== 'file' && node.type !== 'dir') throw new UsageError(`${root} is an inner ${node.type} node, not a file or directory manifest`)
    const out = new Output(getBlock, outPath, exists, init)
    out.total = node.size
    await removeStalePartials(outPath)
    try {
      await out.layOut(root, node, out.tmp)
    } catch (err) {
      await out.abort()
      throw err
    }
    return out
  }

  /** The chunks the output needs, each once. */
  * chunks (): Generator<CID> {
    for (const slots of this.slots.values()) yield slots[0].file.chunks[slots[0].index].cid
  }

  /**
   * `cid`'s bytes, verified by the caller against `cid`, go to every place the output has it. They may come in
   * pieces (a fetched chunk, in the frames it arrived in).
   */
  async write (cid: CID, bytes: Uint8Array | Uint8ArrayList): Promise<void> {
    if (this.failure != null) throw this.failure
    const slots = this.slots.get(cid.toString())
    if (slots == null) return
    await Promise.all(slots.map(async slot => { await this.writeSlot(slot, bytes) }))
  }

  /**
   * `cid` is in the repo already: read it (the blockstore verifies) and write it out, in the background, a few at
   * a time; `finish` waits for these.
   */
  writeLocal (cid: CID): void {
    if (!this.slots.has(cid.toString())) return
    this.localQueue.push(cid)
    this.pumpLocal()
  }

  /**
   * Fill whatever is still missing from the repo, check every file's size and whole-file BLAKE3, and rename the
   * output into place.
   */
  async finish (): Promise<OutputResult> {
    try {
      await this.localIdle
      if (this.failure != null) throw this.failure
      for (const [key, slots] of this.slots) {
        if (slots.some(s => s.file.state[s.index] === EMPTY)) await this.write(slots[0].file.chunks[slots[0].index].cid, await this.readLocal(key, slots))
      }
      for (const file of this.files) await this.check(file)
      if (this.failure != null) throw this.failure
      if (this.exists) await rm(this.outPath, { recursive: true, force: true })
      await rename(this.tmp, this.outPath)
      return this.result
    } catch (err) {
      await this.abort()
      throw err
    }
  }

  /** Remove everything written so far. */
  async abort (): Promise<void> {
    this.failure ??= new DitsError('get aborted')
    await this.localIdle
    await Promise.all(this.files.map(async f => { await this.closeFile(f).catch(() => {}) }))
    for (const file of this.files) file.held.clear()
    this.heldBytes = 0
    await rm(this.tmp, { recursive: true, force: true })
  }

  private async layOut (cid: CID, node: ManifestNode, path: string): Promise<void> {
    if (node.type === 'file') {
      await this.layOutFile(cid, node, path)
      return
    }
    if (node.type !== 'dir') throw new DitsError(`${cid} is a ${node.type} node where a file or directory was expected`)
    await mkdir(path)
    this.result.dirs++
    for await (const [name, child] of walkDir(this.getBlock, node)) {
      if (name.includes('/') || name === '..' || name === '.' || name === '') throw new InvalidPathError(`directory ${cid} has an unsafe entry name ${JSON.stringify(name)}`)
      await this.layOut(child, await readNode(this.getBlock, child), join(path, name))
    }
  }

  private async layOutFile (cid: CID, node: FileNode, path: string): Promise<void> {
    const chunks = []
    let end = 0
    for await (const c of walkChunks(this.getBlock, node)) {
      if (c.offset !== end) throw new VerificationError(`file ${cid}: chunk ${c.cid} at offset ${c.offset} where ${end} was expected`)
      end += c.length
      chunks.push(c)
    }
    if (end !== node.size) throw new VerificationError(`file ${cid}: its chunks add up to ${end} bytes but its manifest says ${node.size}`)
    const file: OutFile = { cid, node, path, chunks, state: new Uint8Array(chunks.length), hashed: 0, hasher: createBlake3(), held: new Map(), hashing: Promise.resolve(), large: node.size >= this.directMinBytes }
    this.files.push(file)
    // created now (exclusively) so that an empty file exists and a name clash shows at once
    await (await open(path, 'wx')).close()
    for (const [index, c] of chunks.entries()) {
      const key = c.cid.toString()
      const slots = this.slots.get(key)
      if (slots == null) this.slots.set(key, [{ file, index }])
      else slots.push({ file, index })
    }
  }

  private async writeSlot (slot: Slot, bytes: Uint8Array | Uint8ArrayList): Promise<void> {
    const { file, index } = slot
    if (file.state[index] !== EMPTY) return
    const chunk = file.chunks[index]
    if (bytes.byteLength !== chunk.length) throw new VerificationError(`chunk ${chunk.cid} is ${bytes.byteLength} bytes but file ${file.cid} says ${chunk.length}`)
    file.state[index] = TAKING
    // the next chunk of the prefix is written at once; others wait in memory while there is room, and beyond
    // that are written in place now and read back when the prefix reaches them
    if (index === file.hashed || this.heldBytes + bytes.byteLength <= this.holdBytes) {
      file.held.set(index, bytes)
      this.heldBytes += bytes.byteLength
      file.state[index] = HELD
    } else {
      await writeFully(await this.handle(file), contiguous(bytes), chunk.offset)
      file.state[index] = SPILLED
    }
    this.result.bytes += bytes.byteLength
    this.init.onProgress?.({ bytes: this.result.bytes, total: this.total })
    file.hashing = file.hashing.then(async () => { await this.advance(file) })
    await file.hashing
  }

  /** The file's handle for buffered writes and reads, opened on first use. */
  private async handle (file: OutFile): Promise<FileHandle> {
    file.fh ??= open(file.path, 'r+')
    return await file.fh
  }

  /** Hash and write the chunks that now follow the prefix, reading back those written ahead of it. */
  private async advance (file: OutFile): Promise<void> {
    while (file.hashed < file.chunks.length && file.state[file.hashed] >= HELD) {
      const i = file.hashed
      const c = file.chunks[i]
      let bytes = file.held.get(i)
      if (bytes != null) {
        file.held.delete(i)
        this.heldBytes -= bytes.byteLength
      } else {
        const read = new Uint8Array(c.length)
        if (await readFully(await this.handle(file), read, c.offset) < c.length) throw new VerificationError(`file ${file.cid}: ${file.path} is shorter than its chunks`)
        bytes = read
      }
      if (bytes instanceof Uint8Array) file.hasher.update(bytes)
      else for (const piece of bytes) file.hasher.update(piece)
      if (i === 0 && file.large && this.directSupported) file.direct = this.takeStaging()
      if (file.direct != null) await this.stage(file, file.direct, bytes)
      else if (file.state[i] === HELD) await writeFully(await this.handle(file), contiguous(bytes), c.offset)
      file.hashed++
    }
    // complete: a directory of many files never holds more than a few open
    if (file.hashed === file.chunks.length) await this.closeFile(file)
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
        d.fh ??= open(file.path, DIRECT_FLAGS)
        await writeFully(await d.fh, span.subarray(0, length), at)
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        d.refused = true
        this.directSupported = false
      }
    }
    await writeFully(await this.handle(file), span.subarray(0, length), at)
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
          if (file.hashed === file.chunks.length && whole > 0) await this.writeSpan(file, d, d.bufs[0], d.at, whole)
          if (file.hashed === file.chunks.length && whole < d.fill) await writeFully(await this.handle(file), d.bufs[0].subarray(whole, d.fill), d.at + whole)
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

  private async check (file: OutFile): Promise<void> {
    await file.hashing
    if (file.hashed !== file.chunks.length) throw new VerificationError(`file ${file.cid}: ${file.chunks.length - file.hashed} chunk(s) never written`)
    const digest = file.hasher.digest()
    if (!equalBytes(digest, file.node.blake3)) throw new VerificationError(`file ${file.cid}: whole-file BLAKE3 ${toHex(digest)} does not match the manifest's ${toHex(file.node.blake3)}`)
    this.result.files++
  }

  private pumpLocal (): void {
    while (this.localRunning < LOCAL_CONCURRENCY && this.localQueue.length > 0) {
      const cid = this.localQueue.shift() as CID
      if (this.localRunning === 0) this.localIdle = new Promise(resolve => { this.resolveLocalIdle = resolve })
      this.localRunning++
      const key = cid.toString()
      const slots = this.slots.get(key) as Slot[]
      const work = (async () => {
        this.init.signal?.throwIfAborted()
        if (slots.every(s => s.file.state[s.index] !== EMPTY)) return
        await this.write(cid, await this.readLocal(key, slots))
      })()
      work.catch((err: Error) => { this.failure ??= err }).finally(() => {
        if (--this.localRunning === 0 && this.localQueue.length === 0) this.resolveLocalIdle?.()
        this.pumpLocal()
      })
    }
  }

  private async readLocal (key: string, slots: Slot[]): Promise<Uint8Array> {
    const { file, index } = slots[0]
    try {
      return await this.getBlock(file.chunks[index].cid)
    } catch (err) {
      throw new DitsError(`chunk ${key} of ${file.path} is not in the repo: ${(err as Error).message}`)
    }
  }
}
