/**
 * The lock table (DESIGN §7): grants, the FIFO wait queue and the audit log.
 *
 * Compatibility. Two requests conflict when they come from different owners, their paths overlap
 * (src/paths.ts `pathsConflict`: a directory and anything beneath it, or two spellings of one entry) and at
 * least one is exclusive. An owner's own locks never block it: it may hold `reel3/` and `reel3/cut` at once.
 *
 * Fairness. A request is granted when no conflicting grant exists *and* no conflicting request of another
 * owner is queued before it, so a later request never overtakes an earlier conflicting waiter (a stream of
 * shared readers cannot starve a writer). An upgrade (shared → exclusive by a holder of `path`) is the one
 * exception: it may pass queued requests that already wait for the upgrader's own shared grant — they cannot
 * be granted before the upgrader lets go anyway, and making the upgrader queue behind them would deadlock it
 * against them.
 *
 * Deadlock. Owners form a wait-for graph: a waiter's owner → the owner of each of its blockers. With the
 * rules above, edges appear only when a request joins the queue — a grant never creates an edge, since anything
 * a new grant would block was either blocking it (FIFO) or already waiting for the same owner — so any cycle
 * must pass through the owner of the newest waiter; checking that owner when it queues finds every cycle.
 *
 * Tokens. A grant's token is the log index of the entry that granted it, or last changed its mode (upgrade,
 * downgrade): strictly increasing in log order. Several compatible grants made by one entry (a release that
 * lets three shared waiters in) share a token; conflicting grants never do, and of two conflicting grants the
 * later always has the larger token.
 *
 * Leases. A grant stays until its owner releases it, someone breaks it, or the leader's `lock.expire`
 * finds `expires <= now` — so every replica removes it at the same log index. Until then it can be renewed.
 */
import { pathsConflict } from '../paths.ts'
import { PathIndex } from './path-index.ts'
import { compareStrings, withUser } from './refs.ts'
import { errorInfo } from './results.ts'
import type { StateMutant } from './mutants.ts'
import type {
  AuditEntry, Blocker, Failure, LockAcquireCommand, LockAcquireResult, LockBreakCommand, LockBreakOk,
  LockExpireOk, LockGrant, LockGrantedOk, LockMode, LockReleaseCommand, LockReleaseOk, LockRenewCommand,
  LockRenewOk, LockWaiter, StateEvent
} from './types.ts'

/** What one `apply` hands the lock table: the entry's index, the state machine's clock, and where events go. */
export interface ApplyContext {
  index: number
  now: number
  events: StateEvent[]
}

/** The lock table as stored in a snapshot. */
export interface LocksData {
  grants: LockGrant[]
  waiters: LockWaiter[]
  audit: AuditEntry[]
  auditDropped: number
}

interface Request {
  owner: string
  path: string
  mode: LockMode
  upgrade: boolean
}

export class LockTable {
  /** in the order they were granted: the order snapshots keep and `lock.expire` and `lock.break` go by */
  private readonly grants: LockGrant[] = []
  /** the same grants, by path, for the hierarchy checks */
  private readonly index = new PathIndex<LockGrant>()
  /** the FIFO queue */
  private readonly waiters: LockWaiter[] = []
  private readonly audit: AuditEntry[] = []
  private auditDropped = 0

  constructor (readonly maxAuditEntries: number, private readonly mutant: StateMutant | undefined) {}

