import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { RefsLocksStateMachine, STATE_MUTANTS, STATE_MUTANT_DESCRIPTIONS } from '../../../src/state/index.ts'
import { CID1, CID2, Cluster, grantOf, ok, refused } from './helpers.ts'
import { randomLog, run } from './random-log.ts'
import type { StateMutant } from '../../../src/state/index.ts'

/** For each mutant, a scenario: refused (or applied once) by the real state machine, wrongly accepted by the mutant. */
const SCENARIOS: Record<StateMutant, (c: Cluster) => ReturnType<Cluster['set']>> = {
  'ignore-fencing-token': c => {
    const token = c.token(c.acquire('alice', 'reel3', 'exclusive', { ttlMs: 1000 }))
    c.tick(1000).expire()
    c.acquire('bob', 'reel3', 'exclusive')
    c.release('bob', 'reel3')
    return c.set('alice', 'reel3', CID1, { token })
  },
  'ignore-exclusive-lock': c => {
    c.acquire('alice', 'reels/', 'exclusive')
    return c.set('bob', 'reels/r3', CID1)
  },
  'grant-conflicting-lock': c => {
    c.acquire('alice', 'reel3', 'exclusive')
    return c.acquire('bob', 'reel3', 'exclusive')
  },
  'no-exactly-once': c => {
    c.set('alice', 'reel3', CID1)
    c.set('alice', 'reel3', CID2, { expect: CID1 })
    return c.as('alice', { type: 'ref.set', name: 'reel3', cid: CID2, expect: CID1 }, 2)
  },
  'ignore-cas-expect': c => {
    c.set('alice', 'reel3', CID1)
    return c.set('bob', 'reel3', CID2, { expect: null })
  }
}

describe('state machine: mutants', () => {
  it('lists every mutant with a one-line description', () => {
    assert.deepEqual([...STATE_MUTANTS].sort(), Object.keys(STATE_MUTANT_DESCRIPTIONS).sort())
    assert.ok(STATE_MUTANTS.length >= 4)
    for (const m of STATE_MUTANTS) assert.match(STATE_MUTANT_DESCRIPTIONS[m], /^[^\n]+ -> .+$/)
  })

  it('marks every mutant branch MUTANT(<name>) in the source', () => {
    const dir = new URL('../../../../src/state/', import.meta.url)
    const source = readdirSync(dir).filter(f => f.endsWith('.ts')).map(f => readFileSync(new URL(f, dir), 'utf8')).join('\n')
    for (const m of STATE_MUTANTS) assert.ok(source.includes(`MUTANT(${m})`), `no MUTANT(${m}) marker`)
  })

  it('refuses an unknown mutant', () => {
    assert.throws(() => new RefsLocksStateMachine({ mutant: 'nope' as StateMutant }), { name: 'UsageError', message: /unknown state machine mutant "nope"/ })
  })

  for (const mutant of STATE_MUTANTS) {
    it(`${mutant}: the real rules refuse what the mutant accepts`, () => {
      const real = SCENARIOS[mutant](new Cluster())
      const broken = SCENARIOS[mutant](new Cluster({ mutant }))
      if (mutant === 'no-exactly-once') {
        assert.equal(real.duplicate, true)
        ok(real)
        assert.equal(broken.duplicate, false)
        refused(broken, 'RefConflictError')
      } else {
        assert.equal(real.result.ok, false, JSON.stringify(real.result))
        assert.equal(broken.result.ok, true, JSON.stringify(broken.result))
      }
    })
  }

  it('grant-conflicting-lock: two exclusive holders of one path', () => {
    const c = new Cluster({ mutant: 'grant-conflicting-lock' })
    grantOf(c.acquire('alice', 'reel3', 'exclusive'))
    grantOf(c.acquire('bob', 'reel3/', 'exclusive'))
    assert.equal(c.sm.query({ type: 'lock.ls' }).locks.length, 2)
  })

  it('grant-conflicting-lock is caught by the lock-safety invariant on random logs', () => {
    const caught = Array.from({ length: 20 }, (_, i) => i + 1)
      .some(seed => run(randomLog(seed, 300), { mutant: 'grant-conflicting-lock' }).violation?.includes('conflicting grants') === true)
    assert.ok(caught)
  })

  it('a mutant survives snapshot and restore only when asked for', () => {
    const c = new Cluster({ mutant: 'ignore-cas-expect' })
    c.set('alice', 'reel3', CID1)
    const bytes = c.sm.snapshot()
    c.sm = RefsLocksStateMachine.restore(bytes)
    refused(c.set('bob', 'reel3', CID2, { expect: null }), 'RefConflictError')
    c.sm = RefsLocksStateMachine.restore(bytes, { mutant: 'ignore-cas-expect' })
    c.index = c.sm.appliedIndex
    ok(c.set('bob', 'reel3', CID2, { expect: null }))
  })
})
