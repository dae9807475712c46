/**
 * The multi-source download scheduler (DESIGN §6) as a pure state machine: the shell reports what happened
 * (a peer joined, a block arrived, a peer said DONT_HAVE, sent bad bytes, went away) with the current time,
 * then calls `poll(now)` and carries out the actions it returns (send wants, send cancels, drop a peer).
 * No timers, no clock, no randomness: `nextDeadline()` says when `poll` must run again if nothing happens.
 *
 * Policy:
 * - Items (chunks and manifest nodes) are asked for rarest first (BEP 3 §"piece selection"): fewest partial holders
 *   (peers of the swarm fetching the same root, which announce what they got: `have`) first, then in an order drawn
 *   from the injected `random` (BitTorrent's random start, so that peers fetching together hold different chunks and
 *   have something to trade), then in file order (`order`, compared lexicographically; the only key without
 *   `random`), from a min-heap whose entries are re-pushed when a holder announces an item. The caller's window
 *   bounds which items are known, so the picking stays within it and the output can still be written in order.
 * - A partial holder (`PeerInit.partial`) is asked only for what it announced; a complete one (a seed, a peer that
 *   holds the whole root) for anything it did not answer DONT_HAVE for. An item no candidate with room can take is
 *   stepped over (at most MAX_SKIPS_PER_POLL a poll) while another peer has room, so a full seed does not hold back
 *   what partial holders could send.
 * - A seed may defer an item it sent to another peer of the swarm moments ago (super-seeding, BEP 16): the item
 *   goes to a holder that announces it, and back to that seed after `deferMs` (which then serves it) — so a deferral
 *   delays an item, never strands it.
 * - Each peer has a window of requested-but-not-received bytes, sized from its measured throughput (an
 *   exponentially weighted moving average) times `windowTargetMs`, so faster peers get more. A sample taken while
 *   the download had nothing more to ask a peer for may raise its estimate, never lower it.
 * - Among peers with room, an item goes to the one expected to deliver it first; a WAN peer's estimate is
 *   multiplied by `wanCostFactor` (LAN preference). Seeds are the fallback: they get an item only when no
 *   non-seed peer that may have it is usable (none known, all said DONT_HAVE, all backing off or excluded).
 * - A peer that delivers nothing for its stall deadline has its wants moved to others, is scored down (each strike
 *   multiplies its expected delivery times when choosing peers) and backs off (exponentially, at most MAX_BACKOFF_MS); after
 *   `maxStrikes` stalls it is dropped for the download, unless it is a partial holder (a fetcher itself, often busy). The deadline comes from the other peers' pace when they give any (a straggler): the
 *   expected time of the peer's next item at the median rate of the other peers (measured, or idle at the prior
 *   rate), times `stragglerFactor`, and at least `stragglerMinMs`, as long as one of them is moving (idle, or
 *   delivering since this peer last did) and none of them counts while it stalled itself or backs off. With no peer to compare
 *   with it is `stallTimeoutMs` (or 3× the peer's own expected time for its largest want): a download that our
 *   own disk or CPU holds back has every peer slow at once, and none of them is a straggler then.
 *   A peer that sent bytes that failed verification, or broke the protocol, is excluded at once.
 * - Endgame: once every item is known (or the caller can add none for now) and none is pending, an in-flight
 *   item is hedged on a second peer when that peer would deliver it in less than half the time its holder still
 *   needs (work stealing for stragglers); the first copy to arrive wins and the other holder gets a cancel.
 * - An optional global rate cap is a token bucket charged when wants are sent.
 */
import { MinHeap } from './heap.ts'

/** Position of an item in the download: the path of link indices from the root, compared lexicographically. */
export type Order = readonly number[]

/** Window of a peer whose throughput is not measured yet. */
export const DEFAULT_INITIAL_WINDOW_BYTES = 16 * 1024 * 1024
/**
 * Smallest window once throughput is measured. Throughput is itself limited by the window (window ÷ the
 * peer's response latency), so a small floor would let one slow period shrink the window for good.
 */