  acquire (cmd: LockAcquireCommand, ctx: ApplyContext): LockAcquireResult {
    const { owner, path, mode } = cmd
    const waiting = this.waiterOf(owner, path)
    if (waiting !== undefined) {
      return conflict(path, mode, [], `${owner} is already waiting for lock ${path} (client ${waiting.client}, seq ${waiting.seq}); release ${path} to cancel that wait first`)
    }
    const held = this.grantOf(owner, path)
    if (held !== undefined && held.mode === mode) {
      held.expires = ctx.now + cmd.ttlMs
      held.ttlMs = cmd.ttlMs
      return granted(held)
    }
    if (held !== undefined && held.mode === 'exclusive') {
      // Downgrade: at once, with a fresh token so writes fenced by the exclusive token stop being accepted.
      this.setMode(held, 'shared', cmd.ttlMs, ctx)
      this.grantWaiters(ctx)
      return granted(held)
    }
    const request: Request = { owner, path, mode, upgrade: held !== undefined }
    let blockers = this.blockers(request, this.waiters.length)
    if (this.mutant === 'grant-conflicting-lock') {
      // MUTANT(grant-conflicting-lock): grants are not checked, only the queue is.
      blockers = blockers.filter(b => b.status === 'queued')
    }
    if (blockers.length === 0) {
      if (held !== undefined) {
        this.setMode(held, 'exclusive', cmd.ttlMs, ctx)
        return granted(held)
      }
      return granted(this.grant(owner, path, mode, cmd.ttlMs, ctx, cmd.user))
    }
    const waitMs = cmd.waitMs ?? 0
    if (waitMs === 0) {
      return conflict(path, mode, blockers, `lock ${path} (${mode}) for ${owner} is not free: ${describeBlockers(blockers)}`)
    }
    const waiter: LockWaiter = withUser({
      path,
      mode,
      owner,
      client: cmd.client,
      seq: cmd.seq,
      ttlMs: cmd.ttlMs,
      deadline: ctx.now + waitMs,
      queuedAt: ctx.now,
      upgrade: held !== undefined
    }, cmd.user)
    this.waiters.push(waiter)
    const cycle = this.cycleThrough(owner)
    if (cycle !== undefined) {
      this.waiters.pop()
      return {
        ok: false,
        error: errorInfo('DeadlockError', `deadlock: ${cycle.join(' → ')} (waiting for ${mode} lock ${path} would close the cycle)`, { path, cycle })
      }
    }
    return { ok: true, type: 'lock.acquire', status: 'queued', waiter: { ...waiter }, blockers }
  }

