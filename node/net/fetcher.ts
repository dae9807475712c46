/**
 * One download (DESIGN §6): walks the manifest tree of a root depth-first, fetching the nodes it lacks a window
 * ahead of where it is, then walks its chunks in file order through a window (the caller's plan, or the tree
 * itself), skipping every block already held (resumable); finds sources —
 * connected peers, the configured seeds and DHT providers of the root, each probed with a HAVE want — and
 * drives the pure Scheduler: it turns the scheduler's actions into wants and cancels on one ChunkSession per
 * source, and reports every block, DONT_HAVE, stall and disconnect back. Only a window of manifest nodes and of
 * chunks is known at once (`planAheadChunks` of each, and the last RECENT_CHUNKS received), and of the tree only
 * the path being walked and the nodes with manifest links below them (to walk each once), so memory does not grow
 * with the number of chunks or files of the root.
 * Every block is verified against its CID before it is stored; a peer that sends bytes that fail is
 * disconnected, penalized and never asked again in this download.
 */
import { Scheduler } from '../../src/exchange/scheduler.ts'
import { DAG_CBOR_CODE, CidSet, cidKey, verifyBlock } from '../../src/cid.ts'
import { decodeNode } from '../../src/manifest/format.ts'
import { walkChunkLinks, childPath, showPath, WalkPacer } from '../../src/manifest/reader.ts'
import { TreeLimitError } from '../../src/errors.ts'
import { MAX_DIR_DEPTH, MAX_PART_DEPTH } from '../../protocol/limits.ts'
import { FetchFailedError, PeerPenalizedError, ProtocolViolationError } from './errors.ts'
import { deferred, Pulse, macrotask } from '../deferred.ts'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { AbortOptions, PeerId, Logger } from '@libp2p/interface'
import type { Order, SchedulerAction } from '../../src/exchange/scheduler.ts'
import type { ManifestNode } from '../../src/manifest/format.ts'
import type { Deferred } from '../deferred.ts'
import type { ChunkExchange, ChunkSession, NetworkBlockstore, PresenceKind } from './chunk-exchange.ts'
import type { SwarmRegistry } from './swarm.ts'
import type { PeerHello } from './hello.ts'
import type { FetchSource, NetworkObserver } from './observer.ts'

/** A probe (HAVE want for the root) must be answered within this. */
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000
/** DHT provider search per discovery round. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 30_000
/** Discovery rounds before a download with no usable source fails. */
export const DEFAULT_MAX_DISCOVERY_ROUNDS = 3
/** Pause between discovery rounds. */
export const DEFAULT_REDISCOVERY_DELAY_MS = 500
/** Scheduler charge for a manifest node not yet fetched (its size is unknown until it arrives). */
export const MANIFEST_ESTIMATE_BYTES = 64 * 1024
/** Minimum interval between progress callbacks. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 200
/** Rate and ETA are measured over this trailing window. */
export const RATE_WINDOW_MS = 3_000
/**
 * A seed that has the root waits this long at most for the probes of other peers, so that they — not the
 * seed, the fallback — get the first wants.
 */
export const DEFAULT_SEED_GRACE_MS = 2_000
/** Local `has` checks run this many at once while walking a manifest. */
const HAS_CONCURRENCY = 32
/**
 * Manifest nodes without manifest links (a file's chunk list, a small file) the walk remembers having read, the
 * latest first: a leaf that the tree names again soon (a part of 8,192 links repeated 8,192 times, the empty file a
 * zip bomb repeats) is read once, not once per link, and a tree of a million distinct files does not keep them all.
 */
export const WALK_LEAF_MEMO = 1024
/**
 * Chunks planned and not yet received, at most, and as many manifest nodes asked for ahead of the walk of the tree:
 * more than the peers' windows can hold in flight (64 MiB each, 64 KiB chunks at the smallest profile's average),
 * so planning never starves a fast source.
 */
export const DEFAULT_PLAN_AHEAD_CHUNKS = 4096
/**
 * Received chunks the download still recognises: a block that a hedged or cancelled want still brings is
 * dropped quietly within this many, where one for a chunk never asked for is a protocol violation.
 */
const RECENT_CHUNKS = 4096
/**
 * When only chunks no source offers are left but a partial holder (a peer fetching the root too) is a source, the
 * download waits this long for it to announce them before it looks for other sources and then fails.
 */
export const DEFAULT_PARTIAL_WAIT_MS = 30_000
/** A plan that has not produced its next chunk for this long is waiting (see Scheduler.setPlanWaiting). */
const PLAN_STALL_MS = 50

