/**
 * Reading manifests through an injected block source, so the same code serves the local repo, the network
 * fetcher and tests. Range reads descend only into the parts that overlap the range.
 *
 * A manifest tree may come from a hostile peer, so every walk here is iterative (an explicit stack, never
 * recursion: a 10,000-deep part chain overflowed the call stack), stops at MAX_DIR_DEPTH directory levels and
 * MAX_PART_DEPTH part levels with a TreeLimitError naming the limit, the path and the CID, and checks what a
 * node declares against what it links (a part's bytes, a shard's count and names) before trusting it.
 */
import type { CID } from 'multiformats/cid'
import { decodeNode, nodeLinks } from './format.ts'
import type { ManifestNode, FileNode, PartNode, DirNode, DirEntry, ChunkLink, PartLink } from './format.ts'
import { DAG_CBOR_CODE, CidSet, cidKey } from '../cid.ts'
import { ManifestError, TreeLimitError } from '../errors.ts'
import { printableName } from '../paths.ts'
import { MAX_DIR_DEPTH, MAX_PART_DEPTH } from '../../protocol/limits.ts'

/** Returns the verified bytes of a block. */
export type GetBlock = (cid: CID) => Promise<Uint8Array>

/** Memory a get keeps manifest blocks in between counting its tree and laying it out (~25,000 small files' manifests). */
export const DEFAULT_MANIFEST_CACHE_BYTES = 16 * 1024 * 1024
/**
 * What one cached block costs beside its bytes (its key, the Map's entry, the Uint8Array and its ArrayBuffer): a
 * small file's manifest is ~300 bytes, and 16 MiB counted in block bytes alone held ~55,000 of them in ~130 MiB.
 */
export const MANIFEST_CACHE_ENTRY_BYTES = 320

/**
 * `getBlock` remembering the manifest (dag-cbor) blocks it has read, up to `maxBytes` of memory, each block counted
 * with MANIFEST_CACHE_ENTRY_BYTES beside its bytes (the least recently used go first), so that a tree walked twice — a get counts it, then lays it out — is read from the store once while it
 * fits, and a larger one costs no more memory than that. Chunks pass through.
 */
export function cacheManifests (getBlock: GetBlock, maxBytes = DEFAULT_MANIFEST_CACHE_BYTES): GetBlock {
  const cache = new Map<string, Uint8Array>()
  let held = 0
  return async (cid) => {
    if (cid.code !== DAG_CBOR_CODE) return await getBlock(cid)
    const key = cidKey(cid)
    const hit = cache.get(key)
    if (hit !== undefined) {
      cache.delete(key)
      cache.set(key, hit)
      return hit
    }
    const block = await getBlock(cid)
    const cost = block.byteLength + MANIFEST_CACHE_ENTRY_BYTES
    if (cost <= maxBytes && !cache.has(key)) {
      cache.set(key, block)
      held += cost
      for (const [oldest, bytes] of cache) {
        if (held <= maxBytes) break
        cache.delete(oldest)
        held -= bytes.byteLength + MANIFEST_CACHE_ENTRY_BYTES
      }
    }
    return block
  }
}

export interface ChunkRef {
  cid: CID
  /** offset of the chunk in the file */
  offset: number
  length: number
  /** the file's path below the walked root (WalkOptions.path): '' for the root itself */
  path: string
}

export interface WalkOptions {
  /** checked at every node: an aborted walk throws the signal's reason */
  signal?: AbortSignal
  /**
   * Awaited every WALK_PAUSE_STEPS steps. The core has no timers: the shell passes a macrotask (setImmediate) so
   * that a walk whose steps resolve at once (links already visited, a memo hit) still lets signals and I/O in.
   */
  pause?: () => Promise<void>
  /** where the walk is, for errors: the path of the file or directory being walked @default '' (the root) */
  path?: string
}

/** Steps between two calls of WalkOptions.pause. */
export const WALK_PAUSE_STEPS = 1024

/** Counts a walk's steps and pauses it every WALK_PAUSE_STEPS of them. */
export class WalkPacer {
  private steps = 0
  private readonly options: WalkOptions

  constructor (options: WalkOptions) {
    this.options = options
  }

  /** One more step; true when it was a pausing one (a good time to report progress). */
  async step (): Promise<boolean> {
    this.options.signal?.throwIfAborted()
    if (++this.steps % WALK_PAUSE_STEPS !== 0) return false
    await this.options.pause?.()
    this.options.signal?.throwIfAborted()
    return true
  }
}