  release (cmd: LockReleaseCommand, ctx: ApplyContext): LockReleaseOk | Failure {
    const { owner, path } = cmd
    const grant = this.grantOf(owner, path)
    const waiter = this.waiterOf(owner, path)
    if (grant === undefined && waiter === undefined) {
      return notHeld(path, owner, `${owner} does not hold lock ${path} and is not waiting for it (released, expired or broken?)`)
    }
    if (waiter !== undefined) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1)
      this.resolveWaiter(waiter, 'wait-cancelled', {
        ok: false,
        error: errorInfo('LockWaitCancelledError', `wait for ${waiter.mode} lock ${path} cancelled: ${owner} released it`, { path, owner })
      }, ctx)
    }
    if (grant !== undefined) this.drop(grant)
    // A cancelled wait frees the queue behind it (FIFO) just as a released grant does.
    this.grantWaiters(ctx)
    return {
      ok: true,
      type: 'lock.release',
      released: grant === undefined ? null : { ...grant },
      cancelled: waiter === undefined ? null : { ...waiter }
    }
  }

  renew (cmd: LockRenewCommand, ctx: ApplyContext): LockRenewOk | Failure {
    const grant = this.grantOf(cmd.owner, cmd.path)
    if (grant === undefined) {
      return notHeld(cmd.path, cmd.owner, `${cmd.owner} does not hold lock ${cmd.path}: its lease expired or it was broken or released; acquire it again`)
    }
    grant.ttlMs = cmd.ttlMs ?? grant.ttlMs
    grant.expires = ctx.now + grant.ttlMs
    return { ok: true, type: 'lock.renew', grant: { ...grant } }
  }

  break (cmd: LockBreakCommand, ctx: ApplyContext): LockBreakOk | Failure {
    const targets = this.grants.filter(g => g.path === cmd.path)
    if (targets.length === 0) return notHeld(cmd.path, cmd.owner, `no lock on ${cmd.path} to break`)
    for (const grant of targets) this.lose(grant, 'break', cmd.owner, cmd.reason, ctx)
    this.grantWaiters(ctx)
    return { ok: true, type: 'lock.break', broken: targets.map(g => ({ ...g })) }
  }

  /** The leader's periodic `lock.expire`: lapsed leases, then lapsed waits, then whatever became free. */
  expire (ctx: ApplyContext): LockExpireOk {
    const expired = this.grants.filter(g => g.expires <= ctx.now)
    for (const grant of expired) this.lose(grant, 'expire', null, `lease expired at ${iso(grant.expires)}`, ctx)
    // Waits time out before anything is granted: a client whose deadline passed has stopped waiting, and a
    // grant it never hears of would block others until its lease ran out.
    const timedOut: LockWaiter[] = []
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]
      if (w.deadline > ctx.now) {
        i++
        continue
      }
      const blockers = this.blockers(w, i)
      this.waiters.splice(i, 1)
      timedOut.push(w)
      const waitedMs = ctx.now - w.queuedAt
      this.resolveWaiter(w, 'wait-timeout', {
        ok: false,
        error: errorInfo('LockTimeoutError', `timed out after ${waitedMs} ms waiting for ${w.mode} lock ${w.path} for ${w.owner}: ${describeBlockers(blockers)}`, {
          path: w.path, mode: w.mode, waitedMs, blockers
        })
      }, ctx)
    }
    this.grantWaiters(ctx)
    return { ok: true, type: 'lock.expire', expired: expired.map(g => ({ ...g })), timedOut: timedOut.map(w => ({ ...w })) }
  }

  /** Live grants whose path covers `name` (the data-plane fencing checks), oldest token first. */
  covering (name: string): LockGrant[] {
    return this.index.covering(name).sort(grantOrder).map(g => ({ ...g }))
  }

  /** Grants and waiters whose path starts with `prefix` ('' for all): grants sorted by path, waiters in queue order. */
  list (prefix: string): { locks: LockGrant[], waiters: LockWaiter[] } {
    return {
      locks: this.grants.filter(g => g.path.startsWith(prefix)).map(g => ({ ...g }))
        .sort((a, b) => compareStrings(a.path, b.path) || a.token - b.token || compareStrings(a.owner, b.owner)),
      waiters: this.waiters.filter(w => w.path.startsWith(prefix)).map(w => ({ ...w }))
    }
  }

  auditLog (prefix: string): { entries: AuditEntry[], dropped: number } {
    return {
      entries: this.audit.filter(e => e.grant.path.startsWith(prefix)).map(e => ({ ...e, grant: { ...e.grant } })),
      dropped: this.auditDropped
    }
  }

  toData (): LocksData {
    return { grants: this.grants, waiters: this.waiters, audit: this.audit, auditDropped: this.auditDropped }
  }

  static fromData (data: LocksData, maxAuditEntries: number, mutant: StateMutant | undefined): LockTable {
    const table = new LockTable(maxAuditEntries, mutant)
    table.grants.push(...data.grants)
    for (const grant of data.grants) table.index.add(grant)
    table.waiters.push(...data.waiters)
    table.audit.push(...data.audit)
    table.auditDropped = data.auditDropped
    return table
  }

  private grantOf (owner: string, path: string): LockGrant | undefined {
    return this.index.at(path).find(g => g.owner === owner && g.path === path)
  }

  private waiterOf (owner: string, path: string): LockWaiter | undefined {
    return this.waiters.find(w => w.owner === owner && w.path === path)
  }

  private grant (owner: string, path: string, mode: LockMode, ttlMs: number, ctx: ApplyContext, user: string | undefined): LockGrant {
    const grant: LockGrant = withUser({ path, mode, owner, token: ctx.index, expires: ctx.now + ttlMs, ttlMs, grantedAt: ctx.now }, user)
    this.grants.push(grant)
    this.index.add(grant)
    return grant
  }

  private drop (grant: LockGrant): void {
    this.grants.splice(this.grants.indexOf(grant), 1)
    this.index.remove(grant)
  }

  private setMode (grant: LockGrant, mode: LockMode, ttlMs: number, ctx: ApplyContext): void {
    grant.mode = mode
    grant.token = ctx.index
    grant.ttlMs = ttlMs
    grant.expires = ctx.now + ttlMs
    grant.grantedAt = ctx.now
  }

  /**
   * What keeps `request` (queued at position `before`, or about to be) from being granted: conflicting grants
   * of other owners, then conflicting requests of other owners queued before it — except, for an upgrade,
   * those that already wait for the upgrader's own shared grant.
   */
  private blockers (request: Request, before: number): Blocker[] {
    const out: Blocker[] = []
    for (const g of this.index.overlapping(request.path).sort(grantOrder)) {
      if (conflicts(g, request)) out.push({ status: 'held', path: g.path, mode: g.mode, owner: g.owner, token: g.token, expires: g.expires })
    }
    const base = request.upgrade ? this.grantOf(request.owner, request.path) : undefined
    for (let i = 0; i < before; i++) {
      const w = this.waiters[i]
      if (!conflicts(w, request)) continue
      if (base !== undefined && conflicts(w, base)) continue
      out.push({ status: 'queued', path: w.path, mode: w.mode, owner: w.owner, token: null, expires: null })
    }
    return out
  }

  /** Grant, in queue order, every waiter that nothing blocks any more. One pass suffices: a grant only adds blockers. */
  private grantWaiters (ctx: ApplyContext): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i]
      if (this.blockers(w, i).length > 0) {
        i++
        continue
      }
      this.waiters.splice(i, 1)
      const held = w.upgrade ? this.grantOf(w.owner, w.path) : undefined
      let grant: LockGrant
      if (held !== undefined) {
        this.setMode(held, w.mode, w.ttlMs, ctx)
        grant = held
      } else {
        grant = this.grant(w.owner, w.path, w.mode, w.ttlMs, ctx, w.user)
      }
      this.resolveWaiter(w, 'granted', granted(grant), ctx)
    }
  }

  /** Remove a grant its owner did not release, audit it, and cancel the owner's upgrade of it, if queued. */
  private lose (grant: LockGrant, kind: AuditEntry['kind'], by: string | null, reason: string, ctx: ApplyContext): void {
    this.drop(grant)
    this.audit.push({ kind, grant: { ...grant }, by, reason, when: ctx.now, index: ctx.index })
    if (this.audit.length > this.maxAuditEntries) {
      this.audit.shift()
      this.auditDropped++
    }
    ctx.events.push({ type: kind === 'break' ? 'broken' : 'expired', grant: { ...grant }, by, reason })
    const upgrade = this.waiters.findIndex(w => w.upgrade && w.owner === grant.owner && w.path === grant.path)
    if (upgrade !== -1) {
      const [w] = this.waiters.splice(upgrade, 1)
      const how = kind === 'break' ? `broken by ${String(by)}` : 'expired'
      this.resolveWaiter(w, 'wait-cancelled', notHeld(w.path, w.owner, `lock ${w.path} of ${w.owner} was ${how} while it waited to upgrade it; acquire it again`), ctx)
    }
  }

  private resolveWaiter (w: LockWaiter, type: 'granted' | 'wait-timeout' | 'wait-cancelled', result: LockGrantedOk | Failure, ctx: ApplyContext): void {
    ctx.events.push({ type, client: w.client, seq: w.seq, owner: w.owner, path: w.path, result })
  }

  /**
   * The shortest wait-for cycle through `start` (breadth-first, neighbours in name order, so every replica
   * names the same cycle), as owners from `start` back to `start`; undefined if there is none.
   */
  private cycleThrough (start: string): string[] | undefined {
    const edges = new Map<string, Set<string>>()
    this.waiters.forEach((w, i) => {
      let out = edges.get(w.owner)
      if (out === undefined) {
        out = new Set()
        edges.set(w.owner, out)
      }
      for (const b of this.blockers(w, i)) out.add(b.owner)
    })
    const previous = new Map<string, string>([[start, start]])
    let frontier = [start]
    while (frontier.length > 0) {
      const next: string[] = []
      for (const from of frontier) {
        for (const to of [...(edges.get(from) ?? [])].sort(compareStrings)) {
          if (to === start) {
            const cycle = [from]
            for (let at = from; at !== start;) {
              at = previous.get(at) ?? start
              cycle.unshift(at)
            }
            return [...cycle, start]
          }
          if (previous.has(to)) continue
          previous.set(to, from)
          next.push(to)
        }
      }
      frontier = next
    }
    return undefined
  }
}