export interface FetchOptions extends AbortOptions {
  /** Cap on the download rate, bytes per second, across all sources. */
  maxRateBytesPerSec?: number
  /** A source that delivers nothing for this long stalls when no other source's pace says sooner. @default DEFAULT_STALL_TIMEOUT_MS (scheduler.ts) */
  stallTimeoutMs?: number
  /** 'manifests': fetch only the manifest nodes of the root (to lay out its output before the chunks come) @default 'all' */
  scope?: 'all' | 'manifests'
  /**
   * The chunks to fetch, in the order they are wanted, once the manifests are all held; a chunk may occur more
   * than once. The download takes the next one while fewer than `planAheadChunks` are outstanding.
   * @default every chunk of the root, in file order
   */
  plan?: AsyncIterable<{ cid: CID, length: number }>
  /** How long only chunks no source offers may be left while partial holders are sources. @default DEFAULT_PARTIAL_WAIT_MS */
  partialWaitMs?: number
  /** Chunks planned and not yet received, at most; manifest nodes asked for and not yet received, at most. @default DEFAULT_PLAN_AHEAD_CHUNKS */
  planAheadChunks?: number
  /**
   * Each chunk of the plan (a chunk that occurs twice may be reported twice): fetched now (`bytes` verified
   * against `cid`; the hook runs once they are stored) or already held (`bytes` undefined). Either way the chunk
   * is in the repo when the hook runs. A fetched chunk counts as received only once the hook has settled; a hook
   * that throws fails the download.
   */
  onChunk?(cid: CID, bytes?: Uint8Array | Uint8ArrayList): Promise<void> | void
  onProgress?(progress: FetchProgress): void
  /**
   * Peers asked first, in every discovery round, whether or not they announced the root or are connected yet: a
   * pusher, which a seed fetches from (node/net/seed.ts). They are probed like any source and, not being seeds,
   * get the first wants.
   */
  prefer?: PeerId[]
}

export interface FetchProgress {
  /** content bytes of the root held now (fetched + local): the shape of the CLI's other progress reports */
  bytes: number
  /** = bytes_total */
  total: number
  root: string
  /** content bytes of the root (0 until its manifest is known) */
  bytes_total: number
  /** chunk bytes received over the network */
  bytes_fetched: number
  /** chunk bytes already held when the download started */
  bytes_local: number
  blocks_fetched: number
  blocks_local: number
  /** manifest nodes received over the network: the progress of a tree's layout, before its bytes are known */
  manifests_fetched: number
  manifest_bytes_fetched: number
  /** over the last few seconds */
  rate_bytes_per_sec: number
  /** seconds left at the current rate; undefined while the rate is 0 */
  eta_sec?: number
  /** chunk bytes received from each peer */
  sources: Record<string, number>
  /** sources that said they have the root and are not excluded */
  peers: number
  in_flight: number
}

export interface FetchReport {
  root: string
  bytes_total: number
  bytes_fetched: number
  bytes_local: number
  blocks_fetched: number
  blocks_local: number
  /** manifest node bytes received over the network (not part of bytes_total) */
  manifest_bytes_fetched: number
  duration_ms: number
  sources: Record<string, number>
  /** peers dropped from this download, with the reason */
  excluded: Record<string, string>
}

export interface ProviderInfo {
  id: PeerId
  seed?: boolean
}

/** What a download needs from the node around it. */
export interface DownloadContext {
  self: PeerId
  blockstore: NetworkBlockstore
  exchange: ChunkExchange
  /** peers connected now with a successful hello */
  connected(): Array<{ peer: PeerId, hello: PeerHello }>
  /** the configured seeds, dialed; failures are reported through `onError` */
  seeds(options: AbortOptions): AsyncIterable<ProviderInfo>
  /** DHT providers of `cid`, addresses already in the peer store */
  providers(cid: CID, options: AbortOptions): AsyncIterable<ProviderInfo>
  /** connect (if needed) and wait for the hello exchange */
  ready(peer: PeerId, options: AbortOptions): Promise<PeerHello>
  isLan(peer: PeerId): boolean
  /** count `points` against the peer (bytes that failed verification: enough to ban it) */
  punish(peer: PeerId, reason: string, points: 'violation' | 'ban'): void
  /** told of every block verified or refused (the daemon's metrics) */
  observer?: NetworkObserver
  /**
   * The downloads running on this node by root: this one joins it, so that a peer asking for its root is told it
   * holds part (PARTIAL), gets have-updates, and is asked in return (issue 19). None: a download on its own.
   */
  swarm?: Pick<SwarmRegistry, 'join'>
  log: Logger
}

/** A download in flight as `transfers()` lists it: counts only; rates are the caller's to derive from two of them. */
export interface TransferSnapshot {
  root: string
  /** ms since the epoch when the download began */
  started: number
  bytes_total: number
  bytes_fetched: number
  bytes_local: number
  manifests_fetched: number
  /** chunk bytes received from each peer */
  sources: Record<string, number>
  peers: number
  in_flight: number
  /** chunks and manifest nodes the download holds now (asked for, or received and being stored): its window */
  window_items: number
}

/** A manifest node to walk, with where it sits: its order among its siblings, and its depth and path for the limits. */
interface TreeLink {
  cid: CID
  order: Order
  /** a chunk root's length when known */
  bytes?: number
  /** the directory level it belongs to (the root directory is 1) */
  level: number
  /** part levels above it (a file 0) */
  partDepth: number
  path: string
  /** found in the repo (and held for this download) while looking ahead */
  held?: boolean
}

/** A manifest node being walked: its manifest links, the next to walk, and how far ahead they have been looked up. */
interface Frame {
  links: TreeLink[]
  next: number
  ahead: number
}

interface Source {
  peer: PeerId
  session?: ChunkSession
  /** what the session had received when the last block from it came */
  bytesAtBlock: number
  probe?: Deferred<'have' | 'partial' | false>
  state: 'probing' | 'active' | 'closed'
  /** what kind of source it is, once its hello is known */
  kind?: FetchSource
}

