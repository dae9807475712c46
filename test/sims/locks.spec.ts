import assert from 'node:assert/strict'
import { RefsLocksStateMachine, encodeCommand } from '../../src/state/index.ts'
import { LockSafetyChecker, lockCovers, simCid } from '../../sims/index.ts'
import type { Command, StateMutant } from '../../src/state/index.ts'

const T0 = 1_700_000_000_000

/** Drives the real state machine and feeds every output to the checker, as the simulator does. */
function drive (commands: Array<Record<string, unknown>>, mutant?: StateMutant): string[] {
  const sm = new RefsLocksStateMachine({ mutant })
  const checker = new LockSafetyChecker()
  const kinds: string[] = []
  commands.forEach((c, i) => {
    const cmd = c as unknown as Command
    const out = sm.apply(i + 1, encodeCommand(cmd))
    for (const v of checker.observe(i + 1, cmd, out)) {
      kinds.push(v.kind)
    }
  })
  return kinds
}

let seq = 0
const as = (owner: string, now: number, body: Record<string, unknown>): Record<string, unknown> => ({ ...body, client: `c-${owner}`, owner, seq: ++seq, now: T0 + now })

describe('sims: lock safety checker', () => {
  it('reads the path hierarchy as src/paths.ts defines it', () => {
    assert.ok(lockCovers('reels/', 'reels/r1'))
    assert.ok(lockCovers('reels/', 'reels'))
    assert.ok(lockCovers('reels/r1', 'reels/r1'))
    assert.equal(lockCovers('reels/r1', 'reels/r2'), false)
    assert.equal(lockCovers('reels/r1', 'reels/r1x'), false)
    assert.equal(lockCovers('reels', 'reels/r1'), false, 'a file lock does not reach beneath its name')
  })

  it('finds nothing wrong with the real state machine', () => {
    assert.deepEqual(drive([
      as('alice', 0, { type: 'lock.acquire', path: 'reels/', mode: 'exclusive', ttlMs: 1000 }),
      as('alice', 10, { type: 'ref.set', name: 'reels/r1', cid: simCid(1), token: 1 }),
      as('bob', 20, { type: 'ref.set', name: 'reels/r1', cid: simCid(2) }),
      as('bob', 30, { type: 'lock.acquire', path: 'reels/r1', mode: 'shared', ttlMs: 1000, waitMs: 5000 }),
      { type: 'lock.expire', now: T0 + 1500 },
      as('alice', 1600, { type: 'ref.set', name: 'reels/r1', cid: simCid(3), token: 1 }),
      as('carol', 1700, { type: 'lock.acquire', path: 'reels/r1', mode: 'shared', ttlMs: 1000 }),
      as('bob', 1800, { type: 'lock.renew', path: 'reels/r1' })
    ]), [])
  })

  it('catches two conflicting grants valid at once', () => {
    assert.deepEqual(drive([
      as('alice', 0, { type: 'lock.acquire', path: 'reels/', mode: 'exclusive', ttlMs: 1000 }),
      as('bob', 10, { type: 'lock.acquire', path: 'reels/r1', mode: 'shared', ttlMs: 1000 })
    ], 'grant-conflicting-lock'), ['lock-conflict'])
  })

  it('catches a write accepted with a stale token', () => {
    assert.deepEqual(drive([
      as('alice', 0, { type: 'lock.acquire', path: 'reels/r1', mode: 'exclusive', ttlMs: 1000 }),
      { type: 'lock.expire', now: T0 + 1000 },
      as('bob', 1100, { type: 'lock.acquire', path: 'reels/r1', mode: 'exclusive', ttlMs: 1000 }),
      as('bob', 1150, { type: 'lock.release', path: 'reels/r1' }),
      as('alice', 1200, { type: 'ref.set', name: 'reels/r1', cid: simCid(4), token: 1 })
    ], 'ignore-fencing-token'), ['stale-token-write'])
  })

  it('catches a write under another owner\'s exclusive lock', () => {
    assert.deepEqual(drive([
      as('alice', 0, { type: 'lock.acquire', path: 'audio/', mode: 'exclusive', ttlMs: 1000 }),
      as('bob', 10, { type: 'ref.set', name: 'audio/mix', cid: simCid(5) })
    ], 'ignore-exclusive-lock'), ['locked-write'])
  })
})
