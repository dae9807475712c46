import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dits } from '../../helpers/cli.ts'
import { VoterCluster } from './cluster.ts'
import { CID_A, CID_B } from './helpers.ts'
import type { RefRecord } from '../../../src/state/index.ts'

const REQUEST_TIMEOUT_MS = 5_000

/**
 * Issue 16, found by an outside linearizability check: with the leader SIGSTOPped, a write sent through another
 * voter waited the full 5 s and exited 4 "no quorum: 0 of 3 voters reachable", although that voter was
 * reachable and became leader 2.3 s in. A frozen leader keeps its TCP connections open and answers nothing.
 */
describe('consensus: a request follows a new leader (real voter processes, leader SIGSTOPped)', function () {
  this.timeout(120_000)
  let work: string
  let group: VoterCluster
  let stopped: number | undefined

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-follow-'))
    group = new VoterCluster(work, 3, { consensus: { requestTimeoutMs: REQUEST_TIMEOUT_MS } })
    await group.create()
    await group.startAll()
    await group.leader(0)
  })

  after(async () => {
    const pid = stopped === undefined ? undefined : group.pid(stopped)
    if (pid !== undefined) process.kill(pid, 'SIGCONT')
    await group?.stopAll()
    await rm(work, { recursive: true, force: true })
  })

  it('a write through a follower commits once the new leader is elected, well within the request timeout', async () => {
    const leader = await group.leader(0)
    const via = (leader + 1) % group.size
    // the follower's client learns the leader with a first write
    let r = await dits(['--repo', group.repos[via], 'ref', 'set', 'reels/r1', CID_A])
    assert.equal(r.code, 0, r.stderr)
    stopped = leader
    process.kill(group.pid(leader) as number, 'SIGSTOP')
    const started = Date.now()
    r = await dits(['--repo', group.repos[via], '--json', 'ref', 'set', 'reels/r1', CID_B, '--expect', CID_A])
    const took = Date.now() - started
    assert.equal(r.code, 0, `exit ${r.code} after ${took} ms: ${r.stderr}`)
    assert.equal(JSON.parse(r.stdout).cid, CID_B)
    assert.ok(took < REQUEST_TIMEOUT_MS, `took ${took} ms`)
    const survivor = (leader + 2) % group.size
    const api = await group.api(survivor)
    assert.equal((await api.call<RefRecord>('refGet', { name: 'reels/r1' })).cid, CID_B)
  })

  it('with two voters frozen, "no quorum" counts the voter that answered', async () => {
    const other = [0, 1, 2].find(i => i !== stopped && group.running(i)) as number
    const via = [0, 1, 2].find(i => i !== stopped && i !== other) as number
    process.kill(group.pid(other) as number, 'SIGSTOP')
    try {
      const r = await dits(['--repo', group.repos[via], 'ref', 'set', 'reels/r2', CID_A])
      assert.equal(r.code, 4, r.stderr)
      assert.match(r.stderr, /no quorum: 1 of 3 voters reachable/)
    } finally {
      process.kill(group.pid(other) as number, 'SIGCONT')
    }
  })
})