export class Download {
  private readonly ctx: DownloadContext
  private readonly root: CID
  private readonly options: FetchOptions
  private readonly scheduler: Scheduler
  private readonly planAheadChunks: number
  /** the blocks asked for, until they are received and stored */
  private readonly cids = new Map<string, CID>()
  /** manifest nodes asked for and not yet stored: the walk waits on them */
  private readonly arriving = new Map<string, Deferred<void>>()
  /**
   * the manifest nodes with manifest links that the walk has entered: each subtree is walked once, however often the
   * tree names it. A node without any (a small file) is kept only among the latest WALK_LEAF_MEMO (`leaves`).
   */
  private readonly seen = new CidSet()
  private readonly leaves = new Set<string>()
  /** the walk of the manifest tree is over (every node it reached is held, or asked for) */
  private walked = false
  private readonly sources = new Map<string, Source>()
  private readonly errors: Error[] = []
  private readonly excluded: Record<string, string> = {}
  private readonly finished = deferred<void>()
  private readonly stop = new AbortController()
  /** rejects once the download stops: what the walk's waits race with */
  private readonly stopped = Download.rejectedOn(this.stop.signal)
  private readonly rateSamples: Array<{ at: number, bytes: number }> = []
  private readonly started = performance.now()
  private readonly startedAt = Date.now()
  private bytesTotal = 0
  private bytesFetched = 0
  private bytesLocal = 0
  private blocksFetched = 0
  private blocksLocal = 0
  private manifestBytesFetched = 0
  private manifestsFetched = 0
  private readonly perSource: Record<string, number> = {}
  private manifestsOutstanding = 0
  private planning = false
  private planned = false
  /** orders the plan's chunks after one another */
  private planSeq = 0
  /** received blocks by key, oldest first (a Map keeps its order), forgotten beyond RECENT_CHUNKS */
  private readonly recent = new Map<string, CID>()
  /** settles when a planned chunk is received or the download ends */
  private readonly planRoom = new Pulse()
  /** block handlers between "accepted by the scheduler" and "stored and expanded" */
  private busy = 0
  private probing = 0
  /** probes of sources not known to be seeds */
  private peerProbing = 0
  private peerProbesSettled = deferred<void>()
  private discovering = false
  private discoveryRounds = 0
  private timer?: ReturnType<typeof setTimeout>
  private pumpQueued = false
  private lastProgressAt = -Infinity
  private settled = false
  /** since when only items no source offers are left (performance.now()) */
  private stuckSince?: number
  /** chunks found already held, the most recent RECENT_CHUNKS: offered to the swarm with those received */
  private readonly heldLocally: CID[] = []
  /** serving streams of peers that asked for this root, told of each chunk stored */
  private readonly haveListeners = new Set<(cids: CID[]) => void>()

  constructor (ctx: DownloadContext, root: CID, options: FetchOptions = {}) {
    this.ctx = ctx
    this.root = root
    this.options = options
    // random: peers fetching one root together each start somewhere else in it (rarest first, random start)
    this.scheduler = new Scheduler({ maxRateBytesPerSec: options.maxRateBytesPerSec, stallTimeoutMs: options.stallTimeoutMs, random: Math.random })
    this.planAheadChunks = options.planAheadChunks ?? DEFAULT_PLAN_AHEAD_CHUNKS
  }

  /**
   * A promise that rejects once `signal` aborts, for waits to race with; handled from the start, so that a download
   * stopped before any wait (cancelled as it starts) leaves no unhandled rejection, which ends the daemon.
   */
  private static rejectedOn (signal: AbortSignal): Promise<never> {
    const p = new Promise<never>((_resolve, reject) => {
      signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
    })
    p.catch(() => {})
    return p
  }

  async run (): Promise<FetchReport> {
    const onAbort = (): void => {
      const reason = this.options.signal?.reason ?? new Error('aborted')
      this.fail(reason)
      this.stop.abort(reason)
    }
    this.options.signal?.addEventListener('abort', onAbort, { once: true })
    const leave = this.ctx.swarm?.join(this.root, {
      held: () => [...this.heldLocally, ...[...this.recent.values()].filter(c => c.code !== DAG_CBOR_CODE)].slice(-RECENT_CHUNKS),
      subscribe: (listener) => {
        this.haveListeners.add(listener)
        return () => { this.haveListeners.delete(listener) }
      },
      probed: (peer) => { this.addSource({ id: peer }) }
    })
    try {
      this.options.signal?.throwIfAborted()
      await this.walkManifests().catch((err: Error) => {
        this.fail(err)
        throw err
      })
      this.walked = true
      this.startPlan()
      this.checkAllKnown()
      if (!this.scheduler.done) {
        this.schedulePump()
        await this.finished.promise
      }
      this.emitProgress(true)
      return this.report()
    } finally {
      leave?.()
      this.haveListeners.clear()
      this.settled = true
      this.planRoom.notify()
      this.options.signal?.removeEventListener('abort', onAbort)
      this.stop.abort()
      clearTimeout(this.timer)
      for (const source of this.sources.values()) source.session?.close()
    }
  }

  /** Where the download is now (the dashboard's transfers panel). */
  snapshot (): TransferSnapshot {
    return {
      root: this.root.toString(),
      started: this.startedAt,
      bytes_total: this.bytesTotal,
      bytes_fetched: this.bytesFetched,
      bytes_local: this.bytesLocal,
      manifests_fetched: this.manifestsFetched,
      sources: { ...this.perSource },
      peers: this.scheduler.usablePeers().length,
      in_flight: this.scheduler.inFlight,
      window_items: this.scheduler.known
    }
  }