export const DEFAULT_MIN_WINDOW_BYTES = 16 * 1024 * 1024
/** Largest window of any peer. */
export const DEFAULT_MAX_WINDOW_BYTES = 64 * 1024 * 1024
/** A window holds this much time of a peer's measured throughput. */
export const DEFAULT_WINDOW_TARGET_MS = 1000
/** Weight of the newest throughput sample in the moving average. */
export const DEFAULT_EWMA_ALPHA = 0.3
/** Throughput is sampled over at least this long, so bursts of small blocks do not read as infinite speed. */
export const DEFAULT_SAMPLE_MS = 25
/**
 * A busy peer that delivers nothing for this long (or 3× its expected time for its largest want) stalls, when no
 * other peer's pace says sooner.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 10_000
/** A straggler's deadline is never shorter than this. */
export const DEFAULT_STRAGGLER_MIN_MS = 1_000
/** A straggler is late by this many times the expected time of its next item at the other peers' median rate. */
export const DEFAULT_STRAGGLER_FACTOR = 4
/** Stalls before a peer is dropped from the download: a peer that stalls again is not asked again. */
export const DEFAULT_MAX_STRIKES = 2
/** Back-off after the first stall; doubles with each further stall. */
export const DEFAULT_BACKOFF_MS = 2_000
/** A WAN peer's expected delivery time is multiplied by this when choosing peers (LAN preference). */
export const DEFAULT_WAN_COST_FACTOR = 2
/** Assumed throughput of a peer not yet measured, when estimating delivery times (10 MB/s, in bytes/ms). */
export const DEFAULT_PRIOR_BYTES_PER_MS = 10_000
/** Extra holders an item may get in the endgame. */
export const DEFAULT_ENDGAME_HEDGES = 1
/** Burst allowance of the rate cap. */
export const DEFAULT_RATE_BURST_MS = 100
/**
 * A peer that deferred an item (DEFER presence) is asked for it again after this, if nobody else sent it first. The
 * peer the seed sent it to may still wait for it behind the seed's rate cap, then announces it in its next
 * have-update: 1 s was often too short for 3 peers behind a 4 MB/s seed, and the seed sent the chunk again.
 */
export const DEFAULT_DEFER_MS = 3_000
/** The longest back-off of a peer that stalls again and again (a partial holder, which is never dropped for it). */
export const MAX_BACKOFF_MS = 30_000
/** Pending items one poll may step over because none of their candidates has room. */
export const MAX_SKIPS_PER_POLL = 1024

export interface SchedulerInit {
  /** @default DEFAULT_INITIAL_WINDOW_BYTES */
  initialWindowBytes?: number
  /** @default DEFAULT_MIN_WINDOW_BYTES */
  minWindowBytes?: number
  /** @default DEFAULT_MAX_WINDOW_BYTES */
  maxWindowBytes?: number
  /** @default DEFAULT_WINDOW_TARGET_MS */
  windowTargetMs?: number
  /** @default DEFAULT_EWMA_ALPHA */
  ewmaAlpha?: number
  /** @default DEFAULT_SAMPLE_MS */
  sampleMs?: number
  /** @default DEFAULT_STALL_TIMEOUT_MS */
  stallTimeoutMs?: number
  /** @default DEFAULT_STRAGGLER_MIN_MS */
  stragglerMinMs?: number
  /** @default DEFAULT_STRAGGLER_FACTOR */
  stragglerFactor?: number
  /** @default DEFAULT_MAX_STRIKES */
  maxStrikes?: number
  /** @default DEFAULT_BACKOFF_MS */
  backoffMs?: number
  /** @default DEFAULT_WAN_COST_FACTOR */
  wanCostFactor?: number
  /** @default DEFAULT_PRIOR_BYTES_PER_MS */
  priorBytesPerMs?: number
  /** @default DEFAULT_ENDGAME_HEDGES */
  endgameHedges?: number
  /** Cap on the bytes asked for per second across all peers; unlimited when absent. */
  maxRateBytesPerSec?: number
  /** @default DEFAULT_RATE_BURST_MS */
  rateBurstMs?: number
  /** @default DEFAULT_DEFER_MS */
  deferMs?: number
  /**
   * Draws in [0, 1) that order equally rare items (the random start); items go in file order among equally rare
   * ones when absent. Injected: the core has no randomness of its own.
   */
  random?: () => number
}

export interface ItemInit {
  /** unique key, e.g. the CID string */
  key: string
  /** size in bytes (a chunk's length from its manifest); `estimateBytes` is charged when unknown */
  bytes: number
  order: Order
}

export interface PeerInit {
  lan: boolean
  seed: boolean
  /** wants this peer accepts at once (from hello) */
  maxOutstandingWants: number
  /** block bytes this peer accepts in flight (from hello) */
  maxInFlightBytes: number
  /** it holds part of the root (it is fetching it too): asked only for what it announced with `have` @default false */
  partial?: boolean
}

export type SchedulerAction =
  | { type: 'want', peer: string, keys: string[] }
  | { type: 'cancel', peer: string, keys: string[] }
  /** `stalledMs`: dropped for stalling, having delivered nothing for this long */
  | { type: 'drop', peer: string, reason: string, stalledMs?: number }

