import assert from 'node:assert/strict'
import { CID1, CID2, CID3, Cluster, T0, ok, refused } from './helpers.ts'

describe('state machine: refs', () => {
  describe('ref.set by compare-and-swap', () => {
    it('sets unconditionally and reads back', () => {
      const c = new Cluster()
      const out = ok(c.set('alice', 'reel3', CID1))
      assert.deepEqual(out, {
        ok: true,
        type: 'ref.set',
        ref: { name: 'reel3', cid: CID1, index: 1, when: T0, who: 'alice', token: null },
        old: null
      })
      assert.deepEqual(c.sm.query({ type: 'ref.get', name: 'reel3' }).ref, { name: 'reel3', cid: CID1, index: 1, when: T0, who: 'alice', token: null })
    })

    it('expect none: creates only if absent, else a conflict naming the current CID', () => {
      const c = new Cluster()
      ok(c.set('alice', 'reel3', CID1, { expect: null }))
      const err = refused(c.set('bob', 'reel3', CID2, { expect: null }), 'RefConflictError')
      assert.equal(err.message, `ref reel3 is at ${CID1}, expected none`)
      assert.equal(err.exitCode, 3)
      assert.equal(err.current, CID1)
      assert.equal(err.expected, null)
      assert.equal(c.sm.query({ type: 'ref.get', name: 'reel3' }).ref?.cid, CID1)
    })

    it('expect a CID: swaps only from that CID', () => {
      const c = new Cluster()
      ok(c.set('alice', 'reel3', CID1))
      const swapped = ok(c.set('bob', 'reel3', CID2, { expect: CID1 }))
      assert.equal(swapped.type === 'ref.set' && swapped.old, CID1)
      const err = refused(c.set('carol', 'reel3', CID3, { expect: CID1 }), 'RefConflictError')
      assert.equal(err.message, `ref reel3 is at ${CID2}, expected ${CID1}`)
      assert.equal(c.sm.query({ type: 'ref.get', name: 'reel3' }).ref?.cid, CID2)
    })

    it('expect a CID on a missing ref: a conflict saying it does not exist', () => {
      const c = new Cluster()
      const err = refused(c.set('alice', 'reel3', CID2, { expect: CID1 }), 'RefConflictError')
      assert.equal(err.message, `ref reel3 does not exist, expected ${CID1}`)
      assert.equal(err.current, null)
    })

    it('normalizes names, so two spellings are one ref', () => {
      const c = new Cluster()
      ok(c.set('alice', 'projects//reel3/./cut', CID1))
      const err = refused(c.set('bob', './projects/reel3/cut', CID2, { expect: null }), 'RefConflictError')
      assert.equal(err.ref, 'projects/reel3/cut')
    })

    it('the version (index) of a ref is the log index of its write', () => {
      const c = new Cluster()
      c.set('alice', 'a', CID1)
      c.set('alice', 'b', CID1)
      c.set('alice', 'a', CID2)
      assert.equal(c.sm.query({ type: 'ref.get', name: 'a' }).ref?.index, 3)
      assert.equal(c.sm.query({ type: 'ref.get', name: 'b' }).ref?.index, 2)
    })
  })

  describe('ref.rm by compare-and-swap', () => {
    it('deletes only from the expected CID', () => {
      const c = new Cluster()
      ok(c.set('alice', 'reel3', CID1))
      const err = refused(c.rm('bob', 'reel3', CID2), 'RefConflictError')
      assert.equal(err.message, `ref reel3 is at ${CID1}, expected ${CID2}`)
      assert.deepEqual(ok(c.rm('bob', 'reel3', CID1)), { ok: true, type: 'ref.rm', name: 'reel3', old: CID1, index: 3 })
      assert.equal(c.sm.query({ type: 'ref.get', name: 'reel3' }).ref, null)
    })

    it('a missing ref cannot be deleted', () => {
      const c = new Cluster()
      const err = refused(c.rm('alice', 'reel3', CID1), 'RefConflictError')
      assert.equal(err.message, `ref reel3 does not exist, expected ${CID1}`)
    })

    it('after a delete, expect none creates again', () => {
      const c = new Cluster()
      c.set('alice', 'reel3', CID1)
      c.rm('alice', 'reel3', CID1)
      ok(c.set('alice', 'reel3', CID2, { expect: null }))
    })
  })

  describe('ref.ls', () => {
    it('lists by plain string prefix, sorted by name', () => {
      const c = new Cluster()
      for (const name of ['projects/reel3/cut', 'projects/reel30/cut', 'projects/reel3/audio', 'archive/reel1', 'projects/a']) {
        c.set('alice', name, CID1)
      }
      const names = (prefix?: string): string[] => c.sm.query({ type: 'ref.ls', prefix }).refs.map(r => r.name)
      assert.deepEqual(names(), ['archive/reel1', 'projects/a', 'projects/reel3/audio', 'projects/reel3/cut', 'projects/reel30/cut'])
      assert.deepEqual(names('projects/reel3/'), ['projects/reel3/audio', 'projects/reel3/cut'])
      assert.deepEqual(names('projects/reel3'), ['projects/reel3/audio', 'projects/reel3/cut', 'projects/reel30/cut'])
      assert.deepEqual(names('projects//reel3/'), ['projects/reel3/audio', 'projects/reel3/cut'])
      assert.deepEqual(names('nothing/'), [])
    })

    it('does not list deleted refs', () => {
      const c = new Cluster()
      c.set('alice', 'a', CID1)
      c.set('alice', 'b', CID1)
      c.rm('alice', 'a', CID1)
      assert.deepEqual(c.sm.query({ type: 'ref.ls' }).refs.map(r => r.name), ['b'])
    })
  })

  describe('ref.log', () => {
    it('records every change: old, new, who, when, token, index — deletes too', () => {
      const c = new Cluster()
      c.set('alice', 'reel3', CID1)
      c.tick(5)
      const token = c.token(c.acquire('bob', 'reel3', 'exclusive'))
      c.set('bob', 'reel3', CID2, { expect: CID1, token })
      refused(c.set('carol', 'reel3', CID3), 'RefLockedError')
      c.release('bob', 'reel3')
      c.tick(5)
      c.rm('carol', 'reel3', CID2)
      assert.deepEqual(c.sm.query({ type: 'ref.log', name: 'reel3' }), {
        name: 'reel3',
        dropped: 0,
        entries: [
          { old: null, new: CID1, who: 'alice', when: T0, token: null, index: 1 },
          { old: CID1, new: CID2, who: 'bob', when: T0 + 5, token: 2, index: 3 },
          { old: CID2, new: null, who: 'carol', when: T0 + 10, token: null, index: 6 }
        ]
      })
    })

    it('records nothing for refused writes', () => {
      const c = new Cluster()
      c.set('alice', 'reel3', CID1)
      c.set('bob', 'reel3', CID2, { expect: null })
      assert.equal(c.sm.query({ type: 'ref.log', name: 'reel3' }).entries.length, 1)
    })

    it('keeps the newest maxRefLogEntries per ref and counts the dropped ones', () => {
      const c = new Cluster({ maxRefLogEntries: 3 })
      const cids = [CID1, CID2, CID3, CID1, CID2]
      for (const cid of cids) c.set('alice', 'reel3', cid)
      c.set('alice', 'other', CID1)
      const log = c.sm.query({ type: 'ref.log', name: 'reel3' })
      assert.equal(log.dropped, 2)
      assert.deepEqual(log.entries.map(e => e.index), [3, 4, 5])
      assert.deepEqual(log.entries.map(e => e.new), [CID3, CID1, CID2])
      assert.equal(c.sm.query({ type: 'ref.log', name: 'other' }).entries.length, 1)
    })

    it('an unknown ref has an empty log', () => {
      assert.deepEqual(new Cluster().sm.query({ type: 'ref.log', name: 'nope' }), { name: 'nope', entries: [], dropped: 0 })
    })
  })

  describe('fencing', () => {
    it('refuses a write under another owner\'s exclusive lock on the name', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3/cut.prproj', 'exclusive')
      const err = refused(c.set('bob', 'reel3/cut.prproj', CID1), 'RefLockedError')
      assert.equal(err.exitCode, 3)
      assert.match(err.message, /^ref reel3\/cut.prproj is locked exclusive by alice \(lock reel3\/cut.prproj, token 1\)/)
      assert.equal(err.holder.owner, 'alice')
      ok(c.set('alice', 'reel3/cut.prproj', CID1))
    })

    it('refuses a write under another owner\'s exclusive directory lock, and refuses deletes too', () => {
      const c = new Cluster()
      c.set('bob', 'projects/reel3/cut', CID1)
      c.acquire('alice', 'projects/', 'exclusive')
      refused(c.set('bob', 'projects/reel3/cut', CID2), 'RefLockedError')
      refused(c.rm('bob', 'projects/reel3/cut', CID1), 'RefLockedError')
      ok(c.set('bob', 'elsewhere/cut', CID2))
    })

    it('a directory lock `reel3/` also fences the ref `reel3` (one entry, two spellings)', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3/', 'exclusive')
      refused(c.set('bob', 'reel3', CID1), 'RefLockedError')
    })

    it('a file lock does not fence siblings or names beneath it', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3/cut.prproj', 'exclusive')
      c.acquire('alice', 'reel4', 'exclusive')
      ok(c.set('bob', 'reel3/notes', CID1))
      ok(c.set('bob', 'reel4/audio', CID1))
    })

    it('a shared lock does not fence writes', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3/', 'shared')
      ok(c.set('bob', 'reel3/cut', CID1))
    })

    it('accepts a write whose token names the writer\'s live grant covering the name', () => {
      const c = new Cluster()
      const token = c.token(c.acquire('alice', 'projects/reel3/', 'exclusive'))
      const out = ok(c.set('alice', 'projects/reel3/cut', CID1, { token }))
      assert.equal(out.type === 'ref.set' && out.ref.token, token)
    })

    it('refuses a token older than the current grant, naming both tokens', () => {
      const c = new Cluster()
      const old = c.token(c.acquire('alice', 'reel3', 'exclusive', { ttlMs: 1000 }))
      c.tick(1000).expire()
      const fresh = c.token(c.acquire('bob', 'reel3', 'exclusive'))
      c.release('bob', 'reel3')
      c.acquire('bob', 'reel3', 'shared')
      const err = refused(c.set('alice', 'reel3', CID1, { token: old }), 'StaleTokenError')
      assert.ok(fresh > old)
      const newest = c.sm.query({ type: 'lock.ls' }).locks[0].token
      assert.equal(err.message, `token ${old} is older than token ${newest} (bob's shared lock on reel3): ref reel3 not written`)
      assert.equal(err.token, old)
      assert.equal(err.newer?.token, newest)
      assert.equal(err.exitCode, 3)
    })

    it('refuses a token that names no live grant of the writer (lease expired, nobody else since)', () => {
      const c = new Cluster()
      const token = c.token(c.acquire('alice', 'reel3', 'exclusive', { ttlMs: 1000 }))
      c.tick(1000).expire()
      const err = refused(c.set('alice', 'reel3', CID1, { token }), 'StaleTokenError')
      assert.equal(err.message, `token ${token} names no live lock of alice covering ref reel3 (released, expired or broken): acquire the lock again`)
      assert.equal(err.newer, null)
    })

    it('refuses someone else\'s token and a token for a lock that does not cover the name', () => {
      const c = new Cluster()
      const token = c.token(c.acquire('alice', 'reel3', 'shared'))
      refused(c.set('bob', 'reel3', CID1, { token }), 'StaleTokenError')
      refused(c.set('alice', 'reel4', CID1, { token }), 'StaleTokenError')
    })

    it('an upgrade makes the shared token stale', () => {
      const c = new Cluster()
      const shared = c.token(c.acquire('alice', 'reel3', 'shared'))
      const exclusive = c.token(c.acquire('alice', 'reel3', 'exclusive'))
      assert.ok(exclusive > shared)
      const err = refused(c.set('alice', 'reel3', CID1, { token: shared }), 'StaleTokenError')
      assert.match(err.message, new RegExp(`token ${shared} is older than token ${exclusive} \\(alice's exclusive lock on reel3\\)`))
      ok(c.set('alice', 'reel3', CID1, { token: exclusive }))
    })

    it('fencing is checked before compare-and-swap', () => {
      const c = new Cluster()
      c.acquire('alice', 'reel3', 'exclusive')
      refused(c.set('bob', 'reel3', CID1, { expect: CID2 }), 'RefLockedError')
    })
  })
})
