/**
 * `dits-node availability CID|REF` (issue 17, DESIGN §10): who holds what of a root. The root's manifests are
 * made local (fetched, as `ls` does), then its chunks are walked in batches of DEFAULT_AVAILABILITY_BATCH_CHUNKS,
 * each chunk once, and every batch is have-checked at once against this node's blockstore, the seeds and every
 * connected peer (node/net/have-check.ts: batched HAVE wants, no block read). Only the counts per holder, one
 * batch (the next is walked while one is checked) and the first missing chunks are held: memory does not grow
 * with the root, apart from the set of distinct chunks seen (~100 bytes a chunk, as gc's walk).
 *
 * @example
 * ```ts
 * const report = await availability(deps, { target: 'projects/reel3/cut' }, { signal })
 * for (const h of report.holders) console.log(h.peer, h.role, h.chunks, h.bytes)
 * ```
 */
import { z } from 'zod'
import { CidSet, DAG_CBOR_CODE } from '../src/cid.ts'
import { parseCidPath, resolvePath, walkChunkLinks } from '../src/manifest/index.ts'
import { NotFoundError, UnavailableError, UsageError } from '../src/errors.ts'
import { deadline } from './net/deadline.ts'
import { macrotask } from './deferred.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { ChunkRef, GetBlock } from '../src/manifest/index.ts'
import type { DitsNetwork, HaveCheck } from './net/index.ts'
import type { OpContext } from './ops.ts'
import type { PinReasons } from './repo.ts'

/** Distinct chunks walked, then have-checked against every holder at once. */
export const DEFAULT_AVAILABILITY_BATCH_CHUNKS = 4096
/** Chunks nobody holds that a report lists (with their paths); the rest are counted. */
export const DEFAULT_AVAILABILITY_LISTED = 1000
/** The most `--max-listed` may ask for. */
export const MAX_AVAILABILITY_LISTED = 100_000
/** Reaching the holders (dialling a configured seed, hello, opening the stream) must be done within this. */
export const DEFAULT_HOLDER_CONNECT_TIMEOUT_MS = 5_000
/** A seed must tell its pin of the root (ROOT_STATUS: it walks the root on its side) within this. */
export const DEFAULT_PIN_STATE_TIMEOUT_MS = 10_000
/** Local lookups between two turns of the event loop (holdsHere). */
const LOCAL_SLICE_CHUNKS = 256
/** Longest ref name or `CID/sub/path` taken, in characters (Linux's PATH_MAX, as every CID argument). */
const MAX_TARGET_CHARS = 4096

export const AvailabilityArgs = z.strictObject({
  /** a CID, `CID/sub/path`, or a ref name */
  target: z.string().min(1).max(MAX_TARGET_CHARS),
  maxListed: z.number().int().min(0).max(MAX_AVAILABILITY_LISTED).optional().describe('--max-listed')
})
export type AvailabilityArgs = z.output<typeof AvailabilityArgs>

/** One node that may hold the root's chunks: this node, a seed or a connected peer. */
export interface AvailabilityHolder {
  peer: string
  role: 'seed' | 'peer' | 'unknown'
  /** this node */
  self: boolean
  /** `ok`: it answered every batch; `refused`: it does not serve this node; `unreachable`, `failed`: see `error` */
  state: 'ok' | 'refused' | 'unreachable' | 'failed'
  error?: string
  /** distinct chunks of the root it holds (for a holder that failed part way: those it confirmed) */
  chunks: number
  bytes: number
  /** of the root's distinct chunks, and of their bytes, one decimal */
  percent: number
  bytes_percent: number
  /**
   * Whether it pins the root and for which reasons (`user`, `ref`: a seed keeping a ref's target, `push`): this
   * node's from its repo, a seed's from the seed itself (ROOT_STATUS); not pinned, what it holds is kept until gc
   */
  pin?: { pinned: boolean, reasons: string[] }
  /**
   * a seed's: of the root's chunks it holds, those it keeps only as speculative (uploaded ahead of a push, unpinned,
   * until they expire; README "Speculative chunks"): a push would not send them. From ROOT_STATUS, with `pin`
   */
  speculative?: { chunks: number, bytes: number }
  /** why a seed's pin state is not known (it did not answer in time, refused, …) */
  pin_error?: string
}

export interface MissingChunk {
  cid: string
  /** the file it belongs to, below the root ('' when the root is that file); its first occurrence */
  path: string
  offset: number
  length: number
}

