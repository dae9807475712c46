import assert from 'node:assert/strict'
import fc from 'fast-check'
import { refTargets, planRefPins, retryDelayMs } from '../../../src/seed/index.ts'

const log = (...targets: Array<string | null>): Array<{ new: string | null }> => targets.map(t => ({ new: t }))

describe('seed: which ref targets are kept (src/seed)', () => {
  describe('refTargets', () => {
    it('keeps the newest keepVersions targets, newest first', () => {
      assert.deepEqual(refTargets('C', log('A', 'B', 'C'), 2), ['C', 'B'])
      assert.deepEqual(refTargets('C', log('A', 'B', 'C'), 10), ['C', 'B', 'A'])
      assert.deepEqual(refTargets('C', log('A', 'B', 'C'), 1), ['C'])
    })

    it('counts a target set twice once, and a delete as no version', () => {
      assert.deepEqual(refTargets('A', log('A', 'B', 'A', null, 'B', 'A'), 10), ['A', 'B'])
      assert.deepEqual(refTargets('D', log('A', 'B', null, 'C', 'D'), 3), ['D', 'C', 'B'])
    })

    it('keeps the current target even when the log was read after a newer write', () => {
      assert.deepEqual(refTargets('B', log('A', 'B', 'C'), 2), ['B', 'C'])
    })

    it('never keeps more than keepVersions, always the current one, each target once (property)', () => {
      fc.assert(fc.property(fc.array(fc.option(fc.constantFrom('A', 'B', 'C', 'D', 'E'), { nil: null }), { maxLength: 40 }), fc.constantFrom('A', 'B', 'C'), fc.integer({ min: 1, max: 12 }), (entries, current, keep) => {
        const out = refTargets(current, log(...entries), keep)
        assert.equal(out[0], current)
        assert.ok(out.length <= keep)
        assert.equal(new Set(out).size, out.length)
        for (const t of out.slice(1)) assert.ok((entries as Array<string | null>).includes(t))
      }))
    })
  })

  describe('planRefPins', () => {
    it('fetches what is kept and not pinned, current targets of every ref first', () => {
      const plan = planRefPins([['A2', 'A1', 'A0'], ['B1', 'B0']], new Set())
      assert.deepEqual(plan.keep, ['A2', 'B1', 'A1', 'B0', 'A0'])
      assert.deepEqual(plan.fetch, plan.keep)
      assert.deepEqual(plan.release, [])
    })

    it('releases a ref pin that no ref keeps, and keeps one that another ref still keeps', () => {
      const plan = planRefPins([['A2', 'A1'], ['B1', 'A0']], new Set(['A0', 'X', 'A2']))
      assert.deepEqual(plan.release, ['X'])
      assert.deepEqual(plan.fetch, ['B1', 'A1'])
    })

    it('releases everything once no ref is left', () => {
      assert.deepEqual(planRefPins([], new Set(['A', 'B'])).release, ['A', 'B'])
    })
  })

  it('retryDelayMs doubles from the minimum up to the maximum', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 100].map(n => retryDelayMs(n, 1000, 30_000)), [0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000])
  })
})