/** `path` (of the root when empty) as errors show it. */
export function showPath (path: string): string {
  return path === '' ? '/' : printableName(path)
}

export async function readNode (getBlock: GetBlock, cid: CID): Promise<ManifestNode> {
  return decodeNode(cid, await getBlock(cid))
}

export async function readFileNode (getBlock: GetBlock, cid: CID): Promise<FileNode> {
  const node = await readNode(getBlock, cid)
  if (node.type !== 'file') throw new ManifestError(`${cid} is a ${node.type === 'dir' ? 'directory' : node.type} manifest, not a file`)
  return node
}

/** The bytes a file or part node's links add up to; over Number.MAX_SAFE_INTEGER is an error naming `cid`. */
export function linkedBytes (node: FileNode | PartNode, cid: CID | string): number {
  let sum = 0
  for (const [, bytes] of (node.chunks ?? node.parts ?? []) as Array<ChunkLink | PartLink>) sum += bytes
  if (!Number.isSafeInteger(sum)) throw new ManifestError(`manifest ${cid} links more bytes than any file can hold (${sum})`)
  return sum
}

interface PartFrame {
  node: FileNode | PartNode
  /** the next link */
  i: number
  /** file offset of that link */
  at: number
}

export interface WalkChunksOptions extends WalkOptions {
  /** the file's CID, for errors */
  cid?: CID
  /** part nodes already walked are skipped (each subtree once: a fetch needs each chunk once, not in file order) */
  visited?: CidSet
}

/**
 * The chunks of a file in order, restricted to those overlapping [offset, offset + length) when given.
 * Only the manifest nodes on the way to those chunks are read. Each node's links must add up to what its parent
 * declared for it (a file's to its size); at most MAX_PART_DEPTH part levels.
 */
export async function * walkChunks (getBlock: GetBlock, file: FileNode | PartNode, range: { offset: number, length: number } = { offset: 0, length: Infinity }, options: WalkChunksOptions = {}): AsyncGenerator<ChunkRef> {
  const end = range.offset + range.length
  const name = options.cid?.toString() ?? 'the file'
  if (file.type === 'file' && linkedBytes(file, name) !== file.size) {
    throw new ManifestError(`file ${name} at ${showPath(options.path ?? '')} declares ${file.size} bytes but its links add up to ${linkedBytes(file, name)}`)
  }
  const pacer = new WalkPacer(options)
  const stack: PartFrame[] = [{ node: file, i: 0, at: 0 }]
  while (stack.length > 0) {
    const f = stack[stack.length - 1]
    if (f.at >= end) return
    const links = (f.node.chunks ?? f.node.parts ?? []) as Array<ChunkLink | PartLink>
    if (f.i >= links.length) {
      stack.pop()
      continue
    }
    const [cid, bytes] = links[f.i++]
    const at = f.at
    f.at += bytes
    if (at + bytes <= range.offset || at >= end) continue
    if (f.node.chunks != null) {
      yield { cid, offset: at, length: bytes, path: options.path ?? '' }
      continue
    }
    await pacer.step()
    if (options.visited != null && !options.visited.add(cid)) continue
    if (stack.length > MAX_PART_DEPTH) {
      throw new TreeLimitError(`file ${name} at ${showPath(options.path ?? '')} has more than ${MAX_PART_DEPTH} levels of part nodes (MAX_PART_DEPTH) at ${cid}`)
    }
    const part = await readNode(getBlock, cid)
    if (part.type !== 'part') throw new ManifestError(`${cid} should be a part node, found ${part.type}`)
    const sum = linkedBytes(part, cid)
    if (sum !== bytes) throw new ManifestError(`part ${cid} of file ${name} links ${sum} bytes but its parent declares ${bytes}`)
    stack.push({ node: part, i: 0, at })
  }
}

/**
 * The entries of a directory, sorted by name, across shards. Each shard must hold the count and start with the
 * name its parent gives, and names must rise strictly across shards, so a shard named twice is an error rather
 * than its entries listed twice.
 */
