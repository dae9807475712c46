import assert from 'node:assert/strict'
import { encodeCommand } from '../../../src/state/index.ts'
import { CID1, CID2, CID3, Cluster, assertQueued, eventKinds, grantOf, ok, refused } from './helpers.ts'
import type { ApplyOutput } from '../../../src/state/index.ts'

describe('state machine: exactly-once sessions', () => {
  it('a retried (client, seq) returns the first result without applying again', () => {
    const c = new Cluster()
    const first = c.set('alice', 'reel3', CID1, { expect: null })
    const retry = c.as('alice', { type: 'ref.set', name: 'reel3', cid: CID1, expect: null }, 1)
    assert.equal(retry.duplicate, true)
    assert.equal(first.duplicate, false)
    assert.deepEqual(retry.result, first.result)
    assert.equal(c.sm.query({ type: 'ref.log', name: 'reel3' }).entries.length, 1)
  })

  it('a retried successful CAS still reports success after others changed the ref', () => {
    const c = new Cluster()
    c.set('alice', 'reel3', CID1)
    const first = c.set('alice', 'reel3', CID2, { expect: CID1 })
    c.set('bob', 'reel3', CID3, { expect: CID2 })
    const retry = c.as('alice', { type: 'ref.set', name: 'reel3', cid: CID2, expect: CID1 }, 2)
    assert.equal(retry.duplicate, true)
    assert.deepEqual(ok(retry), ok(first))
    assert.equal(c.sm.query({ type: 'ref.get', name: 'reel3' }).ref?.cid, CID3)
  })

  it('a retried refusal is the same refusal', () => {
    const c = new Cluster()
    c.set('alice', 'reel3', CID1)
    const first = c.set('bob', 'reel3', CID2, { expect: null })
    c.set('alice', 'reel3', CID2)
    const retry = c.as('bob', { type: 'ref.set', name: 'reel3', cid: CID2, expect: null }, 1)
    assert.deepEqual(retry.result, first.result)
    assert.equal(refused(retry, 'RefConflictError').current, CID1)
  })

  it('a retried lock acquire does not re-grant with a new token', () => {
    const c = new Cluster()
    const first = grantOf(c.acquire('alice', 'a', 'exclusive'))
    c.release('alice', 'a')
    const retry = c.as('alice', { type: 'lock.acquire', path: 'a', mode: 'exclusive', ttlMs: 1000 }, 1)
    assert.equal(retry.duplicate, true)
    assert.deepEqual(grantOf(retry), first)
    assert.equal(c.sm.query({ type: 'lock.ls' }).locks.length, 0)
  })

  it('a queued acquire that was granted later: the retry returns the grant, not "queued"', () => {
    const c = new Cluster()
    c.acquire('alice', 'a', 'exclusive')
    assertQueued(c.acquire('bob', 'a', 'exclusive', { waitMs: 60_000 }))
    const retryWhileQueued = c.as('bob', { type: 'lock.acquire', path: 'a', mode: 'exclusive', ttlMs: 30_000, waitMs: 60_000 }, 1)
    assertQueued(retryWhileQueued)
    const release = c.release('alice', 'a')
    const retry = c.as('bob', { type: 'lock.acquire', path: 'a', mode: 'exclusive', ttlMs: 30_000, waitMs: 60_000 }, 1)
    assert.equal(retry.duplicate, true)
    assert.equal(grantOf(retry).token, release.index)
  })

  it('a timed-out wait: the retry returns the timeout', () => {
    const c = new Cluster()
    c.acquire('alice', 'a', 'exclusive')
    c.acquire('bob', 'a', 'exclusive', { waitMs: 1000 })
    c.tick(1000).expire()
    refused(c.as('bob', { type: 'lock.acquire', path: 'a', mode: 'exclusive', ttlMs: 30_000, waitMs: 1000 }, 1), 'LockTimeoutError')
  })

  it('sequence numbers may commit out of order within the window', () => {
    const c = new Cluster()
    c.as('alice', { type: 'ref.set', name: 'a', cid: CID1 }, 1)
    c.as('alice', { type: 'ref.set', name: 'c', cid: CID1 }, 3)
    const late = c.as('alice', { type: 'ref.set', name: 'b', cid: CID1 }, 2)
    assert.equal(late.duplicate, false)
    ok(late)
    assert.equal(c.sm.query({ type: 'ref.ls' }).refs.length, 3)
  })

  it('a retry older than the retained window is refused as SessionExpiredError, not applied', () => {
    const c = new Cluster({ sessionWindow: 3 })
    for (let seq = 1; seq <= 5; seq++) c.as('alice', { type: 'ref.set', name: `r${seq}`, cid: CID1 }, seq)
    assert.equal(c.as('alice', { type: 'ref.set', name: 'r3', cid: CID1 }, 3).duplicate, true)
    const err = refused(c.as('alice', { type: 'ref.set', name: 'r2', cid: CID2 }, 2), 'SessionExpiredError')
    assert.equal(err.floor, 2)
    assert.equal(err.exitCode, 1)
    assert.match(err.message, /client c-alice seq 2 is at or below 2/)
    assert.equal(c.sm.query({ type: 'ref.get', name: 'r2' }).ref?.cid, CID1)
    ok(c.as('alice', { type: 'ref.set', name: 'r6', cid: CID1 }, 6))
  })

  it('keeps at most maxSessions clients, dropping the least recently active', () => {
    const c = new Cluster({ maxSessions: 2 })
    c.set('a', 'x', CID1)
    c.set('b', 'x', CID2)
    c.set('a', 'y', CID1)
    c.set('c', 'x', CID3)
    assert.equal(c.as('a', { type: 'ref.set', name: 'y', cid: CID1 }, 2).duplicate, true)
    assert.equal(c.as('c', { type: 'ref.set', name: 'x', cid: CID3 }, 1).duplicate, true)
    // b's session was dropped: its retry counts as new (the documented limit of a bounded table)
    assert.equal(c.as('b', { type: 'ref.set', name: 'x', cid: CID2 }, 1).duplicate, false)
  })

  it('lock.expire needs no session and is harmless to apply twice', () => {
    const c = new Cluster()
    c.acquire('alice', 'a', 'exclusive', { ttlMs: 1000 })
    c.tick(1000)
    const bytes = encodeCommand({ type: 'lock.expire', now: c.now })
    const first = c.raw(bytes)
    const second = c.raw(bytes)
    assert.deepEqual(eventKinds(first.events), ['expired:alice'])
    assert.deepEqual(second.events, [])
    assert.equal(second.duplicate, false)
  })

  it('results and events are frozen, so a caller cannot change replicated state through them', () => {
    const c = new Cluster()
    c.acquire('alice', 'a', 'exclusive')
    c.acquire('bob', 'a', 'exclusive', { waitMs: 60_000 })
    const out: ApplyOutput = c.release('alice', 'a')
    assert.ok(Object.isFrozen(out.result))
    assert.ok(Object.isFrozen(out.events[0]))
    const retry = c.as('alice', { type: 'lock.release', path: 'a' }, 2)
    assert.ok(Object.isFrozen(retry.result))
    assert.throws(() => { (retry.result as { ok: boolean }).ok = false }, TypeError)
  })
})
