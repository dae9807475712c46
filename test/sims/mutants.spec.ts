import assert from 'node:assert/strict'
import { MUTANTS, simulate } from '../../sims/index.ts'
import type { ViolationKind } from '../../sims/index.ts'

/** Issue 5: every mutant must be reported within this many seeds. */
const SEED_BUDGET = 200

/**
 * What each mutant should trip. Measured with `npm run sim -- --seeds 200 --mutant M --fail-fast` (scenario
 * `all`, eight scenarios): the first catching seed is given for each, and the spec stops at the first catch,
 * so it costs about that many runs. The admission mutants need the peer outside the group, and the access
 * mutants the spoofing client, that only scenario `intruder` has.
 */
const EXPECTED: Readonly<Record<string, readonly ViolationKind[]>> = {
  'vote-twice': ['vote-changed', 'election-safety'], // 12
  'forget-vote': ['vote-changed', 'election-safety'], // 2
  'stale-log-vote': ['leader-completeness', 'state-machine-safety', 'log-matching'], // 58
  'commit-old-term': ['commit-rule', 'leader-completeness', 'state-machine-safety'], // 12
  'read-without-quorum': ['read-index', 'linearizability'], // 11
  'no-check-quorum': ['stale-leader'], // 25
  'skip-log-match': ['log-matching', 'state-machine-safety'], // 45
  'ignore-fencing-token': ['stale-token-write'], // 1
  'ignore-exclusive-lock': ['locked-write'], // 1
  'grant-conflicting-lock': ['lock-conflict'], // 1
  'no-exactly-once': ['linearizability'], // 4
  'ignore-cas-expect': ['linearizability'], // 1
  'admit-non-member': ['non-member'], // 7 (scenario intruder: seed S mod 8 = 7)
  'trust-claimed-sender': ['non-member', 'state-machine-safety', 'log-matching'], // 7
  'trust-claimed-owner': ['forged-identity'], // 7 (the spoofing client of scenario intruder)
  'skip-role-check': ['unauthorized-command'] // 7
}

describe('sims: mutants are caught', function () {
  this.timeout(120_000)

  it('lists at least 4 mutants, each with its expected symptoms', () => {
    assert.ok(MUTANTS.length >= 4)
    assert.deepEqual([...MUTANTS].sort(), Object.keys(EXPECTED).sort())
  })

  for (const mutant of MUTANTS) {
    it(`${mutant}: reported within ${SEED_BUDGET} seeds, by the checker meant for it`, () => {
      for (let seed = 1; seed <= SEED_BUDGET; seed++) {
        const run = simulate({ seed, mutant })
        if (run.violations.length > 0) {
          const kinds = new Set(run.violations.map(v => v.kind))
          assert.ok([...kinds].some(k => EXPECTED[mutant].includes(k)), `seed ${seed} caught ${mutant} as ${[...kinds].join(', ')}`)
          return
        }
      }
      assert.fail(`${mutant} survived ${SEED_BUDGET} seeds`)
    })
  }
})
