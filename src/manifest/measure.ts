/**
 * What a manifest tree would produce, computed before anything is laid out: its bytes, files, directories and
 * chunks as they would be written, each distinct node read once. A tree that names one subtree a million times
 * costs one read of that subtree, and counts for what it is: a million copies (the "zip bomb" of three blocks that
 * lays out a million files, the file of 1 PiB made of one part repeated). The caller's `check` sees the counts
 * grow and refuses a tree over its limits (entries, free disk) as soon as it crosses them.
 *
 * Everything a node declares is checked against what it links, since a get lays out from the declarations: a
 * file's size and each part's bytes against the chunks below them, a directory entry's size and kind against the
 * child, a shard's count and first name against the shard, names rising across shards. Depth is bounded
 * (MAX_DIR_DEPTH directory levels, MAX_PART_DEPTH part levels), also through a subtree met again deeper down.
 */
import type { CID } from 'multiformats/cid'
import type { ManifestNode } from './format.ts'
import { decodeNode } from './format.ts'
import { readNode, showPath, childPath, WalkPacer, linkedBytes } from './reader.ts'
import type { GetBlock, WalkOptions } from './reader.ts'
import { DAG_CBOR_CODE } from '../cid.ts'
import { ManifestError, TreeLimitError } from '../errors.ts'
import { MAX_DIR_DEPTH, MAX_PART_DEPTH } from '../../protocol/limits.ts'

export interface TreeSize {
  /** file bytes, every copy counted */
  bytes: number
  files: number
  dirs: number
  /** chunk positions */
  chunks: number
}

export interface MeasureOptions extends WalkOptions {
  /**
   * Called whenever the counts grow, with the totals so far and where the walk is; throws to refuse the tree
   * (the walk stops at once).
   */
  check?: (counted: TreeSize, at: { path: string, cid: CID }) => void
  /** the totals so far, every WALK_PAUSE_STEPS steps */
  onProgress?: (counted: TreeSize) => void
}

/**
 * Children of the node being measured whose blocks are read ahead of the one walked, so that the reads of a
 * directory of many files overlap rather than follow one another.
 */
export const MEASURE_READ_AHEAD = 16
/**
 * Measured nodes without manifest links (a small file, an empty directory) remembered, the most recently met: one
 * met again soon (the file a zip bomb repeats) is not read again, and a tree of a million distinct files does not
 * keep a million of them. Nodes with links are all remembered: each subtree is measured once.
 */
export const MEASURE_LEAF_MEMO = 1024

/** A measured node, remembered by CID for every other place that links it. */
interface Measure extends TreeSize {
  type: ManifestNode['type']
  /** directory levels it spans: a directory 1 + its deepest child's, a shard its deepest child's, a file 0 */
  dirHeight: number
  /** part levels below it: a part 1 + its deepest child's, a file its deepest child's */
  partHeight: number
  /** a shard's entry count and first and last names */
  count: number
  first?: string
  last?: string
}

/** A link of a node as the measure follows it, with what the node declares about the child. */
interface Link {
  cid: CID
  expect: 'file' | 'dir' | 'part' | 'dirpart'
  /** declared bytes (entries, parts of a file), or entry count (shards) */
  declared: number
  name?: string
}

interface Frame {
  cid: CID
  node: ManifestNode
  path: string
  links: Link[]
  /** the next link */
  i: number
  /** the directory level the node belongs to (the root directory is 1; a root file 0) */
  level: number
  /** part levels above it (a file 0) */
  partDepth: number
  acc: Measure
}

function zero (type: ManifestNode['type']): Measure {
  return { type, bytes: 0, files: 0, dirs: 0, chunks: 0, dirHeight: 0, partHeight: 0, count: 0 }
}

/** The map key of a CID: its bytes as a string, half the size of its text form. */
function keyOf (cid: CID): string {
  return String.fromCharCode(...cid.bytes)
}

function linksOf (node: ManifestNode): Link[] {
  switch (node.type) {
    case 'file':
    case 'part':
      return (node.parts ?? []).map(([cid, bytes]) => ({ cid, expect: 'part' as const, declared: bytes }))
    case 'dir':
      if (node.parts != null) return node.parts.map(([cid, first, count]) => ({ cid, expect: 'dirpart' as const, declared: count, name: first }))
      return (node.entries ?? []).map(([name, cid, bytes, kind]) => ({ cid, expect: kind, declared: bytes, name }))
    case 'dirpart':
      return node.entries.map(([name, cid, bytes, kind]) => ({ cid, expect: kind, declared: bytes, name }))
  }
}