export interface PeerStats {
  id: string
  lan: boolean
  seed: boolean
  /** measured throughput, bytes per second; undefined until measured */
  bytesPerSec?: number
  windowBytes: number
  inFlight: number
  inFlightBytes: number
  receivedBytes: number
  strikes: number
  excluded: boolean
  gone: boolean
  partial: boolean
}

export interface SchedulerStats {
  pending: number
  inFlight: number
  done: number
  stuck: number
  peers: PeerStats[]
}

interface Item {
  key: string
  bytes: number
  order: Order
  state: 'pending' | 'inflight' | 'stuck' | 'done'
  /** peer → time the want was sent */
  holders: Map<string, number>
  /** partial peers that announced it */
  avail: number
  /** the random start's draw */
  prio: number
  /** bumped at each push into the pending heap: an entry of an older version is stale */
  ver: number
  /** a peer deferred it: not asked of that peer again before `deferUntil` */
  deferredBy?: string
  deferUntil: number
}

/** An item's place in the pending heap, as it was when pushed. */
interface Entry {
  item: Item
  ver: number
  avail: number
}

interface Peer {
  id: string
  lan: boolean
  seed: boolean
  maxWants: number
  maxBytes: number
  /** key → item, in the order the wants were sent (the order the peer answers them) */
  inflight: Map<string, Item>
  inflightBytes: number
  /** bytes per ms */
  rate?: number
  sampleStart: number
  sampleBytes: number
  /**
   * A poll during the current sample left this peer with room and nothing to ask it for: the sample measures
   * the download's demand, not the peer, so it may raise the rate but not lower it (BBR's app-limited rule).
   */
  sampleLimited: boolean
  /** last delivery, or when the peer last went from idle to busy */
  progressAt: number
  dontHave: Set<string>
  partial: boolean
  /** keys of known items a partial peer announced */
  has: Set<string>
  strikes: number
  backoffUntil: number
  excluded: boolean
  gone: boolean
  receivedBytes: number
}

export function compareOrder (a: Order, b: Order): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i]
  }
  return a.length - b.length
}

export class Scheduler {
  private readonly initialWindowBytes: number
  private readonly minWindowBytes: number
  private readonly maxWindowBytes: number
  private readonly windowTargetMs: number
  private readonly ewmaAlpha: number
  private readonly sampleMs: number
  private readonly stallTimeoutMs: number
  private readonly stragglerMinMs: number
  private readonly stragglerFactor: number
  private readonly maxStrikes: number
  private readonly backoffMs: number
  private readonly wanCostFactor: number
  private readonly priorBytesPerMs: number
  private readonly endgameHedges: number
  private readonly ratePerMs?: number
  private readonly rateBurstBytes: number

  private readonly deferMs: number
  private readonly random?: () => number

  private readonly items = new Map<string, Item>()
  private readonly pending = new MinHeap<Entry>((a, b) => a.avail !== b.avail
    ? a.avail < b.avail
    : a.item.prio !== b.item.prio ? a.item.prio < b.item.prio : compareOrder(a.item.order, b.item.order) < 0)
  /** pending items some peer deferred, for `nextDeadline` */
  private readonly deferred = new Set<Item>()
  private readonly stuckItems = new Set<Item>()
  private readonly peers = new Map<string, Peer>()
  private outbox: SchedulerAction[] = []
  private pendingCount = 0
  private inflightCount = 0
  private doneCount = 0
  private allKnown = false
  private planWaiting = false
  private tokens: number
  private tokensAt?: number
  /** tokens the next want waits for, when the rate cap held it back */
  private tokenNeed?: number

  constructor (init: SchedulerInit = {}) {
    this.initialWindowBytes = init.initialWindowBytes ?? DEFAULT_INITIAL_WINDOW_BYTES
    this.minWindowBytes = init.minWindowBytes ?? DEFAULT_MIN_WINDOW_BYTES
    this.maxWindowBytes = init.maxWindowBytes ?? DEFAULT_MAX_WINDOW_BYTES
    this.windowTargetMs = init.windowTargetMs ?? DEFAULT_WINDOW_TARGET_MS
    this.ewmaAlpha = init.ewmaAlpha ?? DEFAULT_EWMA_ALPHA
    this.sampleMs = init.sampleMs ?? DEFAULT_SAMPLE_MS
    this.stallTimeoutMs = init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
    this.stragglerMinMs = init.stragglerMinMs ?? DEFAULT_STRAGGLER_MIN_MS
    this.stragglerFactor = init.stragglerFactor ?? DEFAULT_STRAGGLER_FACTOR
    this.maxStrikes = init.maxStrikes ?? DEFAULT_MAX_STRIKES
    this.backoffMs = init.backoffMs ?? DEFAULT_BACKOFF_MS
    this.wanCostFactor = init.wanCostFactor ?? DEFAULT_WAN_COST_FACTOR
    this.priorBytesPerMs = init.priorBytesPerMs ?? DEFAULT_PRIOR_BYTES_PER_MS
    this.endgameHedges = init.endgameHedges ?? DEFAULT_ENDGAME_HEDGES
    this.ratePerMs = init.maxRateBytesPerSec != null ? init.maxRateBytesPerSec / 1000 : undefined
    this.rateBurstBytes = this.ratePerMs != null ? this.ratePerMs * (init.rateBurstMs ?? DEFAULT_RATE_BURST_MS) : 0
    this.tokens = this.rateBurstBytes
    this.deferMs = init.deferMs ?? DEFAULT_DEFER_MS
    this.random = init.random
  }

