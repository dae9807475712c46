/**
 * Keeps the leases of the locks this node holds alive (DESIGN §7): every lock granted through this node is
 * renewed every third of its TTL until it is released. When the node dies the renewals stop, the lease runs
 * out, and the leader's `lock.expire` frees the lock for the next waiter.
 *
 * A renewal refused with LockNotHeldError (the lease already expired, or someone broke the lock) ends the
 * tracking; so does an `expired`/`broken` event applied on this node (when it is a voter). A renewal that
 * cannot get an answer (no quorum) is retried sooner, until the group answers one way or the other.
 */
import type { LockGrant } from '../../src/state/index.ts'

/** The shortest pause between two renewals of one lease. */
export const MIN_RENEW_INTERVAL_MS = 50

export interface LeaseRenewerInit {
  /** renew `owner`'s lock on `path`; resolves to the renewed grant */
  renew(path: string, owner: string, ttlMs: number): Promise<LockGrant>
  log?(message: string): void
}

interface Lease {
  grant: LockGrant
  timer?: NodeJS.Timeout
}

export class LeaseRenewer {
  private readonly init: LeaseRenewerInit
  private readonly leases = new Map<string, Lease>()
  private stopped = false

  constructor (init: LeaseRenewerInit) {
    this.init = init
  }

  /** Start (or keep) renewing a grant. */
  track (grant: LockGrant): void {
    if (this.stopped) return
    const key = leaseKey(grant.owner, grant.path)
    const existing = this.leases.get(key)
    if (existing !== undefined) clearTimeout(existing.timer)
    const lease: Lease = { grant }
    this.leases.set(key, lease)
    this.schedule(lease, grant.ttlMs / 3)
  }

  /** Stop renewing (the lock was released). */
  untrack (owner: string, path: string): void {
    const key = leaseKey(owner, path)
    clearTimeout(this.leases.get(key)?.timer)
    this.leases.delete(key)
  }

  /** The grant with this token is gone (expired or broken): stop renewing it. */
  lost (grant: LockGrant, why: string): void {
    const lease = this.leases.get(leaseKey(grant.owner, grant.path))
    if (lease === undefined || lease.grant.token !== grant.token) return
    this.untrack(grant.owner, grant.path)
    this.init.log?.(`lock ${grant.path} (token ${grant.token}) lost: ${why}`)
  }

  /** The leases being renewed. */
  list (): LockGrant[] {
    return [...this.leases.values()].map(l => l.grant)
  }

  stop (): void {
    this.stopped = true
    for (const l of this.leases.values()) clearTimeout(l.timer)
    this.leases.clear()
  }

  private schedule (lease: Lease, ms: number): void {
    lease.timer = setTimeout(() => { this.renew(lease).catch(() => {}) }, Math.max(MIN_RENEW_INTERVAL_MS, ms))
    lease.timer.unref()
  }

  private async renew (lease: Lease): Promise<void> {
    const { owner, path, ttlMs } = lease.grant
    try {
      const grant = await this.init.renew(path, owner, ttlMs)
      if (this.leases.get(leaseKey(owner, path)) !== lease) return
      lease.grant = grant
      this.schedule(lease, grant.ttlMs / 3)
    } catch (err) {
      if (this.leases.get(leaseKey(owner, path)) !== lease) return
      if ((err as Error).name === 'LockNotHeldError') {
        this.leases.delete(leaseKey(owner, path))
        this.init.log?.(`lock ${path} (token ${lease.grant.token}) lost: ${(err as Error).message}`)
        return
      }
      this.schedule(lease, ttlMs / 6)
    }
  }
}

function leaseKey (owner: string, path: string): string {
  return `${owner}\n${path}`
}
