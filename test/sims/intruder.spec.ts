import assert from 'node:assert/strict'
import { simulate } from '../../sims/index.ts'

/**
 * Issue 14: a peer outside the configuration (sims/intruder.ts) feeds appends of higher terms with forged
 * commands, vote requests, snapshots and appends claiming to be the leader to the production core, through the
 * same admission check the daemon's transport uses (src/raft/membership.ts). The checkers see nothing; without
 * the check (the mutants) they do.
 */
describe('sims: a non-member speaking Raft to the group', function () {
  this.timeout(120_000)

  for (let seed = 1; seed <= 4; seed++) {
    it(`seed ${seed}: every intrusion is refused and the run is green`, () => {
      const run = simulate({ seed, scenario: 'intruder' })
      assert.ok(run.stats.intrusions >= 20, `only ${run.stats.intrusions} intrusions`)
      assert.deepEqual(run.violations, [], run.trace.join('\n'))
      assert.ok(run.stats.opsOk > 0)
    })
  }

  for (const mutant of ['admit-non-member', 'trust-claimed-sender']) {
    it(`${mutant}: the same intrusions are caught as non-member effects`, () => {
      const run = simulate({ seed: 1, scenario: 'intruder', mutant })
      assert.ok(run.violations.some(v => v.kind === 'non-member'), run.violations.map(v => v.message).join('\n'))
    })
  }
})