  private report (): FetchReport {
    return {
      root: this.root.toString(),
      bytes_total: this.bytesTotal,
      bytes_fetched: this.bytesFetched,
      bytes_local: this.bytesLocal,
      blocks_fetched: this.blocksFetched,
      blocks_local: this.blocksLocal,
      manifest_bytes_fetched: this.manifestBytesFetched,
      duration_ms: Math.round(performance.now() - this.started),
      sources: { ...this.perSource },
      excluded: { ...this.excluded }
    }
  }

  /**
   * Walk the manifest tree depth-first in file order, one path of nodes at a time (a stack of frames, each a node's
   * manifest links): a node held is read from the repo, one missing is asked for and waited on. Ahead of the walk,
   * the links of the frames on the stack (the deepest first) are looked up in the repo and those missing asked for,
   * up to `planAheadChunks` manifest nodes outstanding, so that a tree of many files arrives at the pace of a window,
   * not of one round trip per node. Each node with manifest links is entered once, and a link beyond MAX_DIR_DEPTH or
   * MAX_PART_DEPTH fails the download before it is asked for. Below the root only manifest nodes are walked; the
   * chunks come from the plan. A raw root is the download's only chunk, asked for here.
   */
  private async walkManifests (): Promise<void> {
    const root: TreeLink = { cid: this.root, order: [], level: 0, partDepth: 0, path: '' }
    if (this.root.code !== DAG_CBOR_CODE) {
      if (this.options.scope === 'manifests') return
      if (await this.ctx.blockstore.hold(this.root, { signal: this.stop.signal })) this.blocksLocal++
      else this.request(root)
      return
    }
    const frames: Frame[] = [{ links: this.linksOf(this.root, await this.nodeBytes(root), root), next: 0, ahead: 0 }]
    // a tree of nodes held (or seen) is walked without waiting on the network: let timers and I/O in now and then
    const pacer = new WalkPacer({ signal: this.stop.signal, pause: macrotask })
    while (frames.length > 0) {
      await pacer.step()
      await this.lookAhead(frames)
      const top = frames[frames.length - 1]
      if (top.next >= top.links.length) {
        frames.pop()
        continue
      }
      const link = top.links[top.next++]
      if (this.seen.has(link.cid) || this.leaves.has(cidKey(link.cid))) continue
      const links = this.linksOf(link.cid, await this.nodeBytes(link), link)
      if (links.length === 0) {
        this.leaves.add(cidKey(link.cid))
        if (this.leaves.size > WALK_LEAF_MEMO) this.leaves.delete(this.leaves.values().next().value as string)
        continue
      }
      this.seen.add(link.cid)
      frames.push({ links, next: 0, ahead: 0 })
    }
  }

  /**
   * Look up the links ahead of the walk, the deepest frame first, and ask for those not held while fewer than
   * `planAheadChunks` manifest nodes are outstanding. Each link is looked up once.
   */
  private async lookAhead (frames: Frame[]): Promise<void> {
    for (let f = frames.length - 1; f >= 0; f--) {
      const frame = frames[f]
      frame.ahead = Math.max(frame.ahead, frame.next)
      while (frame.ahead < frame.links.length && this.manifestsOutstanding < this.planAheadChunks) {
        const end = Math.min(frame.links.length, frame.ahead + HAS_CONCURRENCY, frame.ahead + this.planAheadChunks - this.manifestsOutstanding)
        const batch = frame.links.slice(frame.ahead, end).filter(l => !this.seen.has(l.cid) && !this.leaves.has(cidKey(l.cid)) && !this.arriving.has(cidKey(l.cid)))
        frame.ahead = end
        const held = await Promise.all(batch.map(async l => await this.ctx.blockstore.hold(l.cid, { signal: this.stop.signal })))
        for (let j = 0; j < batch.length; j++) {
          if (held[j]) batch[j].held = true
          else if (!this.arriving.has(cidKey(batch[j].cid))) this.request(batch[j])
        }
      }
      if (this.manifestsOutstanding >= this.planAheadChunks) return
    }
  }

  /** The bytes of a manifest node: read from the repo, or asked for (when missing or quarantined) and waited on. */
  private async nodeBytes (link: TreeLink): Promise<Uint8Array> {
    const key = cidKey(link.cid)
    for (;;) {
      const arriving = this.arriving.get(key)
      if (arriving != null) {
        await Promise.race([arriving.promise, this.finished.promise, this.stopped])
        continue
      }
      if (link.held === true || await this.ctx.blockstore.hold(link.cid, { signal: this.stop.signal })) {
        link.held = false
        const block = await this.ctx.blockstore.get(link.cid, { signal: this.stop.signal }).catch((err: Error) => {
          // quarantined by the blockstore: fetch it again (self-healing)
          if (err.name === 'VerificationError' || err.name === 'NotFoundError') return undefined
          throw err
        })
        if (block != null) return block
      }
      this.request(link)
    }
  }

  /** Ask for a block the download lacks: a manifest node (the walk waits on it) or a raw root. */
  private request (link: TreeLink): void {
    const key = cidKey(link.cid)
    this.cids.set(key, link.cid)
    if (link.cid.code === DAG_CBOR_CODE) {
      this.manifestsOutstanding++
      this.arriving.set(key, deferred<void>())
    }
    // a block received earlier in this download and lost since (quarantined) is asked for again
    this.recent.delete(key)
    this.scheduler.forget(key)
    this.scheduler.add([{ key, bytes: link.bytes ?? MANIFEST_ESTIMATE_BYTES, order: link.order }])
    this.wantSources()
    this.schedulePump()
  }