/** Measure the file or directory `root` (see the module comment). */
export async function measureTree (getBlock: GetBlock, root: CID, options: MeasureOptions = {}): Promise<TreeSize> {
  if (root.code !== DAG_CBOR_CODE) throw new ManifestError(`${root} is a raw chunk, not a file or directory manifest`)
  const rootPath = options.path ?? ''
  const memo = new Map<string, Measure>()
  const leaves = new Map<string, Measure>()
  const known = (k: string): Measure | undefined => memo.get(k) ?? leaves.get(k)
  const pacer = new WalkPacer(options)
  const total: TreeSize = { bytes: 0, files: 0, dirs: 0, chunks: 0 }
  const grow = (m: TreeSize, at: { path: string, cid: CID }): void => {
    total.bytes += m.bytes
    total.files += m.files
    total.dirs += m.dirs
    total.chunks += m.chunks
    if (!Number.isSafeInteger(total.bytes)) throw new TreeLimitError(`${root} would write more bytes than any file system holds (at ${showPath(at.path)}, ${at.cid})`)
    options.check?.(total, at)
  }
  const ahead = new Map<string, Promise<Uint8Array>>()
  const read = async (f: Frame, cid: CID): Promise<ManifestNode> => {
    for (let j = f.i + 1; j < Math.min(f.links.length, f.i + 1 + MEASURE_READ_AHEAD); j++) {
      const k = keyOf(f.links[j].cid)
      if (known(k) !== undefined || ahead.has(k)) continue
      const pending = getBlock(f.links[j].cid)
      // a read that fails is reported when its turn comes
      pending.catch(() => {})
      ahead.set(k, pending)
    }
    const k = keyOf(cid)
    const pending = ahead.get(k) ?? getBlock(cid)
    ahead.delete(k)
    return decodeNode(cid, await pending)
  }
  const open = (cid: CID, node: ManifestNode, path: string, level: number, partDepth: number): Frame => {
    return { cid, node, path, links: linksOf(node), i: 0, level, partDepth, acc: zero(node.type) }
  }
  const rootNode = await readNode(getBlock, root)
  if (rootNode.type !== 'file' && rootNode.type !== 'dir') throw new ManifestError(`${root} is an inner ${rootNode.type} node, not a file or directory manifest`)
  const stack: Frame[] = [open(root, rootNode, rootPath, rootNode.type === 'dir' ? 1 : 0, 0)]
  for (;;) {
    const f = stack[stack.length - 1]
    if (await pacer.step()) options.onProgress?.({ ...total })
    if (f.i < f.links.length) {
      const link = f.links[f.i]
      const path = link.name !== undefined && link.expect !== 'dirpart' ? childPath(f.path, link.name) : f.path
      const met = known(keyOf(link.cid))
      if (met !== undefined) {
        combine(f, link, met, path)
        grow(met, { path, cid: link.cid })
        f.i++
        continue
      }
      const at = { path, cid: link.cid }
      if (link.expect === 'dir' && f.level + 1 > MAX_DIR_DEPTH) {
        throw new TreeLimitError(`directory ${link.cid} at ${showPath(path)} is deeper than ${MAX_DIR_DEPTH} directory levels (MAX_DIR_DEPTH)`)
      }
      if (link.expect === 'part' && f.partDepth + 1 > MAX_PART_DEPTH) {
        throw new TreeLimitError(`file ${stack.findLast(s => s.node.type === 'file')?.cid.toString() ?? ''} at ${showPath(path)} has more than ${MAX_PART_DEPTH} levels of part nodes (MAX_PART_DEPTH) at ${link.cid}`)
      }
      const node = await read(f, link.cid)
      if (node.type !== link.expect) throw new ManifestError(`${showPath(at.path)}: ${link.cid} should be a ${link.expect} node, found ${node.type}`)
      const level = link.expect === 'dir' ? f.level + 1 : f.level
      const partDepth = link.expect === 'part' ? f.partDepth + 1 : link.expect === 'file' ? 0 : f.partDepth
      stack.push(open(link.cid, node, path, level, partDepth))
      continue
    }
    // every link is counted: the node's own share, then its checks
    const own = finish(f)
    grow(own, { path: f.path, cid: f.cid })
    if (f.links.length > 0) {
      memo.set(keyOf(f.cid), f.acc)
    } else {
      leaves.set(keyOf(f.cid), f.acc)
      if (leaves.size > MEASURE_LEAF_MEMO) leaves.delete(leaves.keys().next().value as string)
    }
    stack.pop()
    const parent = stack[stack.length - 1]
    if (parent === undefined) return { bytes: f.acc.bytes, files: f.acc.files, dirs: f.acc.dirs, chunks: f.acc.chunks }
    // the child was counted as it grew: only fold it into its parent
    combine(parent, parent.links[parent.i], f.acc, f.path)
    parent.i++
  }
}

