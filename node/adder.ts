/**
 * `add`: stream files and directory trees into the blockstore as chunks plus manifests.
 *
 * Crash safety: chunks are written (atomically) before the manifest nodes that list them, and the root
 * last; a pin is written only after every block it reaches is fsynced. A killed add therefore leaves at
 * worst unpinned orphans, which `gc` reclaims — never a manifest that points at missing chunks.
 * Chunks go to the disk as they are written (O_DIRECT, see DitsBlockstore.put), while later ones are cut and
 * hashed, so the caller's sync before pinning has little left to do.
 */
import { readSync } from 'node:fs'
import { lstat, open, stat, readdir, realpath } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { chunkAndHash } from './chunk-pipeline.ts'
import type { HashedChunk } from './chunk-pipeline.ts'
import { cidFromDigest, RAW_CODE } from '../src/cid.ts'
import { FileManifestBuilder, buildDirectory } from '../src/manifest/index.ts'
import type { DirEntry, EncodedBlock, EntryKind } from '../src/manifest/index.ts'
import type { ChunkerProfile } from '../src/fastcdc/index.ts'
import { DitsError, InvalidPathError } from '../src/errors.ts'
import type { DitsBlockstore } from './blockstore.ts'

/**
 * Block writes in flight at once: enough to keep the disk busy, few enough to bound the chunks they hold in the
 * chunk pipeline's buffers (typically 8 × 1 MiB of its 32 MiB).
 */
const DEFAULT_PUT_CONCURRENCY = 8

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
}

export class SpecialFileError extends InvalidPathError {
  static override name = 'SpecialFileError'
  override name = 'SpecialFileError'
}

export class Adder {
  readonly stats: AddStats = { files: 0, dirs: 0, chunks: 0, bytesNew: 0, bytesDedup: 0 }
  /** every block this add wrote or found, so the caller can fsync them before pinning */
  readonly touched: CID[] = []
  private readonly blocks: DitsBlockstore
  private readonly options: AddOptions
  private readonly seen = new Set<string>()
  private readonly pending = new Set<Promise<void>>()
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
    try {
      const added = await this.addAny(path, new Set())
      await this.drain()
      return { path, ...added }
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
    let names: string[]
    try {
      names = await readdir(path)
    } catch (err) {
      throw new InvalidPathError(`cannot read directory ${path}: ${(err as Error).message}`)
    }
    for (const name of names) sum += await this.scanPath(join(path, name), inner)
    return sum
  }

  /** stat through symlinks; a symlink back into a directory being walked is a loop. */
  private async statFollow (path: string, ancestors: Set<string>): Promise<import('node:fs').Stats> {
    let l
    try {
      l = await lstat(path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new InvalidPathError(code === 'ENOENT' ? `${path}: no such file or directory` : `cannot read ${path}: ${(err as Error).message}`)
    }
    let st = l
    if (l.isSymbolicLink()) {
      try {
        st = await stat(path)
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
    if (st.isFile()) return { ...(await this.addFile(path)), kind: 'file' }
    const real = await realpath(path)
    const inner = new Set(ancestors).add(real)
    const entries: DirEntry[] = []
    for (const name of (await readdir(path)).sort()) {
      const child = await this.addAny(join(path, name), inner)
      entries.push([name.normalize('NFC'), child.cid, child.size, child.kind])
    }
    const { blocks, root } = buildDirectory(entries)
    for (const b of blocks) await this.putBlock(b)
    await this.drain()
    await this.putBlock(root)
    this.stats.dirs++
    return { cid: root.cid, size: entries.reduce((s, e) => s + e[2], 0), kind: 'dir' }
  }

  private async addFile (path: string): Promise<{ cid: CID, size: number }> {
    const builder = new FileManifestBuilder(this.options.profile)
    let digest: Uint8Array | undefined
    let size = 0
    const onRead = (bytes: Uint8Array): void => {
      size += bytes.byteLength
      this.bytesRead += bytes.byteLength
      this.options.onProgress?.({ bytes: this.bytesRead, total: this.total, path })
    }
    const file = await open(path, 'r').catch((err: Error) => { throw new DitsError(`cannot read ${path}: ${err.message}`) })
    // Synchronous reads straight into the pipeline's buffers (a 4 MiB read from the page cache takes ~1 ms): the
    // thread pool is busy with block writes, and a read queued behind them would starve the chunker.
    const read = (into: Uint8Array): number => {
      try {
        return readSync(file.fd, into)
      } catch (err) {
        throw new DitsError(`cannot read ${path}: ${(err as Error).message}`)
      }
    }
    try {
      const sizeHint = (await file.stat()).size
      const onDigest = (d: Uint8Array): void => { digest = d }
      for await (const chunk of chunkAndHash(read, this.options.profile, { signal: this.options.signal, onRead, onDigest, sizeHint })) {
        const cid = cidFromDigest(RAW_CODE, chunk.digest)
        await this.putChunk(cid, chunk)
        for (const part of builder.addChunk(cid, chunk.bytes.byteLength)) await this.putBlock(part)
      }
    } finally {
      await file.close()
    }
    if (digest === undefined) throw new Error('the chunk pipeline ended without the whole-file digest')
    const { blocks, root } = builder.finish(size, digest)
    for (const b of blocks) await this.putBlock(b)
    // The root goes last, after every block it reaches is on disk.
    await this.drain()
    await this.putBlock(root)
    await this.drain()
    this.stats.files++
    return { cid: root.cid, size }
  }

  /** Writes a chunk unless this add or the repo already has it; the chunk's bytes are held until then. */
  private async putChunk (cid: CID, chunk: HashedChunk): Promise<void> {
    const length = chunk.bytes.byteLength
    this.stats.chunks++
    const key = cid.toString()
    if (this.seen.has(key)) {
      this.stats.bytesDedup += length
      return
    }
    this.seen.add(key)
    this.touched.push(cid)
    const release = chunk.hold()
    const write = async (): Promise<void> => {
      // Checked in the write slot, so that the checks of 8 chunks overlap like their writes.
      if (await this.blocks.has(cid)) {
        this.stats.bytesDedup += length
        return
      }
      this.stats.bytesNew += length
      await this.blocks.put(cid, chunk.bytes, { trusted: true, direct: true, signal: this.options.signal })
    }
    await this.schedule(write().finally(release))
  }

  private async putBlock (block: EncodedBlock): Promise<void> {
    const key = block.cid.toString()
    if (this.seen.has(key)) return
    this.seen.add(key)
    this.touched.push(block.cid)
    await this.schedule(this.blocks.put(block.cid, block.bytes, { trusted: true, direct: true, signal: this.options.signal }))
  }

  private async schedule (write: Promise<void>): Promise<void> {
    const p = write.finally(() => this.pending.delete(p))
    this.pending.add(p)
    // Surface a failed write at the next wait rather than as an unhandled rejection.
    p.catch(() => {})
    if (this.pending.size >= DEFAULT_PUT_CONCURRENCY) await Promise.race(this.pending)
  }

  private async drain (): Promise<void> {
    await Promise.all(this.pending)
  }
}

/** The name a path gets inside a wrapping directory. */
export function entryName (path: string): string {
  return basename(path.replace(/\/+$/, '')).normalize('NFC')
}