export async function * walkDir (getBlock: GetBlock, dir: DirNode, options: WalkOptions & { cid?: CID } = {}): AsyncGenerator<DirEntry> {
  if (dir.entries != null) {
    yield * dir.entries
    return
  }
  let last: string | undefined
  for (const [cid, firstName, count] of dir.parts ?? []) {
    options.signal?.throwIfAborted()
    const part = await readNode(getBlock, cid)
    if (part.type !== 'dirpart') throw new ManifestError(`${cid} should be a dirpart node, found ${part.type}`)
    const where = `directory ${options.cid?.toString() ?? ''} at ${showPath(options.path ?? '')}`
    if (part.entries.length !== count) throw new ManifestError(`shard ${cid} of ${where} holds ${part.entries.length} entries, not the ${count} its parent declares`)
    if (count > 0 && part.entries[0][0] !== firstName) throw new ManifestError(`shard ${cid} of ${where} starts at ${JSON.stringify(part.entries[0][0])}, not at ${JSON.stringify(firstName)} as its parent declares`)
    if (count > 0 && last !== undefined && part.entries[0][0] <= last) throw new ManifestError(`shard ${cid} of ${where} repeats or reorders names (${JSON.stringify(part.entries[0][0])} after ${JSON.stringify(last)})`)
    if (count > 0) last = part.entries[count - 1][0]
    yield * part.entries
  }
}

/** The path of `name` inside the directory at `dir` ('' for the root). */
export function childPath (dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`
}

interface DirFrame {
  entries: AsyncGenerator<DirEntry>
  path: string
}

export interface WalkChunkLinksOptions extends WalkOptions {
  /** each manifest node once: a subtree met again yields nothing (a fetch needs each chunk once) @default false */
  unique?: boolean
}

/**
 * Every chunk of the file or directory `root`, depth-first in file order (a chunk that occurs twice is yielded
 * twice, unless `unique`), with its length and its offset in its file. Only manifest nodes pass through
 * `getBlock`, one path of them at a time: memory stays bounded however many chunks the tree has. A raw `root` is
 * itself a chunk of unknown length to its caller and yields nothing. At most MAX_DIR_DEPTH directory levels.
 */
export async function * walkChunkLinks (getBlock: GetBlock, root: CID, options: WalkChunkLinksOptions = {}): AsyncGenerator<ChunkRef> {
  if (root.code !== DAG_CBOR_CODE) return
  const visited = options.unique === true ? new CidSet() : undefined
  visited?.add(root)
  const pacer = new WalkPacer(options)
  const node = await readNode(getBlock, root)
  if (node.type === 'file') {
    yield * walkChunks(getBlock, node, undefined, { ...options, cid: root, visited })
    return
  }
  if (node.type !== 'dir') throw new ManifestError(`${root} is an inner ${node.type} node, not a file or directory manifest`)
  const stack: DirFrame[] = [{ entries: walkDir(getBlock, node, { ...options, cid: root }), path: options.path ?? '' }]
  while (stack.length > 0) {
    const top = stack[stack.length - 1]
    const next = await top.entries.next()
    if (next.done === true) {
      stack.pop()
      continue
    }
    await pacer.step()
    const [name, cid] = next.value
    if (visited != null && !visited.add(cid)) continue
    const path = childPath(top.path, name)
    const child = await readNode(getBlock, cid)
    if (child.type === 'file') {
      yield * walkChunks(getBlock, child, undefined, { ...options, cid, path, visited })
    } else if (child.type === 'dir') {
      if (stack.length >= MAX_DIR_DEPTH) throw new TreeLimitError(`directory ${cid} at ${showPath(path)} is deeper than ${MAX_DIR_DEPTH} directory levels (MAX_DIR_DEPTH)`)
      stack.push({ entries: walkDir(getBlock, child, { ...options, cid, path }), path })
    } else {
      throw new ManifestError(`entry ${showPath(path)} links ${cid}, an inner ${child.type} node, not a file or directory manifest`)
    }
  }
}

/**
 * Every block reachable from `root` (manifest nodes and chunks), each once, root first, depth-first in file
 * order. Chunks are named, never read: only manifest nodes pass through `getBlock`. Each block once is what
 * bounds it: a tree that names one subtree a million times costs one visit of it; the set of blocks seen is its
 * memory.
 */
export async function * walkBlocks (getBlock: GetBlock, root: CID, options: WalkOptions = {}): AsyncGenerator<CID> {
  const seen = new CidSet()
  const pacer = new WalkPacer(options)
  const stack = [root]
  while (stack.length > 0) {
    const cid = stack.pop() as CID
    if (!seen.add(cid)) continue
    await pacer.step()
    yield cid
    if (cid.code !== DAG_CBOR_CODE) continue
    const links = nodeLinks(await readNode(getBlock, cid))
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i])
  }
}
