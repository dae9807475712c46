/**
 * The dashboard's sampler: while at least one page watches, it reads the daemon's state every `sampleMs` (the
 * node, its peers, the downloads in flight, refs, locks, the consensus group) and its metrics registry (README
 * "Metrics": the bytes received and served, in all and by peer, and the repo's blocks and bytes are the numbers
 * `/metrics` serves), derives rates from the difference between two samples, turns changes into recent events,
 * and hands each snapshot to every watcher. Nothing runs while no page is open: a daemon nobody looks at pays
 * nothing for its dashboard.
 */
import type { NetworkStatus, PeerInfo, TransferSnapshot, PenaltyEvent } from '../net/index.ts'
import type { MetricsSnapshot } from '../metrics/index.ts'
import type { ClusterStatus } from '../consensus/index.ts'
import type { HeldShare } from '../../src/manifest/index.ts'
import type { LockAuditReply, LockLsReply, RefRecord } from '../../src/state/index.ts'
import type { UsageReport } from '../block-usage.ts'
import type { ClusterView, EventView, History, LockView, NodeView, Panel, PeerView, RefView, ShareView, Snapshot, ThroughputPoint, TransferView } from './page/view.ts'

/** How often the state is read while a page watches. */
export const DEFAULT_SAMPLE_MS = 1000
/** Throughput points kept for the chart: ten minutes at the default period. */
export const MAX_THROUGHPUT_POINTS = 600
/** Recent events kept (a page that opens gets them all). */
export const MAX_EVENTS = 200
/** Refs, locks and peers sent per snapshot: the page shows the first ones and the total. */
export const MAX_ROWS = 500
/** How long a ref's measured share is reused before it is measured again. */
export const DEFAULT_SHARE_REFRESH_MS = 5000
/**
 * How long the seed's share of a ref is reused: asking for it is an `availability` run (a have-check of every
 * chunk against the seeds and the connected peers), worth doing once a minute, not every few seconds.
 */
export const DEFAULT_SEED_SHARE_REFRESH_MS = 60_000
/** Samples over which a transfer's rate is averaged. */
const TRANSFER_RATE_SAMPLES = 5

/** What the sampler reads; the daemon supplies it (node/daemon.ts). */
export interface DashboardSources {
  node(): Promise<{ status: NetworkStatus, repo: UsageReport & { pins: number, dir: string } }>
  /** the daemon's metrics (node/metrics) */
  metrics(): Promise<MetricsSnapshot>
  peers(): PeerInfo[]
  transfers(): TransferSnapshot[]
  penalties(): Array<PenaltyEvent & { seq: number }>
  /** display names of peers (config or replicated `access.names`) */
  names(): Record<string, string>
  refs(): Promise<RefRecord[]>
  locks(): Promise<LockLsReply>
  lockAudit(): Promise<LockAuditReply>
  cluster(): Promise<ClusterStatus>
  /** the share of `root` this node holds */
  localShare(root: string): Promise<HeldShare>
  /**
   * The share of `root` the seed holds (the daemon asks `availability`, issue 17); absent, the page shows the
   * column as not available. A root no seed was found for is measured as nothing held.
   */
  seedShare?(root: string): Promise<HeldShare>
}

export interface DashboardSamplerInit {
  /** @default DEFAULT_SAMPLE_MS */
  sampleMs?: number
  /** @default DEFAULT_SHARE_REFRESH_MS */
  shareRefreshMs?: number
  /** @default DEFAULT_SEED_SHARE_REFRESH_MS */
  seedShareRefreshMs?: number
  now?(): number
}

export type Watcher = (snapshot: Snapshot) => void

interface Shares { local: ShareView | null, seed: ShareView | null, measured: number, seedMeasured: number }

/** Bytes received and served, in all and by peer, as the metrics count them (since the daemon started). */
interface Traffic {
  total: { received: number, served: number }
  peers: Record<string, { received: number, served: number }>
}

export class DashboardSampler {
  readonly sampleMs: number
  private readonly sources: DashboardSources
  private readonly shareRefreshMs: number
  private readonly seedShareRefreshMs: number
  private readonly now: () => number
  private readonly watchers = new Set<Watcher>()
  private readonly throughput: ThroughputPoint[] = []
  private readonly events: EventView[] = []
  private eventSeq = 0
  private timer?: NodeJS.Timeout
  private running?: Promise<void>
  /** the previous sample's counters, for rates and changes; undefined before the first sample of a watch */
  private prev?: {
    at: number
    total: Traffic['total']
    peers: Traffic['peers']
    refs?: Map<string, RefRecord>
    locks?: Map<string, LockView>
    auditIndex?: number
    penaltySeq: number
    connected: Set<string>
  }