function conflicts (a: { owner: string, path: string, mode: LockMode }, b: { owner: string, path: string, mode: LockMode }): boolean {
  return a.owner !== b.owner && (a.mode === 'exclusive' || b.mode === 'exclusive') && pathsConflict(a.path, b.path)
}

/** The order in which matching grants are reported, the same on every replica whatever its index's history. */
function grantOrder (a: LockGrant, b: LockGrant): number {
  return a.token - b.token || compareStrings(a.path, b.path) || compareStrings(a.owner, b.owner)
}

function granted (grant: LockGrant): LockGrantedOk {
  return { ok: true, type: 'lock.acquire', status: 'granted', grant: { ...grant } }
}

function conflict (path: string, mode: LockMode, blockers: Blocker[], message: string): Failure {
  return { ok: false, error: errorInfo('LockConflictError', message, { path, mode, blockers }) }
}

function notHeld (path: string, owner: string, message: string): Failure {
  return { ok: false, error: errorInfo('LockNotHeldError', message, { path, owner }) }
}

function describeBlockers (blockers: Blocker[]): string {
  return blockers.map(b => b.status === 'held'
    ? `held ${b.mode} by ${b.owner} (lock ${b.path}, token ${String(b.token)}, lease until ${iso(b.expires ?? 0)})`
    : `${b.owner} is queued first for ${b.mode} lock ${b.path}`
  ).join('; ')
}

/** A replicated timestamp for people (formatting a given number reads no clock); raw ms past year 275760. */
function iso (ms: number): string {
  const date = new Date(ms)
  return Number.isNaN(date.getTime()) ? `${ms} ms` : date.toISOString()
}
