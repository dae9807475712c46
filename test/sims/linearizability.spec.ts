import assert from 'node:assert/strict'
import { checkRefHistories } from '../../sims/index.ts'
import type { HistoryRecord } from '../../sims/index.ts'

const A = 'bafkr4ia'
const B = 'bafkr4ib'
const C = 'bafkr4ic'

/** One call on ref `r`: [call, return] in virtual ms, return null for an unknown outcome. */
function call (client: string, op: HistoryRecord['op'], input: Record<string, unknown>, output: HistoryRecord['output'], at: number, ret: number | null): HistoryRecord {
  return { client, op, key: 'r', input, output: ret === null ? null : output, call: at, return: ret }
}

const set = (client: string, cid: string, expect: string | null | undefined, output: HistoryRecord['output'], at: number, ret: number | null): HistoryRecord =>
  call(client, 'ref.set', expect === undefined ? { cid } : { cid, expect }, output, at, ret)
const get = (client: string, value: string | null, at: number, ret: number): HistoryRecord =>
  call(client, 'ref.get', {}, { ok: true, value }, at, ret)

function ok (history: HistoryRecord[]): boolean {
  return checkRefHistories(history).length === 0
}

describe('sims: linearizability checker (WGL over ref histories)', () => {
  it('accepts a sequential history that follows the register', () => {
    assert.ok(ok([
      set('c1', A, null, { ok: true, old: null }, 0, 1),
      get('c2', A, 2, 3),
      set('c1', B, A, { ok: true, old: A }, 4, 5),
      call('c2', 'ref.rm', { expect: B }, { ok: true, old: B }, 6, 7),
      get('c1', null, 8, 9)
    ]))
  })

  it('rejects a stale read after a completed write', () => {
    assert.equal(ok([
      set('c1', A, null, { ok: true, old: null }, 0, 1),
      set('c1', B, A, { ok: true, old: A }, 2, 3),
      get('c2', A, 4, 5)
    ]), false)
  })

  it('lets a read concurrent with a write see either value', () => {
    const before = [set('c1', A, null, { ok: true, old: null }, 0, 1), set('c1', B, A, { ok: true, old: A }, 2, 6)]
    assert.ok(ok([...before, get('c2', A, 3, 4)]))
    assert.ok(ok([...before, get('c2', B, 3, 4)]))
    // but not A after having seen B
    assert.equal(ok([...before, get('c2', B, 3, 4), get('c2', A, 4.5, 5)]), false)
  })

  it('treats a write with an unknown outcome as applied or not, but not both', () => {
    const lost = set('c1', A, undefined, null, 0, null)
    assert.ok(ok([lost, get('c2', A, 5, 6)]))
    assert.ok(ok([lost, get('c2', null, 5, 6)]))
    assert.ok(ok([lost, get('c2', null, 5, 6), get('c2', A, 7, 8)]), 'it may take effect late')
    assert.equal(ok([lost, get('c2', A, 5, 6), get('c2', null, 7, 8)]), false, 'nothing undid it')
  })

  it('rejects a write that saw its own value before it (a command applied twice)', () => {
    assert.equal(ok([set('c1', A, undefined, { ok: true, old: A }, 0, 1)]), false)
  })

  it('checks compare-and-swap refusals against the value they name', () => {
    const first = set('c1', A, null, { ok: true, old: null }, 0, 1)
    assert.ok(ok([first, set('c2', B, null, { ok: false, error: 'RefConflictError', current: A }, 2, 3)]))
    assert.equal(ok([first, set('c2', B, null, { ok: false, error: 'RefConflictError', current: null }, 2, 3)]), false)
    assert.equal(ok([first, set('c2', B, null, { ok: true, old: A }, 2, 3)]), false, 'a CAS that expected none succeeded over A')
  })

  it('leaves out writes refused by fencing, which certainly did not apply', () => {
    const fenced = set('c1', C, undefined, { ok: false, error: 'StaleTokenError' }, 0, 1)
    assert.ok(ok([fenced, get('c2', null, 2, 3)]))
    assert.equal(ok([fenced, get('c2', C, 2, 3)]), false, 'C was never written')
  })

  it('checks each ref on its own', () => {
    const other = { ...set('c1', B, undefined, { ok: true, old: null }, 0, 1), key: 'other' }
    assert.ok(ok([other, set('c2', A, undefined, { ok: true, old: null }, 0, 1)]))
    const failures = checkRefHistories([other, { ...get('c2', A, 2, 3), key: 'other' }])
    assert.equal(failures.length, 1)
    assert.equal(failures[0].ok, false)
    assert.match(failures[0].ok === false ? failures[0].message : '', /ref other: no linearization/)
  })

  it('gives up, rather than spin, past its step budget', () => {
    const many = Array.from({ length: 12 }, (_, i) => set(`c${i}`, `x${i}`, undefined, null, i, null))
    const failures = checkRefHistories([...many, get('c99', 'nobody', 100, 101)], 50)
    assert.equal(failures[0]?.ok, 'inconclusive')
  })
})
