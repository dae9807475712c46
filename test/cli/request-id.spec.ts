import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dits } from '../helpers/cli.ts'
import type { RunResult } from '../helpers/cli.ts'
import { VoterCluster } from '../node/consensus/cluster.ts'
import type { RefLogReply } from '../../src/state/index.ts'

const CID_A = 'bafyr4ibik57z44jtoay5bsfmvtn7ofkoudmxyc7vmfsca6qp6j7bf3d72q'
const CID_B = 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi'
const REQUEST_TIMEOUT_MS = 3000

/**
 * Issue 16: two writes that exited 4 had committed. `--request-id ID` makes a CLI retry the same (client, seq),
 * so a script can retry a write whose outcome it does not know and have it applied once.
 */
describe('consensus: --request-id makes a retried write apply once (three voter processes, CLI)', function () {
  this.timeout(180_000)
  let work: string
  let group: VoterCluster
  const frozen: number[] = []

  const run = async (node: number, args: string[]): Promise<RunResult> => await dits(['--repo', group.repos[node], ...args])
  const refLog = async (node: number, name: string): Promise<RefLogReply> => {
    const r = await run(node, ['--json', 'ref', 'log', name])
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout) as RefLogReply
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-request-id-'))
    group = new VoterCluster(work, 3, { consensus: { requestTimeoutMs: REQUEST_TIMEOUT_MS } })
    await group.create()
    await group.startAll()
    await group.leader(0)
  })

  after(async () => {
    for (const i of frozen) process.kill(group.pid(i) as number, 'SIGCONT')
    await group?.stopAll()
    await rm(work, { recursive: true, force: true })
  })

  it('a retry with the same id returns the first result and changes nothing, even after the ref moved on', async () => {
    // an id names a session of the node it is sent through: these go through node 0 (a voter, whichever leads)
    const leader = 0
    const first = await run(leader, ['--json', 'ref', 'set', 'reels/r1', CID_A, '--request-id', 'job-1'])
    assert.equal(first.code, 0, first.stderr)
    assert.equal((await run(leader, ['ref', 'set', 'reels/r1', CID_B, '--expect', CID_A])).code, 0)
    const retry = await run(leader, ['--json', 'ref', 'set', 'reels/r1', CID_A, '--request-id', 'job-1'])
    assert.equal(retry.code, 0, retry.stderr)
    assert.deepEqual(JSON.parse(retry.stdout), JSON.parse(first.stdout))
    assert.equal((await run(leader, ['ref', 'get', 'reels/r1'])).stdout.trim(), CID_B)
    assert.deepEqual((await refLog(leader, 'reels/r1')).entries.map(e => e.new), [CID_A, CID_B])
  })

  it('a write that timed out (exit 4), retried with its id once the quorum is back, is applied exactly once', async () => {
    const leader = await group.leader(0)
    const followers = [0, 1, 2].filter(i => i !== leader)
    for (const i of followers) {
      process.kill(group.pid(i) as number, 'SIGSTOP')
      frozen.push(i)
    }
    const timedOut = await run(leader, ['ref', 'set', 'reels/r2', CID_A, '--request-id', 'job-2'])
    assert.equal(timedOut.code, 4, timedOut.stderr)
    for (const i of followers) process.kill(group.pid(i) as number, 'SIGCONT')
    frozen.length = 0
    // the entry may have survived on the old leader and committed, or been replaced: either way, once
    let retry: RunResult | undefined
    for (let i = 0; i < 10 && retry?.code !== 0; i++) retry = await run(leader, ['ref', 'set', 'reels/r2', CID_A, '--request-id', 'job-2'])
    assert.equal(retry?.code, 0, retry?.stderr)
    assert.deepEqual((await refLog(leader, 'reels/r2')).entries.map(e => e.new), [CID_A])
  })

  it('refuses a malformed id (exit 2) and an id reused for another kind of command (exit 2)', async () => {
    const leader = 0
    const bad = await run(leader, ['ref', 'set', 'reels/r3', CID_A, '--request-id', 'no spaces'])
    assert.equal(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /request-id/)
    const reused = await run(leader, ['lock', 'acquire', 'reels/', '--request-id', 'job-1'])
    assert.equal(reused.code, 2, reused.stderr)
    assert.match(reused.stderr, /request id job-1 was first used for a ref.set/)
  })
})