  /** Items to fetch. Keys already known are ignored. */
  add (items: Iterable<ItemInit>): void {
    for (const init of items) {
      if (this.items.has(init.key)) continue
      const item: Item = { key: init.key, bytes: init.bytes, order: init.order, state: 'pending', holders: new Map(), avail: 0, prio: this.random?.() ?? 0, ver: 0, deferUntil: 0 }
      this.items.set(item.key, item)
      this.pendingCount++
      this.pushPending(item)
    }
  }

  /** Whether every item of the download has been added (no manifest node still to expand): enables the endgame. */
  setAllKnown (allKnown: boolean): void {
    this.allKnown = allKnown
  }

  /**
   * Whether no more items can be added for now (the caller's plan waits for items to complete): the endgame's
   * hedging of stragglers runs then too, so a slow peer at the head of a window does not hold the window still.
   */
  setPlanWaiting (waiting: boolean): void {
    this.planWaiting = waiting
  }

  /** The item is known and not done: its block is still to come. */
  isOutstanding (key: string): boolean {
    const item = this.items.get(key)
    return item != null && item.state !== 'done'
  }

  /** Items held now (known and not yet forgotten): what the scheduler's memory grows with. */
  get known (): number {
    return this.items.size
  }

  /** Items known and not done. */
  get outstanding (): number {
    return this.items.size - this.doneCount
  }

  /**
   * Drop a done item, so that a download of any size keeps only its window in memory; a block that still comes
   * for it is then unknown (`received` returns false).
   */
  forget (key: string): void {
    const item = this.items.get(key)
    if (item?.state !== 'done') return
    this.items.delete(key)
    this.doneCount--
    for (const peer of this.peers.values()) {
      peer.dontHave.delete(key)
      peer.has.delete(key)
    }
  }

  /**
   * The peer announced that it holds these items (a have-update from a peer of the swarm, or a HAVE presence): it
   * may be asked for them, even after a DONT_HAVE. Keys of items not known (outside the window, or done) are ignored.
   */
  have (peerId: string, keys: Iterable<string>): void {
    const peer = this.peers.get(peerId)
    if (peer == null || peer.gone) return
    let joined = false
    for (const key of keys) {
      peer.dontHave.delete(key)
      const item = this.items.get(key)
      if (item == null || item.state === 'done') continue
      if (item.state === 'stuck') joined = true
      if (!peer.partial || peer.has.has(key)) continue
      peer.has.add(key)
      item.avail++
      // its place in the heap moves with its rarity
      if (item.state === 'pending') this.pushPending(item)
      // asked of seeds only: withdrawn there (the seed's uplink is the swarm's scarce link) and asked of this peer
      else if (item.state === 'inflight' && [...item.holders.keys()].every(h => this.peers.get(h)?.seed === true)) {
        for (const holder of [...item.holders.keys()]) {
          const seed = this.peers.get(holder) as Peer
          this.release(seed, item)
          this.outbox.push({ type: 'cancel', peer: holder, keys: [key] })
        }
      }
    }
    if (joined) this.unstick()
  }

  /**
   * The peer has the item but asks us to get it elsewhere first (a seed super-seeding): it goes to another holder,
   * and back to this peer once `deferMs` has passed.
   */
  defer (peerId: string, key: string, now: number): void {
    const peer = this.peers.get(peerId)
    const item = this.items.get(key)
    if (peer == null || item == null || !peer.inflight.has(key)) return
    // an answer: the peer is not stalled, however many of its wants it defers while the swarm fills in
    peer.progressAt = now
    if (item.deferredBy === peerId) {
      // a peer defers an item once; deferring it again is not having it for us
      this.dontHave(peerId, key)
      return
    }
    item.deferredBy = peerId
    item.deferUntil = now + this.deferMs
    this.deferred.add(item)
    this.release(peer, item)
  }

