/**
 * How much of a root a store holds: its distinct chunk bytes, and how many of them are held. The dashboard shows it
 * for each ref ("the share held locally"). The walk reads only what the store has: a manifest node it lacks hides
 * the bytes below it, so the result says it is incomplete instead of guessing; and it is budgeted (manifest nodes
 * and chunk look-ups), since a ref may name a tree of millions of chunks and the answer is worth a bounded cost.
 */
import type { CID } from 'multiformats/cid'
import { decodeNode } from './format.ts'
import type { ManifestNode } from './format.ts'
import { WalkPacer } from './reader.ts'
import type { WalkOptions } from './reader.ts'
import { CidSet, DAG_CBOR_CODE } from '../cid.ts'

export interface HeldShare {
  /** distinct chunk bytes found under the root (a lower bound when not `complete`) */
  bytes: number
  /** of those, the bytes held */
  held: number
  /** false when a manifest node was missing or the budget ran out: `bytes` is then not the whole root */
  complete: boolean
  /** why the share is partial or empty, in a few words (e.g. "no seed reachable") */
  note?: string
}

export interface HeldShareOptions extends WalkOptions {
  /** manifest nodes plus chunk look-ups the walk may make before it stops (and says it is incomplete) */
  budget: number
}

/**
 * `getBlock` answers a block the store holds, or undefined; `has` says whether a chunk is held. A raw root (a file
 * of one chunk) counts its own bytes when held; unheld, its size is unknown and the share incomplete.
 */
export async function heldShare (getBlock: (cid: CID) => Promise<Uint8Array | undefined>, has: (cid: CID) => Promise<boolean>, root: CID, options: HeldShareOptions): Promise<HeldShare> {
  const share: HeldShare = { bytes: 0, held: 0, complete: true }
  let budget = options.budget
  const pacer = new WalkPacer(options)
  if (root.code !== DAG_CBOR_CODE) {
    const bytes = await getBlock(root)
    if (bytes === undefined) return { bytes: 0, held: 0, complete: false }
    return { bytes: bytes.byteLength, held: bytes.byteLength, complete: true }
  }
  const seen = new CidSet()
  seen.add(root)
  const queue: CID[] = [root]
  while (queue.length > 0) {
    if (budget-- <= 0) return { ...share, complete: false }
    await pacer.step()
    const cid = queue.pop() as CID
    const bytes = await getBlock(cid)
    if (bytes === undefined) {
      share.complete = false
      continue
    }
    const node: ManifestNode = decodeNode(cid, bytes)
    for (const [child, length] of chunksOf(node)) {
      if (!seen.add(child)) continue
      if (budget-- <= 0) return { ...share, complete: false }
      await pacer.step()
      share.bytes += length
      if (await has(child)) share.held += length
    }
    for (const child of manifestsOf(node)) {
      if (seen.add(child)) queue.push(child)
    }
  }
  return share
}

function chunksOf (node: ManifestNode): Array<[CID, number]> {
  return node.type === 'file' || node.type === 'part' ? node.chunks ?? [] : []
}

/** The manifest nodes a node links to: parts, directory entries (always manifests), shards. */
function manifestsOf (node: ManifestNode): CID[] {
  switch (node.type) {
    case 'file':
    case 'part':
      return (node.parts ?? []).map(p => p[0])
    case 'dir':
      return node.entries != null ? node.entries.map(e => e[1]) : (node.parts ?? []).map(p => p[0])
    case 'dirpart':
      return node.entries.map(e => e[1])
  }
}
