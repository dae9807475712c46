/**
 * Repo upkeep: `verify` (scrub) and `gc` (mark from pins, sweep the rest).
 */
import { readFile, stat, unlink } from 'node:fs/promises'
import type { CID } from 'multiformats/cid'
import { decodeNode, nodeLinks, WalkPacer } from '../src/manifest/index.ts'
import type { ManifestNode } from '../src/manifest/index.ts'
import { macrotask } from './deferred.ts'
import { DAG_CBOR_CODE, CidSet } from '../src/cid.ts'
import { DitsError } from '../src/errors.ts'
import { WholeCidSharding } from './blockstore.ts'
import type { DitsBlockstore } from './blockstore.ts'
import { writeDurable } from './files.ts'

export interface BadBlock {
  cid: string
  error: string
}

/** A block a pin needs that the store lacks: the pin, and the path in it of the file or directory that needs it. */
export interface MissingUnderPin {
  cid: string
  pin: string
  /** `/`-separated from the pin's root ('' for the root itself) */
  path: string
}

export interface VerifyResult {
  checked: number
  bytes: number
  /** corrupt blocks (now quarantined): the first VERIFY_LISTED_MAX */
  bad: BadBlock[]
  /** how many there were */
  bad_count: number
  /** blocks a manifest names that the store lacks: the first VERIFY_LISTED_MAX */
  missing: string[]
  /** how many there were */
  missing_count: number
  /** of `missing`, those a pin needs, with where (the first VERIFY_LISTED_MAX) — a whole-store verify with pins */
  missing_under_pins?: MissingUnderPin[]
}

/** corrupt and missing blocks a verify names (each list), and those it names with their pin and path: a lost disk can miss millions */
export const VERIFY_LISTED_MAX = 1000

/**
 * How far a verify is: `blocks`, reading and re-hashing every stored block (or every block under the root), `pins`,
 * walking every pin for what it needs and the store lacks.
 */
export interface VerifyProgress {
  verify: 'blocks' | 'pins'
  /** blocks read and re-hashed (blocks), or blocks of the pins looked up (pins), so far */
  checked: number
  /** bytes of the blocks read so far */
  bytes: number
  /** blocks the store holds (a whole-store verify, when the counts are known): what `checked` goes up to */
  total?: number
}

export interface VerifyOptions {
  signal?: AbortSignal
  onProgress?: (p: VerifyProgress) => void
  /** the blocks held, for progress (`total`) */
  total?: number
  /**
   * With a whole-store verify (no roots): the pins, whose DAGs are walked too once every stored block is checked,
   * so that a block a pin needs and the store lacks (deleted, or quarantined by an earlier verify) is found.
   */
  pins?: CID[]
}

/**
 * Scrub: read and verify every block under `roots` (or every block in the store when none are given, and then
 * what `pins` need). Corrupt blocks are quarantined by the blockstore and listed; blocks a manifest names but the
 * store lacks are listed as missing.
 */
export async function verifyBlocks (blocks: DitsBlockstore, roots: CID[] | undefined, options: VerifyOptions = {}): Promise<VerifyResult> {
  const result: VerifyResult = { checked: 0, bytes: 0, bad: [], bad_count: 0, missing: [], missing_count: 0 }
  const check = async (cid: CID): Promise<Uint8Array | undefined> => {
    options.signal?.throwIfAborted()
    result.checked++
    try {
      const bytes = await blocks.get(cid)
      result.bytes += bytes.byteLength
      options.onProgress?.({ verify: 'blocks', checked: result.checked, bytes: result.bytes, total: options.total })
      return bytes
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') listMissing(result, cid)
      else listBad(result, cid, err as Error)
      return undefined
    }
  }
  if (roots === undefined) {
    for await (const cid of blocks.cids(options)) await check(cid)
    if (options.pins !== undefined) await verifyPins(blocks, options.pins, result, options)
    return result
  }
  await traverse(unplaced(roots), async (cid) => {
    const bytes = await check(cid)
    if (bytes === undefined || cid.code !== DAG_CBOR_CODE) return []
    try {
      return unplaced(nodeLinks(decodeNode(cid, bytes)))
    } catch (err) {
      listBad(result, cid, err as Error)
      return []
    }
  }, options.signal)
  return result
}