  private readonly transferSamples = new Map<string, Array<{ at: number, bytes: number }>>()
  private readonly shares = new Map<string, Shares>()
  private measuring?: Promise<void>

  constructor (sources: DashboardSources, init: DashboardSamplerInit = {}) {
    this.sources = sources
    this.sampleMs = init.sampleMs ?? DEFAULT_SAMPLE_MS
    this.shareRefreshMs = init.shareRefreshMs ?? DEFAULT_SHARE_REFRESH_MS
    this.seedShareRefreshMs = init.seedShareRefreshMs ?? DEFAULT_SEED_SHARE_REFRESH_MS
    this.now = init.now ?? Date.now
  }

  /** Start receiving snapshots (sampling starts with the first watcher); returns what came before. */
  watch (watcher: Watcher): History {
    this.watchers.add(watcher)
    if (this.watchers.size === 1) this.schedule(0)
    return { throughput: [...this.throughput], events: [...this.events] }
  }

  unwatch (watcher: Watcher): void {
    this.watchers.delete(watcher)
    if (this.watchers.size === 0) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  /** Stop sampling, drop every watcher, and wait for a sample under way. */
  async stop (): Promise<void> {
    this.watchers.clear()
    clearTimeout(this.timer)
    this.timer = undefined
    await this.running
    await this.measuring
  }

  private schedule (delayMs: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.running = this.sample().then(snapshot => {
        for (const w of this.watchers) w(snapshot)
      }, () => {}).finally(() => {
        this.running = undefined
        if (this.watchers.size > 0) this.schedule(this.sampleMs)
      })
    }, delayMs)
  }

  /** One sample: what every panel shows now, and the events since the last one. */
  async sample (): Promise<Snapshot> {
    const s = this.sources
    const [node, metrics, refs, locks, audit, cluster] = await Promise.all([
      s.node(),
      s.metrics(),
      panel(s.refs()),
      panel(s.locks()),
      panel(s.lockAudit()),
      panel(s.cluster())
    ])
    const at = this.now()
    const traffic = trafficOf(metrics)
    const prev = this.prev
    const dt = prev === undefined ? 0 : (at - prev.at) / 1000
    const rate = (now: number, before: number | undefined): number => before === undefined || dt <= 0 || now < before ? 0 : (now - before) / dt
    const names = s.names()
    const fresh: EventView[] = []
    const event = (kind: EventView['kind'], level: EventView['level'], text: string, when = at): void => {
      fresh.push({ seq: ++this.eventSeq, at: when, kind, level, text })
    }
    const who = (peer: string): string => names[peer] ?? shortId(peer)

    const peerInfos = s.peers()
    const connected = new Set(peerInfos.map(p => p.id))
    const peers: PeerView[] = peerInfos.slice(0, MAX_ROWS).map(p => {
      const t = traffic.peers[p.id] ?? { received: 0, served: 0 }
      const before = prev?.peers[p.id]
      return { id: p.id, name: names[p.id], transport: p.transport, lan: p.lan, roles: p.roles, hello: p.hello, received: t.received, served: t.served, rateIn: rate(t.received, before?.received), rateOut: rate(t.served, before?.served) }
    })
    if (prev !== undefined) {
      for (const id of connected) if (!prev.connected.has(id)) event('peer', 'info', `peer ${who(id)} connected`)
      for (const id of prev.connected) if (!connected.has(id)) event('peer', 'info', `peer ${who(id)} disconnected`)
    }

    const penaltySeq = this.penaltyEvents(prev?.penaltySeq ?? 0, who, event)
    const transfers = this.transfers(s.transfers(), at)

    let refsPanel: Snapshot['refs']
    let refMap: Map<string, RefRecord> | undefined
    if (refs.ok) {
      refMap = new Map(refs.data.map(r => [r.name, r]))
      if (prev?.refs !== undefined) {
        for (const r of refs.data) {
          const old = prev.refs.get(r.name)
          if (old === undefined) event('ref', 'info', `ref ${r.name} set to ${shortCid(r.cid)} by ${who(r.who)}`, r.when)
          else if (old.cid !== r.cid) event('ref', 'info', `ref ${r.name} moved ${shortCid(old.cid)} → ${shortCid(r.cid)} by ${who(r.who)}`, r.when)
        }
        for (const name of prev.refs.keys()) if (!refMap.has(name)) event('ref', 'info', `ref ${name} removed`)
      }
      const shown = [...refs.data].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0).slice(0, MAX_ROWS)
      this.measureShares(shown.map(r => r.cid), at)
      const items: RefView[] = shown.map(r => ({ name: r.name, cid: r.cid, index: r.index, when: r.when, who: r.who, user: r.user, local: this.shares.get(r.cid)?.local ?? null, seed: this.shares.get(r.cid)?.seed ?? null }))
      refsPanel = { ok: true, data: { total: refs.data.length, items, seedSource: s.seedShare !== undefined } }
    } else {
      refsPanel = refs
    }

    let locksPanel: Snapshot['locks']
    let lockMap: Map<string, LockView> | undefined
    if (locks.ok) {
      const items: LockView[] = locks.data.locks.map(l => ({ path: l.path, mode: l.mode, owner: l.owner, user: l.user, token: l.token, expires: l.expires, ttlMs: l.ttlMs }))
      lockMap = new Map(items.map(l => [`${l.path}\u0000${l.owner}`, l]))
      if (prev?.locks !== undefined) {
        for (const [key, l] of lockMap) {
          const old = prev.locks.get(key)
          if (old === undefined || old.token !== l.token) event('lock', 'info', `lock ${l.path} granted ${l.mode} to ${who(l.owner)}${l.user === undefined ? '' : ` (${l.user})`}, token ${l.token}`)
        }
      }
      locksPanel = { ok: true, data: { items: items.slice(0, MAX_ROWS), waiters: locks.data.waiters.length } }
    } else {
      locksPanel = locks
    }
    let auditIndex = prev?.auditIndex
    if (audit.ok) {
      // breaks and expiries are in the replicated audit log; a lock gone without an entry there was released
      const since = auditIndex ?? 0
      const removed = new Set<string>()
      for (const e of audit.data.entries) {
        removed.add(`${e.grant.path}\u0000${e.grant.owner}`)
        if (e.index <= since) continue
        if (e.kind === 'expire') event('lock', 'warn', `lock ${e.grant.path} of ${who(e.grant.owner)} expired (lease of ${Math.round(e.grant.ttlMs / 1000)} s not renewed)`, e.when)
        else event('lock', 'warn', `lock ${e.grant.path} of ${who(e.grant.owner)} broken by ${who(e.by ?? '')}: ${e.reason}`, e.when)
      }
      auditIndex = Math.max(since, ...audit.data.entries.map(e => e.index))
      if (prev?.locks !== undefined && lockMap !== undefined) {
        for (const [key, l] of prev.locks) if (!lockMap.has(key) && !removed.has(key)) event('lock', 'info', `lock ${l.path} released by ${who(l.owner)}`)
      }
    }

    const clusterPanel: Panel<ClusterView> = cluster.ok
      ? { ok: true, data: { leader: cluster.data.leader, term: cluster.data.term, commitIndex: cluster.data.commitIndex, appliedIndex: cluster.data.appliedIndex, answeredBy: cluster.data.answeredBy, voters: cluster.data.voters.map(v => ({ id: v.id, state: v.state, reachable: v.reachable, match: v.match, lag: v.lag })) } }
      : cluster

    const point: ThroughputPoint = { at, in: rate(traffic.total.received, prev?.total.received), out: rate(traffic.total.served, prev?.total.served) }
    if (prev !== undefined) {
      this.throughput.push(point)
      if (this.throughput.length > MAX_THROUGHPUT_POINTS) this.throughput.shift()
    }
    for (const e of fresh) {
      this.events.push(e)
      if (this.events.length > MAX_EVENTS) this.events.shift()
    }
    this.prev = { at, total: traffic.total, peers: traffic.peers, refs: refMap ?? prev?.refs, locks: lockMap ?? prev?.locks, auditIndex, penaltySeq, connected }
    const st = node.status
    const nodeView: NodeView = { peerId: st.peerId, roles: st.roles, addresses: st.addresses, private: st.swarm.private, keyFingerprint: st.swarm.keyFingerprint, repo: { blocks: metrics.repo.blocks, bytes: metrics.repo.bytes, pins: node.repo.pins, counting: node.repo.counting, dir: node.repo.dir }, sampleMs: this.sampleMs }
    return { at, node: nodeView, peers, transfers, refs: refsPanel, locks: locksPanel, cluster: clusterPanel, throughput: point, events: fresh }
  }

  private penaltyEvents (since: number, who: (peer: string) => string, event: (kind: EventView['kind'], level: EventView['level'], text: string, when?: number) => void): number {
    let last = since
    for (const p of this.sources.penalties()) {
      if (p.seq <= since) continue
      last = p.seq
      // bytes that fail verification cost a ban at once (fetcher.ts): the event says both
      const verification = /verification/i.test(p.reason)
      event(verification ? 'verification' : p.banned ? 'ban' : 'peer', p.banned || verification ? 'error' : 'warn', `peer ${who(p.peer)} ${p.banned ? 'banned' : 'penalized'}: ${p.reason}`, p.at)
    }
    return last
  }

  private transfers (list: TransferSnapshot[], at: number): TransferView[] {
    const live = new Set<string>()
    const views = list.map(t => {
      const key = `${t.root}@${t.started}`
      live.add(key)
      const samples = this.transferSamples.get(key) ?? []
      samples.push({ at, bytes: t.bytes_fetched })
      if (samples.length > TRANSFER_RATE_SAMPLES) samples.shift()
      this.transferSamples.set(key, samples)
      const first = samples[0]
      const rate = at > first.at ? (t.bytes_fetched - first.bytes) / ((at - first.at) / 1000) : 0
      const done = t.bytes_fetched + t.bytes_local
      const left = Math.max(0, t.bytes_total - done)
      return {
        root: t.root,
        started: t.started,
        bytesTotal: t.bytes_total,
        bytesDone: done,
        bytesFetched: t.bytes_fetched,
        bytesLocal: t.bytes_local,
        rate,
        etaSec: rate > 0 && t.bytes_total > 0 ? left / rate : null,
        sources: Object.entries(t.sources).map(([peer, bytes]) => ({ peer, bytes })).sort((a, b) => b.bytes - a.bytes),
        peers: t.peers
      }
    })
    for (const key of this.transferSamples.keys()) if (!live.has(key)) this.transferSamples.delete(key)
    return views
  }

  /** Measure, one at a time in the background, the shares of the shown refs' targets that are missing or stale. */
  private measureShares (roots: string[], at: number): void {
    const wanted = new Set(roots)
    for (const cid of this.shares.keys()) if (!wanted.has(cid)) this.shares.delete(cid)
    if (this.measuring !== undefined) return
    const seedShare = this.sources.seedShare?.bind(this.sources)
    const localStale = (cid: string): boolean => at - (this.shares.get(cid)?.measured ?? -Infinity) >= this.shareRefreshMs
    const seedStale = (cid: string): boolean => seedShare !== undefined && at - (this.shares.get(cid)?.seedMeasured ?? -Infinity) >= this.seedShareRefreshMs
    const stale = roots.filter(cid => localStale(cid) || seedStale(cid))
    if (stale.length === 0) return
    this.measuring = (async () => {
      for (const cid of stale) {
        if (this.watchers.size === 0) return
        const before = this.shares.get(cid) ?? { local: null, seed: null, measured: -Infinity, seedMeasured: -Infinity }
        const [local, seed] = await Promise.all([
          localStale(cid) ? this.sources.localShare(cid).then(shareView, () => null) : before.local,
          seedStale(cid) ? seedShare?.(cid).then(shareView, () => null) ?? null : before.seed
        ])
        const now = this.now()
        if (wanted.has(cid)) this.shares.set(cid, { local, seed, measured: localStale(cid) ? now : before.measured, seedMeasured: seedStale(cid) ? now : before.seedMeasured })
      }
    })().finally(() => { this.measuring = undefined })
  }
}

function trafficOf (m: MetricsSnapshot): Traffic {
  const peers: Traffic['peers'] = {}
  for (const [peer, bytes] of Object.entries(m.fetchedBytesByPeer)) peers[peer] = { received: bytes, served: 0 }
  for (const [peer, bytes] of Object.entries(m.servedBytesByPeer)) peers[peer] = { received: peers[peer]?.received ?? 0, served: bytes }
  const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0)
  return { total: { received: sum(m.fetchedBytes), served: sum(m.servedBytesByPeer) }, peers }
}

async function panel<T> (p: Promise<T>): Promise<{ ok: true, data: T } | { ok: false, error: string }> {
  try {
    return { ok: true, data: await p }
  } catch (err) {
    return { ok: false, error: (err as Error).message }
  }
}

function shareView (s: HeldShare): ShareView {
  return { bytes: s.bytes, held: s.held, complete: s.complete, ...(s.note === undefined ? {} : { note: s.note }) }
}

/** "12D3Ko…x7Qa": enough of a peer id to tell peers apart in an event line. */
function shortId (id: string): string {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id
}

function shortCid (cid: string): string {
  return cid.length > 16 ? `${cid.slice(0, 8)}…${cid.slice(-6)}` : cid
}
