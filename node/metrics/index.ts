/**
 * The daemon's metrics (issue 20): one prom-client registry per daemon — never prom-client's global one, so that
 * several daemons in one process count apart — holding the dits metrics below and libp2p's own
 * (`libp2pMetrics`). README "Metrics" documents every metric. `/metrics` (node/api.ts, and `metrics.listen`,
 * node/metrics/listener.ts) serves `text()`; the dashboard reads `snapshot()`.
 *
 * Counting happens where the work happens, through observers that this class implements: the network's
 * (fetches, verification, serving, bans, DHT) and the consensus service's (leader changes, proposals, lost
 * leases, ref sets); gc reports each run. Values that exist anyway (Raft indexes, lock counts, transfers,
 * repo usage) are read when scraped, from the sources given to `attach`.
 *
 * @example
 * ```ts
 * const metrics = new DaemonMetrics()
 * const network = await createNetwork({ ...init, observer: metrics, metrics: metrics.libp2p(repoDir) })
 * metrics.attach({ repo: () => blocks.usageReport(), transfers: () => network.status().transfers })
 * const body = await metrics.text()            // Prometheus text format, metrics.contentType
 * const numbers = await metrics.snapshot()     // plain numbers, e.g. numbers.raft.term
 * ```
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { libp2pMetrics } from './libp2p.ts'
import type { Metrics, PeerId, ComponentLogger } from '@libp2p/interface'
import type { FetchSource, NetworkObserver } from '../net/observer.ts'
import type { ConsensusObserver } from '../consensus/observer.ts'
import type { GcResult } from '../maintenance.ts'

/**
 * Distinct peer ids a daemon labels its per-peer byte counters with. A studio network is a bounded set of
 * machines (the workstations, the seed, the voters), so each gets its own series; past this many, the bytes of
 * further peers are counted under peer="other", so a network that churns through peer ids cannot grow the
 * registry without end.
 */
export const DEFAULT_MAX_PEER_LABELS = 64
/** The label value for peers past DEFAULT_MAX_PEER_LABELS. */
export const OTHER_PEERS_LABEL = 'other'
/** DHT announcements and lookups on a LAN take tens of ms; a slow or empty DHT runs into its timeouts (seconds). */
const DHT_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** A Raft proposal commits in one round trip and an fsync: ms on a LAN, seconds under trouble. */
const PROPOSAL_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Values the daemon has anyway, read at each scrape. Each may be absent (then its metric reads 0). */
export interface MetricsSources {
  /** downloads (get, pin, fetch) and serving streams running now */
  transfers?(): { downloads: number, uploads: number }
  /** this voter's Raft state; undefined on a node that is not a voter */
  raft?(): { term: number, commitIndex: number, appliedIndex: number, leader: boolean } | undefined
  /** locks granted and requests waiting in this voter's replica; undefined on a node that is not a voter */
  locks?(): { held: number, waiting: number } | undefined
  /** leases this node holds and renews for its own users */
  leases?(): number
  /** blocks and bytes in the repo's blockstore */
  repo?(): { blocks: number, bytes: number }
}

export interface DaemonMetricsInit {
  /** @default DEFAULT_MAX_PEER_LABELS */
  maxPeerLabels?: number
}

/** A `histogram` in plain numbers: how many observations, and their sum in seconds. */
export interface HistogramSnapshot {
  count: number
  sumSeconds: number
}

/** Every dits metric as plain numbers (the dashboard's view of the registry). */
export interface MetricsSnapshot {
  fetchedBytes: Record<FetchSource, number>
  /** chunk bytes a download found already held */
  fetchLocalBytes: number
  fetchedBytesByPeer: Record<string, number>
  servedBytesByPeer: Record<string, number>
  blocksVerified: { chunk: number, manifest: number }
  blocksFailedVerification: number
  peersBanned: number
  transfers: { downloads: number, uploads: number }
  dht: {
    provides: { ok: number, failed: number }
    lookups: { ok: number, failed: number }
    provideDuration: HistogramSnapshot
    lookupDuration: HistogramSnapshot
  }
  raft: {
    term: number
    commitIndex: number
    appliedIndex: number
    leader: boolean
    leaderChanges: number
    proposalDuration: HistogramSnapshot
  }
  locks: { held: number, waiting: number, expired: number, broken: number, leases: number }
  refsSet: { ok: number, conflict: number, error: number }
  gc: { runs: number, freedBytes: number, freedBlocks: number }
  repo: { blocks: number, bytes: number }
}