  /** The manifest links of a node to walk next, each at its depth; a link beyond the limits fails the walk. */
  private linksOf (cid: CID, bytes: Uint8Array, at: TreeLink): TreeLink[] {
    const node = decodeNode(cid, bytes)
    if (at.order.length === 0 && (node.type === 'file' || node.type === 'dir')) this.bytesTotal = node.size
    const level = at.order.length === 0 && node.type === 'dir' ? 1 : at.level
    const out: TreeLink[] = []
    const links = childLinks(node)
    for (let i = 0; i < links.length; i++) {
      const l = links[i]
      if (l.cid.code !== DAG_CBOR_CODE) continue
      const child: TreeLink = { cid: l.cid, bytes: l.bytes, order: [...at.order, i], level, partDepth: 0, path: l.name !== undefined ? childPath(at.path, l.name) : at.path }
      if (l.kind === 'dir') child.level = level + 1
      if (node.type === 'file' || node.type === 'part') child.partDepth = at.partDepth + 1
      if (child.level > MAX_DIR_DEPTH) this.tooDeep(new TreeLimitError(`directory ${l.cid} at ${showPath(child.path)} of ${this.root} is deeper than ${MAX_DIR_DEPTH} directory levels (MAX_DIR_DEPTH)`))
      if (child.partDepth > MAX_PART_DEPTH) this.tooDeep(new TreeLimitError(`file ${showPath(at.path)} of ${this.root} has more than ${MAX_PART_DEPTH} levels of part nodes (MAX_PART_DEPTH) at ${l.cid}`))
      out.push(child)
    }
    return out
  }

  /** A tree beyond the limits: the download fails with `err` (which the walk throws as well, to stop there). */
  private tooDeep (err: TreeLimitError): never {
    this.fail(err)
    throw err
  }

  private checkAllKnown (): void {
    this.scheduler.setAllKnown(this.walked && this.manifestsOutstanding === 0 && (this.options.scope === 'manifests' || this.planned))
  }

  /** Once every manifest node is held, take the chunks from the plan (in the background). */
  private startPlan (): void {
    // a raw root is the download's only chunk, fetched with the manifests
    if (this.root.code !== DAG_CBOR_CODE) this.planned = true
    if (this.planned || this.planning || !this.walked || this.manifestsOutstanding > 0 || this.options.scope === 'manifests') return
    this.planning = true
    this.takePlan().catch((err: Error) => { this.fail(err) })
  }

  private async takePlan (): Promise<void> {
    const getBlock = async (cid: CID): Promise<Uint8Array> => await this.ctx.blockstore.get(cid, { signal: this.stop.signal })
    // without a plan, each chunk is wanted once: a subtree the tree names again has nothing more to fetch
    const plan = (this.options.plan ?? walkChunkLinks(getBlock, this.root, { unique: true, signal: this.stop.signal, pause: macrotask }))[Symbol.asyncIterator]()
    // chunks being looked up in the repo, a few at once: one at a time, each `has` waited in the thread pool
    // behind the block writes, and the plan fell behind the download
    const taking = new Set<Promise<void>>()
    try {
      for (;;) {
        while (this.scheduler.outstanding >= this.planAheadChunks && !this.settled) await this.waitForPlanRoom()
        if (this.settled) return
        // a plan that holds back its next chunk for a while (the output's window waits for its head) lets the
        // scheduler hedge the stragglers it waits for
        const next = plan.next()
        const timer = setTimeout(() => {
          this.scheduler.setPlanWaiting(true)
          this.schedulePump()
        }, PLAN_STALL_MS)
        let step
        try {
          step = await next
        } finally {
          clearTimeout(timer)
          this.scheduler.setPlanWaiting(false)
        }
        if (step.done === true || this.settled) break
        const took: Promise<void> = this.takeChunk(step.value.cid, step.value.length, this.planSeq++).finally(() => taking.delete(took))
        taking.add(took)
        if (taking.size >= HAS_CONCURRENCY) await Promise.race(taking)
      }
      await Promise.all(taking)
      this.planned = true
      this.checkAllKnown()
      this.schedulePump()
    } finally {
      await Promise.allSettled(taking)
      if (this.settled) await plan.return?.(undefined)
    }
  }

  private async waitForPlanRoom (): Promise<void> {
    this.scheduler.setPlanWaiting(true)
    this.schedulePump()
    await this.planRoom.wait()
    this.scheduler.setPlanWaiting(false)
  }

  /** A chunk of the plan, number `seq`: on its way already, held (reported as local), or one more to fetch. */
  private async takeChunk (cid: CID, length: number, seq: number): Promise<void> {
    const key = cidKey(cid)
    // asked for already: its block goes through onChunk when it comes
    if (this.scheduler.isOutstanding(key)) return
    // received (and maybe still being stored)
    const received = this.cids.has(key) || this.recent.has(key)
    const held = await this.ctx.blockstore.hold(cid, { signal: this.stop.signal })
    // received and still being stored: onChunk sees it once it is
    if (received && !held) return
    if (held) {
      if (!received) {
        this.blocksLocal++
        this.bytesLocal += length
        this.heldLocally.push(cid)
        if (this.heldLocally.length > RECENT_CHUNKS) this.heldLocally.shift()
        this.announce(cid)
      }
      await this.options.onChunk?.(cid)
      return
    }
    this.cids.set(key, cid)
    this.scheduler.add([{ key, bytes: length, order: [seq] }])
    this.wantSources()
    this.schedulePump()
  }

