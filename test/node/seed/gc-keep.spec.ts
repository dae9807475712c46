import assert from 'node:assert/strict'
import { refTargetsSeedsLack } from '../../../node/seed/index.ts'
import { chunkCid } from '../../../src/cid.ts'
import type { RefRecord } from '../../../src/state/index.ts'
import type { RootStatusReport } from '../../../node/net/seed.ts'

const cid = (s: string): string => chunkCid(new TextEncoder().encode(s)).toString()
const ref = (name: string, target: string): RefRecord => ({ name, cid: target, index: 1, when: 0, who: 'x', token: null })
const status = (seed: string, root: string, over: Partial<RootStatusReport>): RootStatusReport => ({
  root, seed, reasons: ['ref'], dag: 'complete', chunks_held: 10, bytes_held: 100, chunks_missing: 0, bytes_missing: 0, manifests_missing: 0, blocks_walked: 11, chunks_speculative: 0, bytes_speculative: 0, ...over
})

describe('node/seed refTargetsSeedsLack: what a workstation gc keeps for the studio', () => {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(cid)
  const refs = [ref('cut/a', a), ref('cut/b', b), ref('cut/c', c), ref('cut/d', d)]

  it('keeps each held target that no seed holds whole and pinned, saying what each seed said', async () => {
    const kept = await refTargetsSeedsLack({
      refs: async () => refs,
      // d is not held here: nothing to keep
      held: async root => root.toString() !== d,
      seeds: () => ['s1', 's2'],
      status: async (seed, root) => {
        const r = root.toString()
        if (r === a) return status(String(seed), r, seed === 's2' ? {} : { reasons: [], dag: 'incomplete', chunks_held: 3, chunks_missing: 7 })
        if (r === b) return status(String(seed), r, { dag: 'incomplete', chunks_held: 812, chunks_missing: 28 })
        if (seed === 's1') throw new Error('dial timed out')
        return status(String(seed), r, { reasons: [] })
      }
    })
    assert.deepEqual(kept.map(k => k.ref).sort(), ['cut/b', 'cut/c'])
    assert.match(kept.find(k => k.ref === 'cut/b')?.why ?? '', /seed s1 has 812 of 840 chunks; seed s2 has 812 of 840 chunks/)
    assert.match(kept.find(k => k.ref === 'cut/c')?.why ?? '', /s1 did not answer: dial timed out; seed s2 has 10 of 10 chunks, not pinned/)
  })

  it('without a seed every held target is kept; without the refs gc is refused', async () => {
    const none = await refTargetsSeedsLack({ refs: async () => refs, held: async () => true, seeds: () => [], status: async () => { throw new Error('not asked') } })
    assert.equal(none.length, 4)
    assert.match(none[0].why, /no seed is configured/)
    await assert.rejects(refTargetsSeedsLack({ refs: async () => { throw new Error('no quorum: 1 of 3 voters reachable') }, held: async () => true, seeds: () => ['s'], status: async () => { throw new Error('x') } }),
      (e: Error) => e.name === 'GcRefusedError' && /cannot read the refs \(no quorum/.test(e.message))
  })
})
