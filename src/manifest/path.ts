/**
 * Paths inside a root, as IPFS has them (DESIGN §10): wherever a CID is taken, `CID/sub/path` names an entry of
 * the directory `CID`. Resolution walks one directory manifest (and its shards) per segment, streaming its entries.
 */
import type { CID } from 'multiformats/cid'
import { readNode, walkDir, childPath, showPath, WalkPacer } from './reader.ts'
import type { GetBlock } from './reader.ts'
import type { DirEntry } from './format.ts'
import { parseCid, RAW_CODE } from '../cid.ts'
import { normalizePath } from '../paths.ts'
import { NotFoundError, UsageError, ManifestError, TreeLimitError } from '../errors.ts'
import { MAX_DIR_DEPTH } from '../../protocol/limits.ts'

export interface CidPath {
  root: CID
  /** the normalized path below the root, '' for the root itself */
  path: string
}

/** `CID` or `CID/sub/path` (a trailing `/` is allowed) → the root and the normalized path. */
export function parseCidPath (input: string): CidPath {
  const text = input.trim()
  const slash = text.indexOf('/')
  if (slash < 0) return { root: parseCid(text), path: '' }
  const root = parseCid(text.slice(0, slash))
  const rest = text.slice(slash + 1).replace(/\/+$/, '')
  return { root, path: rest === '' ? '' : normalizePath(rest) }
}

export interface Resolved {
  cid: CID
  /** the entry's name: the path's last segment, or the root CID for the root */
  name: string
  type: 'file' | 'dir' | 'chunk'
}

/**
 * The entry `path` names below `root`, or a NotFoundError naming the first segment that is not there. Each
 * directory's entries stream past (sharded directories a shard at a time); a segment must name a directory
 * to be walked into.
 */
export async function resolvePath (getBlock: GetBlock, root: CID, path: string, options: { signal?: AbortSignal } = {}): Promise<Resolved> {
  const rootType = root.code === RAW_CODE ? 'chunk' : (await readNode(getBlock, root)).type
  if (path === '') {
    if (rootType === 'part' || rootType === 'dirpart') throw new UsageError(`${root} is an inner ${rootType} node, not a file or directory`)
    return { cid: root, name: root.toString(), type: rootType }
  }
  let cid = root
  let type: Resolved['type'] | 'part' | 'dirpart' = rootType
  const segments = path.split('/')
  for (let i = 0; i < segments.length; i++) {
    options.signal?.throwIfAborted()
    const here = i === 0 ? root.toString() : `${root}/${segments.slice(0, i).join('/')}`
    if (type !== 'dir') throw new NotFoundError(`${here} is a ${type === 'file' ? 'file' : type}, not a directory: it has no entry "${segments[i]}"`)
    const dir = await readNode(getBlock, cid)
    if (dir.type !== 'dir') throw new ManifestError(`${cid} should be a directory manifest, found ${dir.type}`)
    let found: { cid: CID, type: 'file' | 'dir' } | undefined
    for await (const [name, child, , kind] of walkDir(getBlock, dir, { cid, signal: options.signal, path: segments.slice(0, i).join('/') })) {
      options.signal?.throwIfAborted()
      if (name === segments[i]) {
        found = { cid: child, type: kind }
        break
      }
    }
    if (found === undefined) throw new NotFoundError(`${here} has no entry "${segments[i]}"`)
    cid = found.cid
    type = found.type
  }
  return { cid, name: segments[segments.length - 1], type: type as Resolved['type'] }
}

export interface TreeEntry {
  /** relative to the listed directory, '/'-separated */
  path: string
  cid: CID
  size: number
  type: 'file' | 'dir'
}

/**
 * Every entry below the directory `dir`, depth-first, each directory before its entries, names in manifest
 * order. Iterative: the stack holds one open directory listing per level, at most MAX_DIR_DEPTH of them.
 * `pause` (a macrotask, from the shell) lets signals and I/O in every WALK_PAUSE_STEPS entries.
 */
export async function * walkTree (getBlock: GetBlock, dir: CID, options: { signal?: AbortSignal, pause?: () => Promise<void> } = {}): AsyncGenerator<TreeEntry> {
  const top = await readNode(getBlock, dir)
  if (top.type !== 'dir') throw new ManifestError(`${dir} is not a directory manifest`)
  const pacer = new WalkPacer(options)
  const stack: Array<{ path: string, entries: AsyncGenerator<DirEntry> }> = [{ path: '', entries: walkDir(getBlock, top, { ...options, cid: dir }) }]
  try {
    while (stack.length > 0) {
      await pacer.step()
      const level = stack[stack.length - 1]
      const next = await level.entries.next()
      if (next.done === true) {
        stack.pop()
        continue
      }
      const [name, cid, size, type] = next.value
      const path = childPath(level.path, name)
      yield { path, cid, size, type }
      if (type !== 'dir') continue
      if (stack.length >= MAX_DIR_DEPTH) throw new TreeLimitError(`directory ${cid} at ${showPath(path)} is deeper than ${MAX_DIR_DEPTH} directory levels (MAX_DIR_DEPTH)`)
      const sub = await readNode(getBlock, cid)
      if (sub.type !== 'dir') throw new ManifestError(`entry ${showPath(path)} links ${cid}, a ${sub.type} node, where its parent says a directory`)
      stack.push({ path, entries: walkDir(getBlock, sub, { ...options, cid, path }) })
    }
  } finally {
    for (const level of stack) await level.entries.return(undefined)
  }
}