  /** A source that may serve the items. Returns false for a peer excluded earlier in this download. */
  addPeer (id: string, init: PeerInit, now: number): boolean {
    const known = this.peers.get(id)
    if (known?.excluded === true) return false
    if (known != null && !known.gone) {
      known.lan = init.lan
      known.seed = init.seed
      known.maxWants = init.maxOutstandingWants
      known.maxBytes = init.maxInFlightBytes
      if (init.partial !== true) this.complete(known)
      return true
    }
    this.peers.set(id, {
      id,
      lan: init.lan,
      seed: init.seed,
      maxWants: Math.max(1, init.maxOutstandingWants),
      maxBytes: init.maxInFlightBytes,
      inflight: new Map(),
      inflightBytes: 0,
      sampleStart: now,
      sampleBytes: 0,
      sampleLimited: false,
      progressAt: now,
      dontHave: known?.dontHave ?? new Set(),
      partial: init.partial === true,
      has: new Set(),
      strikes: known?.strikes ?? 0,
      backoffUntil: 0,
      excluded: false,
      gone: false,
      receivedBytes: known?.receivedBytes ?? 0
    })
    this.unstick()
    return true
  }

  /** The peer went away (disconnect, stream error): its wants move to other peers. */
  removePeer (id: string): void {
    const peer = this.peers.get(id)
    if (peer == null || peer.gone) return
    peer.gone = true
    this.dropHas(peer)
    this.releaseAll(peer, false)
  }

  /**
   * A verified block arrived. Returns true when it completes an item (the caller stores it), false for a
   * duplicate or unknown key (the caller drops it). Other holders of the item get a cancel.
   */
  received (peerId: string, key: string, bytes: number, now: number): boolean {
    const item = this.items.get(key)
    const peer = this.peers.get(peerId)
    if (peer != null) {
      peer.receivedBytes += bytes
      if (item != null && peer.inflight.has(key)) {
        this.release(peer, item)
        peer.progressAt = now
        peer.sampleBytes += bytes
        const elapsed = now - peer.sampleStart
        if (elapsed >= this.sampleMs) {
          const sample = peer.sampleBytes / elapsed
          if (!peer.sampleLimited || sample > this.rateOf(peer)) {
            peer.rate = peer.rate == null ? sample : peer.rate + this.ewmaAlpha * (sample - peer.rate)
          }
          peer.sampleStart = now
          peer.sampleBytes = 0
          peer.sampleLimited = false
        }
        // a delivery is evidence the peer recovered from an earlier stall
        peer.strikes = Math.max(0, peer.strikes - 1)
        if (peer.inflight.size === 0) peer.sampleBytes = 0
      }
    }
    if (item == null || item.state === 'done') return false
    for (const holder of [...item.holders.keys()]) {
      const other = this.peers.get(holder)
      if (other != null) {
        this.release(other, item)
        this.outbox.push({ type: 'cancel', peer: holder, keys: [key] })
      }
    }
    this.setState(item, 'done')
    return true
  }

  /**
   * The peer does not have the item: it is not asked for it again and the item goes elsewhere. An answer for an
   * item not known (done and forgotten, or never added) is not kept: what the scheduler holds stays its window.
   */
  dontHave (peerId: string, key: string): void {
    const peer = this.peers.get(peerId)
    const item = this.items.get(key)
    if (peer == null || item == null) return
    peer.dontHave.add(key)
    if (peer.has.delete(key)) item.avail--
    if (peer.inflight.has(key)) this.release(peer, item)
  }

  /** The peer sent bytes that failed verification: it is excluded from this download and its wants move. */
  invalid (peerId: string, reason: string): void {
    const peer = this.peers.get(peerId)
    if (peer == null || peer.excluded) return
    peer.excluded = true
    peer.gone = true
    this.dropHas(peer)
    this.releaseAll(peer, true)
    this.outbox.push({ type: 'drop', peer: peerId, reason })
  }

  /** Assign work, detect stalls, hedge stragglers; returns the actions to carry out, in order. */
  poll (now: number): SchedulerAction[] {
    this.refill(now)
    this.detectStalls(now)
    const wants = new Map<string, string[]>()
    this.assignPending(now, wants)
    if ((this.allKnown || this.planWaiting) && this.pendingCount === 0) this.hedge(now, wants)
    for (const [peer, keys] of wants) this.outbox.push({ type: 'want', peer, keys })
    const out = this.outbox
    this.outbox = []
    return out
  }

  /** When `poll` must run again if no event arrives first; undefined when only an event can make progress. */
  nextDeadline (now: number): number | undefined {
    let next: number | undefined
    const at = (t: number): void => { next = next == null ? t : Math.min(next, t) }
    for (const peer of this.peers.values()) {
      if (peer.gone) continue
      if (peer.inflight.size > 0) at(peer.progressAt + this.stallDeadlineMs(peer, now))
      if (peer.backoffUntil > now && (this.pendingCount > 0 || this.stuckItems.size > 0)) at(peer.backoffUntil)
    }
    if (this.ratePerMs != null && this.tokenNeed != null && this.tokenNeed > this.tokens) at(now + (this.tokenNeed - this.tokens) / this.ratePerMs)
    for (const item of this.deferred) {
      if (item.state !== 'pending' || item.deferUntil <= now) this.deferred.delete(item)
      else at(item.deferUntil)
    }
    return next
  }

