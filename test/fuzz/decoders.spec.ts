/**
 * A short fuzz run of every decoder on each `npm test` (FUZZ_RUNS inputs each, default 300); `npm run fuzz`
 * runs >= 100,000 each. Inputs that once failed stay below as specs of their own.
 */
import assert from 'node:assert/strict'
import { TARGETS } from './targets.ts'
import { fuzz } from './fuzz.ts'

const RUNS = Number(process.env.FUZZ_RUNS ?? 300)

describe('fuzz: every decoder refuses bad input with a clear error', function () {
  this.timeout(120_000)
  for (const target of TARGETS) {
    it(target.name, () => {
      const r = fuzz(target, { runs: RUNS })
      assert.equal(r.runs, RUNS)
    })
  }
})