/**
 * The second half of a whole-store verify: walk every pin's DAG and list the blocks it needs that the store lacks,
 * with the pin and the path. Every stored block was verified by the first half (and any corrupt one quarantined, so
 * it is missing now): manifests are read again to follow their links, chunks only looked up. Each manifest node is
 * read once; a chunk is looked up each time a manifest names it, so that the walk remembers manifests, not chunks:
 * on a repo of 1,000,000 chunks under pins, a set of every chunk took the verify's peak RSS to ~490 MiB. The
 * lookups a repeated chunk costs are bounded by the links of the manifests read, and a missing one counts once.
 */
async function verifyPins (blocks: DitsBlockstore, pins: CID[], result: VerifyResult, options: VerifyOptions): Promise<void> {
  const under: MissingUnderPin[] = []
  const counted = new CidSet()
  const missing = (cid: CID, at: Place): void => {
    if (!counted.add(cid)) return
    listMissing(result, cid)
    if (under.length < VERIFY_LISTED_MAX) under.push({ cid: cid.toString(), pin: at.pin.toString(), path: at.path })
  }
  let looked = 0
  await traverse(pins.map(pin => [pin, { pin, path: '' }]), async (cid, at) => {
    options.signal?.throwIfAborted()
    if (++looked % 1024 === 0) options.onProgress?.({ verify: 'pins', checked: looked, bytes: result.bytes })
    if (cid.code !== DAG_CBOR_CODE) {
      if (!(await blocks.has(cid, options))) missing(cid, at)
      return []
    }
    let bytes: Uint8Array
    try {
      bytes = await blocks.get(cid, options)
    } catch (err) {
      if ((err as Error).name === 'NotFoundError') missing(cid, at)
      else listBad(result, cid, err as Error)
      return []
    }
    try {
      return placedLinks(decodeNode(cid, bytes), at)
    } catch (err) {
      listBad(result, cid, err as Error)
      return []
    }
  }, options.signal, new CidSet(), cid => cid.code === DAG_CBOR_CODE)
  result.missing_under_pins = under
}

function listMissing (result: VerifyResult, cid: CID): void {
  if (result.missing_count++ < VERIFY_LISTED_MAX) result.missing.push(cid.toString())
}

function listBad (result: VerifyResult, cid: CID, err: Error): void {
  if (result.bad_count++ < VERIFY_LISTED_MAX) result.bad.push({ cid: cid.toString(), error: err.message })
}

/** Where a block is needed: under which pin, at which path. */
interface Place {
  pin: CID
  path: string
}

/** A manifest node's links, each with the path it is at: a directory's entries one level down, the rest where the node is. */
function placedLinks (node: ManifestNode, at: Place): Array<[CID, Place]> {
  const entries = node.type === 'dirpart' ? node.entries : node.type === 'dir' ? node.entries : undefined
  if (entries === undefined) return nodeLinks(node).map(cid => [cid, at])
  return entries.map(([name, cid]) => [cid, { pin: at.pin, path: at.path === '' ? name : `${at.path}/${name}` }])
}

export interface GcResult {
  /** the first GC_LISTED_MAX blocks removed (or that a dry run would remove) */
  removed: string[]
  /** how many were */
  removedCount: number
  bytesRemoved: number
  /** blocks under a pin */
  kept: number
  /**
   * blocks under no pin kept because work in flight wrote or used them (an add, get, fetch or import not yet
   * done), or they are newer than the gc: the next gc decides about them
   */
  keptInFlight: number
  /** on a workstation: ref targets kept (with every block under them) because no seed holds them yet */
  keptForSeed: KeptForSeed[]
  /** on a seed: chunks under no pin kept because a speculate recorded them and they have not expired */
  keptSpeculative: number
  /** the first GC_LISTED_MAX of them, with their expiry (ISO 8601) */
  speculative: Array<{ cid: string, expires: string }>
  tempFilesRemoved: number
  dryRun: boolean
  /** the sweep went on from where a gc that was stopped left it (the shards it had done are not listed again) */
  resumed: boolean
  durationMs: number
}