  /** Every item is done. */
  get done (): boolean {
    return this.allKnown && this.doneCount === this.items.size
  }

  /** Items no current peer can serve (all said DONT_HAVE, excluded or gone). */
  stuck (): string[] {
    return [...this.stuckItems].map(i => i.key)
  }

  /** Items not yet asked for (including those waiting for a peer with room). */
  get pendingItems (): number {
    return this.pendingCount
  }

  /** Items asked for and not yet received. */
  get inFlight (): number {
    return this.inflightCount
  }

  /** Partial holders that can still be asked: what they fetch may yet be announced. */
  get partialPeers (): number {
    let n = 0
    for (const p of this.peers.values()) if (p.partial && !p.gone && !p.excluded) n++
    return n
  }

  /** Peers that can still be asked for something. */
  usablePeers (): string[] {
    return [...this.peers.values()].filter(p => !p.gone && !p.excluded).map(p => p.id)
  }

  stats (): SchedulerStats {
    return {
      pending: this.pendingCount,
      inFlight: this.inflightCount,
      done: this.doneCount,
      stuck: this.stuckItems.size,
      peers: [...this.peers.values()].map(p => ({
        id: p.id,
        lan: p.lan,
        seed: p.seed,
        bytesPerSec: p.rate != null ? p.rate * 1000 : undefined,
        windowBytes: this.windowBytes(p),
        inFlight: p.inflight.size,
        inFlightBytes: p.inflightBytes,
        receivedBytes: p.receivedBytes,
        strikes: p.strikes,
        excluded: p.excluded,
        gone: p.gone,
        partial: p.partial
      }))
    }
  }

  private windowBytes (peer: Peer): number {
    const target = peer.rate == null
      ? this.initialWindowBytes
      : Math.min(this.maxWindowBytes, Math.max(this.minWindowBytes, peer.rate * this.windowTargetMs))
    return Math.min(target, peer.maxBytes)
  }

  private hasRoom (peer: Peer, item: Item): boolean {
    if (peer.inflight.size >= peer.maxWants) return false
    // a peer with nothing in flight always takes one item, however large, so a small window never starves it
    return peer.inflight.size === 0 || peer.inflightBytes + item.bytes <= this.windowBytes(peer)
  }

  private rateOf (peer: Peer): number {
    return peer.rate ?? this.priorBytesPerMs
  }

  /**
   * Expected ms until `peer` would deliver `item` if it were asked now, with the LAN preference applied; a peer
   * that stalled counts as that many times slower.
   */
  private cost (peer: Peer, item: Item): number {
    const ms = (peer.inflightBytes + item.bytes) / this.rateOf(peer) * (1 + peer.strikes)
    return peer.lan ? ms : ms * this.wanCostFactor
  }

  private stallDeadlineMs (peer: Peer, now: number): number {
    let largest = 0
    for (const item of peer.inflight.values()) largest = Math.max(largest, item.bytes)
    const alone = Math.max(this.stallTimeoutMs, 3 * largest / this.rateOf(peer))
    return Math.min(alone, this.stragglerDeadlineMs(peer, now) ?? Infinity)
  }

  /**
   * How long `peer` may take for its next item judged by the other peers' pace; undefined when no other peer is
   * moving. Peers that count: usable, not stalled themselves, not backing off, and either measured or idle (an idle
   * peer not yet measured — a seed, or any peer at the start of a download, while one peer holds the root — counts
   * at the prior rate). One of them must be moving: idle, or delivering since this peer last did.
   */
  private stragglerDeadlineMs (peer: Peer, now: number): number | undefined {
    const head = peer.inflight.values().next().value
    if (head == null) return undefined
    const others: Peer[] = []
    for (const other of this.peers.values()) {
      // a partial holder cannot take over whatever the peer holds: it is no measure of how late the peer is
      if (other === peer || other.gone || other.excluded || other.partial || other.strikes > 0 || other.backoffUntil > now) continue
      if (other.rate != null || other.inflight.size === 0) others.push(other)
    }
    if (others.length === 0) return undefined
    const rates = others.map(o => this.rateOf(o)).sort((a, b) => a - b)
    const median = rates[Math.floor(rates.length / 2)]
    const deadline = Math.max(this.stragglerMinMs, this.stragglerFactor * head.bytes / median)
    const moving = others.some(o => o.inflight.size === 0 || (o.progressAt > peer.progressAt && now - o.progressAt < deadline))
    return moving ? deadline : undefined
  }