export class DaemonMetrics implements NetworkObserver, ConsensusObserver {
  readonly registry = new Registry()
  private readonly maxPeerLabels: number
  private readonly labelledPeers = new Set<string>()
  private sources: MetricsSources = {}

  private readonly fetchedBytes: Counter<'source'>
  private readonly fetchLocalBytes: Counter
  private readonly fetchedPeerBytes: Counter<'peer'>
  private readonly servedBytes: Counter<'peer'>
  private readonly verified: Counter<'kind'>
  private readonly failedVerification: Counter
  private readonly bannedPeers: Counter
  private readonly transfersActive: Gauge<'direction'>
  private readonly dhtProvides: Counter<'result'>
  private readonly dhtProvideSeconds: Histogram
  private readonly dhtLookups: Counter<'result'>
  private readonly dhtLookupSeconds: Histogram
  private readonly raftTerm: Gauge
  private readonly raftCommit: Gauge
  private readonly raftApplied: Gauge
  private readonly raftLeader: Gauge
  private readonly leaderChanges: Counter
  private readonly proposalSeconds: Histogram<'result'>
  private readonly locksHeld: Gauge
  private readonly locksWaiting: Gauge
  private readonly locksLost: Counter<'how'>
  private readonly leases: Gauge
  private readonly refsSet: Counter<'result'>
  private readonly gcRuns: Counter
  private readonly gcFreedBytes: Counter
  private readonly gcFreedBlocks: Counter
  private readonly repoBlocks: Gauge
  private readonly repoBytes: Gauge