export interface AvailabilityReport {
  root: string
  /** the ref the target named, null for a CID */
  ref: string | null
  /** the entry below the root (`CID/sub/path`), '' for the root */
  path: string
  /** the CID of that entry */
  cid: string
  /** distinct chunks and their bytes */
  chunks: number
  bytes: number
  holders: AvailabilityHolder[]
  /** chunks no reachable holder (this node included) has: the first `maxListed`, in file order */
  missing: MissingChunk[]
  missing_chunks: number
  missing_bytes: number
  /** of duration_ms, the time the root's manifests took to be made local (fetched where this node lacked them) */
  manifests_ms: number
  duration_ms: number
}

/** What the operation needs from the daemon: the repo, the network, the consensus group (for a ref). */
export interface AvailabilityDeps {
  getBlock: GetBlock
  has(cid: CID, options?: AbortOptions): Promise<boolean>
  pinReasons(cid: CID): Promise<PinReasons>
  /** this node's role (config `role`) */
  role: 'seed' | 'peer'
  /** the running network; undefined without a daemon */
  network(): DitsNetwork | undefined
  /** a ref's target through the consensus group (NotFoundError when the ref does not exist) */
  resolveRef(name: string, options: AbortOptions): Promise<string>
}

/** A holder while the walk runs: its stream and its tally. */
interface Tally {
  holder: AvailabilityHolder
  check?: HaveCheck
}

export async function availability (deps: AvailabilityDeps, args: AvailabilityArgs, ctx: OpContext = {}): Promise<AvailabilityReport> {
  const started = performance.now()
  const network = deps.network()
  if (network == null) throw new UnavailableError('availability asks the network: it needs a running daemon (`dits-node start`)')
  const { root, path, ref } = await resolveTarget(deps, args.target, ctx)
  if (root.code !== DAG_CBOR_CODE) throw new UsageError(`${root} is a chunk, not a file or directory manifest: availability walks a manifest's chunks`)
  // the manifests are what the walk reads: fetched from whoever has them, as `ls` and `get` do
  await network.fetch(root, { signal: ctx.signal, scope: 'manifests' })
  const manifestsMs = Math.round(performance.now() - started)
  const entry = await resolvePath(deps.getBlock, root, path, { signal: ctx.signal })

  const tallies = await reachHolders(deps, network, entry.cid, ctx.signal)
  // the seeds' pin states are asked while the chunks are checked
  const pins = seedPins(network, tallies, entry.cid, ctx.signal)
  const maxListed = args.maxListed ?? DEFAULT_AVAILABILITY_LISTED
  const missing: MissingChunk[] = []
  let missingChunks = 0
  let missingBytes = 0
  let chunks = 0
  let bytes = 0

  const checkBatch = async (batch: ChunkRef[]): Promise<void> => {
    const cids = batch.map(c => c.cid)
    const answers = await Promise.all(tallies.map(async (t): Promise<boolean[] | undefined> => {
      if (t.holder.self) return await holdsHere(deps, cids, ctx.signal)
      if (t.check == null) return undefined
      try {
        return await t.check.check(cids, { signal: ctx.signal })
      } catch (err) {
        ctx.signal?.throwIfAborted()
        t.holder.state = (err as Error).name === 'HaveCheckRefusedError' ? 'refused' : 'failed'
        t.holder.error = (err as Error).message
        t.check.close()
        t.check = undefined
        return undefined
      }
    }))
    for (let i = 0; i < batch.length; i++) {
      const c = batch[i]
      let held = false
      for (let h = 0; h < tallies.length; h++) {
        if (answers[h]?.[i] !== true) continue
        held = true
        tallies[h].holder.chunks++
        tallies[h].holder.bytes += c.length
      }
      if (held) continue
      missingChunks++
      missingBytes += c.length
      if (missing.length < maxListed) missing.push({ cid: c.cid.toString(), path: c.path, offset: c.offset, length: c.length })
    }
    ctx.onProgress?.({ checked: chunks })
  }

  try {
    const seen = new CidSet()
    let batch: ChunkRef[] = []
    // one batch is checked while the next is walked
    let checking: Promise<void> = Promise.resolve()
    for await (const c of walkChunkLinks(deps.getBlock, entry.cid, { unique: true, signal: ctx.signal, pause: macrotask, path })) {
      if (!seen.add(c.cid)) continue
      chunks++
      bytes += c.length
      batch.push(c)
      if (batch.length < DEFAULT_AVAILABILITY_BATCH_CHUNKS) continue
      await checking
      checking = checkBatch(batch)
      batch = []
    }
    await checking
    if (batch.length > 0) await checkBatch(batch)
  } finally {
    for (const t of tallies) t.check?.close()
    await pins
  }

  const holders = tallies.map(t => ({
    ...t.holder,
    percent: share(t.holder.chunks, chunks),
    bytes_percent: share(t.holder.bytes, bytes)
  }))
  return {
    root: root.toString(),
    ref,
    path,
    cid: entry.cid.toString(),
    chunks,
    bytes,
    holders,
    missing,
    missing_chunks: missingChunks,
    missing_bytes: missingBytes,
    manifests_ms: manifestsMs,
    duration_ms: Math.round(performance.now() - started)
  }
}