  /**
   * Peers that could serve the item, ignoring room: non-seeds first; seeds only when no non-seed is usable. A partial
   * peer only for what it announced; a peer that deferred it only once its deferral is over.
   */
  private candidates (item: Item, now: number): { usable: Peer[], any: boolean } {
    const peers: Peer[] = []
    const seeds: Peer[] = []
    let any = false
    for (const peer of this.peers.values()) {
      if (peer.gone || peer.excluded || peer.dontHave.has(item.key)) continue
      if (peer.partial && !peer.has.has(item.key)) continue
      any = true
      if (peer.backoffUntil > now || item.holders.has(peer.id)) continue
      if (item.deferredBy === peer.id && item.deferUntil > now) continue
      if (peer.seed) seeds.push(peer)
      else peers.push(peer)
    }
    return { usable: peers.length > 0 ? peers : seeds, any }
  }

  private assignPending (now: number, wants: Map<string, string[]>): void {
    this.tokenNeed = undefined
    // items none of whose candidates has room, put back after the pass; and the peers found full in it
    const skipped: Item[] = []
    const full = new Set<Peer>()
    try {
      while (this.pending.size > 0) {
        const entry = this.pending.peek() as Entry
        const item = entry.item
        if (item.state !== 'pending' || entry.ver !== item.ver) {
          this.pending.pop()
          continue
        }
        if (!this.hasTokens(item)) break
        const { usable, any } = this.candidates(item, now)
        if (!any) {
          this.pending.pop()
          this.setState(item, 'stuck')
          continue
        }
        const best = this.cheapest(usable, item)
        if (best != null) {
          this.pending.pop()
          this.assign(best, item, now, wants)
          continue
        }
        // No candidate has room for it. When no other peer has room either, wait for the next delivery, which polls
        // again: a later item may be smaller and fit a window this one does not, but looking for one was a pass over
        // every pending item on each poll, quadratic in a download of many small files, for a window short by less
        // than an item. When another peer has room (a partial holder beside a full seed), step over it.
        for (const peer of usable) full.add(peer)
        if (skipped.length >= MAX_SKIPS_PER_POLL || !this.someoneElseHasRoom(full, now)) return
        this.pending.pop()
        skipped.push(item)
      }
    } finally {
      for (const item of skipped) this.pending.push({ item, ver: item.ver, avail: item.avail })
      this.markLimited()
    }
  }

  /** A usable peer not in `full` has room for another want. */
  private someoneElseHasRoom (full: Set<Peer>, now: number): boolean {
    for (const peer of this.peers.values()) {
      if (peer.gone || peer.excluded || full.has(peer) || peer.backoffUntil > now) continue
      if (peer.inflight.size < peer.maxWants && (peer.inflight.size === 0 || peer.inflightBytes < this.windowBytes(peer))) return true
    }
    return false
  }

  /**
   * The poll ran out of work it may ask for (nothing pending, or the rate cap): peers left with room are
   * limited by the download, and what they deliver meanwhile is no measure of how fast they could be.
   * A lone manifest fetched from a busy peer otherwise read as a rate of a few KB/s, and that peer was asked
   * for nothing else while the others had room.
   */
  private markLimited (): void {
    for (const peer of this.peers.values()) {
      if (!peer.gone && peer.inflight.size < peer.maxWants && peer.inflightBytes < this.windowBytes(peer)) peer.sampleLimited = true
    }
  }

  /** The peer with room expected to deliver `item` first; ties go to a LAN peer. */
  private cheapest (peers: Peer[], item: Item): Peer | undefined {
    let best: Peer | undefined
    let bestCost = Infinity
    for (const peer of peers) {
      if (!this.hasRoom(peer, item)) continue
      const c = this.cost(peer, item)
      if (c < bestCost || (c === bestCost && peer.lan && best?.lan === false)) {
        best = peer
        bestCost = c
      }
    }
    return best
  }

  /** Whether the rate cap allows asking for `item` now; records what is missing when it does not. */
  private hasTokens (item: Item): boolean {
    if (this.ratePerMs == null) return true
    const need = Math.min(item.bytes, this.rateBurstBytes)
    if (this.tokens >= need) return true
    this.tokenNeed = need
    return false
  }