  constructor (init: DaemonMetricsInit = {}) {
    this.maxPeerLabels = init.maxPeerLabels ?? DEFAULT_MAX_PEER_LABELS
    const registers = [this.registry]
    const self = (): MetricsSources => this.sources
    this.fetchedBytes = new Counter({ name: 'dits_fetched_bytes_total', help: 'Bytes of verified blocks (chunks and manifest nodes) received from other nodes, by kind of source: seed, lan (private, loopback or link-local address) or wan', labelNames: ['source'], registers })
    for (const source of ['seed', 'lan', 'wan']) this.fetchedBytes.inc({ source }, 0)
    this.fetchLocalBytes = new Counter({ name: 'dits_fetch_local_bytes_total', help: 'Chunk bytes that downloads found already in the repo (not fetched)', registers })
    this.fetchedPeerBytes = new Counter({ name: 'dits_fetched_peer_bytes_total', help: `Bytes of verified blocks received, by peer id (at most ${this.maxPeerLabels} peers, then peer="${OTHER_PEERS_LABEL}")`, labelNames: ['peer'], registers })
    this.servedBytes = new Counter({ name: 'dits_served_bytes_total', help: `Bytes of blocks served to other nodes, by peer id (at most ${this.maxPeerLabels} peers, then peer="${OTHER_PEERS_LABEL}")`, labelNames: ['peer'], registers })
    this.verified = new Counter({ name: 'dits_blocks_verified_total', help: 'Blocks received from other nodes whose BLAKE3 matched their CID, by kind: chunk or manifest', labelNames: ['kind'], registers })
    for (const kind of ['chunk', 'manifest']) this.verified.inc({ kind }, 0)
    this.failedVerification = new Counter({ name: 'dits_blocks_failed_verification_total', help: 'Blocks received from other nodes whose BLAKE3 did not match their CID (never stored; the sender is banned)', registers })
    this.bannedPeers = new Counter({ name: 'dits_peers_banned_total', help: 'Times a peer reached the penalty threshold and was disconnected and refused', registers })
    this.transfersActive = new Gauge({
      name: 'dits_transfers_active',
      help: 'Transfers running now, by direction: download (a get, pin or fetch of a root) or upload (a stream serving blocks to a peer)',
      labelNames: ['direction'],
      registers,
      collect () {
        const t = self().transfers?.() ?? { downloads: 0, uploads: 0 }
        this.set({ direction: 'download' }, t.downloads)
        this.set({ direction: 'upload' }, t.uploads)
      }
    })
    this.dhtProvides = new Counter({ name: 'dits_dht_provides_total', help: 'DHT announcements (provider records) of roots, by result: ok or failed (retried later)', labelNames: ['result'], registers })
    this.dhtProvideSeconds = new Histogram({ name: 'dits_dht_provide_duration_seconds', help: 'Time one DHT announcement took', buckets: DHT_BUCKETS_S, registers })
    this.dhtLookups = new Counter({ name: 'dits_dht_lookups_total', help: 'DHT provider lookups, by result: ok or failed', labelNames: ['result'], registers })
    this.dhtLookupSeconds = new Histogram({ name: 'dits_dht_lookup_duration_seconds', help: 'Time one DHT provider lookup took (until its last provider, or until the download stopped it)', buckets: DHT_BUCKETS_S, registers })
    for (const result of ['ok', 'failed']) {
      this.dhtProvides.inc({ result }, 0)
      this.dhtLookups.inc({ result }, 0)
    }
    const raftGauge = (name: string, help: string, pick: (r: NonNullable<ReturnType<NonNullable<MetricsSources['raft']>>>) => number): Gauge => new Gauge({
      name,
      help,
      registers,
      collect () {
        const r = self().raft?.()
        this.set(r === undefined ? 0 : pick(r))
      }
    })
    this.raftTerm = raftGauge('dits_raft_term', 'Raft term this voter is in (0 on a node that is not a voter)', r => r.term)
    this.raftCommit = raftGauge('dits_raft_commit_index', 'Highest Raft log index this voter knows to be committed (0 on a node that is not a voter)', r => r.commitIndex)
    this.raftApplied = raftGauge('dits_raft_applied_index', 'Highest Raft log index this voter has applied to its refs and locks (0 on a node that is not a voter)', r => r.appliedIndex)
    this.raftLeader = raftGauge('dits_raft_leader', '1 while this voter is the Raft leader, else 0', r => r.leader ? 1 : 0)
    this.leaderChanges = new Counter({ name: 'dits_raft_leader_changes_total', help: 'Times this voter saw the leader change (to another voter, or to none while an election runs)', registers })
    this.proposalSeconds = new Histogram({ name: 'dits_raft_proposal_duration_seconds', help: 'Time from proposing a command (as leader) to applying it, by result: ok or lost (a leader change took it)', labelNames: ['result'], buckets: PROPOSAL_BUCKETS_S, registers })
    this.locksHeld = new Gauge({
      name: 'dits_locks_held',
      help: 'Lock grants in this voter\'s replica (0 on a node that is not a voter)',
      registers,
      collect () { this.set(self().locks?.()?.held ?? 0) }
    })
    this.locksWaiting = new Gauge({
      name: 'dits_locks_waiting',
      help: 'Lock requests queued in this voter\'s replica (0 on a node that is not a voter)',
      registers,
      collect () { this.set(self().locks?.()?.waiting ?? 0) }
    })
    this.locksLost = new Counter({ name: 'dits_locks_lost_total', help: 'Lock grants ended by this voter\'s replica other than by release, by how: expired (lease ran out) or broken (lock break)', labelNames: ['how'], registers })
    for (const how of ['expired', 'broken']) this.locksLost.inc({ how }, 0)
    this.leases = new Gauge({
      name: 'dits_lock_leases',
      help: 'Leases this node holds for its users and renews',
      registers,
      collect () { this.set(self().leases?.() ?? 0) }
    })
    this.refsSet = new Counter({ name: 'dits_refs_set_total', help: 'ref set commands this node issued, by result: ok (committed), conflict (compare-and-swap or fencing refused it) or error', labelNames: ['result'], registers })
    for (const result of ['ok', 'conflict', 'error']) this.refsSet.inc({ result }, 0)
    this.gcRuns = new Counter({ name: 'dits_gc_runs_total', help: 'Garbage collections run (dry runs not counted)', registers })
    this.gcFreedBytes = new Counter({ name: 'dits_gc_freed_bytes_total', help: 'Bytes of blocks garbage collection removed', registers })
    this.gcFreedBlocks = new Counter({ name: 'dits_gc_freed_blocks_total', help: 'Blocks garbage collection removed', registers })
    this.repoBlocks = new Gauge({
      name: 'dits_repo_blocks',
      help: 'Blocks (chunks and manifest nodes) in the repo\'s blockstore',
      registers,
      collect () { this.set(self().repo?.().blocks ?? 0) }
    })
    this.repoBytes = new Gauge({
      name: 'dits_repo_bytes',
      help: 'Bytes of the blocks in the repo\'s blockstore',
      registers,
      collect () { this.set(self().repo?.().bytes ?? 0) }
    })
  }

