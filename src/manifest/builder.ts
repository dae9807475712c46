/**
 * Streaming manifest construction: chunks go in one at a time, full tree nodes come out as soon as they are
 * complete, so a file of any length is described with memory bounded by MAX_LINKS_PER_NODE × tree depth.
 */
import type { CID } from 'multiformats/cid'
import { encodeNode, MAX_LINKS_PER_NODE, MAX_DIR_ENTRIES, MANIFEST_VERSION } from './format.ts'
import type { ChunkerParams, ChunkLink, PartLink, DirEntry, DirPartLink, EncodedBlock, Metadata } from './format.ts'
import { ManifestError } from '../errors.ts'

interface Level {
  links: Array<ChunkLink | PartLink>
  bytes: number
}

export class FileManifestBuilder {
  private readonly chunker: ChunkerParams
  /** levels[0] holds chunk links, levels[i > 0] links to part nodes of level i-1 */
  private readonly levels: Level[] = [{ links: [], bytes: 0 }]
  private readonly maxLinks: number

  constructor (chunker: ChunkerParams, maxLinks = MAX_LINKS_PER_NODE) {
    this.chunker = chunker
    this.maxLinks = maxLinks
  }

  /** Add the next chunk; returns part nodes completed by it, which the caller stores before the root. */
  addChunk (cid: CID, length: number): EncodedBlock[] {
    const out: EncodedBlock[] = []
    this.push(0, [cid, length], length, out)
    return out
  }

  /** Close the file: returns the remaining part nodes and, last, the root (which keeps `meta`). */
  finish (size: number, blake3: Uint8Array, meta: Metadata = {}): { blocks: EncodedBlock[], root: EncodedBlock } {
    const blocks: EncodedBlock[] = []
    // Flush every level below the top into its parent so only the top level's links remain; a flush can
    // fill its parent and add a level, hence the live bound.
    for (let i = 0; i < this.levels.length - 1; i++) {
      if (this.levels[i].links.length > 0) this.flush(i, blocks)
    }
    const top = this.levels.length - 1
    const links = this.levels[top].links
    const root = encodeNode({
      v: MANIFEST_VERSION,
      type: 'file',
      size,
      blake3,
      chunker: this.chunker,
      mode: meta.mode,
      mtime: meta.mtime,
      ...(top === 0 ? { chunks: links as ChunkLink[] } : { parts: links as PartLink[] })
    })
    const total = this.levels[top].bytes
    if (total !== size) throw new ManifestError(`chunks add up to ${total} bytes but the file has ${size}`)
    return { blocks, root }
  }

  private push (level: number, link: ChunkLink | PartLink, bytes: number, out: EncodedBlock[]): void {
    if (this.levels[level] === undefined) this.levels[level] = { links: [], bytes: 0 }
    const l = this.levels[level]
    if (l.links.length === this.maxLinks) this.flush(level, out)
    l.links.push(link)
    l.bytes += bytes
  }

  private flush (level: number, out: EncodedBlock[]): void {
    const l = this.levels[level]
    const block = encodeNode(level === 0
      ? { v: MANIFEST_VERSION, type: 'part', chunks: l.links as ChunkLink[] }
      : { v: MANIFEST_VERSION, type: 'part', parts: l.links as PartLink[] })
    out.push(block)
    const bytes = l.bytes
    l.links = []
    l.bytes = 0
    this.push(level + 1, [block.cid, bytes], bytes, out)
  }
}

/**
 * Build a directory manifest from its entries (any order); shards when there are more than MAX_DIR_ENTRIES. The root
 * keeps `meta`.
 */
export function buildDirectory (entries: DirEntry[], maxEntries = MAX_DIR_ENTRIES, meta: Metadata = {}): { blocks: EncodedBlock[], root: EncodedBlock } {
  const sorted = [...entries].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i][0] === sorted[i - 1][0]) throw new ManifestError(`two entries are named ${JSON.stringify(sorted[i][0])} after Unicode normalization`)
  }
  const size = sorted.reduce((s, e) => s + e[2], 0)
  if (sorted.length <= maxEntries) {
    return { blocks: [], root: encodeNode({ v: MANIFEST_VERSION, type: 'dir', size, mode: meta.mode, mtime: meta.mtime, entries: sorted }) }
  }
  const blocks: EncodedBlock[] = []
  const parts: DirPartLink[] = []
  for (let i = 0; i < sorted.length; i += maxEntries) {
    const slice = sorted.slice(i, i + maxEntries)
    const block = encodeNode({ v: MANIFEST_VERSION, type: 'dirpart', entries: slice })
    blocks.push(block)
    parts.push([block.cid, slice[0][0], slice.length])
  }
  return { blocks, root: encodeNode({ v: MANIFEST_VERSION, type: 'dir', size, mode: meta.mode, mtime: meta.mtime, parts }) }
}
