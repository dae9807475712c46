import assert from 'node:assert/strict'
import { mkdtemp, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GcSchedule } from '../../../node/seed/index.ts'
import { RepoOps } from '../../../node/ops.ts'
import { Repo, initRepo } from '../../../node/repo.ts'
import { chunkCid } from '../../../src/cid.ts'
import { pseudoRandomBytes } from '../../src/fastcdc/testdata.ts'

describe('node/seed GcSchedule', function () {
  this.timeout(60_000)
  let dir: string
  let repo: Repo
  let ops: RepoOps
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-gc-schedule-'))
    await initRepo(join(dir, 'repo'))
    repo = await Repo.open(join(dir, 'repo'), { write: true })
    ops = new RepoOps(repo)
  })
  afterEach(async () => {
    await repo.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function garbage (n: number): Promise<void> {
    const past = new Date(Date.now() - 3600_000)
    for (let i = 0; i < n; i++) {
      const bytes = pseudoRandomBytes(200, 40_000 + i)
      await repo.blocks.put(chunkCid(bytes), bytes)
      await utimes(repo.blocks.path(chunkCid(bytes)), past, past)
    }
  }

  it('runs gc by itself at its interval, one at a time, and says what the last one did', async () => {
    await garbage(50)
    const logs: string[] = []
    let runs = 0
    let concurrent = 0
    let most = 0
    const schedule = new GcSchedule({
      run: async signal => {
        runs++
        most = Math.max(most, ++concurrent)
        try {
          await new Promise(resolve => setTimeout(resolve, 150))
          return await ops.gc({}, { signal })
        } finally {
          concurrent--
        }
      },
      intervalMs: 50,
      log: m => { logs.push(m) }
    })
    schedule.start()
    const until = Date.now() + 10_000
    // the blocks go during the sweep, before that gc returns and is logged: wait for its outcome, not the blocks
    while (schedule.last === undefined && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
    await schedule.stop()
    assert.equal(repo.blocks.usageReport().blocks, 0)
    assert.equal(most, 1, 'gcs never overlap, however short the interval')
    assert.ok(runs >= 1)
    assert.match(logs[0], /scheduled gc: removed 50 block\(s\)/)
    assert.equal((schedule.last as { removed: number }).removed, 50)
  })

  it('interval 0 never runs; stop cancels a gc under way', async () => {
    const idle = new GcSchedule({ run: async () => { throw new Error('must not run') }, intervalMs: 0 })
    idle.start()
    await new Promise(resolve => setTimeout(resolve, 100))
    await idle.stop()
    let aborted = false
    const busy = new GcSchedule({
      run: async signal => await new Promise((_resolve, reject) => { signal.addEventListener('abort', () => { aborted = true; reject(signal.reason) }) }),
      intervalMs: 20
    })
    busy.start()
    await new Promise(resolve => setTimeout(resolve, 100))
    const t0 = Date.now()
    await busy.stop()
    assert.ok(aborted)
    assert.ok(Date.now() - t0 < 1000)
    assert.equal(busy.last, undefined, 'a gc cut by the stop is not reported as a failure')
  })
})
