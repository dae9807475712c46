/**
 * `add`: stream files and directory trees into the blockstore as chunks plus manifests.
 *
 * Crash safety: chunks are written (atomically) before the manifest nodes that list them, and the root
 * last; a pin is written only after every block it reaches is fsynced. A killed add therefore leaves at
 * worst unpinned orphans, which `gc` reclaims — never a manifest that points at missing chunks.
 * Chunks go to the disk as they are written (O_DIRECT, see DitsBlockstore.put), while later ones are cut and
 * hashed, and an add that will be pinned syncs them in batches as it goes (BlockSync), so the caller's flush
 * before pinning has only the last batch and the shard directories left to do.
 *
 * Memory does not grow with the number of chunks: a chunk repeated within the add is recognised by the store's
 * `has` once its first write has ended, or among the few writes under way before that; the manifest builder
 * holds one part node's links per tree level; the sync holds two batches of CIDs.
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync, statSync } from 'node:fs'
import type { Stats } from 'node:fs'
import { readdir, realpath } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { chunkAndHash } from './chunk-pipeline.ts'
import type { HashedChunk } from './chunk-pipeline.ts'
import { cidFromDigest, parseCid, RAW_CODE } from '../src/cid.ts'
import { FileManifestBuilder, buildDirectory, MODE_BITS, readFileNode, walkChunks } from '../src/manifest/index.ts'
import type { DirEntry, EncodedBlock, EntryKind, Metadata } from '../src/manifest/index.ts'
import type { ChunkerProfile } from '../src/fastcdc/index.ts'
import { DitsError, InvalidPathError } from '../src/errors.ts'
import type { DitsBlockstore, PutOutcome } from './blockstore.ts'
import type { BlockSync } from './block-sync.ts'
import { identityOf, sameIdentity } from './watch/chunk-cache.ts'
import type { FileIdentity } from './watch/chunk-cache.ts'

/**
 * Block writes in flight at once: enough to keep the disk busy, few enough to bound the chunks they hold in the
 * chunk pipeline's buffers (typically 8 × 1 MiB of its 32 MiB).
 */
export const DEFAULT_PUT_CONCURRENCY = 8

/** blocks found held and compared, remembered so that a repeat is not compared again (see Adder.put) */
const COMPARED_MAX = 4096

export interface AddProgress {
  /** bytes of file content read so far, over all paths */
  bytes: number
  /** total bytes to add, known after the initial scan */
  total: number
  path: string
}

export interface AddOptions {
  profile: ChunkerProfile
  onProgress?: (p: AddProgress) => void
  signal?: AbortSignal
  /**
   * Where every block the add writes or finds goes once it is in the store, to be made durable: for a caller that
   * will pin the root, and flushes it first. Without it nothing is synced.
   */
  sync?: BlockSync
  /**
   * The folder watcher's chunk cache (node/watch): the file manifest whose chunk list a file has, when the file is
   * now exactly as the watcher read it. Its chunks are then taken from the store instead of the file being read
   * (each must still be held; anything amiss and the file is read as usual).
   */
  reuse?: (path: string, now: FileIdentity, profile: ChunkerProfile) => string | undefined
  /** Awaited between chunks: background work (the watcher) waits here while foreground work runs. */
  pace?: () => Promise<void>
}

export interface AddedPath {
  path: string
  cid: CID
  size: number
  kind: EntryKind
}

export interface AddStats {
  files: number
  dirs: number
  chunks: number
  /** chunk bytes written by this add */
  bytesNew: number
  /** chunk bytes that were already in the repo (or repeated within this add) */
  bytesDedup: number
  /** chunk bytes the repo held damaged (not these bytes) and this add replaced */
  bytesRepaired: number
  /** file bytes whose chunk list came from the watcher's chunk cache, without reading the file */
  bytesReused: number
}

export class InvalidNameError extends InvalidPathError {
  static override name = 'InvalidNameError'
  override name = 'InvalidNameError'
}

export class SpecialFileError extends InvalidPathError {
  static override name = 'SpecialFileError'
  override name = 'SpecialFileError'
}

export class Adder {
  readonly stats: AddStats = { files: 0, dirs: 0, chunks: 0, bytesNew: 0, bytesDedup: 0, bytesRepaired: 0, bytesReused: 0 }
  private readonly blocks: DitsBlockstore
  private readonly options: AddOptions
  /** the CIDs (as strings) of the blocks being looked up or written: at most DEFAULT_PUT_CONCURRENCY */
  private readonly writing = new Set<string>()
  private readonly pending = new Set<Promise<void>>()
  /** CIDs (as strings) of blocks compared with the store's copy by this add, oldest first */
  private readonly compared = new Set<string>()
  private bytesRead = 0
  private total = 0

