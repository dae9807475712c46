/**
 * Reading content out of the repo: `get` (file or directory tree to a path), `cat` (a byte range), `ls`, `stat`.
 * Every chunk is verified on read (the blockstore does it); the whole-file BLAKE3 is checked before a file
 * is renamed into place, so a failed get leaves no half-written output.
 */
import type { CID } from 'multiformats/cid'
import { Output } from './output.ts'
import { mapAhead } from './limit.ts'
import type { OutputResult, LayoutProgress } from './output.ts'
import { macrotask } from './deferred.ts'
import { readNode, walkChunks, walkDir, measureTree } from '../src/manifest/index.ts'
import type { GetBlock, FileNode, DirNode } from '../src/manifest/index.ts'
import { toHex, RAW_CODE } from '../src/cid.ts'
import { UsageError, VerificationError } from '../src/errors.ts'

/** Chunks read ahead of the one being written out: with 4 MiB chunks at most ~20 MiB in flight. */
const READ_AHEAD_CHUNKS = 4

export interface ExportProgress {
  bytes: number
  total: number
}

export interface ExportOptions {
  force?: boolean
  /** restore modes and mtimes (see OutputInit) @default true */
  metadata?: boolean
  signal?: AbortSignal
  /** @default DEFAULT_MAX_OUTPUT_ENTRIES (output.ts) */
  maxEntries?: number
  onProgress?: (p: ExportProgress) => void
  onLayout?: (p: LayoutProgress) => void
}

/** Chunks `stat` lists at most (a 100 GB file of 1 MiB chunks); `chunk_count` has them all. */
export const STAT_MAX_LISTED_CHUNKS = 100_000

export type ExportResult = OutputResult

/** Write the file or directory `root`, all of it in the repo, to `outPath`, byte-exact (see Output). */
export async function exportTo (getBlock: GetBlock, root: CID, outPath: string, options: ExportOptions = {}): Promise<ExportResult> {
  const output = await Output.create(getBlock, root, outPath, options)
  // every chunk is in the repo: finish reads each from there as the window reaches it
  return await output.finish()
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
  for await (const [c, bytes] of mapAhead(walkChunks(getBlock, file, { offset, length: end - offset }), READ_AHEAD_CHUNKS, async c => await getBlock(c.cid))) {
    if (bytes.byteLength !== c.length) throw new VerificationError(`chunk ${c.cid} is ${bytes.byteLength} bytes but the manifest says ${c.length}`)
    const from = Math.max(0, offset - c.offset)
    const to = Math.min(c.length, end - c.offset)
    yield from === 0 && to === c.length ? bytes : bytes.subarray(from, to)
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
  for await (const [name, cid, size, kind] of walkDir(getBlock, node, { cid: root })) out.push({ name, cid: cid.toString(), size, type: kind })
  return out
}

export type StatResult = {
  cid: string
  type: 'file'
  size: number
  blake3: string
  chunker: FileNode['chunker']
  /** every chunk position of the file */
  chunk_count: number
  /** the first STAT_MAX_LISTED_CHUNKS of them, in order */
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

export async function statCid (getBlock: GetBlock, root: CID, options: { signal?: AbortSignal } = {}): Promise<StatResult> {
  if (root.code === RAW_CODE) return { cid: root.toString(), type: 'chunk', size: (await getBlock(root)).byteLength }
  const node = await readNode(getBlock, root)
  if (node.type !== 'file' && node.type !== 'dir') throw new UsageError(`${root} is an inner ${node.type} node, not a file or directory`)
  // the whole tree checked and counted, each distinct node once, before any of it is listed
  const size = await measureTree(getBlock, root, { signal: options.signal, pause: macrotask })
  if (node.type === 'file') {
    const chunks = []
    for await (const c of walkChunks(getBlock, node, undefined, { cid: root, signal: options.signal })) {
      if (chunks.length === STAT_MAX_LISTED_CHUNKS) break
      chunks.push({ cid: c.cid.toString(), offset: c.offset, length: c.length })
    }
    return { cid: root.toString(), type: 'file', size: node.size, blake3: toHex(node.blake3), chunker: node.chunker, chunk_count: size.chunks, chunks }
  }
  let entries = 0
  for await (const _ of walkDir(getBlock, node as DirNode, { cid: root, signal: options.signal })) entries++
  return { cid: root.toString(), type: 'dir', size: node.size, entries }
}
