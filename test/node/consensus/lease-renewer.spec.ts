import assert from 'node:assert/strict'
import { LeaseRenewer } from '../../../node/consensus/lease-renewer.ts'
import { LockNotHeldError } from '../../../src/state/index.ts'
import { eventually, sleep } from './helpers.ts'
import type { LockGrant } from '../../../src/state/index.ts'

const grant = (path: string, ttlMs: number, token = 1): LockGrant => ({ path, mode: 'exclusive', owner: 'me', token, expires: Date.now() + ttlMs, ttlMs, grantedAt: Date.now() })

describe('node/consensus/lease-renewer', () => {
  let renewer: LeaseRenewer | undefined
  afterEach(() => { renewer?.stop() })

  it('renews every third of the TTL until released', async () => {
    const calls: string[] = []
    renewer = new LeaseRenewer({ renew: async (path, _o, ttlMs) => { calls.push(path); return grant(path, ttlMs) } })
    renewer.track(grant('a/', 300))
    await sleep(750)
    assert.ok(calls.length >= 5 && calls.length <= 8, `${calls.length} renewals`)
    renewer.untrack('me', 'a/')
    const n = calls.length
    await sleep(300)
    assert.equal(calls.length, n)
    assert.deepEqual(renewer.list(), [])
  })

  it('stops when the lock is no longer held, and retries sooner while the group cannot answer', async () => {
    let attempts = 0
    renewer = new LeaseRenewer({
      renew: async () => {
        attempts++
        if (attempts <= 2) throw new Error('no quorum: 1 of 3 voters reachable')
        throw new LockNotHeldError('lock not held', undefined)
      }
    })
    renewer.track(grant('b', 600))
    await eventually(() => renewer?.list().length === 0, 3000, 'the lease is dropped')
    assert.equal(attempts, 3)
  })

  it('drops a lease whose grant expired or was broken (an event applied on this node)', () => {
    renewer = new LeaseRenewer({ renew: async (path, _o, ttlMs) => grant(path, ttlMs) })
    renewer.track(grant('c', 60_000, 5))
    renewer.lost(grant('c', 60_000, 4), 'an older grant')
    assert.equal(renewer.list().length, 1)
    renewer.lost(grant('c', 60_000, 5), 'broken by admin')
    assert.equal(renewer.list().length, 0)
  })
})