  constructor (blocks: DitsBlockstore, options: AddOptions) {
    this.blocks = blocks
    this.options = options
  }

  /** Check every path before writing anything: missing, unreadable, special files and loops fail here. */
  async scan (paths: string[]): Promise<void> {
    for (const p of paths) this.total += await this.scanPath(p, new Set())
  }

  /** On failure (or abort) it returns once the writes already under way have ended, so nothing writes after. */
  async addPath (path: string): Promise<AddedPath> {
    return await this.settled(async () => ({ path, ...(await this.addAny(path, new Set())) }))
  }

  /**
   * Wraps paths already added in one directory, so that there is one root to pass around. It is not counted in
   * `stats.dirs`, which counts the directories added.
   */
  async wrap (added: AddedPath[]): Promise<{ cid: CID, size: number }> {
    const entries: DirEntry[] = added.map(a => [entryName(a.path), a.cid, a.size, a.kind])
    const cid = await this.settled(async () => await this.putDirectory(entries))
    return { cid, size: entries.reduce((s, e) => s + e[2], 0) }
  }

  /** `fn`'s result once its writes have ended; on failure, the failure once the writes under way have ended. */
  private async settled<T> (fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn()
      await this.drain()
      return result
    } catch (err) {
      await Promise.allSettled(this.pending)
      throw err
    }
  }

  private async scanPath (path: string, ancestors: Set<string>): Promise<number> {
    const st = await this.statFollow(path, ancestors)
    if (st.isFile()) return st.size
    let sum = 0
    const real = await realpath(path)
    const inner = new Set(ancestors).add(real)
    let names: Buffer[]
    try {
      // as bytes: a name that is not UTF-8 would come back with U+FFFD in place of its bytes, naming no file
      names = await readdir(path, { encoding: 'buffer' })
    } catch (err) {
      throw new InvalidPathError(`cannot read directory ${path}: ${(err as Error).message}`)
    }
    for (const raw of names) {
      const name = utf8Name(raw)
      if (name === undefined) throw new InvalidNameError(`${join(path, escapeName(raw))}: the name is not valid UTF-8 (its bytes are shown as \\xNN); manifests hold UTF-8 names only: rename it to add it`)
      sum += await this.scanPath(join(path, name), inner)
    }
    return sum
  }

  /**
   * stat through symlinks; a symlink back into a directory being walked is a loop. On this thread, as addFile's
   * calls: two per file (scan and add), each ~10× as long through the thread pool.
   */
  private async statFollow (path: string, ancestors: Set<string>): Promise<import('node:fs').Stats> {
    let l
    try {
      l = lstatSync(path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new InvalidPathError(code === 'ENOENT' ? `${path}: no such file or directory` : `cannot read ${path}: ${(err as Error).message}`)
    }
    let st = l
    if (l.isSymbolicLink()) {
      try {
        st = statSync(path)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ELOOP') throw new InvalidPathError(`${path}: symlink loop`)
        throw new InvalidPathError(`${path}: broken symlink (${code ?? (err as Error).message})`)
      }
      if (st.isDirectory() && ancestors.has(await realpath(path))) {
        throw new InvalidPathError(`${path}: symlink loop (it points back to ${await realpath(path)}, a directory being added)`)
      }
    }
    if (!st.isFile() && !st.isDirectory()) {
      const kind = st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : 'a special file'
      throw new SpecialFileError(`${path} is ${kind}; only regular files and directories can be added`)
    }
    return st
  }

  private async addAny (path: string, ancestors: Set<string>): Promise<{ cid: CID, size: number, kind: EntryKind }> {
    this.options.signal?.throwIfAborted()
    const st = await this.statFollow(path, ancestors)
    if (st.isFile()) return { ...(await this.addFile(path, metadataOf(st))), kind: 'file' }
    const real = await realpath(path)
    const inner = new Set(ancestors).add(real)
    const entries: DirEntry[] = []
    for (const name of (await readdir(path)).sort()) {
      const child = await this.addAny(join(path, name), inner)
      entries.push([name.normalize('NFC'), child.cid, child.size, child.kind])
    }
    const cid = await this.putDirectory(entries, metadataOf(st))
    this.stats.dirs++
    return { cid, size: entries.reduce((s, e) => s + e[2], 0), kind: 'dir' }
  }

  /** Stores a directory's manifest, its root after the rest and after its entries' roots. */
  private async putDirectory (entries: DirEntry[], meta?: Metadata): Promise<CID> {
    const { blocks, root } = buildDirectory(entries, undefined, meta)
    for (const b of blocks) await this.putBlock(b)
    await this.putRoot(root)
    return root.cid
  }

  private async addFile (path: string, meta: Metadata): Promise<{ cid: CID, size: number }> {
    const builder = new FileManifestBuilder(this.options.profile)
    let digest: Uint8Array | undefined
    let size = 0
    const onRead = (bytes: Uint8Array): void => {
      size += bytes.byteLength
      this.bytesRead += bytes.byteLength
      this.options.onProgress?.({ bytes: this.bytesRead, total: this.total, path })
    }
    // The open, fstat and close as well as the reads on this thread: each trip through the thread pool cost ~10× the
    // call it made here, and a tree of small files is mostly such calls (see writeSmall in blockstore.ts).
    let fd: number
    try {
      fd = openSync(path, 'r')
    } catch (err) {
      throw new DitsError(`cannot read ${path}: ${(err as Error).message}`)
    }
    // Synchronous reads straight into the pipeline's buffers (a 4 MiB read from the page cache takes ~1 ms): the
    // thread pool is busy with block writes, and a read queued behind them would starve the chunker.
    const read = (into: Uint8Array): number => {
      try {
        return readSync(fd, into)
      } catch (err) {
        throw new DitsError(`cannot read ${path}: ${(err as Error).message}`)
      }
    }
    try {
      const reused = await this.reuseChunks(path, fd, meta)
      if (reused !== undefined) return reused
      const sizeHint = fstatSync(fd).size
      const onDigest = (d: Uint8Array): void => { digest = d }
      for await (const chunk of chunkAndHash(read, this.options.profile, { signal: this.options.signal, onRead, onDigest, sizeHint })) {
        const cid = cidFromDigest(RAW_CODE, chunk.digest)
        await this.putChunk(cid, chunk)
        await this.options.pace?.()
        for (const part of builder.addChunk(cid, chunk.bytes.byteLength)) await this.putBlock(part)
      }
    } finally {
      closeSync(fd)
    }
    if (digest === undefined) throw new Error('the chunk pipeline ended without the whole-file digest')
    const { blocks, root } = builder.finish(size, digest, meta)
    for (const b of blocks) await this.putBlock(b)
    await this.putRoot(root)
    this.stats.files++
    return { cid: root.cid, size }
  }

  /**
   * The file's manifest built from the chunk list the watcher recorded for it, when the file (open as `file`) is
   * exactly as the watcher read it before and after, and every chunk is still held (each is held for this add, as a
   * fetch holds what it skips: a gc keeps it from now on). Undefined otherwise: the caller reads the file. The chunks
   * were fsynced by the watcher before it recorded them, so they are not synced again.
   */
  private async reuseChunks (path: string, fd: number, meta: Metadata): Promise<{ cid: CID, size: number } | undefined> {
    if (this.options.reuse === undefined) return undefined
    const before = identityOf(fstatSync(fd, { bigint: true }))
    const root = this.options.reuse(path, before, this.options.profile)
    if (root === undefined) return undefined
    const getBlock = async (cid: CID): Promise<Uint8Array> => await this.blocks.get(cid, { signal: this.options.signal })
    let node
    try {
      node = await readFileNode(getBlock, parseCid(root))
    } catch {
      return undefined
    }
    if (node.size !== before.size) return undefined
    const builder = new FileManifestBuilder(this.options.profile)
    const parts: EncodedBlock[] = []
    let chunks = 0
    for await (const c of walkChunks(getBlock, node, undefined, { signal: this.options.signal })) {
      if (!(await this.blocks.hold(c.cid, { signal: this.options.signal }))) return undefined
      parts.push(...builder.addChunk(c.cid, c.length))
      chunks++
    }
    const { blocks, root: fileRoot } = builder.finish(node.size, node.blake3, meta)
    // re-checked at the end: a file changed meanwhile is read instead
    if (!sameIdentity(before, identityOf(fstatSync(fd, { bigint: true })))) return undefined
    for (const b of [...parts, ...blocks]) await this.putBlock(b)
    await this.putRoot(fileRoot)
    this.stats.files++
    this.stats.chunks += chunks
    this.stats.bytesDedup += node.size
    this.stats.bytesReused += node.size
    this.bytesRead += node.size
    this.options.onProgress?.({ bytes: this.bytesRead, total: this.total, path })
    return { cid: fileRoot.cid, size: node.size }
  }

  /** Writes a chunk unless this add or the repo already has it; the chunk's bytes are held until then. */
  private async putChunk (cid: CID, chunk: HashedChunk): Promise<void> {
    const length = chunk.bytes.byteLength
    this.stats.chunks++
    if (this.writing.has(cid.toString())) {
      this.stats.bytesDedup += length
      return
    }
    const release = chunk.hold()
    await this.schedule(cid, length, async () => {
      try {
        // a chunk repeated within this add is found held, once its first write has ended
        const outcome = await this.put(cid, chunk.bytes)
        if (outcome === 'stored') this.stats.bytesNew += length
        else if (outcome === 'replaced') this.stats.bytesRepaired += length
        else this.stats.bytesDedup += length
      } finally {
        release()
      }
    })
  }

  /**
   * A root goes in only once every block it reaches is in the store, so that a killed add leaves no manifest that
   * points at a missing block: it waits in its write slot for every write under way (its own file's or directory's
   * among them). The add goes on meanwhile: the next file is read and cut while this one's blocks are written (a
   * wait for all of them at each file held an image sequence of small frames to one file's writes at a time).
   */
  private async putRoot (root: EncodedBlock): Promise<void> {
    await this.putBlock(root, [...this.pending])
  }

  private async putBlock (block: EncodedBlock, after: Array<Promise<void>> = []): Promise<void> {
    if (this.writing.has(block.cid.toString())) return
    await this.schedule(block.cid, block.bytes.byteLength, async () => {
      await Promise.all(after)
      await this.put(block.cid, block.bytes)
    })
  }

  /**
   * A block the repo holds already is compared with the bytes in hand and replaced if it differs: a chunk damaged in
   * place is repaired by adding its file again. Those compared lately are not compared again (a file of zeros repeats
   * one chunk thousands of times); the set is bounded, so memory does not grow with the add.
   */
  private async put (cid: CID, bytes: Uint8Array): Promise<PutOutcome> {
    const key = cid.toString()
    if (this.compared.has(key)) return 'present'
    // inline: a small block (a small file's chunk, a manifest) is written on this thread, where the thread pool's trips
    // cost ~10× the calls; its sync comes at the next batch, by one syncfs (see DitsBlockstore.syncData)
    const outcome = await this.blocks.putChecked(cid, bytes, { trusted: true, direct: true, inline: true, checkPresent: true, signal: this.options.signal })
    this.compared.add(key)
    if (this.compared.size > COMPARED_MAX) this.compared.delete(this.compared.values().next().value as string)
    return outcome
  }

  /**
   * Runs `write` (which leaves the block in the store) in a write slot, once one is free, then hands the block to
   * the sync: the slot is held until the sync takes it, which holds the add back when the disk syncs slower than it
   * writes.
   */
  private async schedule (cid: CID, length: number, write: () => Promise<void>): Promise<void> {
    const key = cid.toString()
    this.writing.add(key)
    const run = async (): Promise<void> => {
      try {
        await write()
      } finally {
        this.writing.delete(key)
      }
      await this.options.sync?.add(cid, length)
    }
    const p = run().finally(() => this.pending.delete(p))
    this.pending.add(p)
    // Surface a failed write at the next wait rather than as an unhandled rejection.
    p.catch(() => {})
    if (this.pending.size >= DEFAULT_PUT_CONCURRENCY) await Promise.race(this.pending)
  }

  private async drain (): Promise<void> {
    await Promise.all(this.pending)
  }
}

/**
 * What a manifest keeps of a file's or directory's stat (of what a symlink points at): its permission bits, and its
 * mtime rounded to whole milliseconds — a time that get restores through utimes (a double of seconds) comes back
 * within a microsecond, so a re-add of a get's output rounds to the same manifest.
 */
function metadataOf (st: Stats): Metadata {
  return { mode: st.mode & MODE_BITS, mtime: Math.round(st.mtimeMs) }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** `raw` decoded as UTF-8, or undefined when it is not valid UTF-8. */
function utf8Name (raw: Uint8Array): string | undefined {
  try {
    return UTF8.decode(raw)
  } catch {
    return undefined
  }
}

/** A name's bytes for a message: printable ASCII as it is (a backslash doubled), every other byte as \xNN. */
export function escapeName (raw: Uint8Array): string {
  let out = ''
  for (const b of raw) out += b === 0x5c ? '\\\\' : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`
  return out
}

/** The name a path gets inside a wrapping directory. */
export function entryName (path: string): string {
  return basename(path.replace(/\/+$/, '')).normalize('NFC')
}
