import assert from 'node:assert/strict'
import { DashboardSampler } from '../../../node/dashboard/sampler.ts'
import type { DashboardSources } from '../../../node/dashboard/sampler.ts'
import type { Snapshot } from '../../../node/dashboard/index.ts'
import type { NetworkStatus, PeerInfo, TransferSnapshot, PenaltyEvent } from '../../../node/net/index.ts'
import type { MetricsSnapshot } from '../../../node/metrics/index.ts'
import type { LockGrant, RefRecord, AuditEntry } from '../../../src/state/index.ts'
import type { ClusterStatus } from '../../../node/consensus/index.ts'
import { NoVotersError } from '../../../node/consensus/errors.ts'

const A = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const B = '12D3KooWBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const CID1 = 'bafyr4ibik57z44jtoay5bsfmvtn7ofkoudmxyc7vmfsca6qp6j7bf3d72q'
const CID2 = 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi'

/** A daemon's state the spec changes between samples. */
class World implements DashboardSources {
  now = 1_000_000
  peerList: PeerInfo[] = []
  /** what the metrics count: bytes fetched (all from the LAN here) and served, by peer */
  perPeer: Record<string, { received: number, served: number }> = {}
  downloads: TransferSnapshot[] = []
  penaltyLog: Array<PenaltyEvent & { seq: number }> = []
  refList: RefRecord[] = []
  lockList: LockGrant[] = []
  audit: AuditEntry[] = []
  voters = true
  localShares = 0

  async node () {
    return { status: { peerId: A, roles: ['peer'], addresses: [], swarm: { private: false, transports: ['tcp'] } } as unknown as NetworkStatus, repo: { blocks: 1, bytes: 2, pins: 0, counting: false, dir: '/r' } }
  }

  peers (): PeerInfo[] { return this.peerList }
  async metrics (): Promise<MetricsSnapshot> {
    const peers = Object.entries(this.perPeer)
    const sum = (pick: (t: { received: number, served: number }) => number): number => peers.reduce((n, [, t]) => n + pick(t), 0)
    // the fields the sampler reads; the rest of the registry does not matter here
    return {
      fetchedBytes: { seed: 0, lan: sum(t => t.received), wan: 0 },
      fetchedBytesByPeer: Object.fromEntries(peers.map(([p, t]) => [p, t.received])),
      servedBytesByPeer: Object.fromEntries(peers.map(([p, t]) => [p, t.served])),
      repo: { blocks: 3, bytes: 4 }
    } as unknown as MetricsSnapshot
  }
  transfers (): TransferSnapshot[] { return this.downloads.map(d => ({ ...d })) }
  penalties () { return this.penaltyLog }
  names () { return { [B]: 'ana-ws' } }
  async refs () { return this.voters ? this.refList : await Promise.reject(new NoVotersError()) }
  async locks () { return { locks: this.lockList, waiters: [] } }
  async lockAudit () { return { entries: this.audit, dropped: 0 } }
  async cluster (): Promise<ClusterStatus> { return { leader: A, term: 2, commitIndex: 9, appliedIndex: 9, firstIndex: 1, snapshotIndex: 0, answeredBy: A, voters: [] } }
  async localShare () {
    this.localShares++
    return { bytes: 10, held: 5, complete: true }
  }
}

const peer = (id: string): PeerInfo => ({ id, addrs: [], direction: 'outbound', transport: 'tcp', roles: ['peer'], lan: true, hello: 'ok' })
const ref = (name: string, cid: string, index: number): RefRecord => ({ name, cid, index, when: index, who: B, token: null })
const lock = (path: string, token: number): LockGrant => ({ path, mode: 'exclusive', owner: B, token, expires: 2_000_000, ttlMs: 30_000, grantedAt: 0 })

