/**
 * A small sample of the kill -9 runs (test/kill/kill.ts) in every `npm test`; `npm run kill` runs 100 of each.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { SCENARIOS, runKill } from './kill.ts'

/** kills per scenario: two of the cheap add, one of each that restarts daemons */
const RUNS: Record<string, number> = { add: 2, get: 1, ref: 1, lock: 1 }

describe('kill -9 during add, get, ref set and lock acquire (real processes)', function () {
  this.timeout(300_000)
  for (const scenario of SCENARIOS) {
    it(`${scenario}: the repo opens, verify is clean, nothing acknowledged is lost`, async () => {
      const seed = Date.now() % 2 ** 31
      const dir = await mkdtemp(join(tmpdir(), `dits-kill-${scenario}-`))
      const r = await runKill(scenario, { runs: RUNS[scenario], seed, dir })
      assert.equal(r.runs, RUNS[scenario], `seed ${seed}`)
    })
  }
})
