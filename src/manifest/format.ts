/**
 * The manifest format (DESIGN §2), version 2. Every manifest node is one dag-cbor block, BLAKE3-addressed,
 * never larger than MAX_BLOCK_BYTES.
 *
 * - file:  `{v:2, type:'file', size, blake3, chunker, mode?, mtime?, chunks?: [[CID, length]...], parts?: [[CID, bytes]...]}`
 *          — small files list their chunks inline; long chunk lists become a tree of `part` nodes.
 * - part:  `{v:2, type:'part', chunks?: [[CID, length]...], parts?: [[CID, bytes]...]}` — one level of that tree.
 * - dir:   `{v:2, type:'dir', size, mode?, mtime?, entries?: [[name, CID, bytes, kind]...], parts?: [[CID, firstName, count]...]}`
 *          — entries sorted by name; a directory of more than MAX_DIR_ENTRIES is sharded into `dirpart`s.
 * - dirpart: `{v:2, type:'dirpart', entries: [...]}`.
 *
 * Offsets are not stored: they are the running sum of lengths, so a node can never disagree with itself.
 * Version 2 added `mode` (the permission bits, 0-0o777, as UnixFS 1.5 keeps them; no setuid, setgid or sticky bit)
 * and `mtime` (the modification time in whole milliseconds since the epoch) to files and directories, both
 * optional. Version 1 nodes (which have neither) are still read.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { DAG_CBOR_CODE, RAW_CODE, BLAKE3_DIGEST_BYTES, blockCid, isDitsCid } from '../cid.ts'
import { ManifestError } from '../errors.ts'
import { MAX_BLOCK_BYTES } from '../../protocol/limits.ts'
import type { ChunkerProfile } from '../fastcdc/index.ts'

/** the version this node writes */
export const MANIFEST_VERSION = 2
/** the versions it reads: 1 is 2 without mode and mtime */
export const MANIFEST_VERSIONS_READ: readonly number[] = [1, 2]
/** the permission bits a manifest keeps */
export const MODE_BITS = 0o777

/** Links per tree node: ~8192 × ~45 bytes ≈ 370 KiB, far below MAX_BLOCK_BYTES, and 8 GiB of media per leaf. */
export const MAX_LINKS_PER_NODE = 8192
/** Entries per directory node before it is sharded. */
export const MAX_DIR_ENTRIES = 4096

/** The chunker profile a file was cut with, recorded so that a re-add with it deduplicates. */
export type ChunkerParams = ChunkerProfile

export type ChunkLink = [cid: CID, length: number]
export type PartLink = [cid: CID, bytes: number]
export type EntryKind = 'file' | 'dir'
export type DirEntry = [name: string, cid: CID, bytes: number, kind: EntryKind]
export type DirPartLink = [cid: CID, firstName: string, count: number]

export type ManifestVersion = 1 | 2

/** What a file or directory manifest keeps besides the content (version 2 on). */
export interface Metadata {
  /** the permission bits (MODE_BITS) */
  mode?: number
  /** the modification time, whole milliseconds since the epoch */
  mtime?: number
}

export interface FileNode extends Metadata {
  v: ManifestVersion
  type: 'file'
  size: number
  blake3: Uint8Array
  chunker: ChunkerParams
  chunks?: ChunkLink[]
  parts?: PartLink[]
}

export interface PartNode {
  v: ManifestVersion
  type: 'part'
  chunks?: ChunkLink[]
  parts?: PartLink[]
}

export interface DirNode extends Metadata {
  v: ManifestVersion
  type: 'dir'
  size: number
  entries?: DirEntry[]
  parts?: DirPartLink[]
}

export interface DirPartNode {
  v: ManifestVersion
  type: 'dirpart'
  entries: DirEntry[]
}

export type ManifestNode = FileNode | PartNode | DirNode | DirPartNode

export interface EncodedBlock {
  cid: CID
  bytes: Uint8Array
}

export function encodeNode (node: ManifestNode): EncodedBlock {
  const clean = Object.fromEntries(Object.entries(node).filter(([, v]) => v !== undefined))
  const bytes = dagCbor.encode(clean)
  if (bytes.byteLength > MAX_BLOCK_BYTES) {
    throw new ManifestError(`manifest node of ${bytes.byteLength} bytes exceeds the ${MAX_BLOCK_BYTES}-byte block limit`)
  }
  return { cid: blockCid(DAG_CBOR_CODE, bytes), bytes }
}

