/**
 * Reading manifests through an injected block source, so the same code serves the local repo, the network
 * fetcher and tests. Range reads descend only into the parts that overlap the range.
 */
import type { CID } from 'multiformats/cid'
import { decodeNode, nodeLinks } from './format.ts'
import type { ManifestNode, FileNode, PartNode, DirNode, DirEntry, ChunkLink, PartLink } from './format.ts'
import { DAG_CBOR_CODE } from '../cid.ts'
import { ManifestError } from '../errors.ts'

/** Returns the verified bytes of a block. */
export type GetBlock = (cid: CID) => Promise<Uint8Array>

export interface ChunkRef {
  cid: CID
  /** offset of the chunk in the file */
  offset: number
  length: number
}

export async function readNode (getBlock: GetBlock, cid: CID): Promise<ManifestNode> {
  return decodeNode(cid, await getBlock(cid))
}

export async function readFileNode (getBlock: GetBlock, cid: CID): Promise<FileNode> {
  const node = await readNode(getBlock, cid)
  if (node.type !== 'file') throw new ManifestError(`${cid} is a ${node.type === 'dir' ? 'directory' : node.type} manifest, not a file`)
  return node
}

/**
 * The chunks of a file in order, restricted to those overlapping [offset, offset + length) when given.
 * Only the manifest nodes on the way to those chunks are read.
 */
export async function * walkChunks (getBlock: GetBlock, file: FileNode | PartNode, range: { offset: number, length: number } = { offset: 0, length: Infinity }, base = 0): AsyncGenerator<ChunkRef> {
  const end = range.offset + range.length
  let at = base
  if (file.chunks != null) {
    for (const [cid, length] of file.chunks as ChunkLink[]) {
      if (at + length > range.offset && at < end) yield { cid, offset: at, length }
      at += length
      if (at >= end) return
    }
    return
  }
  for (const [cid, bytes] of file.parts as PartLink[]) {
    if (at + bytes > range.offset && at < end) {
      const part = await readNode(getBlock, cid)
      if (part.type !== 'part') throw new ManifestError(`${cid} should be a part node, found ${part.type}`)
      yield * walkChunks(getBlock, part, range, at)
    }
    at += bytes
    if (at >= end) return
  }
}

/** The entries of a directory, sorted by name, across shards. */
export async function * walkDir (getBlock: GetBlock, dir: DirNode): AsyncGenerator<DirEntry> {
  if (dir.entries != null) {
    yield * dir.entries
    return
  }
  for (const [cid] of dir.parts ?? []) {
    const part = await readNode(getBlock, cid)
    if (part.type !== 'dirpart') throw new ManifestError(`${cid} should be a dirpart node, found ${part.type}`)
    yield * part.entries
  }
}

/**
 * Every chunk of the file or directory `root`, depth-first in file order (a chunk that occurs twice is yielded
 * twice), with its length and its offset in its file. Only manifest nodes pass through `getBlock`, one path of
 * them at a time: memory stays bounded however many chunks the tree has. A raw `root` is itself a chunk of
 * unknown length to its caller and yields nothing.
 */
export async function * walkChunkLinks (getBlock: GetBlock, root: CID): AsyncGenerator<ChunkRef> {
  if (root.code !== DAG_CBOR_CODE) return
  const node = await readNode(getBlock, root)
  if (node.type === 'file') {
    yield * walkChunks(getBlock, node)
  } else if (node.type === 'dir') {
    for await (const [, child] of walkDir(getBlock, node)) yield * walkChunkLinks(getBlock, child)
  } else {
    throw new ManifestError(`${root} is an inner ${node.type} node, not a file or directory manifest`)
  }
}

/**
 * Every block reachable from `root` (manifest nodes and chunks), root first, depth-first in file order.
 * Chunks are named, never read: only manifest nodes pass through `getBlock`.
 */
export async function * walkBlocks (getBlock: GetBlock, root: CID): AsyncGenerator<CID> {
  yield root
  if (root.code !== DAG_CBOR_CODE) return
  const node = await readNode(getBlock, root)
  for (const link of nodeLinks(node)) yield * walkBlocks(getBlock, link)
}