  /** Where the values read at each scrape come from (the daemon gives them once its services run). */
  attach (sources: MetricsSources): void {
    this.sources = { ...this.sources, ...sources }
  }

  /** libp2p's own metrics, counted into this registry: the `metrics` of the daemon's libp2p host. */
  libp2p (statfsLocation: string): (components: { logger: ComponentLogger }) => Metrics {
    return libp2pMetrics({ registry: this.registry, statfsLocation })
  }

  get contentType (): string {
    return this.registry.contentType
  }

  /** Every metric in the Prometheus text format. */
  async text (): Promise<string> {
    return await this.registry.metrics()
  }

  // ---- NetworkObserver ----------------------------------------------------------------------------------

  blockVerified (peer: PeerId, bytes: number, kind: 'chunk' | 'manifest', source: FetchSource): void {
    this.verified.inc({ kind })
    this.fetchedBytes.inc({ source }, bytes)
    this.fetchedPeerBytes.inc({ peer: this.peerLabel(peer) }, bytes)
  }

  verificationFailed (): void {
    this.failedVerification.inc()
  }

  heldAtStart (bytes: number): void {
    this.fetchLocalBytes.inc(bytes)
  }

  served (peer: PeerId, bytes: number): void {
    this.servedBytes.inc({ peer: this.peerLabel(peer) }, bytes)
  }

  banned (): void {
    this.bannedPeers.inc()
  }

  provided (seconds: number, ok: boolean): void {
    this.dhtProvides.inc({ result: ok ? 'ok' : 'failed' })
    this.dhtProvideSeconds.observe(seconds)
  }

  lookedUp (seconds: number, ok: boolean): void {
    this.dhtLookups.inc({ result: ok ? 'ok' : 'failed' })
    this.dhtLookupSeconds.observe(seconds)
  }

  // ---- ConsensusObserver --------------------------------------------------------------------------------

  leaderChanged (): void {
    this.leaderChanges.inc()
  }

  proposed (seconds: number, ok: boolean): void {
    this.proposalSeconds.observe({ result: ok ? 'ok' : 'lost' }, seconds)
  }

  lockLost (how: 'expired' | 'broken'): void {
    this.locksLost.inc({ how })
  }

  refSet (result: 'ok' | 'conflict' | 'error'): void {
    this.refsSet.inc({ result })
  }

  // ---- gc -----------------------------------------------------------------------------------------------

