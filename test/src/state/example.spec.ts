import assert from 'node:assert/strict'
import { RefsLocksStateMachine, encodeCommand, errorFromInfo } from '../../../src/state/index.ts'

describe('state machine: the example in src/state/index.ts', () => {
  it('runs as written', () => {
    const sm = new RefsLocksStateMachine()
    const alice = { client: 'c-alice', owner: 'alice', now: 1_000 }
    const lock = sm.apply(1, encodeCommand({ type: 'lock.acquire', ...alice, seq: 1, path: 'projects/reel3/', mode: 'exclusive', ttlMs: 30_000 }))
    assert.deepEqual(lock.result, {
      ok: true,
      type: 'lock.acquire',
      status: 'granted',
      grant: { path: 'projects/reel3/', mode: 'exclusive', owner: 'alice', token: 1, expires: 31_000, ttlMs: 30_000, grantedAt: 1_000 }
    })
    const cid = 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi'
    const set = sm.apply(2, encodeCommand({ type: 'ref.set', ...alice, seq: 2, name: 'projects/reel3/cut', cid, expect: null, token: 1 }))
    assert.deepEqual(set.result, {
      ok: true,
      type: 'ref.set',
      ref: { name: 'projects/reel3/cut', cid, index: 2, when: 1_000, who: 'alice', token: 1 },
      old: null
    })
    const bob = sm.apply(3, encodeCommand({ type: 'ref.set', client: 'c-bob', owner: 'bob', now: 1_001, seq: 1, name: 'projects/reel3/cut', cid }))
    assert.ok(!bob.result.ok)
    assert.equal(bob.result.error.name, 'RefLockedError')
    assert.match(bob.result.error.message, /^ref projects\/reel3\/cut is locked exclusive by alice \(lock projects\/reel3\/, token 1\); /)
    const err = errorFromInfo(bob.result.error)
    assert.equal(err.exitCode, 3)
    assert.equal(sm.query({ type: 'ref.get', name: 'projects/reel3/cut' }).ref?.who, 'alice')
  })
})