/** Decode and validate a manifest block. `cid` names it in errors. */
export function decodeNode (cid: CID, bytes: Uint8Array): ManifestNode {
  if (cid.code !== DAG_CBOR_CODE) {
    throw new ManifestError(`${cid} is a raw chunk, not a manifest`)
  }
  let node: unknown
  try {
    node = dagCbor.decode(bytes)
  } catch (err) {
    throw new ManifestError(`manifest ${cid} is not valid dag-cbor: ${(err as Error).message}`)
  }
  const bad = (why: string): never => { throw new ManifestError(`manifest ${cid} is malformed: ${why}`) }
  if (node == null || typeof node !== 'object') bad('not a map')
  const n = node as Record<string, unknown>
  if (typeof n.v !== 'number' || !MANIFEST_VERSIONS_READ.includes(n.v)) bad(`unsupported version ${String(n.v)} (this node reads versions ${MANIFEST_VERSIONS_READ.join(', ')})`)
  if (n.type === 'file' || n.type === 'dir') checkMetadata(n, bad)
  switch (n.type) {
    case 'file':
      if (!isSize(n.size)) bad('size is not a non-negative integer')
      if (!(n.blake3 instanceof Uint8Array) || n.blake3.byteLength !== BLAKE3_DIGEST_BYTES) bad('blake3 is not a 32-byte digest')
      checkChunker(n.chunker, bad)
      checkTree(n, bad)
      break
    case 'part':
      checkTree(n, bad)
      break
    case 'dir':
      if (!isSize(n.size)) bad('size is not a non-negative integer')
      if (n.entries !== undefined) checkEntries(n.entries, bad)
      if (n.parts !== undefined) {
        if (!Array.isArray(n.parts) || !n.parts.every(p => Array.isArray(p) && p.length === 3 && isManifestCid(p[0]) && typeof p[1] === 'string' && isSize(p[2]))) bad('parts are not [CID, firstName, count] triples')
      }
      if ((n.entries === undefined) === (n.parts === undefined)) bad('a dir has exactly one of entries or parts')
      break
    case 'dirpart':
      checkEntries(n.entries, bad)
      break
    default:
      bad(`unknown type ${String(n.type)}`)
  }
  return n as unknown as ManifestNode
}

function checkTree (n: Record<string, unknown>, bad: (why: string) => never): void {
  if ((n.chunks === undefined) === (n.parts === undefined)) bad('exactly one of chunks or parts is required')
  const links = (n.chunks ?? n.parts) as unknown
  if (!Array.isArray(links)) bad('links are not a list')
  const codec = n.chunks !== undefined ? RAW_CODE : DAG_CBOR_CODE
  for (const link of links as unknown[]) {
    if (!Array.isArray(link) || link.length !== 2) bad('a link is not a [CID, length] pair')
    const [cid, len] = link as [unknown, unknown]
    const c = CID.asCID(cid)
    if (c == null || !isDitsCid(c) || c.code !== codec) bad(`link ${String(cid)} is not a ${codec === RAW_CODE ? 'raw chunk' : 'manifest'} CID`)
    if (!isSize(len) || (codec === RAW_CODE && (len as number) > MAX_BLOCK_BYTES)) bad(`link ${String(cid)} has a bad length ${String(len)}`)
  }
}

function checkEntries (entries: unknown, bad: (why: string) => never): void {
  if (!Array.isArray(entries)) bad('entries are not a list')
  let prev: string | undefined
  for (const e of entries as unknown[]) {
    if (!Array.isArray(e) || e.length !== 4) bad('an entry is not [name, CID, bytes, kind]')
    const [name, cid, bytes, kind] = e as unknown[]
    if (typeof name !== 'string') bad('an entry name is not a string')
    const why = entryNameProblem(name as string)
    if (why !== undefined) bad(`entry name ${JSON.stringify(name)} is not a normalized single path segment: it ${why}`)
    if (prev !== undefined && (name as string) <= prev) bad(`entries are not sorted and unique at ${JSON.stringify(name)}`)
    prev = name as string
    if (!isManifestCid(cid)) bad(`entry ${String(name)} does not link a manifest`)
    if (!isSize(bytes)) bad(`entry ${String(name)} has a bad size`)
    if (kind !== 'file' && kind !== 'dir') bad(`entry ${String(name)} has an unknown kind ${String(kind)}`)
  }
}

/**
 * Why `name` cannot name a directory entry (DESIGN §2: one normalized path segment), as 'it …', or undefined when it can.
 * Control characters other than NUL are allowed, since file systems allow them; they are escaped where a name is
 * printed (printableName).
 */
export function entryNameProblem (name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name === '.' || name === '..') return 'is . or ..'
  if (name.includes('/')) return "contains '/'"
  if (name.includes('\0')) return 'contains NUL, which no file name can hold'
  if (name.normalize('NFC') !== name) return 'is not in Unicode NFC'
  return undefined
}

function checkMetadata (n: Record<string, unknown>, bad: (why: string) => never): void {
  if ((n.mode !== undefined || n.mtime !== undefined) && n.v === 1) bad('a version 1 node has no mode or mtime')
  if (n.mode !== undefined && !(isSize(n.mode) && ((n.mode as number) & ~MODE_BITS) === 0)) bad(`mode ${String(n.mode)} is not permission bits (0-0o777)`)
  if (n.mtime !== undefined && !(typeof n.mtime === 'number' && Number.isSafeInteger(n.mtime))) bad(`mtime ${String(n.mtime)} is not whole milliseconds`)
}

function checkChunker (c: unknown, bad: (why: string) => never): void {
  const p = c as Record<string, unknown> | null
  if (p == null || typeof p !== 'object' || typeof p.name !== 'string' || !isSize(p.min) || !isSize(p.avg) || !isSize(p.max) || !isSize(p.normalization)) {
    bad('chunker is not {name, min, avg, max, normalization}')
  }
}

function isManifestCid (x: unknown): boolean {
  const c = CID.asCID(x)
  return c != null && isDitsCid(c) && c.code === DAG_CBOR_CODE
}

function isSize (x: unknown): boolean {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

/** The blocks a manifest node links to: sub-manifests and chunks, in order. */
export function nodeLinks (node: ManifestNode): CID[] {
  switch (node.type) {
    case 'file':
    case 'part':
      return (node.chunks ?? node.parts ?? []).map(l => l[0])
    case 'dir':
      return node.entries != null ? node.entries.map(e => e[1]) : (node.parts ?? []).map(p => p[0])
    case 'dirpart':
      return node.entries.map(e => e[1])
  }
}