  /** One gc run finished (a dry run removes nothing and is not counted). */
  gcRan (result: Pick<GcResult, 'dryRun' | 'removedCount' | 'bytesRemoved'>): void {
    if (result.dryRun) return
    this.gcRuns.inc()
    this.gcFreedBlocks.inc(result.removedCount)
    this.gcFreedBytes.inc(result.bytesRemoved)
  }

  /** Every dits metric as plain numbers, read now. */
  async snapshot (): Promise<MetricsSnapshot> {
    const byLabel = async (m: Counter<any> | Gauge<any>, label: string): Promise<Record<string, number>> => {
      const out: Record<string, number> = {}
      for (const v of (await m.get()).values) out[String(v.labels[label])] = v.value
      return out
    }
    const one = async (m: Counter | Gauge): Promise<number> => (await m.get()).values[0]?.value ?? 0
    const histogram = async (m: Histogram<any>, labels: Record<string, string> = {}): Promise<HistogramSnapshot> => {
      const values = (await m.get()).values.filter(v => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
      return {
        count: values.find(v => v.metricName?.endsWith('_count') === true)?.value ?? 0,
        sumSeconds: values.find(v => v.metricName?.endsWith('_sum') === true)?.value ?? 0
      }
    }
    const fetched = await byLabel(this.fetchedBytes, 'source')
    const verified = await byLabel(this.verified, 'kind')
    const transfers = await byLabel(this.transfersActive, 'direction')
    const provides = await byLabel(this.dhtProvides, 'result')
    const lookups = await byLabel(this.dhtLookups, 'result')
    const lost = await byLabel(this.locksLost, 'how')
    const refs = await byLabel(this.refsSet, 'result')
    return {
      fetchedBytes: { seed: fetched.seed ?? 0, lan: fetched.lan ?? 0, wan: fetched.wan ?? 0 },
      fetchLocalBytes: await one(this.fetchLocalBytes),
      fetchedBytesByPeer: await byLabel(this.fetchedPeerBytes, 'peer'),
      servedBytesByPeer: await byLabel(this.servedBytes, 'peer'),
      blocksVerified: { chunk: verified.chunk ?? 0, manifest: verified.manifest ?? 0 },
      blocksFailedVerification: await one(this.failedVerification),
      peersBanned: await one(this.bannedPeers),
      transfers: { downloads: transfers.download ?? 0, uploads: transfers.upload ?? 0 },
      dht: {
        provides: { ok: provides.ok ?? 0, failed: provides.failed ?? 0 },
        lookups: { ok: lookups.ok ?? 0, failed: lookups.failed ?? 0 },
        provideDuration: await histogram(this.dhtProvideSeconds),
        lookupDuration: await histogram(this.dhtLookupSeconds)
      },
      raft: {
        term: await one(this.raftTerm),
        commitIndex: await one(this.raftCommit),
        appliedIndex: await one(this.raftApplied),
        leader: await one(this.raftLeader) === 1,
        leaderChanges: await one(this.leaderChanges),
        proposalDuration: await histogram(this.proposalSeconds, { result: 'ok' })
      },
      locks: {
        held: await one(this.locksHeld),
        waiting: await one(this.locksWaiting),
        expired: lost.expired ?? 0,
        broken: lost.broken ?? 0,
        leases: await one(this.leases)
      },
      refsSet: { ok: refs.ok ?? 0, conflict: refs.conflict ?? 0, error: refs.error ?? 0 },
      gc: { runs: await one(this.gcRuns), freedBytes: await one(this.gcFreedBytes), freedBlocks: await one(this.gcFreedBlocks) },
      repo: { blocks: await one(this.repoBlocks), bytes: await one(this.repoBytes) }
    }
  }

  /** The peer's id as a label while fewer than maxPeerLabels peers have one, else OTHER_PEERS_LABEL. */
  private peerLabel (peer: PeerId): string {
    const id = peer.toString()
    if (this.labelledPeers.has(id)) return id
    if (this.labelledPeers.size >= this.maxPeerLabels) return OTHER_PEERS_LABEL
    this.labelledPeers.add(id)
    return id
  }
}
