/**
 * Reading content out of the repo: `get` (file or directory tree to a path), `cat` (a byte range), `ls`, `stat`.
 * Every chunk is verified on read (the blockstore does it); the whole-file BLAKE3 is checked before a file
 * is renamed into place, so a failed get leaves no half-written output.
 */
import { open, mkdir, rename, rm, stat as fsStat } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { readNode, walkChunks, walkDir } from '../src/manifest/index.ts'
import type { GetBlock, FileNode, DirNode, ManifestNode, ChunkRef } from '../src/manifest/index.ts'
import { createBlake3 } from '../src/hash/blake3.ts'
import { equalBytes, toHex, RAW_CODE } from '../src/cid.ts'
import { DitsError, UsageError, VerificationError, InvalidPathError } from '../src/errors.ts'

/** Chunks read ahead of the one being written out: with 4 MiB chunks at most ~20 MiB in flight. */
const READ_AHEAD_CHUNKS = 4

export interface ExportProgress {
  bytes: number
  total: number
}

export interface ExportOptions {
  force?: boolean
  signal?: AbortSignal
  onProgress?: (p: ExportProgress) => void
}

export interface ExportResult {
  bytes: number
  files: number
  dirs: number
}

/** Write the file or directory `root` to `outPath`, byte-exact. */
export async function exportTo (getBlock: GetBlock, root: CID, outPath: string, options: ExportOptions = {}): Promise<ExportResult> {
  const exists = await fsStat(outPath).then(() => true, () => false)
  if (exists && options.force !== true) throw new UsageError(`${outPath} already exists; pass --force to replace it`)
  if (root.code === RAW_CODE) throw new UsageError(`${root} is a raw chunk, not a file or directory manifest; use \`dits-node cat\` to read it`)
  const node = await readNode(getBlock, root)
  if (node.type !== 'file' && node.type !== 'dir') throw new UsageError(`${root} is an inner ${node.type} node, not a file or directory manifest`)
  const result: ExportResult = { bytes: 0, files: 0, dirs: 0 }
  const total = node.size
  // Build under a temporary name beside the target and rename at the end: nothing half-written is ever visible.
  const tmp = join(dirname(outPath), `.${basename(outPath)}.dits-partial-${process.pid}`)
  await rm(tmp, { recursive: true, force: true })
  try {
    await writeNode(getBlock, root, node, tmp, result, { ...options, onProgress: options.onProgress == null ? undefined : (p) => options.onProgress?.({ bytes: p.bytes, total }) })
    if (exists) await rm(outPath, { recursive: true, force: true })
    await rename(tmp, outPath)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  return result
}

async function writeNode (getBlock: GetBlock, cid: CID, node: ManifestNode, path: string, result: ExportResult, options: ExportOptions): Promise<void> {
  options.signal?.throwIfAborted()
  if (node.type === 'file') {
    await writeFile(getBlock, cid, node, path, result, options)
    return
  }
  if (node.type !== 'dir') throw new DitsError(`${cid} is a ${node.type} node where a file or directory was expected`)
  await mkdir(path)
  result.dirs++
  for await (const [name, child] of walkDir(getBlock, node)) {
    if (name.includes('/') || name === '..' || name === '.' || name === '') throw new InvalidPathError(`directory ${cid} has an unsafe entry name ${JSON.stringify(name)}`)
    await writeNode(getBlock, child, await readNode(getBlock, child), join(path, name), result, options)
  }
}

async function writeFile (getBlock: GetBlock, cid: CID, node: FileNode, path: string, result: ExportResult, options: ExportOptions): Promise<void> {
  const fh = await open(path, 'wx')
  const whole = createBlake3()
  let written = 0
  try {
    for await (const chunk of readRange(getBlock, node)) {
      options.signal?.throwIfAborted()
      whole.update(chunk)
      await fh.write(chunk)
      written += chunk.byteLength
      result.bytes += chunk.byteLength
      options.onProgress?.({ bytes: result.bytes, total: 0 })
    }
  } finally {
    await fh.close()
  }
  if (written !== node.size) throw new VerificationError(`file ${cid}: wrote ${written} bytes but its manifest says ${node.size}`)
  const digest = whole.digest()
  if (!equalBytes(digest, node.blake3)) throw new VerificationError(`file ${cid}: whole-file BLAKE3 ${toHex(digest)} does not match the manifest's ${toHex(node.blake3)}`)
  result.files++
}

/**
 * The bytes of a file in order, restricted to [offset, offset + length); reads only the chunks the range needs.
 * Up to READ_AHEAD_CHUNKS chunks are read (and verified) ahead of the one being yielded, so disk reads and
 * hashing overlap the consumer's writes; memory stays bounded by that window.
 */
export async function * readRange (getBlock: GetBlock, file: FileNode, offset = 0, length = Infinity): AsyncGenerator<Uint8Array> {
  if (offset < 0 || length < 0) throw new UsageError('offset and length must be >= 0')
  const end = Math.min(file.size, offset + length)
  if (offset >= end) return
  const window: Array<{ c: ChunkRef, bytes: Promise<Uint8Array> }> = []
  const take = async (): Promise<Uint8Array> => {
    const { c, bytes: pending } = window.shift() as { c: ChunkRef, bytes: Promise<Uint8Array> }
    const bytes = await pending
    if (bytes.byteLength !== c.length) throw new VerificationError(`chunk ${c.cid} is ${bytes.byteLength} bytes but the manifest says ${c.length}`)
    const from = Math.max(0, offset - c.offset)
    const to = Math.min(c.length, end - c.offset)
    return from === 0 && to === c.length ? bytes : bytes.subarray(from, to)
  }
  try {
    for await (const c of walkChunks(getBlock, file, { offset, length: end - offset })) {
      const bytes = getBlock(c.cid)
      // A read that fails while still queued is reported when its turn comes, not as an unhandled rejection.
      bytes.catch(() => {})
      window.push({ c, bytes })
      if (window.length > READ_AHEAD_CHUNKS) yield await take()
    }
    while (window.length > 0) yield await take()
  } finally {
    window.length = 0
  }
}

export interface LsEntry {
  name: string
  cid: string
  size: number
  type: 'file' | 'dir'
}

export async function ls (getBlock: GetBlock, root: CID): Promise<LsEntry[]> {
  const node = await readNode(getBlock, root)
  if (node.type === 'file') return [{ name: root.toString(), cid: root.toString(), size: node.size, type: 'file' }]
  if (node.type !== 'dir') throw new UsageError(`${root} is an inner ${node.type} node, not a file or directory`)
  const out: LsEntry[] = []
  for await (const [name, cid, size, kind] of walkDir(getBlock, node)) out.push({ name, cid: cid.toString(), size, type: kind })
  return out
}

export type StatResult = {
  cid: string
  type: 'file'
  size: number
  blake3: string
  chunker: FileNode['chunker']
  chunks: Array<{ cid: string, offset: number, length: number }>
} | {
  cid: string
  type: 'dir'
  size: number
  entries: number
} | {
  cid: string
  type: 'chunk'
  size: number
}

export async function statCid (getBlock: GetBlock, root: CID): Promise<StatResult> {
  if (root.code === RAW_CODE) return { cid: root.toString(), type: 'chunk', size: (await getBlock(root)).byteLength }
  const node = await readNode(getBlock, root)
  if (node.type === 'file') {
    const chunks = []
    for await (const c of walkChunks(getBlock, node)) chunks.push({ cid: c.cid.toString(), offset: c.offset, length: c.length })
    return { cid: root.toString(), type: 'file', size: node.size, blake3: toHex(node.blake3), chunker: node.chunker, chunks }
  }
  if (node.type === 'dir') {
    let entries = 0
    for await (const _ of walkDir(getBlock, node as DirNode)) entries++
    return { cid: root.toString(), type: 'dir', size: node.size, entries }
  }
  throw new UsageError(`${root} is an inner ${node.type} node, not a file or directory`)
}
