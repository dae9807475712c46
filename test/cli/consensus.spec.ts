import assert from 'node:assert/strict'
import { mkdtemp, rm, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dits } from '../helpers/cli.ts'
import type { RunResult } from '../helpers/cli.ts'
import { VoterCluster } from '../node/consensus/cluster.ts'
import { waitFor } from '../node/net/helpers.ts'
import type { ClusterStatus, LockInfo } from '../../node/consensus/index.ts'

const CID_A = 'bafyr4ibik57z44jtoay5bsfmvtn7ofkoudmxyc7vmfsca6qp6j7bf3d72q'
const CID_B = 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi'
const REQUEST_TIMEOUT_MS = 3000
const SNAPSHOT_ENTRIES = 20

/**
 * Three real voter processes and one non-voter on loopback, driven through the CLI. The scenarios share the
 * group and run in order: the last ones kill voters.
 */
describe('consensus: refs and locks on three voter processes (CLI)', function () {
  this.timeout(180_000)
  let work: string
  let group: VoterCluster
  /** node 3 is a plain peer (not a voter) */
  const PEER = 3

  const run = async (node: number, args: string[]): Promise<RunResult> => await dits(['--repo', group.repos[node], ...args])
  const ok = async (node: number, args: string[]): Promise<string> => {
    const r = await run(node, args)
    assert.equal(r.code, 0, `dits-node ${args.join(' ')} on node ${node} exited ${r.code}: ${r.stderr}`)
    return r.stdout
  }
  const json = async <T>(node: number, args: string[]): Promise<T> => JSON.parse(await ok(node, ['--json', ...args])) as T
  const status = async (node: number): Promise<ClusterStatus> => await json<ClusterStatus>(node, ['cluster', 'status'])

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-consensus-'))
    group = new VoterCluster(work, 3, { consensus: { requestTimeoutMs: REQUEST_TIMEOUT_MS, snapshotEntries: SNAPSHOT_ENTRIES } })
    await group.create(1)
    await group.startAll()
    await group.leader(0)
  })

  after(async () => {
    await group?.stopAll()
    await rm(work, { recursive: true, force: true })
  })

  it('cluster status names one leader, its term and commit index, and every voter with its state and lag', async () => {
    const s = await status(PEER)
    assert.ok(s.leader !== null && group.peerIds.slice(0, 3).includes(s.leader))
    assert.ok(s.term >= 1 && s.commitIndex >= 3)
    assert.deepEqual(s.voters.map(v => v.id).sort(), group.peerIds.slice(0, 3).sort())
    for (const v of s.voters) {
      assert.equal(v.state, v.id === s.leader ? 'leader' : 'follower')
      assert.equal(typeof v.lag, 'number')
    }
  })

  it('sets refs by compare-and-swap: a mismatch exits 3 and names the current value', async () => {
    await ok(0, ['ref', 'set', 'projects/reel3/cut', CID_A, '--expect-none'])
    let r = await run(1, ['ref', 'set', 'projects/reel3/cut', CID_B, '--expect-none'])
    assert.equal(r.code, 3)
    assert.match(r.stderr, new RegExp(`is at ${CID_A}`))
    r = await run(PEER, ['ref', 'set', 'projects/reel3/cut', CID_A, '--expect', CID_B])
    assert.equal(r.code, 3)
    assert.match(r.stderr, new RegExp(CID_A))
    const set = await json<{ cid: string, old: string }>(PEER, ['ref', 'set', 'projects/reel3/cut', CID_B, '--expect', CID_A])
    assert.deepEqual([set.cid, set.old], [CID_B, CID_A])
    r = await run(2, ['ref', 'rm', 'projects/reel3/cut', '--expect', CID_A])
    assert.equal(r.code, 3)
    const missing = await run(2, ['ref', 'set', 'projects/reel3/other', CID_A, '--expect', CID_B])
    assert.equal(missing.code, 3)
    assert.match(missing.stderr, /does not exist/)
  })

  it('reads the same value from every node, voter or not (linearizable reads)', async () => {
    await ok(2, ['ref', 'set', 'projects/reel3/grade', CID_A])
    const reads = await Promise.all([0, 1, 2, PEER].map(async n => (await ok(n, ['ref', 'get', 'projects/reel3/grade'])).trim()))
    assert.deepEqual(reads, [CID_A, CID_A, CID_A, CID_A])
    const ls = await json<Array<{ name: string }>>(1, ['ref', 'ls', 'projects/reel3/'])
    assert.deepEqual(ls.map(r => r.name), ['projects/reel3/cut', 'projects/reel3/grade'])
    const log = await json<{ entries: Array<{ old: string | null, new: string | null, who: string }> }>(PEER, ['ref', 'log', 'projects/reel3/cut'])
    assert.deepEqual(log.entries.map(e => [e.old, e.new]), [[null, CID_A], [CID_A, CID_B]])
    assert.equal(log.entries[1].who, group.peerIds[PEER])
    const absent = await run(0, ['ref', 'get', 'projects/none'])
    assert.equal(absent.code, 1)
  })

  it('locks are hierarchical and fenced, and their tokens only increase', async () => {
    const dir = await json<LockInfo>(0, ['lock', 'acquire', 'reels/r3/', '--ttl', '30s'])
    assert.equal(dir.mode, 'exclusive')
    assert.equal(dir.owner, group.peerIds[0])
    assert.ok(dir.expires > Date.now())
    // a file under the locked directory conflicts; a sibling directory does not
    const under = await run(1, ['lock', 'acquire', 'reels/r3/cut.prproj'])
    assert.equal(under.code, 3)
    assert.match(under.stderr, /reels\/r3\//)
    const sibling = await json<LockInfo>(1, ['lock', 'acquire', 'reels/r4/cut.prproj', '--shared'])
    assert.ok(sibling.token > dir.token)
    // fencing: a ref under another node's exclusive lock is refused; the holder writes with its token
    const fenced = await run(1, ['ref', 'set', 'reels/r3/cut', CID_A])
    assert.equal(fenced.code, 3)
    await ok(0, ['ref', 'set', 'reels/r3/cut', CID_A, '--token', String(dir.token)])
    // the lock passes to node 1 (a waiter, granted on release); node 0's old token is now refused
    const waiting = json<LockInfo>(1, ['lock', 'acquire', 'reels/r3/', '--wait', '20s'])
    await new Promise(resolve => setTimeout(resolve, 1500))
    await ok(0, ['lock', 'release', 'reels/r3/'])
    const next = await waiting
    assert.equal(next.owner, group.peerIds[1])
    assert.ok(next.token > sibling.token)
    const stale = await run(0, ['ref', 'set', 'reels/r3/cut', CID_B, '--token', String(dir.token)])
    assert.equal(stale.code, 3)
    const ls = await json<{ locks: Array<{ path: string, owner: string }> }>(2, ['lock', 'ls', 'reels/'])
    assert.deepEqual(ls.locks.map(l => [l.path, l.owner]), [['reels/r3/', group.peerIds[1]], ['reels/r4/cut.prproj', group.peerIds[1]]])
    await ok(1, ['lock', 'release', 'reels/r3/'])
    await ok(1, ['lock', 'release', 'reels/r4/cut.prproj'])
    const broken = await json<LockInfo>(2, ['lock', 'acquire', 'reels/r5/'])
    assert.ok(broken.token > next.token)
    const b = await json<{ broken: LockInfo[] }>(0, ['lock', 'break', 'reels/r5/', '--reason', 'editor left for the day'])
    assert.equal(b.broken[0].owner, group.peerIds[2])
  })

  it('access ls|grant|revoke: only an admin changes roles, changes are replicated and audited, a missing role exits 3', async () => {
    const before = await json<{ source: string, table: { read: string[] | null } }>(PEER, ['access', 'ls'])
    assert.equal(before.source, 'config')
    assert.equal(before.table.read, null)
    // a plain peer is not admin while the voters are
    const denied = await run(PEER, ['access', 'grant', 'read', group.peerIds[PEER]])
    assert.equal(denied.code, 3, denied.stderr)
    assert.match(denied.stderr, new RegExp(`peer ${group.peerIds[PEER]} lacks the admin role`))
    for (const [i, name] of [[0, 'v0'], [1, 'v1'], [2, 'v2'], [PEER, 'ana-ws']] as const) await ok(0, ['access', 'grant', 'read', group.peerIds[i], '--name', name])
    await ok(1, ['access', 'revoke', 'read', group.peerIds[PEER]])
    const refused = await run(PEER, ['ref', 'get', 'reels/r3/cut'])
    assert.equal(refused.code, 3)
    assert.match(refused.stderr, new RegExp(`peer ${group.peerIds[PEER]} \\(ana-ws\\) lacks the read role`))
    await ok(2, ['access', 'grant', 'read', group.peerIds[PEER]])
    const text = await ok(PEER, ['access', 'ls'])
    assert.match(text, /source {2}replicated/)
    assert.match(text, /revoke read from .*\(ana-ws\)/)
    const after = await json<{ source: string, audit: Array<{ change: string, by: string }> }>(PEER, ['access', 'ls'])
    assert.deepEqual(after.audit.map(e => e.change), ['grant', 'grant', 'grant', 'grant', 'revoke', 'grant'])
    assert.equal(after.audit[4].by, group.peerIds[1])
    assert.equal((await run(0, ['access', 'grant', 'reader', group.peerIds[PEER]])).code, 2)
    assert.equal((await run(0, ['access', 'grant', 'read', 'not-a-peer'])).code, 2)
    // the ref log names the writing node and, marked as such, the user it said it acts for
    assert.match(await ok(0, ['ref', 'log', 'reels/r3/cut']), new RegExp(`${group.peerIds[0]} \\(user [^,]+, unverified\\)`))
  })

  it('a holder\'s node killed: its lease runs out, the leader frees the lock and regrants it with a higher token', async () => {
    const held = await json<LockInfo>(PEER, ['lock', 'acquire', 'clips/c1.mov', '--ttl', '3s'])
    // renewed in the background while the node lives: still held after more than one lease
    await new Promise(resolve => setTimeout(resolve, 3500))
    const busy = await run(1, ['lock', 'acquire', 'clips/c1.mov'])
    assert.equal(busy.code, 3, `expected the lock to be held still: exit ${busy.code} ${busy.stdout} ${busy.stderr}`)
    await group.kill(PEER)
    const started = Date.now()
    const regrant = await json<LockInfo>(1, ['lock', 'acquire', 'clips/c1.mov', '--wait', '20s'])
    assert.equal(regrant.owner, group.peerIds[1])
    assert.ok(regrant.token > held.token)
    assert.ok(Date.now() - started < 15_000, `regranted after ${Date.now() - started} ms`)
    await ok(1, ['lock', 'release', 'clips/c1.mov'])
  })

  it('the leader SIGKILLed: a survivor takes the writes, and the killed voter catches up from the log on restart', async () => {
    const leader = await group.leader(0)
    const survivor = [0, 1, 2].find(i => i !== leader) as number
    await group.kill(leader)
    const t0 = Date.now()
    await ok(survivor, ['ref', 'set', 'failover/after', CID_B])
    assert.ok(Date.now() - t0 < 10_000)
    const s = await status(survivor)
    assert.ok(s.leader !== null && s.leader !== group.peerIds[leader])
    assert.equal(s.voters.find(v => v.id === group.peerIds[leader])?.state, 'unreachable')
    await group.start(leader)
    assert.equal((await ok(leader, ['ref', 'get', 'failover/after'])).trim(), CID_B)
  })

  it('a voter that missed more than the retained log catches up by snapshot', async () => {
    const leader = await group.leader(0)
    const victim = [0, 1, 2].find(i => i !== leader) as number
    const before = await status(leader)
    const victimMatch = before.voters.find(v => v.id === group.peerIds[victim])?.match as number
    await group.kill(victim)
    // enough commands that the leader snapshots and compacts past what the victim has
    const api = await group.api(leader)
    for (let i = 0; i < SNAPSHOT_ENTRIES * 3; i++) await api.call('refSet', { name: `bulk/${i}`, cid: i % 2 === 0 ? CID_A : CID_B })
    const compacted = await status(leader)
    assert.ok(compacted.firstIndex > victimMatch + 1, `the leader still holds entry ${victimMatch + 1} (first index ${compacted.firstIndex})`)
    await group.start(victim)
    assert.equal((await ok(victim, ['ref', 'get', `bulk/${SNAPSHOT_ENTRIES * 3 - 1}`])).trim(), CID_B)
    // a voter writes a newer snapshot before it prunes the older one: wait out that moment, if it is in it
    const snapshots = async (): Promise<string[]> => (await readdir(join(group.repos[victim], 'datastore', 'raft'))).filter(n => n.startsWith('snap-'))
    await waitFor(async () => (await snapshots()).length === 1, 5_000, 'one snapshot left')
    const snaps = await snapshots()
    assert.ok(parseInt(snaps[0].slice(5, 21), 16) > victimMatch)
  })

  it('with two voters killed, a command fails with exit 4 "no quorum" within the request timeout, and applies nowhere', async () => {
    const leader = await group.leader(0)
    const survivor = [0, 1, 2].find(i => i !== leader) as number
    for (const i of [0, 1, 2]) if (i !== survivor) await group.kill(i)
    const t0 = Date.now()
    const r = await run(survivor, ['ref', 'set', 'minority/write', CID_A])
    const elapsed = Date.now() - t0
    assert.equal(r.code, 4)
    assert.match(r.stderr, /no quorum: 1 of 3 voters reachable/)
    // the CLI's own start-up comes on top of the bound
    assert.ok(elapsed < REQUEST_TIMEOUT_MS + 4000, `took ${elapsed} ms`)
    const read = await run(survivor, ['ref', 'get', 'projects/reel3/grade'])
    assert.equal(read.code, 4)
    // with a majority back the group answers, and the minority never applied the write on its own
    for (const i of [0, 1, 2]) if (i !== survivor) await group.start(i)
    const after = await run(0, ['ref', 'get', 'minority/write'])
    assert.equal(after.code, 1, after.stderr)
  })
})