  /** Look for sources once the download has something to fetch: one held entirely asks no one. */
  private wantSources (): void {
    if (this.discoveryRounds > 0 || this.discovering) return
    this.discover()
  }

  private discover (): void {
    if (this.discovering || this.settled) return
    this.discovering = true
    this.discoveryRounds++
    const signal = AbortSignal.any([this.stop.signal, AbortSignal.timeout(DEFAULT_DISCOVERY_TIMEOUT_MS)])
    const round = async (): Promise<void> => {
      for (const peer of this.options.prefer ?? []) this.addSource({ id: peer })
      for (const { peer, hello } of this.ctx.connected()) this.addSource({ id: peer, seed: hello.roles.includes('seed') })
      await Promise.allSettled([
        (async () => { for await (const p of this.ctx.seeds({ signal })) this.addSource({ ...p, seed: true }) })(),
        (async () => { for await (const p of this.ctx.providers(this.root, { signal })) this.addSource(p) })()
      ]).then(results => {
        for (const r of results) if (r.status === 'rejected' && !this.stop.signal.aborted) this.errors.push(r.reason as Error)
      })
    }
    round().finally(() => {
      this.discovering = false
      this.schedulePump()
    }).catch(() => {})
  }

  private addSource (info: ProviderInfo): void {
    const key = info.id.toString()
    if (this.settled || info.id.equals(this.ctx.self)) return
    const known = this.sources.get(key)
    if (known != null && known.state !== 'closed') return
    if (this.excluded[key] != null) return
    const source: Source = { peer: info.id, state: 'probing', bytesAtBlock: 0 }
    this.sources.set(key, source)
    this.probing++
    const counted = { peer: info.seed !== true }
    if (counted.peer) this.peerProbing++
    this.probeSource(source, info, counted).catch((err: Error) => {
      source.state = 'closed'
      source.session?.close()
      if (!this.stop.signal.aborted) this.errors.push(new Error(`${key}: ${err.message}`))
    }).finally(() => {
      this.probing--
      this.peerProbeDone(counted)
      this.schedulePump()
    })
  }

  private peerProbeDone (counted: { peer: boolean }): void {
    if (!counted.peer) return
    counted.peer = false
    if (--this.peerProbing === 0) {
      this.peerProbesSettled.resolve()
      this.peerProbesSettled = deferred<void>()
    }
  }