describe('node/dashboard sampler', () => {
  let w: World
  let s: DashboardSampler
  beforeEach(() => {
    w = new World()
    s = new DashboardSampler(w, { now: () => w.now, shareRefreshMs: 60_000 })
  })
  afterEach(async () => { await s.stop() })

  const step = async (ms = 1000): Promise<Snapshot> => {
    w.now += ms
    return await s.sample()
  }
  const texts = (snap: Snapshot): string[] => snap.events.map(e => e.text)

  it('derives rates from two samples: per peer, per transfer (with an ETA), and the throughput point', async () => {
    w.peerList = [peer(B)]
    w.perPeer = { [B]: { received: 0, served: 0 } }
    w.downloads = [{ root: CID1, started: 5, bytes_total: 10_000_000, bytes_fetched: 0, bytes_local: 0, manifests_fetched: 1, sources: {}, peers: 1, in_flight: 4, window_items: 4 }]
    await step()
    w.perPeer[B] = { received: 2_000_000, served: 500_000 }
    w.downloads[0].bytes_fetched = 2_000_000
    w.downloads[0].sources = { [B]: 2_000_000 }
    const snap = await step(2000)
    assert.deepEqual([snap.peers[0].rateIn, snap.peers[0].rateOut, snap.peers[0].name], [1_000_000, 250_000, 'ana-ws'])
    assert.deepEqual([snap.throughput.in, snap.throughput.out], [1_000_000, 250_000])
    // the repo's numbers are the registry's (dits_repo_blocks, dits_repo_bytes)
    assert.deepEqual([snap.node.repo.blocks, snap.node.repo.bytes], [3, 4])
    const t = snap.transfers[0]
    assert.deepEqual([t.rate, t.etaSec, t.bytesDone, t.sources], [1_000_000, 8, 2_000_000, [{ peer: B, bytes: 2_000_000 }]])
    // a counter that went down (a peer that reconnected) is no negative rate
    w.perPeer[B] = { received: 10, served: 0 }
    assert.equal((await step()).peers[0].rateIn, 0)
  })

  it('turns changes into events: peers coming and going, refs set, moved and removed', async () => {
    await step()
    w.peerList = [peer(B)]
    w.refList = [ref('reel3/cut', CID1, 4)]
    assert.deepEqual(texts(await step()), ['peer ana-ws connected', `ref reel3/cut set to ${CID1.slice(0, 8)}…${CID1.slice(-6)} by ana-ws`])
    w.refList = [ref('reel3/cut', CID2, 5)]
    assert.match(texts(await step())[0], /^ref reel3\/cut moved .* → .* by ana-ws$/)
    w.refList = []
    w.peerList = []
    assert.deepEqual(texts(await step()), ['peer ana-ws disconnected', 'ref reel3/cut removed'])
  })

  it('tells a released lock from an expired or broken one (the audit log), and a grant from a renewal', async () => {
    await step()
    w.lockList = [lock('a/', 5), lock('b/', 6), lock('c/', 7)]
    assert.equal(texts(await step()).filter(t => / granted exclusive to ana-ws/.test(t)).length, 3)
    // a renewal moves the lease, not the token: no new grant
    w.lockList = [lock('a/', 5), lock('b/', 6), { ...lock('c/', 7), expires: 3_000_000 }]
    assert.deepEqual(texts(await step()), [])
    w.lockList = []
    w.audit = [
      { kind: 'expire', grant: lock('a/', 5), by: null, reason: 'lease expired', when: 7, index: 9 },
      { kind: 'break', grant: lock('b/', 6), by: A, reason: 'ana went home', when: 8, index: 10 }
    ]
    const events = (await step()).events
    assert.deepEqual(events.map(e => [e.level, e.text]), [
      ['warn', 'lock a/ of ana-ws expired (lease of 30 s not renewed)'],
      ['warn', 'lock b/ of ana-ws broken by 12D3Ko…AAAA: ana went home'],
      ['info', 'lock c/ released by ana-ws']
    ])
    // the audit log is read again each sample: its entries are not told twice
    assert.deepEqual(texts(await step()), [])
  })

  it('reports verification failures and bans from the penalty log once each', async () => {
    await step()
    w.penaltyLog = [
      { seq: 1, peer: B, reason: `sent bytes for ${CID1} that fail BLAKE3 verification`, points: 3, banned: true, at: 5 },
      { seq: 2, peer: A, reason: 'malformed frame', points: 1, banned: false, at: 6 },
      { seq: 3, peer: A, reason: 'malformed frame', points: 2, banned: true, at: 7 }
    ]
    const events = (await step()).events
    assert.deepEqual(events.map(e => [e.kind, e.level]), [['verification', 'error'], ['peer', 'warn'], ['ban', 'error']])
    assert.equal(events[0].text, `peer ana-ws banned: sent bytes for ${CID1} that fail BLAKE3 verification`)
    assert.deepEqual((await step()).events, [])
  })

  it('a source that fails marks its panel with the reason, the others still show', async () => {
    w.voters = false
    const snap = await step()
    assert.equal(snap.refs.ok, false)
    assert.match(snap.refs.ok ? '' : snap.refs.error, /no consensus voters configured/)
    assert.equal(snap.cluster.ok, true)
  })

  it('samples only while watched, and keeps the throughput history for the next page', async () => {
    const seen: Snapshot[] = []
    const fast = new DashboardSampler(w, { sampleMs: 20 })
    try {
      const watcher = (snap: Snapshot): void => { seen.push(snap) }
      const first = fast.watch(watcher)
      assert.deepEqual(first, { throughput: [], events: [] })
      while (seen.length < 3) await new Promise(resolve => setTimeout(resolve, 10))
      fast.unwatch(watcher)
      const count = seen.length
      await new Promise(resolve => setTimeout(resolve, 100))
      assert.ok(seen.length <= count + 1, `${seen.length - count} samples after the last watcher left`)
      assert.ok(fast.watch(() => {}).throughput.length >= 2)
    } finally {
      await fast.stop()
    }
  })

  it('measures each shown ref\'s local share once per refresh, in the background', async () => {
    w.refList = [ref('x', CID1, 1), ref('y', CID2, 2)]
    s.watch(() => {})
    const first = await step()
    assert.deepEqual(first.refs.ok ? first.refs.data.items.map(r => r.local) : [], [null, null])
    await new Promise(resolve => setTimeout(resolve, 20))
    const second = await step()
    assert.deepEqual(second.refs.ok ? second.refs.data.items.map(r => r.local) : [], [{ bytes: 10, held: 5, complete: true }, { bytes: 10, held: 5, complete: true }])
    assert.equal(second.refs.ok && second.refs.data.seedSource, false)
    await step()
    assert.equal(w.localShares, 2)
  })

  it('asks for the seed\'s share on its own, slower refresh, and says when no seed answered', async () => {
    let asked = 0
    const seeded = Object.assign(w, {
      seedShare: async () => {
        asked++
        return asked === 1 ? { bytes: 10, held: 0, complete: false, note: 'no seed reachable' } : { bytes: 10, held: 10, complete: true }
      }
    })
    const t = new DashboardSampler(seeded, { now: () => w.now, shareRefreshMs: 1000, seedShareRefreshMs: 10_000 })
    try {
      w.refList = [ref('x', CID1, 1)]
      t.watch(() => {})
      const seedOf = (snap: Snapshot): unknown => snap.refs.ok ? snap.refs.data.items[0].seed : undefined
      const tick = async (ms: number): Promise<Snapshot> => {
        w.now += ms
        const snap = await t.sample()
        await new Promise(resolve => setTimeout(resolve, 10))
        return snap
      }
      assert.equal((await tick(0)).refs.ok && (await tick(0)).refs.ok, true)
      assert.deepEqual(seedOf(await tick(0)), { bytes: 10, held: 0, complete: false, note: 'no seed reachable' })
      for (let i = 0; i < 5; i++) await tick(1000)
      assert.equal(asked, 1)
      assert.ok(w.localShares >= 5)
      await tick(10_000)
      assert.deepEqual(seedOf(await tick(0)), { bytes: 10, held: 10, complete: true })
      assert.equal(asked, 2)
    } finally {
      await t.stop()
    }
  })
})
