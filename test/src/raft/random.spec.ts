/**
 * Many seeded fault schedules (drops, delays, reordering, duplicates, partitions, crash-restarts, compactions)
 * against groups of 3 and 5 voters. After every schedule: election safety, log matching, state-machine safety,
 * linearizable reads, no leader lingering in a minority, and liveness after the heal. A failing seed is replayed
 * with `runChaos(seed, { size })` from test/src/raft/chaos.ts.
 */

import assert from 'node:assert/strict'
import { runChaos } from './chaos.ts'

const SEEDS: Record<3 | 5, number> = { 3: 150, 5: 60 }

describe('raft: random fault schedules', function () {
  // a few seconds of pure computation on an idle machine; shared CI machines can be several times slower
  this.timeout(60_000)

  for (const size of [3, 5] as const) {
    it(`${SEEDS[size]} seeds × ${size} voters keep every safety property and recover after the heal`, () => {
      let elections = 0
      let applied = 0
      for (let seed = 1; seed <= SEEDS[size]; seed++) {
        const r = runChaos(seed, { size })
        assert.deepEqual(r.violations, [], `seed ${seed} (replay: runChaos(${seed}, { size: ${size} }))`)
        assert.ok(r.recoveryRounds >= 0, `seed ${seed}: no commit within 200 rounds of the heal`)
        elections += r.elections
        applied += r.applied
      }
      // the schedules must actually exercise elections and replication
      assert.ok(elections > SEEDS[size] * 2, `only ${elections} elections`)
      assert.ok(applied > SEEDS[size] * 20, `only ${applied} commands applied`)
    })
  }
})
