/**
 * Manifest trees a hostile peer crafts (issue 15's probes), encoded as real dag-cbor blocks with BLAKE3 CIDs so
 * that they pass decoding and verification: only their shape is hostile. Each returns its blocks and root.
 */
import type { CID } from 'multiformats/cid'
import { encodeNode, MANIFEST_VERSION } from '../../src/manifest/index.ts'
import type { EncodedBlock, DirEntry, ManifestNode } from '../../src/manifest/index.ts'
import { chunkCid } from '../../src/cid.ts'
import { blake3 } from '../../src/hash/blake3.ts'

export const KiB = 1024
export const MiB = 1024 * KiB
export const PiB = 2 ** 50

const CHUNKER = { name: 'test', min: 1024, avg: 1024, max: 4 * MiB, normalization: 0 }

export interface CraftedTree {
  root: CID
  blocks: EncodedBlock[]
}

function node (n: ManifestNode): EncodedBlock {
  return encodeNode(n)
}

function emptyFile (): EncodedBlock {
  return node({ v: MANIFEST_VERSION, type: 'file', size: 0, blake3: blake3(new Uint8Array(0)), chunker: CHUNKER, chunks: [] })
}

/** A file of one chunk of `bytes` (its bytes are `fill`), with its chunk block. */
export function oneChunkFile (bytes: number, fill = 7): { file: EncodedBlock, chunk: EncodedBlock } {
  const data = new Uint8Array(bytes).fill(fill)
  const chunk = { cid: chunkCid(data), bytes: data }
  const file = node({ v: MANIFEST_VERSION, type: 'file', size: bytes, blake3: blake3(data), chunker: CHUNKER, chunks: [[chunk.cid, bytes]] })
  return { file, chunk }
}

function dir (entries: DirEntry[]): EncodedBlock {
  const sorted = [...entries].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  return node({ v: MANIFEST_VERSION, type: 'dir', size: sorted.reduce((s, e) => s + e[2], 0), entries: sorted })
}

/** Directories nested `depth` deep, one entry `d` each, an empty file at the bottom. */
export function dirChain (depth: number): CraftedTree {
  const blocks: EncodedBlock[] = []
  let child = emptyFile()
  blocks.push(child)
  let kind: 'file' | 'dir' = 'file'
  for (let i = 0; i < depth; i++) {
    const d = dir([[kind === 'file' ? 'f' : 'd', child.cid, 0, kind]])
    blocks.push(d)
    child = d
    kind = 'dir'
  }
  return { root: child.cid, blocks }
}

/** A file of one 1 KiB chunk under a chain of `depth` part nodes of one link each. */
export function partChain (depth: number): CraftedTree {
  const { chunk } = oneChunkFile(KiB)
  const blocks: EncodedBlock[] = [chunk]
  let part = node({ v: MANIFEST_VERSION, type: 'part', chunks: [[chunk.cid, KiB]] })
  blocks.push(part)
  for (let i = 1; i < depth; i++) {
    part = node({ v: MANIFEST_VERSION, type: 'part', parts: [[part.cid, KiB]] })
    blocks.push(part)
  }
  const file = node({ v: MANIFEST_VERSION, type: 'file', size: KiB, blake3: blake3(chunk.bytes), chunker: CHUNKER, parts: [[part.cid, KiB]] })
  blocks.push(file)
  return { root: file.cid, blocks }
}

/**
 * The "zip bomb": a directory of `outer` entries naming one directory of `inner` entries naming one file (of
 * `fileBytes`, empty by default): `outer × inner` files from three manifest blocks.
 */
export function zipBomb (outer: number, inner: number, fileBytes = 0): CraftedTree {
  const blocks: EncodedBlock[] = []
  let file: EncodedBlock
  if (fileBytes === 0) {
    file = emptyFile()
  } else {
    const one = oneChunkFile(fileBytes)
    file = one.file
    blocks.push(one.chunk)
  }
  const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `e${String(i).padStart(7, '0')}`)
  const middle = dir(names(inner).map(name => [name, file.cid, fileBytes, 'file']))
  const top = dir(names(outer).map(name => [name, middle.cid, inner * fileBytes, 'dir']))
  blocks.push(file, middle, top)
  return { root: top.cid, blocks }
}

/**
 * A file of `size` bytes (1 PiB by default) made of one 1 MiB chunk repeated: a part of 8,192 links to it
 * (8 GiB), a part of 8,192 links to that one (64 TiB), and a file of links to that one. Four blocks in all.
 * With `declared`, the file states that size instead of what its links add up to.
 */
export function repeatedFile (size = PiB, declared?: number): CraftedTree {
  const { chunk } = oneChunkFile(MiB)
  const leaf = node({ v: MANIFEST_VERSION, type: 'part', chunks: Array.from({ length: 8192 }, () => [chunk.cid, MiB]) })
  const leafBytes = 8192 * MiB
  const mid = node({ v: MANIFEST_VERSION, type: 'part', parts: Array.from({ length: 8192 }, () => [leaf.cid, leafBytes]) })
  const midBytes = 8192 * leafBytes
  const count = Math.ceil(size / midBytes)
  const file = node({ v: MANIFEST_VERSION, type: 'file', size: declared ?? count * midBytes, blake3: new Uint8Array(32), chunker: CHUNKER, parts: Array.from({ length: count }, () => [mid.cid, midBytes]) })
  return { root: file.cid, blocks: [chunk, leaf, mid, file] }
}

/** A directory whose entries are empty files with the given names (valid or not: nothing checks them here). */
export function namedEntries (names: string[]): CraftedTree {
  const file = emptyFile()
  // encodeNode does not validate; decodeNode on the receiving side does
  const d = dir(names.map(name => [name, file.cid, 0, 'file']))
  return { root: d.cid, blocks: [file, d] }
}

/** A store for the pure specs: blocks by CID, counting reads. */
export function memoryGetBlock (blocks: EncodedBlock[]): { get: (cid: CID) => Promise<Uint8Array>, reads: () => number } {
  const m = new Map(blocks.map(b => [b.cid.toString(), b.bytes]))
  let reads = 0
  return {
    get: async (cid) => {
      reads++
      const b = m.get(cid.toString())
      if (b == null) throw new Error(`missing ${cid}`)
      return b
    },
    reads: () => reads
  }
}