/** A ref target a workstation's gc keeps because no seed holds it whole yet (node/seed/gc-keep.ts). */
export interface KeptForSeed {
  root: string
  ref: string
  /** what each seed said, or why none could be asked */
  why: string
}

/** removed blocks that gc names: a gc after unpinning a large project removes millions */
export const GC_LISTED_MAX = 1000
/** shards swept between two saves of the checkpoint (of 1024) */
export const GC_CHECKPOINT_SHARDS = 64

export class GcRefusedError extends DitsError {
  static override name = 'GcRefusedError'
  override name = 'GcRefusedError'
}

export interface GcProgress {
  gc: 'mark' | 'sweep'
  /** mark: manifest and chunk blocks found under the pins so far */
  marked: number
  /** sweep: shard directories done, of `shardsTotal` */
  shards: number
  shardsTotal: number
  removed: number
}

export interface GcOptions {
  dryRun?: boolean
  signal?: AbortSignal
  onProgress?: (p: GcProgress) => void
  /**
   * where the sweep records how far it got (`<repo>/gc-checkpoint.json`), so that a gc stopped half way (killed,
   * cancelled) is resumed from there by the next one; none when absent
   */
  checkpointFile?: string
  /**
   * chunks to keep that no pin reaches: a seed's unexpired speculative chunks (node/seed/speculative.ts
   * SpeculativeRecord.sweep), read once the pins are marked. `pinned` tells whether a pin reaches a chunk (its record
   * is then promoted: the pin keeps it); a dry run changes nothing
   */
  speculative?: (pinned: (cid: CID) => boolean, options: { dryRun: boolean, signal?: AbortSignal }) => AsyncIterable<{ cid: CID, expiresAt: number }>
}

/**
 * Remove every block not reachable from the pins, while everything else runs. Marking reads only manifest nodes.
 * Nothing waits for gc and gc waits for nothing: a block is removed only when no pin reaches it (the pins read at
 * the start, and again before the sweep for those added meanwhile) and its time is older than the blockstore's
 * cutoff — the start of the oldest add, fetch or import in flight, whose blocks no pin names yet — checked and
 * removed as one change to the block (DitsBlockstore.deleteUnused), so that work putting or holding it at that moment
 * keeps it. If a manifest under a pin is missing or corrupt, gc refuses to sweep: the chunks it lists are unknown,
 * and deleting them could lose data that `verify --repair` would otherwise restore.
 */