  private hedge (now: number, wants: Map<string, string[]>): void {
    for (const holder of this.peers.values()) {
      if (holder.gone || holder.inflight.size === 0) continue
      const queue = [...holder.inflight.values()]
      const ahead: number[] = []
      let sum = 0
      for (const item of queue) ahead.push(sum += item.bytes)
      // steal from the tail: the items the holder would deliver last gain the most
      for (let i = queue.length - 1; i >= 0; i--) {
        const item = queue[i]
        if (item.holders.size > this.endgameHedges) continue
        if (!this.hasTokens(item)) return
        // time the holder still needs for this item: everything queued before it, at its measured rate
        const holderMs = Math.max(0, ahead[i] / this.rateOf(holder) - (now - holder.progressAt))
        let best: Peer | undefined
        let bestMs = Infinity
        for (const peer of this.candidates(item, now).usable) {
          if (!this.hasRoom(peer, item)) continue
          const ms = (peer.inflightBytes + item.bytes) / this.rateOf(peer)
          if (ms < bestMs) {
            best = peer
            bestMs = ms
          }
        }
        if (best != null && bestMs * 2 < holderMs) this.assign(best, item, now, wants)
      }
    }
  }

  private assign (peer: Peer, item: Item, now: number, wants: Map<string, string[]>): void {
    if (peer.inflight.size === 0) {
      peer.progressAt = now
      peer.sampleStart = now
      peer.sampleBytes = 0
      peer.sampleLimited = false
    }
    peer.inflight.set(item.key, item)
    peer.inflightBytes += item.bytes
    item.holders.set(peer.id, now)
    if (item.state !== 'inflight') this.setState(item, 'inflight')
    if (this.ratePerMs != null) this.tokens -= item.bytes
    let list = wants.get(peer.id)
    if (list == null) {
      list = []
      wants.set(peer.id, list)
    }
    list.push(item.key)
  }

  /** Take `item` off `peer`; back to pending when nobody else holds it. */
  private release (peer: Peer, item: Item): void {
    if (!peer.inflight.delete(item.key)) return
    peer.inflightBytes -= item.bytes
    item.holders.delete(peer.id)
    if (item.holders.size === 0 && item.state === 'inflight') {
      this.setState(item, 'pending')
      this.pushPending(item)
    }
  }

  private pushPending (item: Item): void {
    this.pending.push({ item, ver: ++item.ver, avail: item.avail })
  }

  /** A partial peer's announcements no longer count (it went, or it holds everything now). */
  private dropHas (peer: Peer): void {
    for (const key of peer.has) {
      const item = this.items.get(key)
      if (item == null) continue
      item.avail--
      if (item.state === 'pending') this.pushPending(item)
    }
    peer.has.clear()
  }

  private complete (peer: Peer): void {
    if (!peer.partial) return
    this.dropHas(peer)
    peer.partial = false
  }

  private releaseAll (peer: Peer, cancel: boolean): void {
    const keys = [...peer.inflight.keys()]
    for (const item of [...peer.inflight.values()]) this.release(peer, item)
    if (cancel && keys.length > 0) this.outbox.push({ type: 'cancel', peer: peer.id, keys })
  }

  private detectStalls (now: number): void {
    // deadlines first: moving one peer's wants changes what the others' look like
    const stalled = [...this.peers.values()].filter(peer => !peer.gone && peer.inflight.size > 0 && now - peer.progressAt >= this.stallDeadlineMs(peer, now))
    for (const peer of stalled) {
      const stalledMs = now - peer.progressAt
      peer.strikes++
      // a partial holder is a trading partner, not the download's supplier: it backs off (a peer that fetches too
      // is often busy for a moment), and is not dropped unless it goes (its session closes)
      if (peer.strikes >= this.maxStrikes && !peer.partial) {
        peer.excluded = true
        peer.gone = true
        this.releaseAll(peer, true)
        this.outbox.push({ type: 'drop', peer: peer.id, reason: `stalled ${peer.strikes} times`, stalledMs })
        continue
      }
      peer.backoffUntil = now + Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 ** (peer.strikes - 1))
      this.releaseAll(peer, true)
    }
  }

  private refill (now: number): void {
    if (this.ratePerMs == null) return
    if (this.tokensAt != null) this.tokens = Math.min(this.rateBurstBytes, this.tokens + (now - this.tokensAt) * this.ratePerMs)
    this.tokensAt = now
  }

  private unstick (): void {
    for (const item of this.stuckItems) {
      this.setState(item, 'pending')
      this.pushPending(item)
    }
  }

  private setState (item: Item, state: Item['state']): void {
    if (item.state === 'pending') this.pendingCount--
    if (item.state === 'inflight') this.inflightCount--
    if (item.state === 'stuck') this.stuckItems.delete(item)
    if (state === 'pending') this.pendingCount++
    if (state === 'inflight') this.inflightCount++
    if (state === 'stuck') this.stuckItems.add(item)
    if (state === 'done') this.doneCount++
    item.state = state
  }
}