  /** Seeds are the fallback: let the probes of other peers finish first (bounded by DEFAULT_SEED_GRACE_MS). */
  private async seedGrace (): Promise<void> {
    if (this.peerProbing === 0) return
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      this.peerProbesSettled.promise,
      new Promise<void>(resolve => { timer = setTimeout(resolve, DEFAULT_SEED_GRACE_MS) })
    ])
    clearTimeout(timer)
  }

  private async probeSource (source: Source, info: ProviderInfo, counted: { peer: boolean }): Promise<void> {
    const key = source.peer.toString()
    const signal = AbortSignal.any([this.stop.signal, AbortSignal.timeout(DEFAULT_PROBE_TIMEOUT_MS)])
    const hello = await this.ctx.ready(source.peer, { signal })
    const seed = info.seed === true || hello.roles.includes('seed')
    source.kind = seed ? 'seed' : this.ctx.isLan(source.peer) ? 'lan' : 'wan'
    if (seed) this.peerProbeDone(counted)
    const probe = deferred<'have' | 'partial' | false>()
    source.probe = probe
    source.session = await this.ctx.exchange.openSession(source.peer, {
      onBlock: async (cid, bytes) => { await this.onBlock(source, cid, bytes) },
      onPresence: (cid, have, kind) => { this.onPresence(source, cid, have, kind) },
      onClose: (err) => { this.onSessionClose(source, err) }
    }, { signal })
    source.session.want([this.root], 'have')
    const onAbort = (): void => { source.probe?.reject(new Error(`no answer to the probe for ${this.root.toString()} in time`)) }
    signal.addEventListener('abort', onAbort, { once: true })
    let have: 'have' | 'partial' | false
    try {
      have = await probe.promise
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    if (have !== false && seed) await this.seedGrace()
    if (have === false || this.settled || source.session.isClosed) {
      source.state = 'closed'
      source.session.close()
      return
    }
    const added = this.scheduler.addPeer(key, {
      lan: this.ctx.isLan(source.peer),
      seed,
      maxOutstandingWants: hello.limits.maxOutstandingWants,
      maxInFlightBytes: hello.limits.maxInFlightBytes,
      // fetching the root itself: asked for what it announces in its have-updates
      partial: have === 'partial'
    }, performance.now())
    source.state = added ? 'active' : 'closed'
    if (!added) source.session.close()
  }

  private onPresence (source: Source, cid: CID, have: boolean, kind: PresenceKind): void {
    if (source.probe != null && cid.equals(this.root) && source.state === 'probing') {
      source.probe.resolve(kind === 'partial' ? 'partial' : have ? 'have' : false)
      return
    }
    const peer = source.peer.toString()
    // a have-update: a peer of the swarm got this chunk; a deferral: a seed sent it to one of them
    if (kind === 'defer') this.scheduler.defer(peer, cidKey(cid), performance.now())
    else if (have) this.scheduler.have(peer, [cidKey(cid)])
    else this.scheduler.dontHave(peer, cidKey(cid))
    this.schedulePump()
  }

  /** Tell the peers of the swarm following this download (their serving streams) that `cid` is held here now. */
  private announce (cid: CID): void {
    for (const listener of this.haveListeners) listener([cid])
  }

  private onSessionClose (source: Source, err?: Error): void {
    const key = source.peer.toString()
    source.probe?.reject(err ?? new Error('stream closed'))
    const wasActive = source.state === 'active'
    source.state = 'closed'
    if (err != null && !this.settled) {
      this.ctx.log('source %p of %c failed: %s', source.peer, this.root, err.message)
      this.errors.push(new Error(`${key}: ${err.message}`))
    }
    // the exchange has penalized it (and hung up), for this stream or another: it is not asked again in this download
    if (err instanceof ProtocolViolationError || err instanceof PeerPenalizedError) {
      this.excluded[key] ??= err.message
      this.scheduler.invalid(key, err.message)
      this.schedulePump()
      return
    }
    if (wasActive) {
      this.scheduler.removePeer(key)
      this.schedulePump()
    }
  }

  private async onBlock (source: Source, cid: CID, bytes: Uint8ArrayList): Promise<void> {
    const key = source.peer.toString()
    const blockKey = cidKey(cid)
    if (this.settled) return
    source.bytesAtBlock = source.session?.bytesReceived ?? 0
    if (!this.cids.has(blockKey)) {
      // a block that a hedged or cancelled want still brings
      if (this.recent.has(blockKey)) return
      this.reject(source, `sent block ${cid.toString()}, which this download never asked for`, 'violation')
      return
    }
    if (!verifyBlock(cid, bytes)) {
      this.ctx.observer?.verificationFailed(source.peer)
      this.reject(source, `sent bytes for ${cid.toString()} that fail BLAKE3 verification`, 'ban')
      return
    }
    this.ctx.observer?.blockVerified(source.peer, bytes.byteLength, cid.code === DAG_CBOR_CODE ? 'manifest' : 'chunk', source.kind ?? 'wan')
    if (!this.scheduler.received(key, blockKey, bytes.byteLength, performance.now())) return
    this.busy++
    try {
      // a fetched chunk goes to the disk anyway and is not read back by this download: skip the page cache.
      // Stored before onChunk sees it, so that whoever is told of a chunk can read it from the repo.
      await this.ctx.blockstore.put(cid, bytes, { trusted: true, direct: true, inline: true, signal: this.stop.signal })
      if (cid.code === DAG_CBOR_CODE) {
        this.manifestBytesFetched += bytes.byteLength
        this.manifestsFetched++
        this.manifestsOutstanding--
        this.remember(blockKey)
        this.arriving.get(blockKey)?.resolve()
        this.arriving.delete(blockKey)
        this.startPlan()
        this.checkAllKnown()
      } else {
        this.announce(cid)
        await this.options.onChunk?.(cid, bytes)
        this.blocksFetched++
        this.bytesFetched += bytes.byteLength
        this.perSource[key] = (this.perSource[key] ?? 0) + bytes.byteLength
        if (cid.equals(this.root)) this.bytesTotal = bytes.byteLength
        this.remember(blockKey)
      }
    } catch (err) {
      this.fail(err as Error)
    } finally {
      this.busy--
    }
    this.emitProgress(false)
    this.schedulePump()
  }

  /**
   * A received block, stored, leaves the window (the scheduler forgets it), making room in the plan; its key is
   * recognised for a while yet, so that a copy still on its way is dropped quietly.
   */
  private remember (key: string): void {
    const cid = this.cids.get(key)
    this.scheduler.forget(key)
    this.cids.delete(key)
    if (cid != null) this.recent.set(key, cid)
    if (this.recent.size > RECENT_CHUNKS) this.recent.delete(this.recent.keys().next().value as string)
    this.planRoom.notify()
  }

  private reject (source: Source, reason: string, penalty: 'violation' | 'ban'): void {
    const key = source.peer.toString()
    this.ctx.log('excluding %p from the download of %c: %s', source.peer, this.root, reason)
    this.excluded[key] = reason
    this.errors.push(new Error(`${key}: ${reason}`))
    this.scheduler.invalid(key, reason)
    source.state = 'closed'
    source.session?.close()
    this.ctx.punish(source.peer, reason, penalty)
    this.schedulePump()
  }

  private schedulePump (): void {
    if (this.pumpQueued || this.settled) return
    this.pumpQueued = true
    queueMicrotask(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  private pump (): void {
    if (this.settled) return
    const now = performance.now()
    for (const action of this.scheduler.poll(now)) this.apply(action)
    if (this.scheduler.done && this.busy === 0) {
      this.finished.resolve()
      return
    }
    if (!this.discovering && this.probing === 0 && this.busy === 0 && this.scheduler.outstanding > 0) {
      const noSource = this.scheduler.usablePeers().length === 0
      const onlyStuck = this.scheduler.inFlight === 0 && this.scheduler.pendingItems === 0 && this.scheduler.stuck().length > 0
      // a partial holder may yet announce what is stuck: wait for it, a while (partial holders that all wait for
      // each other, their source gone, must not wait for ever)
      if (!onlyStuck) this.stuckSince = undefined
      else this.stuckSince ??= now
      const partialWaitMs = this.options.partialWaitMs ?? DEFAULT_PARTIAL_WAIT_MS
      const waitForPartial = onlyStuck && this.scheduler.partialPeers > 0 && now - (this.stuckSince ?? now) < partialWaitMs
      if (waitForPartial) {
        clearTimeout(this.timer)
        this.timer = setTimeout(() => { this.schedulePump() }, (this.stuckSince ?? now) + partialWaitMs - now)
        return
      }
      if (noSource || onlyStuck) {
        if (this.discoveryRounds < DEFAULT_MAX_DISCOVERY_ROUNDS) {
          clearTimeout(this.timer)
          this.timer = setTimeout(() => { this.discover() }, DEFAULT_REDISCOVERY_DELAY_MS)
          return
        }
        const stuck = this.scheduler.stuck()
        const what = noSource
          ? `no reachable source has ${this.root.toString()}`
          : `no source has ${stuck.length} block(s) of ${this.root.toString()}, e.g. ${this.cids.get(stuck[0])?.toString() ?? ''}`
        const distinct = [...new Set(this.errors.map(e => e.message))]
        const causes = distinct.length > 0 ? `; errors: ${distinct.slice(0, 3).join('; ')}` : ''
        this.fail(new FetchFailedError(`${what} (asked ${this.sources.size} peer(s) over ${this.discoveryRounds} discovery round(s))${causes}`, this.errors))
        return
      }
    }
    clearTimeout(this.timer)
    const deadline = this.scheduler.nextDeadline(now)
    if (deadline != null) this.timer = setTimeout(() => { this.schedulePump() }, Math.max(0, deadline - now))
  }

  private apply (action: SchedulerAction): void {
    const source = this.sources.get(action.peer)
    if (action.type === 'drop') {
      const reason = action.stalledMs != null ? stallReason(action.peer, (source?.session?.bytesReceived ?? 0) - (source?.bytesAtBlock ?? 0), action.stalledMs) : action.reason
      this.ctx.log('dropping %s from the download of %c: %s', action.peer, this.root, reason)
      this.excluded[action.peer] ??= reason
      if (action.stalledMs != null) this.errors.push(new Error(reason))
      if (source != null) {
        source.state = 'closed'
        source.session?.close()
      }
      return
    }
    const session = source?.session
    if (session == null || session.isClosed) {
      this.scheduler.removePeer(action.peer)
      this.schedulePump()
      return
    }
    const cids = action.keys.map(k => this.cids.get(k)).filter((c): c is CID => c != null)
    if (action.type === 'want') session.want(cids, 'block')
    else session.cancel(cids)
  }

  private fail (err: Error): void {
    if (this.settled) return
    this.finished.reject(err)
    // unhandled-rejection guard: run() awaits the promise when it gets there
    this.finished.promise.catch(() => {})
  }

  private emitProgress (final: boolean): void {
    const onProgress = this.options.onProgress
    if (onProgress == null) return
    const now = performance.now()
    if (!final && now - this.lastProgressAt < DEFAULT_PROGRESS_INTERVAL_MS) return
    this.lastProgressAt = now
    this.rateSamples.push({ at: now, bytes: this.bytesFetched })
    while (this.rateSamples.length > 2 && now - this.rateSamples[0].at > RATE_WINDOW_MS) this.rateSamples.shift()
    const first = this.rateSamples[0]
    const rate = now > first.at ? (this.bytesFetched - first.bytes) / ((now - first.at) / 1000) : 0
    const left = Math.max(0, this.bytesTotal - this.bytesFetched - this.bytesLocal)
    onProgress({
      bytes: this.bytesFetched + this.bytesLocal,
      total: this.bytesTotal,
      root: this.root.toString(),
      bytes_total: this.bytesTotal,
      bytes_fetched: this.bytesFetched,
      bytes_local: this.bytesLocal,
      blocks_fetched: this.blocksFetched,
      blocks_local: this.blocksLocal,
      manifests_fetched: this.manifestsFetched,
      manifest_bytes_fetched: this.manifestBytesFetched,
      rate_bytes_per_sec: Math.round(rate),
      eta_sec: rate > 0 ? left / rate : undefined,
      sources: { ...this.perSource },
      peers: this.scheduler.usablePeers().length,
      in_flight: this.scheduler.inFlight
    })
  }
}

/** "peer 12D3KooW… sent 3 KB in 10.0 s: stalled" */
export function stallReason (peer: string, bytes: number, ms: number): string {
  const amount = bytes < 1000 ? `${bytes} B` : bytes < 1e6 ? `${Math.round(bytes / 1e3)} KB` : `${(bytes / 1e6).toFixed(1)} MB`
  return `peer ${peer} sent ${amount} in ${(ms / 1000).toFixed(1)} s: stalled`
}

/**
 * The blocks a manifest node links to, in order, with a chunk's length where the node states it, and an entry's
 * name and kind.
 */
export function childLinks (node: ManifestNode): Array<{ cid: CID, bytes?: number, name?: string, kind?: 'file' | 'dir' }> {
  switch (node.type) {
    case 'file':
    case 'part':
      if (node.chunks != null) return node.chunks.map(([cid, length]) => ({ cid, bytes: length }))
      return (node.parts ?? []).map(([cid]) => ({ cid }))
    case 'dir':
      if (node.entries != null) return node.entries.map(e => ({ cid: e[1], name: e[0], kind: e[3] }))
      return (node.parts ?? []).map(p => ({ cid: p[0] }))
    case 'dirpart':
      return node.entries.map(e => ({ cid: e[1], name: e[0], kind: e[3] }))
  }
}