export async function gc (blocks: DitsBlockstore, pins: () => Promise<CID[]>, options: GcOptions = {}): Promise<GcResult> {
  const started = Date.now()
  const cutoff = blocks.gcCutoff()
  const broken: string[] = []
  const progress: GcProgress = { gc: 'mark', marked: 0, shards: 0, shardsTotal: WholeCidSharding.shards.length, removed: 0 }
  const visit = async (cid: CID): Promise<Array<[CID, undefined]>> => {
    if (++progress.marked % 1024 === 0) options.onProgress?.(progress)
    if (cid.code !== DAG_CBOR_CODE) return []
    try {
      const bytes = await blocks.get(cid, options)
      return unplaced(nodeLinks(decodeNode(cid, bytes)))
    } catch (err) {
      broken.push(`${cid}: ${(err as Error).message}`)
      return []
    }
  }
  const marked = await pins()
  const live = await traverse(unplaced(marked), visit, options.signal)
  // pins made while marking (their blocks are newer than the cutoff anyway, unless they were held long before)
  const known = new CidSet()
  for (const p of marked) known.add(p)
  const later = (await pins()).filter(p => !known.has(p))
  if (later.length > 0) await traverse(unplaced(later), visit, options.signal, live)
  if (broken.length > 0) {
    throw new GcRefusedError(`gc refused: ${broken.length} manifest block(s) under a pin are missing or corrupt, so the chunks they list are unknown:\n  ${broken.slice(0, 10).join('\n  ')}\nrun \`dits-node verify --repair\` (or unpin the root) first`)
  }
  const dryRun = options.dryRun === true
  const result: GcResult = { removed: [], removedCount: 0, bytesRemoved: 0, kept: 0, keptInFlight: 0, keptForSeed: [], keptSpeculative: 0, speculative: [], tempFilesRemoved: 0, dryRun, resumed: false, durationMs: 0 }
  /** chunks no pin reaches that a speculative record keeps */
  const speculative = new CidSet()
  if (options.speculative !== undefined) {
    // after the pins: a speculative chunk a pin reaches now is the pin's (promoted), the others are kept by their record
    const pinned = (cid: CID): boolean => live.has(cid)
    for await (const e of options.speculative(pinned, { dryRun, signal: options.signal })) {
      if (!speculative.add(e.cid)) continue
      if (result.keptSpeculative++ < GC_LISTED_MAX) result.speculative.push({ cid: e.cid.toString(), expires: new Date(e.expiresAt).toISOString() })
    }
  }
  if (!dryRun) result.tempFilesRemoved = await blocks.removeTempFiles()
  const from = dryRun || options.checkpointFile === undefined ? 0 : await readCheckpoint(options.checkpointFile)
  result.resumed = from > 0
  progress.gc = 'sweep'
  const shards = WholeCidSharding.shards
  for (let i = from; i < shards.length; i++) {
    options.signal?.throwIfAborted()
    for (const cid of await blocks.cidsIn(shards[i])) {
      if (live.has(cid)) {
        result.kept++
        continue
      }
      if (speculative.has(cid)) continue
      const outcome = dryRun
        ? await stat(blocks.path(cid)).then(s => s.mtimeMs >= cutoff ? 'kept' as const : s.size, () => 0)
        : await blocks.deleteUnused(cid, cutoff)
      if (outcome === 'kept') {
        result.keptInFlight++
        continue
      }
      result.bytesRemoved += outcome
      if (result.removedCount++ < GC_LISTED_MAX) result.removed.push(cid.toString())
    }
    progress.shards = i + 1
    progress.removed = result.removedCount
    options.onProgress?.(progress)
    if (!dryRun && options.checkpointFile !== undefined && (i + 1) % GC_CHECKPOINT_SHARDS === 0 && i + 1 < shards.length) {
      await writeDurable(options.checkpointFile, JSON.stringify({ shardsDone: i + 1, at: new Date().toISOString() }))
    }
  }
  if (!dryRun && options.checkpointFile !== undefined) await unlink(options.checkpointFile).catch(() => {})
  result.durationMs = Date.now() - started
  return result
}

/** How many shards a stopped gc had swept (0 without a checkpoint, or with one that is not gc's). */
async function readCheckpoint (file: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => undefined)
  if (text === undefined || text.length > 1024) return 0
  try {
    const n = (JSON.parse(text) as { shardsDone?: unknown }).shardsDone
    return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && n < WholeCidSharding.shards.length ? n : 0
  } catch {
    return 0
  }
}

/** links to follow that carry nothing down */
function unplaced (cids: CID[]): Array<[CID, undefined]> {
  return cids.map(c => [c, undefined])
}

/**
 * Depth-first over a DAG, each block once (however often the DAG names it: the walk costs the distinct blocks),
 * iteratively (a deep or hostile DAG cannot overflow the stack); `visit` returns the links to follow, each with
 * what the walk carries down to it (a place, or nothing). Returns every block visited. Chunks are visited without
 * I/O, so it lets the event loop in now and then (a SIGTERM, the API) and checks `signal`. A block for which `once`
 * is false (a leaf whose visit is cheap) is visited each time it is named and not kept in the set returned.
 */
async function traverse<T> (roots: Array<[CID, T]>, visit: (cid: CID, at: T) => Promise<Array<[CID, T]>>, signal?: AbortSignal, seen = new CidSet(), once: (cid: CID) => boolean = () => true): Promise<CidSet> {
  const pacer = new WalkPacer({ signal, pause: macrotask })
  const stack = [...roots].reverse()
  while (stack.length > 0) {
    const [cid, at] = stack.pop() as [CID, T]
    if (once(cid) && !seen.add(cid)) continue
    await pacer.step()
    const links = await visit(cid, at)
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i])
  }
  return seen
}
