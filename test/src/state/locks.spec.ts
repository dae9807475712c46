import assert from 'node:assert/strict'
import { Cluster, T0, TTL, assertQueued, eventKinds, grantOf, holders, ok, refused } from './helpers.ts'
import type { WaitResolvedEvent } from '../../../src/state/index.ts'

describe('state machine: locks', () => {
  describe('acquire', () => {
    it('grants with token = log index and lease = now + ttl', () => {
      const c = new Cluster()
      c.set('x', 'unrelated', 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi')
      const grant = grantOf(c.acquire('alice', 'projects/reel3/', 'exclusive', { ttlMs: 5000 }))
      assert.deepEqual(grant, { path: 'projects/reel3/', mode: 'exclusive', owner: 'alice', token: 2, expires: T0 + 5000, ttlMs: 5000, grantedAt: T0 })
    })

    it('normalizes the path, so two spellings are one lock', () => {
      const c = new Cluster()
      c.acquire('alice', 'projects//reel3/./', 'exclusive')
      refused(c.acquire('bob', 'projects/reel3/', 'exclusive'), 'LockConflictError')
    })

    it('refuses a conflicting request at once when it does not wait, naming the holder', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3.prproj', 'exclusive')
      const err = refused(c.acquire('bob', 'reel3.prproj', 'exclusive'), 'LockConflictError')
      assert.equal(err.exitCode, 3)
      assert.equal(err.message, `lock reel3.prproj (exclusive) for bob is not free: held exclusive by alice (lock reel3.prproj, token 1, lease until ${new Date(T0 + TTL).toISOString()})`)
      assert.deepEqual(err.blockers, [{ status: 'held', path: 'reel3.prproj', mode: 'exclusive', owner: 'alice', token: 1, expires: T0 + TTL }])
    })

    it('waitMs 0 is the same as no wait', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive')
      refused(c.acquire('bob', 'a', 'exclusive', { waitMs: 0 }), 'LockConflictError')
      assert.equal(c.sm.query({ type: 'lock.ls' }).waiters.length, 0)
    })

    it('re-acquiring the same mode keeps the token and extends the lease', () => {
      const c = new Cluster()
      const first = grantOf(c.acquire('alice', 'a', 'exclusive'))
      c.tick(1000)
      const again = grantOf(c.acquire('alice', 'a', 'exclusive', { ttlMs: 60_000 }))
      assert.equal(again.token, first.token)
      assert.equal(again.expires, T0 + 1000 + 60_000)
      assert.equal(c.sm.query({ type: 'lock.ls' }).locks.length, 1)
    })
  })

  describe('compatibility', () => {
    it('shared + shared on one path: both granted', () => {
      const c = new Cluster()
      grantOf(c.acquire('alice', 'a', 'shared'))
      grantOf(c.acquire('bob', 'a', 'shared'))
      assert.deepEqual(holders(c), ['alice:shared:a', 'bob:shared:a'])
    })

    it('shared vs exclusive and exclusive vs anything conflict', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'shared')
      refused(c.acquire('bob', 'a', 'exclusive'), 'LockConflictError')
      c.acquire('alice', 'b', 'exclusive')
      refused(c.acquire('bob', 'b', 'shared'), 'LockConflictError')
      refused(c.acquire('bob', 'b', 'exclusive'), 'LockConflictError')
    })

    it('an owner\'s own locks never block it, even overlapping ones', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3/', 'exclusive')
      grantOf(c.acquire('alice', 'reel3/cut.prproj', 'exclusive'))
      grantOf(c.acquire('alice', 'reel3/audio/', 'shared'))
    })
  })

  describe('hierarchy', () => {
    it('a directory lock conflicts with any lock beneath it', () => {
      const c = new Cluster()
      c.acquire('alice', 'reels/r3/', 'exclusive')
      refused(c.acquire('bob', 'reels/r3/cut.prproj', 'shared'), 'LockConflictError')
      refused(c.acquire('bob', 'reels/r3/audio/mix.wav', 'exclusive'), 'LockConflictError')
      refused(c.acquire('bob', 'reels/r3/audio/', 'exclusive'), 'LockConflictError')
    })

    it('a lock beneath a directory conflicts with a lock on the directory', () => {
      const c = new Cluster()
      c.acquire('alice', 'reels/r3/cut.prproj', 'exclusive')
      const err = refused(c.acquire('bob', 'reels/', 'exclusive'), 'LockConflictError')
      assert.equal(err.blockers[0].path, 'reels/r3/cut.prproj')
      refused(c.acquire('bob', 'reels/r3/', 'shared'), 'LockConflictError')
    })

    it('shared locks on a directory and beneath it are compatible', () => {
      const c = new Cluster()
      c.acquire('alice', 'reels/', 'shared')
      grantOf(c.acquire('bob', 'reels/r3/cut.prproj', 'shared'))
    })

    it('siblings never conflict', () => {
      const c = new Cluster()
      c.acquire('alice', 'reels/r3/cut.prproj', 'exclusive')
      grantOf(c.acquire('bob', 'reels/r3/notes.txt', 'exclusive'))
      c.acquire('alice', 'reels/r3/', 'exclusive')
      grantOf(c.acquire('bob', 'reels/r4/', 'exclusive'))
      grantOf(c.acquire('bob', 'reels/r30', 'exclusive'))
    })

    it('`reel3` the file and `reel3/` the directory conflict; the file does not cover `reel3/x`', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3', 'exclusive')
      refused(c.acquire('bob', 'reel3/', 'exclusive'), 'LockConflictError')
      grantOf(c.acquire('bob', 'reel3/audio', 'exclusive'))
    })
  })

  describe('upgrade and downgrade', () => {
    it('upgrades shared → exclusive at once when the sole holder, with a new token', () => {
      const c = new Cluster()
      const shared = grantOf(c.acquire('alice', 'a', 'shared'))
      const exclusive = grantOf(c.acquire('alice', 'a', 'exclusive'))
      assert.equal(exclusive.mode, 'exclusive')
      assert.ok(exclusive.token > shared.token)
      assert.deepEqual(holders(c), ['alice:exclusive:a'])
    })

    it('an upgrade with another shared holder is refused, or waits until that holder leaves', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'shared')
      c.acquire('bob', 'a', 'shared')
      refused(c.acquire('alice', 'a', 'exclusive'), 'LockConflictError')
      assertQueued(c.acquire('alice', 'a', 'exclusive', { waitMs: 10_000 }))
      assert.deepEqual(holders(c), ['alice:shared:a', 'bob:shared:a'])
      const out = c.release('bob', 'a')
      assert.deepEqual(eventKinds(out.events), ['granted:alice'])
      const event = out.events[0] as WaitResolvedEvent
      assert.equal(grantOf(event.result).token, out.index)
      assert.deepEqual(holders(c), ['alice:exclusive:a'])
    })

    it('an upgrade passes queued requests that wait for the upgrader itself (no upgrade deadlock)', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'shared')
      assertQueued(c.acquire('bob', 'a', 'exclusive', { waitMs: 10_000 }))
      const up = grantOf(c.acquire('alice', 'a', 'exclusive'))
      assert.equal(up.mode, 'exclusive')
      const out = c.release('alice', 'a')
      assert.deepEqual(eventKinds(out.events), ['granted:bob'])
    })

    it('an upgrade does not pass a queued request it would newly block', () => {
      const c = new Cluster()
      c.acquire('alice', 'd/x', 'shared')
      c.acquire('carol', 'd/y', 'exclusive')
      // bob's shared request on d/ waits for carol, and does not conflict with alice's shared d/x ...
      assertQueued(c.acquire('bob', 'd/', 'shared', { waitMs: 10_000 }))
      // ... so alice's exclusive d/x must not overtake it.
      const err = refused(c.acquire('alice', 'd/x', 'exclusive'), 'LockConflictError')
      assert.match(err.message, /bob is queued first for shared lock d\//)
    })

    it('two shared holders that both wait to upgrade: the second closes a cycle and fails', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'shared')
      c.acquire('bob', 'a', 'shared')
      assertQueued(c.acquire('alice', 'a', 'exclusive', { waitMs: 10_000 }))
      const err = refused(c.acquire('bob', 'a', 'exclusive', { waitMs: 10_000 }), 'DeadlockError')
      assert.deepEqual(err.cycle, ['bob', 'alice', 'bob'])
    })

    it('downgrades exclusive → shared at once, with a new token, letting shared waiters in', () => {
      const c = new Cluster()
      const exclusive = grantOf(c.acquire('alice', 'a', 'exclusive'))
      assertQueued(c.acquire('bob', 'a', 'shared', { waitMs: 10_000 }))
      const out = c.acquire('alice', 'a', 'shared')
      const shared = grantOf(out)
      assert.equal(shared.mode, 'shared')
      assert.ok(shared.token > exclusive.token)
      assert.deepEqual(eventKinds(out.events), ['granted:bob'])
      assert.deepEqual(holders(c), ['alice:shared:a', 'bob:shared:a'])
    })

    it('an upgrade waiter whose shared lock expires is cancelled', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'shared', { ttlMs: 1000 })
      c.acquire('bob', 'a', 'shared', { ttlMs: 60_000 })
      assertQueued(c.acquire('alice', 'a', 'exclusive', { waitMs: 60_000 }))
      const out = c.tick(1000).expire()
      assert.deepEqual(eventKinds(out.events), ['expired:alice', 'wait-cancelled:alice'])
      refused((out.events[1] as WaitResolvedEvent).result, 'LockNotHeldError')
      assert.equal(c.sm.query({ type: 'lock.ls' }).waiters.length, 0)
    })
  })

  describe('FIFO fairness', () => {
    it('waiters are granted in arrival order', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive')
      assertQueued(c.acquire('bob', 'a', 'exclusive', { waitMs: 60_000 }))
      assertQueued(c.acquire('carol', 'a', 'exclusive', { waitMs: 60_000 }))
      assert.deepEqual(eventKinds(c.release('alice', 'a').events), ['granted:bob'])
      assert.deepEqual(eventKinds(c.release('bob', 'a').events), ['granted:carol'])
    })

    it('a later shared request does not jump an earlier exclusive waiter, even though the holder is shared', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'shared')
      assertQueued(c.acquire('bob', 'a', 'exclusive', { waitMs: 60_000 }))
      const err = refused(c.acquire('carol', 'a', 'shared'), 'LockConflictError')
      assert.equal(err.message, 'lock a (shared) for carol is not free: bob is queued first for exclusive lock a')
      assertQueued(c.acquire('carol', 'a', 'shared', { waitMs: 60_000 }))
      assert.deepEqual(eventKinds(c.release('alice', 'a').events), ['granted:bob'])
      assert.deepEqual(eventKinds(c.release('bob', 'a').events), ['granted:carol'])
    })

    it('FIFO follows the hierarchy: a waiter on a directory holds back later requests beneath it', () => {
      const c = new Cluster()
      c.acquire('alice', 'reels/r3/cut', 'shared')
      assertQueued(c.acquire('bob', 'reels/', 'exclusive', { waitMs: 60_000 }))
      refused(c.acquire('carol', 'reels/r4/x', 'shared'), 'LockConflictError')
      grantOf(c.acquire('carol', 'other/x', 'exclusive'))
    })

    it('non-conflicting waiters behind a blocked one are granted as soon as they can be', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive')
      c.acquire('alice', 'b', 'exclusive')
      assertQueued(c.acquire('bob', 'a', 'exclusive', { waitMs: 60_000 }))
      assertQueued(c.acquire('carol', 'b', 'exclusive', { waitMs: 60_000 }))
      assert.deepEqual(eventKinds(c.release('alice', 'b').events), ['granted:carol'])
    })

    it('one release can grant several compatible waiters, which share the entry\'s token', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive')
      assertQueued(c.acquire('bob', 'a', 'shared', { waitMs: 60_000 }))
      assertQueued(c.acquire('carol', 'a', 'shared', { waitMs: 60_000 }))
      assertQueued(c.acquire('dave', 'a', 'exclusive', { waitMs: 60_000 }))
      assertQueued(c.acquire('erin', 'a', 'shared', { waitMs: 60_000 }))
      const out = c.release('alice', 'a')
      assert.deepEqual(eventKinds(out.events), ['granted:bob', 'granted:carol'])
      for (const e of out.events) assert.equal(grantOf((e as WaitResolvedEvent).result).token, out.index)
    })

    it('a granted waiter gets the lease from its grant time', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive')
      c.acquire('bob', 'a', 'exclusive', { waitMs: 60_000, ttlMs: 5000 })
      c.tick(7000)
      const e = c.release('alice', 'a').events[0] as WaitResolvedEvent
      assert.equal(grantOf(e.result).expires, T0 + 7000 + 5000)
      assert.equal(grantOf(e.result).grantedAt, T0 + 7000)
    })

    it('an owner waits at most once per path', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive')
      assertQueued(c.acquire('bob', 'a', 'exclusive', { waitMs: 60_000 }))
      const err = refused(c.acquire('bob', 'a', 'shared', { waitMs: 60_000 }), 'LockConflictError')
      assert.match(err.message, /bob is already waiting for lock a \(client c-bob, seq 1\)/)
    })
  })

  describe('wait timeouts', () => {
    it('lock.expire times out a waiter whose deadline passed, with an event for its client', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive', { ttlMs: 60_000 })
      c.acquire('bob', 'a', 'exclusive', { waitMs: 5000 })
      assert.deepEqual(eventKinds(c.tick(4999).expire().events), [])
      const out = c.tick(1).expire()
      assert.deepEqual(eventKinds(out.events), ['wait-timeout:bob'])
      const event = out.events[0] as WaitResolvedEvent
      assert.deepEqual([event.client, event.seq, event.path], ['c-bob', 1, 'a'])
      const err = refused(event.result, 'LockTimeoutError')
      assert.equal(err.waitedMs, 5000)
      assert.match(err.message, /^timed out after 5000 ms waiting for exclusive lock a for bob: held exclusive by alice/)
      const result = ok(out)
      assert.equal(result.type === 'lock.expire' && result.timedOut.length, 1)
      assert.equal(c.sm.query({ type: 'lock.ls' }).waiters.length, 0)
    })

    it('a timed-out waiter no longer holds back the ones behind it', () => {
      const c = new Cluster()
      c.acquire('alice', 'd/x', 'shared', { ttlMs: 60_000 })
      c.acquire('bob', 'd/', 'exclusive', { waitMs: 1000 })
      c.acquire('carol', 'd/y', 'shared', { waitMs: 60_000 })
      const out = c.tick(1000).expire()
      assert.deepEqual(eventKinds(out.events), ['wait-timeout:bob', 'granted:carol'])
    })

    it('when a lease and a wait run out together, the wait times out first', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive', { ttlMs: 1000 })
      c.acquire('bob', 'a', 'exclusive', { waitMs: 1000 })
      const out = c.tick(1000).expire()
      assert.deepEqual(eventKinds(out.events), ['expired:alice', 'wait-timeout:bob'])
      assert.deepEqual(holders(c), [])
    })
  })

  describe('deadlock detection', () => {
    it('a wait that closes a two-owner cycle fails at once, naming it', () => {
      const c = new Cluster()
      c.acquire('a', 'x', 'exclusive')
      c.acquire('b', 'y', 'exclusive')
      assertQueued(c.acquire('a', 'y', 'exclusive', { waitMs: 60_000 }))
      const err = refused(c.acquire('b', 'x', 'exclusive', { waitMs: 60_000 }), 'DeadlockError')
      assert.equal(err.message, 'deadlock: b → a → b (waiting for exclusive lock x would close the cycle)')
      assert.deepEqual(err.cycle, ['b', 'a', 'b'])
      assert.equal(err.exitCode, 3)
      assert.deepEqual(c.sm.query({ type: 'lock.ls' }).waiters.map(w => w.owner), ['a'])
    })

    it('finds transitive cycles through the hierarchy', () => {
      const c = new Cluster()
      c.acquire('a', 'p/1', 'exclusive')
      c.acquire('b', 'q/', 'shared')
      c.acquire('c', 'r', 'exclusive')
      assertQueued(c.acquire('a', 'q/file', 'exclusive', { waitMs: 60_000 }))
      assertQueued(c.acquire('b', 'r', 'shared', { waitMs: 60_000 }))
      const err = refused(c.acquire('c', 'p/', 'shared', { waitMs: 60_000 }), 'DeadlockError')
      assert.deepEqual(err.cycle, ['c', 'a', 'b', 'c'])
      assert.match(err.message, /^deadlock: c → a → b → c/)
    })

    it('counts waiting behind a queued request as waiting for its owner', () => {
      const c = new Cluster()
      c.acquire('a', 'x', 'shared')
      c.acquire('b', 'y', 'exclusive')
      assertQueued(c.acquire('b', 'x', 'exclusive', { waitMs: 60_000 }))
      // c waits behind b's queued exclusive request, though a's shared grant alone would let it in
      assertQueued(c.acquire('c', 'x', 'shared', { waitMs: 60_000 }))
      grantOf(c.acquire('c', 'z', 'exclusive'))
      const err = refused(c.acquire('b', 'z', 'exclusive', { waitMs: 60_000 }), 'DeadlockError')
      assert.deepEqual(err.cycle, ['b', 'c', 'b'])
    })

    it('a wait with no cycle is queued', () => {
      const c = new Cluster()
      c.acquire('a', 'x', 'exclusive')
      c.acquire('b', 'y', 'exclusive')
      assertQueued(c.acquire('a', 'y', 'exclusive', { waitMs: 60_000 }))
      assertQueued(c.acquire('c', 'x', 'exclusive', { waitMs: 60_000 }))
    })
  })

  describe('release', () => {
    it('releases the owner\'s lock and grants the next waiter', () => {
      const c = new Cluster()
      const grant = grantOf(c.acquire('alice', 'a', 'exclusive'))
      c.acquire('bob', 'a', 'exclusive', { waitMs: 60_000 })
      const out = c.release('alice', 'a')
      const result = ok(out)
      assert.deepEqual(result.type === 'lock.release' && result.released, grant)
      assert.deepEqual(eventKinds(out.events), ['granted:bob'])
    })

    it('releasing a lock not held is a LockNotHeldError', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive')
      const err = refused(c.release('bob', 'a'), 'LockNotHeldError')
      assert.match(err.message, /^bob does not hold lock a/)
      assert.deepEqual(holders(c), ['alice:exclusive:a'])
    })

    it('release by path exactly: the owner\'s `a/` is not its `a/b`', () => {
      const c = new Cluster()
      c.acquire('alice', 'a/', 'exclusive')
      refused(c.release('alice', 'a/b'), 'LockNotHeldError')
    })

    it('a cancelled wait lets the queue behind it in', () => {
      const c = new Cluster()
      c.acquire('alice', 'd/x', 'shared')
      assertQueued(c.acquire('bob', 'd/', 'exclusive', { waitMs: 60_000 }))
      assertQueued(c.acquire('carol', 'd/y', 'shared', { waitMs: 60_000 }))
      assert.deepEqual(eventKinds(c.release('bob', 'd/').events), ['wait-cancelled:bob', 'granted:carol'])
    })

    it('release cancels the owner\'s wait, telling the waiting client', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive')
      assertQueued(c.acquire('bob', 'a', 'exclusive', { waitMs: 60_000 }))
      const out = c.release('bob', 'a')
      const result = ok(out)
      assert.equal(result.type === 'lock.release' && result.cancelled?.owner, 'bob')
      assert.deepEqual(eventKinds(out.events), ['wait-cancelled:bob'])
      refused((out.events[0] as WaitResolvedEvent).result, 'LockWaitCancelledError')
      assert.equal(c.sm.query({ type: 'lock.ls' }).waiters.length, 0)
    })
  })

  describe('leases', () => {
    it('renew extends the lease to now + ttl and keeps the token', () => {
      const c = new Cluster()
      const grant = grantOf(c.acquire('alice', 'a', 'exclusive', { ttlMs: 1000 }))
      c.tick(900)
      const renewed = ok(c.renew('alice', 'a'))
      assert.deepEqual(renewed.type === 'lock.renew' && renewed.grant, { ...grant, expires: T0 + 900 + 1000 })
      c.tick(900)
      ok(c.renew('alice', 'a', 5000))
      assert.equal(c.sm.query({ type: 'lock.ls' }).locks[0].expires, T0 + 1800 + 5000)
      assert.deepEqual(eventKinds(c.tick(1000).expire().events), [])
    })

    it('renewing a lock not held (or held by someone else) is a LockNotHeldError', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive')
      refused(c.renew('bob', 'a'), 'LockNotHeldError')
      refused(c.renew('alice', 'b'), 'LockNotHeldError')
    })

    it('lock.expire removes leases with expires <= now and keeps the others', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive', { ttlMs: 1000 })
      c.acquire('bob', 'b', 'exclusive', { ttlMs: 2000 })
      assert.deepEqual(eventKinds(c.tick(999).expire().events), [])
      const out = c.tick(1).expire()
      assert.deepEqual(eventKinds(out.events), ['expired:alice'])
      assert.deepEqual(holders(c), ['bob:exclusive:b'])
    })

    it('expiry regrants to the waiter with a higher token', () => {
      const c = new Cluster()
      const first = c.token(c.acquire('alice', 'reel3/', 'exclusive', { ttlMs: 1000 }))
      c.acquire('bob', 'reel3/cut', 'exclusive', { waitMs: 60_000 })
      const out = c.tick(1000).expire()
      assert.deepEqual(eventKinds(out.events), ['expired:alice', 'granted:bob'])
      const second = grantOf((out.events[1] as WaitResolvedEvent).result).token
      assert.ok(second > first)
      assert.equal(second, out.index)
    })

    it('a lapsed lease still stands until lock.expire removes it, and may be renewed until then', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive', { ttlMs: 1000 })
      c.tick(5000)
      refused(c.acquire('bob', 'a', 'exclusive'), 'LockConflictError')
      ok(c.renew('alice', 'a'))
      assert.deepEqual(eventKinds(c.expire().events), [])
    })

    it('the replicated clock never runs backwards (a new leader with a slower clock)', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive', { ttlMs: 1000 })
      c.tick(2000).expire()
      assert.equal(c.sm.clock, T0 + 2000)
      c.tick(-1500)
      const grant = grantOf(c.acquire('bob', 'a', 'exclusive', { ttlMs: 1000 }))
      assert.equal(grant.grantedAt, T0 + 2000)
      assert.equal(grant.expires, T0 + 3000)
      assert.equal(c.sm.clock, T0 + 2000)
    })

    it('the audit log records expiries', () => {
      const c = new Cluster()
      c.acquire('alice', 'a', 'exclusive', { ttlMs: 1000 })
      c.tick(1000).expire()
      const { entries } = c.sm.query({ type: 'lock.audit' })
      assert.equal(entries.length, 1)
      assert.deepEqual({ ...entries[0], grant: entries[0].grant.owner }, {
        kind: 'expire', grant: 'alice', by: null, reason: `lease expired at ${new Date(T0 + 1000).toISOString()}`, when: T0 + 1000, index: 2
      })
    })
  })

  describe('break', () => {
    it('removes every grant on the path, audited with who and why, and grants the waiters', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3/', 'shared')
      c.acquire('bob', 'reel3/', 'shared')
      c.acquire('carol', 'reel3/cut', 'exclusive', { waitMs: 60_000 })
      c.tick(10)
      const out = c.break('admin', 'reel3/', 'alice is on holiday')
      const result = ok(out)
      assert.deepEqual(result.type === 'lock.break' && result.broken.map(g => g.owner), ['alice', 'bob'])
      assert.deepEqual(eventKinds(out.events), ['broken:alice', 'broken:bob', 'granted:carol'])
      const audit = c.sm.query({ type: 'lock.audit', prefix: 'reel3/' })
      assert.deepEqual(audit.entries.map(e => [e.kind, e.grant.owner, e.by, e.reason, e.when, e.index]), [
        ['break', 'alice', 'admin', 'alice is on holiday', T0 + 10, out.index],
        ['break', 'bob', 'admin', 'alice is on holiday', T0 + 10, out.index]
      ])
      assert.deepEqual(holders(c), ['carol:exclusive:reel3/cut'])
    })

    it('breaking a path with no lock is a LockNotHeldError', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3/', 'exclusive')
      const err = refused(c.break('admin', 'reel3/cut', 'why not'), 'LockNotHeldError')
      assert.equal(err.message, 'no lock on reel3/cut to break')
    })

    it('a broken holder\'s token is stale afterwards', () => {
      const c = new Cluster()
      const token = c.token(c.acquire('alice', 'reel3', 'exclusive'))
      c.break('admin', 'reel3', 'stuck')
      refused(c.set('alice', 'reel3', 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi', { token }), 'StaleTokenError')
    })

    it('the audit log keeps the newest maxAuditEntries', () => {
      const c = new Cluster({ maxAuditEntries: 2 })
      for (const p of ['a', 'b', 'c']) {
        c.acquire('alice', p, 'exclusive')
        c.break('admin', p, `break ${p}`)
      }
      const audit = c.sm.query({ type: 'lock.audit' })
      assert.equal(audit.dropped, 1)
      assert.deepEqual(audit.entries.map(e => e.grant.path), ['b', 'c'])
    })
  })

  describe('tokens', () => {
    it('strictly increase across the group, whatever the path', () => {
      const c = new Cluster()
      const tokens = [
        c.token(c.acquire('alice', 'a', 'exclusive')),
        c.token(c.acquire('bob', 'b/', 'shared')),
        c.token(c.acquire('carol', 'c', 'exclusive'))
      ]
      c.release('alice', 'a')
      tokens.push(c.token(c.acquire('bob', 'a', 'exclusive')))
      assert.deepEqual(tokens, [...tokens].sort((x, y) => x - y))
      assert.equal(new Set(tokens).size, tokens.length)
    })
  })

  describe('lock.ls', () => {
    it('lists grants by prefix (sorted by path) and waiters in queue order', () => {
      const c = new Cluster()
      c.acquire('bob', 'projects/reel3/cut', 'exclusive')
      c.acquire('alice', 'projects/reel3/audio/', 'shared')
      c.acquire('carol', 'archive/x', 'exclusive')
      c.acquire('dave', 'projects/reel3/cut', 'shared', { waitMs: 60_000 })
      c.acquire('erin', 'projects/reel3/cut', 'exclusive', { waitMs: 60_000 })
      const ls = c.sm.query({ type: 'lock.ls', prefix: 'projects/' })
      assert.deepEqual(ls.locks.map(g => g.path), ['projects/reel3/audio/', 'projects/reel3/cut'])
      assert.deepEqual(ls.waiters.map(w => [w.owner, w.mode, w.deadline]), [['dave', 'shared', T0 + 60_000], ['erin', 'exclusive', T0 + 60_000]])
      assert.equal(c.sm.query({ type: 'lock.ls' }).locks.length, 3)
    })
  })
})
