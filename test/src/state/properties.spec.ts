/**
 * Random command sequences (seeded, so a failure names a seed that replays it) against properties that
 * must hold after every entry: snapshot round trip, deterministic replay, lock safety, an acyclic wait-for
 * graph and a queue in which nothing grantable is left waiting.
 */
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import * as dagCbor from '@ipld/dag-cbor'
import { RefsLocksStateMachine, encodeCommand } from '../../../src/state/index.ts'
import { SMALL, randomLog, run } from './random-log.ts'

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1)
const LENGTH = 300

describe('state machine: properties over random logs', () => {
  it('lock safety, no waiter left grantable and no wait-for cycle, after every entry', () => {
    for (const seed of SEEDS) {
      for (const init of [{}, SMALL]) {
        const { violation } = run(randomLog(seed, LENGTH), init)
        assert.equal(violation, undefined, `seed ${seed} ${JSON.stringify(init)}: ${String(violation)}`)
      }
    }
  })

  it('the random logs exercise every outcome', () => {
    const seen = new Set<string>()
    for (const seed of SEEDS) {
      for (const out of run(randomLog(seed, LENGTH), SMALL, false).outputs) {
        seen.add(out.result.ok ? `${out.result.type}${'status' in out.result ? `:${out.result.status}` : ''}` : out.result.error.name)
        if (out.duplicate) seen.add('duplicate')
        for (const e of out.events) seen.add(`event:${e.type}`)
      }
    }
    for (const expected of [
      'ref.set', 'ref.rm', 'lock.acquire:granted', 'lock.acquire:queued', 'lock.release', 'lock.renew', 'lock.break',
      'lock.expire', 'duplicate', 'InvalidCommandError', 'SessionExpiredError', 'RefConflictError', 'RefLockedError',
      'StaleTokenError', 'LockConflictError', 'LockNotHeldError', 'DeadlockError', 'event:granted', 'event:wait-timeout',
      'event:wait-cancelled', 'event:expired', 'event:broken'
    ]) {
      assert.ok(seen.has(expected), `no ${expected} in ${[...seen].sort().join(', ')}`)
    }
  })

  it('every result and event is plain data: JSON and dag-cbor round trip it unchanged', () => {
    for (const seed of SEEDS.slice(0, 10)) {
      for (const out of run(randomLog(seed, LENGTH), SMALL, false).outputs) {
        assert.deepStrictEqual(JSON.parse(JSON.stringify(out)), out)
        assert.deepStrictEqual(dagCbor.decode(dagCbor.encode(out)), out)
      }
    }
  })

  it('restore(snapshot()) equals the original at every point, and both go on identically', () => {
    for (const seed of SEEDS.slice(0, 15)) {
      for (const init of [{}, SMALL]) {
        const log = randomLog(seed, LENGTH)
        const a = new RefsLocksStateMachine(init)
        let b = new RefsLocksStateMachine(init)
        for (const [i, entry] of log.entries()) {
          const outA = a.apply(i + 1, entry)
          const outB = b.apply(i + 1, entry)
          assert.ok(isDeepStrictEqual(outA, outB), `seed ${seed} entry ${i + 1}: outputs differ after a restore`)
          if (i % 7 === 0) {
            const bytes = a.snapshot()
            b = RefsLocksStateMachine.restore(bytes)
            assert.deepStrictEqual(b, a, `seed ${seed} entry ${i + 1}`)
            assert.deepEqual(b.snapshot(), bytes)
          }
        }
        assert.deepStrictEqual(b, a)
      }
    }
  })

  it('two replicas applying the same log agree on every result and on the final snapshot', () => {
    for (const seed of SEEDS.slice(0, 10)) {
      const log = randomLog(seed, LENGTH)
      const one = run(log, SMALL, false)
      const two = run(log, SMALL, false)
      assert.deepStrictEqual(two.outputs, one.outputs)
      assert.deepEqual(two.sm.snapshot(), one.sm.snapshot())
    }
  })

  it('refuses bytes that are not a snapshot', () => {
    assert.throws(() => RefsLocksStateMachine.restore(new Uint8Array([0xff])), { name: 'SnapshotError', message: /not dag-cbor/ })
    assert.throws(() => RefsLocksStateMachine.restore(encodeCommand({ type: 'lock.expire', now: 1 })), { name: 'SnapshotError', message: /not a refs\+locks snapshot/ })
    const sm = new RefsLocksStateMachine()
    const data = dagCbor.decode<Record<string, unknown>>(sm.snapshot())
    assert.throws(() => RefsLocksStateMachine.restore(dagCbor.encode({ ...data, version: 99 })), { name: 'SnapshotError', message: /version 99 is not supported/ })
    assert.throws(() => RefsLocksStateMachine.restore(dagCbor.encode({ ...data, limits: { maxSessions: 0 } })), { name: 'SnapshotError', message: /malformed refs\+locks snapshot: limits\.sessionWindow: .*expected number/ })
    assert.throws(() => RefsLocksStateMachine.restore(dagCbor.encode({ ...data, limits: { ...data.limits as object, maxSessions: 0 } })), { name: 'SnapshotError', message: /malformed refs\+locks snapshot: maxSessions must be a positive integer/ })
  })

  it('restore keeps the sizes of the snapshot, and takes the mutant from its options', () => {
    const sm = new RefsLocksStateMachine({ maxRefLogEntries: 2 })
    const restored = RefsLocksStateMachine.restore(sm.snapshot(), { mutant: 'no-exactly-once' })
    const fresh = RefsLocksStateMachine.restore(sm.snapshot())
    assert.deepStrictEqual(fresh, sm)
    assert.notDeepStrictEqual(restored, sm)
  })
})

