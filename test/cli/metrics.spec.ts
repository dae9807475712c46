import assert from 'node:assert/strict'
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dits, ROOT } from '../helpers/cli.ts'
import { VoterCluster, freePorts } from '../node/consensus/cluster.ts'
import { waitFor } from '../node/net/helpers.ts'
import { API_FILE, API_TOKEN_FILE } from '../../node/repo.ts'
import { GC_CLOCK_SLACK_MS } from '../../node/blockstore.ts'

/** One sample of a scrape: `name{labels} value`. */
interface Sample { name: string, labels: Record<string, string>, value: number }

function parse (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(m != null, `not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    samples.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return samples
}

/** The value of `name` with (at least) `labels`; fails when the scrape lacks it. */
function value (samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.find(x => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
  assert.ok(s !== undefined, `the scrape has no ${name}${JSON.stringify(labels)}`)
  return s.value
}

/** Every dits metric README documents (and its type), read from the README table so that the two agree. */
async function documented (): Promise<Array<{ name: string, type: string }>> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  return [...readme.matchAll(/^\| `(dits_[a-z_]+)` \| (counter|gauge|histogram) \|/gm)].map(m => ({ name: m[1], type: m[2] }))
}

/**
 * Two real daemons on loopback — a voter (a group of one) and a peer that scrapes without the token on
 * metrics.listen — doing real work: add, get between them, ref sets, locks, gc. Every documented metric is in
 * each scrape, with values that follow from the work.
 */
describe('metrics: /metrics of real daemons (CLI)', function () {
  this.timeout(120_000)
  let work: string
  let group: VoterCluster
  let listenPort: number
  const VOTER = 0
  const PEER = 1
  const FILE_BYTES = 3 * 1024 * 1024 + 12345

  const ok = async (node: number, args: string[]): Promise<string> => {
    const r = await dits(['--repo', group.repos[node], ...args])
    assert.equal(r.code, 0, `dits-node ${args.join(' ')} on node ${node} exited ${r.code}: ${r.stderr}`)
    return r.stdout
  }
  const api = async (node: number): Promise<{ url: string, token: string }> => ({
    url: (await readFile(join(group.repos[node], API_FILE), 'utf8')).trim(),
    token: (await readFile(join(group.repos[node], API_TOKEN_FILE), 'utf8')).trim()
  })
  const scrape = async (node: number): Promise<Sample[]> => {
    const { url, token } = await api(node)
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    return parse(await res.text())
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-metrics-'))
    group = new VoterCluster(work, 1)
    await group.create(1)
    ;[listenPort] = await freePorts(1)
    await ok(PEER, ['config', 'set', 'metrics.listen', JSON.stringify(`127.0.0.1:${listenPort}`)])
    await group.startAll()
    await group.leader(VOTER)
  })

  after(async () => {
    await group?.stopAll()
    await rm(work, { recursive: true, force: true })
  })

  it('answers 401 without the token, and 405 to anything but GET', async () => {
    const { url, token } = await api(VOTER)
    assert.equal((await fetch(`${url}/metrics`)).status, 401)
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer 00' } })).status, 401)
    assert.equal((await fetch(`${url}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 405)
  })

  it('counts real work: add, a get between the daemons, ref sets, locks and gc', async () => {
    const file = join(work, 'clip.mov')
    await writeFile(file, randomBytes(FILE_BYTES))
    const root = (await ok(VOTER, ['add', '--profile', 'small', file])).trim().split('\n').pop() as string
    await ok(PEER, ['connect', group.addrs[VOTER]])
    // the peer's DHT knows the voter (libp2p's own metric, in the same registry): its get looks the root up
    await waitFor(async () => value(await scrape(PEER), 'dits_kad_routing_table_size') >= 1, 15_000, 'the peer\'s DHT routing table')
    await ok(PEER, ['get', root, '-o', join(work, 'out.mov')])
    assert.deepEqual(await readFile(join(work, 'out.mov')), await readFile(file))
    // the get did not pin: gc on the peer removes what it fetched, once older than gc's clock slack (and before a ref
    // names it: a workstation's gc keeps a ref target no seed holds)
    await new Promise(resolve => setTimeout(resolve, GC_CLOCK_SLACK_MS + 200))
    await ok(PEER, ['gc'])

    await ok(PEER, ['ref', 'set', 'projects/reel3/cut', root, '--expect-none'])
    const conflict = await dits(['--repo', group.repos[PEER], 'ref', 'set', 'projects/reel3/cut', root, '--expect-none'])
    assert.equal(conflict.code, 3)
    await ok(PEER, ['lock', 'acquire', 'projects/reel3/a.mov'])
    await ok(PEER, ['lock', 'acquire', 'projects/reel3/b.mov'])
    await ok(VOTER, ['lock', 'break', 'projects/reel3/b.mov', '--reason', 'metrics spec'])

    const voter = await scrape(VOTER)
    const peer = await scrape(PEER)
    const voterId = group.peerIds[VOTER]
    const peerId = group.peerIds[PEER]

    // content: fetched from a LAN (loopback) peer, by peer, verified; served by the voter to that peer
    assert.ok(value(peer, 'dits_fetched_bytes_total', { source: 'lan' }) >= FILE_BYTES)
    assert.equal(value(peer, 'dits_fetched_bytes_total', { source: 'seed' }), 0)
    assert.ok(value(peer, 'dits_fetched_peer_bytes_total', { peer: voterId }) >= FILE_BYTES)
    assert.ok(value(peer, 'dits_blocks_verified_total', { kind: 'chunk' }) >= FILE_BYTES / (256 * 1024))
    assert.ok(value(peer, 'dits_blocks_verified_total', { kind: 'manifest' }) >= 1)
    assert.equal(value(peer, 'dits_blocks_failed_verification_total'), 0)
    assert.equal(value(peer, 'dits_peers_banned_total'), 0)
    assert.ok(value(voter, 'dits_served_bytes_total', { peer: peerId }) >= FILE_BYTES)
    assert.equal(value(peer, 'dits_transfers_active', { direction: 'download' }), 0)
    // DHT: the peer looked the root up; the voter announced it (once the peer joined its DHT)
    assert.ok(value(peer, 'dits_dht_lookups_total', { result: 'ok' }) >= 1)
    assert.ok(value(peer, 'dits_dht_lookup_duration_seconds_count') >= 1)
    await waitFor(async () => value(await scrape(VOTER), 'dits_dht_provides_total', { result: 'ok' }) >= 1, 15_000, 'the voter\'s announcement')
    // Raft on the voter: a leader in term >= 1 that applied the proposals; none of it on the peer
    assert.ok(value(voter, 'dits_raft_term') >= 1)
    assert.ok(value(voter, 'dits_raft_commit_index') >= 4)
    assert.equal(value(voter, 'dits_raft_applied_index'), value(voter, 'dits_raft_commit_index'))
    assert.equal(value(voter, 'dits_raft_leader'), 1)
    assert.ok(value(voter, 'dits_raft_leader_changes_total') >= 1)
    assert.ok(value(voter, 'dits_raft_proposal_duration_seconds_count', { result: 'ok' }) >= 5)
    assert.equal(value(peer, 'dits_raft_term'), 0)
    // locks: one held (the other was broken), in the voter's replica; the peer renews the lease it holds
    assert.equal(value(voter, 'dits_locks_held'), 1)
    assert.equal(value(voter, 'dits_locks_waiting'), 0)
    assert.equal(value(voter, 'dits_locks_lost_total', { how: 'broken' }), 1)
    assert.equal(value(voter, 'dits_locks_lost_total', { how: 'expired' }), 0)
    // the peer learns of the break at its next renewal: until then it still renews both leases
    assert.ok([1, 2].includes(value(peer, 'dits_lock_leases')))
    // refs: issued by the peer
    assert.equal(value(peer, 'dits_refs_set_total', { result: 'ok' }), 1)
    assert.equal(value(peer, 'dits_refs_set_total', { result: 'conflict' }), 1)
    // gc and the repo
    assert.equal(value(peer, 'dits_gc_runs_total'), 1)
    assert.ok(value(peer, 'dits_gc_freed_bytes_total') >= FILE_BYTES)
    assert.ok(value(peer, 'dits_gc_freed_blocks_total') >= FILE_BYTES / (256 * 1024))
    assert.ok(value(voter, 'dits_repo_bytes') >= FILE_BYTES)
    assert.ok(value(voter, 'dits_repo_blocks') >= FILE_BYTES / (256 * 1024))
    assert.ok(value(peer, 'dits_repo_bytes') < FILE_BYTES)
    // libp2p's own metrics, in the same registry
    assert.ok(value(peer, 'libp2p_connection_manager_connections', { libp2p_connection_manager_connections: 'outbound' }) >= 1)
    assert.ok(value(voter, 'libp2p_connection_manager_connections', { libp2p_connection_manager_connections: 'inbound' }) >= 1)

    // the rare consensus events are in the voter's log at info as well
    const logged = (await readFile(join(group.repos[VOTER], 'logs', 'dits.log'), 'utf8')).trim().split('\n').map(l => JSON.parse(l) as { level: number, msg: string, leader?: string, how?: string })
    assert.ok(logged.some(l => l.level === 30 && l.msg === 'the consensus group has a new leader' && l.leader === voterId))
    assert.ok(logged.some(l => l.level === 30 && l.msg === 'a lock was broken' && l.how === 'broken'))

    // every metric README documents is served with its type, and has a value in one of the scrapes
    const docs = await documented()
    assert.ok(docs.length >= 25, `README documents ${docs.length} dits metrics`)
    const { url, token } = await api(PEER)
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text()
    for (const { name, type } of docs) {
      assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `${name} (${type}) is documented but not served as such`)
      assert.ok([...voter, ...peer].some(s => s.name === name || s.name.startsWith(`${name}_`)), `no scrape has a value of ${name}`)
    }
  })

  it('serves /metrics without the token on metrics.listen, and nothing else there', async () => {
    const res = await fetch(`http://127.0.0.1:${listenPort}/metrics`)
    assert.equal(res.status, 200)
    const samples = parse(await res.text())
    assert.equal(value(samples, 'dits_refs_set_total', { result: 'ok' }), 1)
    assert.equal((await fetch(`http://127.0.0.1:${listenPort}/rpc/id`, { method: 'POST' })).status, 404)
    assert.equal((await fetch(`http://127.0.0.1:${listenPort}/metrics`, { headers: { origin: 'http://evil.example' } })).status, 403)
    // the voter has no metrics.listen: only its API serves the metrics
    const { url } = await api(VOTER)
    assert.equal((await fetch(`${url}/metrics`)).status, 401)
  })

  it('counts a lease that expired: its holder was killed and stopped renewing', async () => {
    await ok(PEER, ['lock', 'acquire', 'projects/reel3/short.mov', '--ttl', '1s'])
    await group.kill(PEER)
    await waitFor(async () => value(await scrape(VOTER), 'dits_locks_lost_total', { how: 'expired' }) >= 1, 20_000, 'the lease to expire')
    const voter = await scrape(VOTER)
    // the peer's other lease (projects/reel3/a.mov, 30 s) may not have run out yet
    assert.ok(value(voter, 'dits_locks_held') <= 1)
  })
})
