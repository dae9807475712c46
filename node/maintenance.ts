/**
 * Repo upkeep: `verify` (scrub) and `gc` (mark from pins, sweep the rest).
 */
import { stat } from 'node:fs/promises'
import type { CID } from 'multiformats/cid'
import { decodeNode, nodeLinks } from '../src/manifest/index.ts'
import { DAG_CBOR_CODE, CidSet } from '../src/cid.ts'
import { DitsError } from '../src/errors.ts'
import type { DitsBlockstore } from './blockstore.ts'

export interface BadBlock {
  cid: string
  error: string
}

export interface VerifyResult {
  checked: number
  bytes: number
  bad: BadBlock[]
  missing: string[]
}

export interface VerifyOptions {
  signal?: AbortSignal
  onProgress?: (checked: number) => void
}

/**
 * Scrub: read and verify every block under `roots` (or every block in the store when none are given).
 * Corrupt blocks are quarantined by the blockstore and listed; blocks a manifest names but the store lacks
 * are listed as missing.
 */
export async function verifyBlocks (blocks: DitsBlockstore, roots: CID[] | undefined, options: VerifyOptions = {}): Promise<VerifyResult> {
  const result: VerifyResult = { checked: 0, bytes: 0, bad: [], missing: [] }
  const check = async (cid: CID): Promise<Uint8Array | undefined> => {
    options.signal?.throwIfAborted()
    result.checked++
    options.onProgress?.(result.checked)
    try {
      const bytes = await blocks.get(cid)
      result.bytes += bytes.byteLength
      return bytes
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') result.missing.push(cid.toString())
      else result.bad.push({ cid: cid.toString(), error: (err as Error).message })
      return undefined
    }
  }
  if (roots === undefined) {
    for await (const cid of blocks.cids(options)) await check(cid)
    return result
  }
  await traverse(roots, async (cid) => {
    const bytes = await check(cid)
    if (bytes === undefined || cid.code !== DAG_CBOR_CODE) return []
    try {
      return nodeLinks(decodeNode(cid, bytes))
    } catch (err) {
      result.bad.push({ cid: cid.toString(), error: (err as Error).message })
      return []
    }
  })
  return result
}

export interface GcResult {
  /** the first GC_LISTED_MAX blocks removed (or that a dry run would remove) */
  removed: string[]
  /** how many were */
  removedCount: number
  bytesRemoved: number
  kept: number
  tempFilesRemoved: number
  dryRun: boolean
}

/** removed blocks that gc names: a gc after unpinning a large project removes millions */
export const GC_LISTED_MAX = 1000

export class GcRefusedError extends DitsError {
  static override name = 'GcRefusedError'
  override name = 'GcRefusedError'
}

/**
 * Remove every block not reachable from `roots` (the pins). Marking reads only manifest nodes. If a manifest
 * under a root is missing or corrupt, gc refuses to sweep: the chunks it lists are unknown, and deleting
 * them could lose data that `verify --repair` would otherwise restore.
 */
export async function gc (blocks: DitsBlockstore, roots: CID[], options: { dryRun?: boolean, signal?: AbortSignal } = {}): Promise<GcResult> {
  const broken: string[] = []
  const live = await traverse(roots, async (cid) => {
    if (cid.code !== DAG_CBOR_CODE) return []
    try {
      const bytes = await blocks.get(cid, options)
      return nodeLinks(decodeNode(cid, bytes))
    } catch (err) {
      broken.push(`${cid}: ${(err as Error).message}`)
      return []
    }
  })
  if (broken.length > 0) {
    throw new GcRefusedError(`gc refused: ${broken.length} manifest block(s) under a pin are missing or corrupt, so the chunks they list are unknown:\n  ${broken.slice(0, 10).join('\n  ')}\nrun \`dits-node verify --repair\` (or unpin the root) first`)
  }
  const result: GcResult = { removed: [], removedCount: 0, bytesRemoved: 0, kept: 0, tempFilesRemoved: 0, dryRun: options.dryRun === true }
  if (options.dryRun !== true) result.tempFilesRemoved = await blocks.removeTempFiles()
  for await (const cid of blocks.cids(options)) {
    if (live.has(cid)) {
      result.kept++
      continue
    }
    result.bytesRemoved += options.dryRun === true ? await stat(blocks.path(cid)).then(s => s.size, () => 0) : await blocks.delete(cid)
    if (result.removedCount++ < GC_LISTED_MAX) result.removed.push(cid.toString())
  }
  return result
}

/** Depth-first over a DAG, each block once; `visit` returns the links to follow. Returns every block visited. */
async function traverse (roots: CID[], visit: (cid: CID) => Promise<CID[]>): Promise<CidSet> {
  const seen = new CidSet()
  const stack = [...roots].reverse()
  while (stack.length > 0) {
    const cid = stack.pop() as CID
    if (!seen.add(cid)) continue
    const links = await visit(cid)
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i])
  }
  return seen
}