/** Add a measured child to its parent's frame, checking what the parent declares about it and the depth it reaches. */
function combine (f: Frame, link: Link, m: Measure, path: string): void {
  const where = `${showPath(path)} (${link.cid})`
  if (m.type !== link.expect) throw new ManifestError(`${where} should be a ${link.expect} node, found ${m.type}`)
  if (link.expect === 'dirpart') {
    if (m.count !== link.declared) throw new ManifestError(`shard ${link.cid} of directory ${f.cid} at ${showPath(f.path)} holds ${m.count} entries, not the ${link.declared} its parent declares`)
    if (m.count > 0 && m.first !== link.name) throw new ManifestError(`shard ${link.cid} of directory ${f.cid} at ${showPath(f.path)} starts at ${JSON.stringify(m.first)}, not at ${JSON.stringify(link.name)} as its parent declares`)
    if (m.count > 0 && f.acc.last !== undefined && (m.first as string) <= f.acc.last) throw new ManifestError(`shard ${link.cid} of directory ${f.cid} at ${showPath(f.path)} repeats or reorders names (${JSON.stringify(m.first)} after ${JSON.stringify(f.acc.last)})`)
    if (m.count > 0) f.acc.last = m.last
  } else if (m.bytes !== link.declared) {
    throw new ManifestError(`${where} holds ${m.bytes} bytes but its parent ${f.cid} declares ${link.declared}`)
  }
  if (f.level + m.dirHeight > MAX_DIR_DEPTH) throw new TreeLimitError(`${where} reaches deeper than ${MAX_DIR_DEPTH} directory levels (MAX_DIR_DEPTH)`)
  if (f.partDepth + m.partHeight > MAX_PART_DEPTH) throw new TreeLimitError(`${where} has more than ${MAX_PART_DEPTH} levels of part nodes (MAX_PART_DEPTH)`)
  const a = f.acc
  a.bytes += m.bytes
  a.files += m.files
  a.dirs += m.dirs
  a.chunks += m.chunks
  a.dirHeight = Math.max(a.dirHeight, m.dirHeight)
  a.partHeight = Math.max(a.partHeight, m.partHeight)
  if (!Number.isSafeInteger(a.bytes)) throw new ManifestError(`${showPath(f.path)} (${f.cid}) would hold more bytes than any file can (${a.bytes})`)
}

/** A node whose links are all counted: its own share (a chunk list, itself as a file or directory), checked. */
function finish (f: Frame): TreeSize {
  const { node, acc } = f
  const own: TreeSize = { bytes: 0, files: 0, dirs: 0, chunks: 0 }
  const where = `${showPath(f.path)} (${f.cid})`
  switch (node.type) {
    case 'file':
    case 'part':
      if (node.chunks != null) {
        own.bytes = linkedBytes(node, f.cid)
        own.chunks = node.chunks.length
        acc.bytes += own.bytes
        acc.chunks += own.chunks
      }
      if (node.type === 'part') acc.partHeight += 1
      if (node.type === 'file') {
        own.files = 1
        acc.files += 1
        if (acc.bytes !== node.size) throw new ManifestError(`file ${where} declares ${node.size} bytes but its chunks add up to ${acc.bytes}`)
      }
      break
    case 'dir':
      own.dirs = 1
      acc.dirs += 1
      acc.dirHeight += 1
      if (acc.bytes !== node.size) throw new ManifestError(`directory ${where} declares ${node.size} bytes but its entries add up to ${acc.bytes}`)
      break
    case 'dirpart':
      acc.count = node.entries.length
      acc.first = node.entries[0]?.[0]
      acc.last = node.entries.at(-1)?.[0]
      break
  }
  return own
}