/**
 * Which of `cids` this node holds. The blockstore answers on the calling thread (a file lookup each), so the
 * lookups run in slices with a macrotask between them: the answers of the peers, asked at the same time, are read
 * meanwhile and their next wants sent, where 4096 lookups in a row held every peer's stream up.
 */
async function holdsHere (deps: AvailabilityDeps, cids: CID[], signal?: AbortSignal): Promise<boolean[]> {
  await macrotask()
  const held: boolean[] = []
  for (let i = 0; i < cids.length; i += LOCAL_SLICE_CHUNKS) {
    for (const cid of cids.slice(i, i + LOCAL_SLICE_CHUNKS)) held.push(await deps.has(cid, { signal }))
    await macrotask()
  }
  return held
}

/** `CID`, `CID/sub/path`, or a ref name (resolved through the consensus group). */
async function resolveTarget (deps: AvailabilityDeps, target: string, ctx: OpContext): Promise<{ root: CID, path: string, ref: string | null }> {
  let cidError: Error
  try {
    return { ...parseCidPath(target), ref: null }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    cidError = err
  }
  let cid: string
  try {
    cid = await deps.resolveRef(target, { signal: ctx.signal })
  } catch (err) {
    if (err instanceof NotFoundError) throw new UnavailableError(`${target} is neither a CID (${cidError.message}) nor a ref that exists`, { cause: err })
    throw err
  }
  return { ...parseCidPath(cid), ref: target }
}

/**
 * This node, then the seeds and connected peers, each with a have-check stream open. A holder that cannot be
 * reached is listed as such; the walk goes on with the others.
 */
async function reachHolders (deps: AvailabilityDeps, network: DitsNetwork, cid: CID, signal?: AbortSignal): Promise<Tally[]> {
  const reasons = await deps.pinReasons(cid)
  const self: Tally = {
    holder: { peer: network.peerId, role: deps.role, self: true, state: 'ok', chunks: 0, bytes: 0, percent: 0, bytes_percent: 0, pin: { pinned: Object.keys(reasons).length > 0, reasons: Object.keys(reasons).sort() } }
  }
  const wait = deadline(signal, DEFAULT_HOLDER_CONNECT_TIMEOUT_MS)
  try {
    const found = await network.holders({ signal: wait.signal })
    const others = await Promise.all(found.map(async (h): Promise<Tally> => {
      const holder: AvailabilityHolder = { peer: h.peer, role: h.role, self: false, state: 'ok', chunks: 0, bytes: 0, percent: 0, bytes_percent: 0 }
      if (h.error !== undefined) return { holder: { ...holder, state: 'unreachable', error: h.error } }
      try {
        return { holder, check: await network.openHaveCheck(h.peer, { signal: wait.signal }) }
      } catch (err) {
        signal?.throwIfAborted()
        return { holder: { ...holder, state: 'unreachable', error: (err as Error).message } }
      }
    }))
    const rank = (t: Tally): number => t.holder.role === 'seed' ? 0 : 1
    others.sort((a, b) => rank(a) - rank(b) || a.holder.peer.localeCompare(b.holder.peer))
    return [self, ...others]
  } finally {
    wait.clear()
  }
}

/**
 * Each reachable seed's pin of `root`, set on its holder (`pin`, or `pin_error` when the seed could not say within
 * DEFAULT_PIN_STATE_TIMEOUT_MS). Never fails: the pin state is a part of the report, not a condition of it.
 */
async function seedPins (network: DitsNetwork, tallies: Tally[], root: CID, signal?: AbortSignal): Promise<void> {
  await Promise.all(tallies.filter(t => t.holder.role === 'seed' && t.check != null).map(async t => {
    const wait = deadline(signal, DEFAULT_PIN_STATE_TIMEOUT_MS)
    try {
      const status = await network.rootStatus(t.holder.peer, root, { signal: wait.signal })
      t.holder.pin = { pinned: status.reasons.length > 0, reasons: [...status.reasons].sort() }
      t.holder.speculative = { chunks: status.chunks_speculative, bytes: status.bytes_speculative }
    } catch (err) {
      t.holder.pin_error = wait.signal.aborted && signal?.aborted !== true ? `no answer within ${DEFAULT_PIN_STATE_TIMEOUT_MS / 1000} s` : (err as Error).message
    } finally {
      wait.clear()
    }
  }))
}

function share (part: number, whole: number): number {
  return whole === 0 ? 100 : Math.floor(1000 * part / whole) / 10
}
