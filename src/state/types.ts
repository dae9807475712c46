/**
 * Plain-data types of the refs+locks state machine: commands (what goes into the Raft log), results and
 * events (what comes out of `apply`), reads (what `query` answers). Everything is JSON-like — strings,
 * numbers, booleans, `null`, arrays and plain objects, never `undefined` inside a result — so the shell can
 * send it over the wire and the simulator can record it.
 */
import type { ExitCode } from '../errors.ts'
import type { AccessRole, AccessTable } from './access.ts'

export type LockMode = 'shared' | 'exclusive'

/**
 * Fields of every command a client submits. `(client, seq)` makes the command exactly-once; `now` is the
 * leader's clock at proposal time (the state machine never reads a clock); `owner` is the identity the
 * command acts for — the holder of locks, the `who` of ref log entries — which the voter that admits the
 * command sets to the authenticated peer of the connection it came over (access.ts `admit`), never a client.
 */
export interface ClientFields {
  /** the client session id, unique per client process (e.g. a random id chosen at start) */
  client: string
  /** the client's sequence number, one per command, increasing */
  seq: number
  /** ms since the epoch, stamped by the leader when it proposed the entry */
  now: number
  /** who acts: the peer id of the node that submitted the command, as its connection authenticated it */
  owner: string
  /** the submitting node's local user, as that node says: a label, NOT verified by anyone */
  user?: string
}

/** Point `name` at `cid`. `expect`: absent = unconditional, `null` = only if `name` does not exist, a CID = only if it points there. */
export interface RefSetCommand extends ClientFields {
  type: 'ref.set'
  name: string
  cid: string
  expect?: string | null
  /** a fencing token from `lock.acquire`; the write is refused unless it names a live grant of `owner` covering `name` */
  token?: number
}

/** Delete `name`, only if it points at `expect`. */
export interface RefRmCommand extends ClientFields {
  type: 'ref.rm'
  name: string
  expect: string
  token?: number
}

/**
 * Acquire (or re-acquire, upgrade, downgrade) a lock. `ttlMs` is the lease; it is required in every command
 * rather than defaulted here, because a default that changed between versions would make replicas replaying
 * the same log disagree. `waitMs` absent or 0: fail at once if the lock cannot be granted.
 */
export interface LockAcquireCommand extends ClientFields {
  type: 'lock.acquire'
  path: string
  mode: LockMode
  ttlMs: number
  waitMs?: number
}

/** Release `owner`'s lock on exactly `path`, and/or cancel `owner`'s wait for it. */
export interface LockReleaseCommand extends ClientFields {
  type: 'lock.release'
  path: string
}

/** Extend `owner`'s lease on exactly `path` to `now + ttlMs` (absent: the grant's current ttl). */
export interface LockRenewCommand extends ClientFields {
  type: 'lock.renew'
  path: string
  ttlMs?: number
}

/** Remove every grant on exactly `path`, whoever holds it, recording `owner` and `reason` in the audit log. */
export interface LockBreakCommand extends ClientFields {
  type: 'lock.break'
  path: string
  reason: string
}

/**
 * Proposed by the leader (not a client) every so often: removes leases with `expires <= now`, times out
 * waiters whose deadline is `<= now`, then grants whatever became free. Not exactly-once: applying it twice
 * is harmless.
 */
/**
 * Grant `role` to `peer` (and name it). `base`: stamped by the voter that admits the first access change, the
 * table that voter's config gives; the replicated table starts from it (once set, the replicated table wins).
 */
export interface AccessGrantCommand extends ClientFields {
  type: 'access.grant'
  role: AccessRole
  peer: string
  name?: string
  base?: AccessTable
}

/** Take `role` away from `peer`; `base` as for {@link AccessGrantCommand}. */
export interface AccessRevokeCommand extends ClientFields {
  type: 'access.revoke'
  role: AccessRole
  peer: string
  base?: AccessTable
}

export interface LockExpireCommand {
  type: 'lock.expire'
  now: number
}

export type ClientCommand =
  | RefSetCommand
  | RefRmCommand
  | LockAcquireCommand
  | LockReleaseCommand
  | LockRenewCommand
  | LockBreakCommand
  | AccessGrantCommand
  | AccessRevokeCommand

export type Command = ClientCommand | LockExpireCommand

export type CommandType = Command['type']

/** A ref as stored: where it points and the write that put it there. */
export interface RefRecord {
  name: string
  cid: string
  /** log index of the write (a version number: strictly increasing across all refs) */
  index: number
  /** the state machine's clock at that write, ms */
  when: number
  who: string
  /** the writer's local user as its node said (unverified); absent when none was given */
  user?: string
  /** the fencing token the write carried, null if none */
  token: number | null
}

/** One change of a ref; `new: null` is a delete. */
export interface RefLogEntry {
  old: string | null
  new: string | null
  who: string
  /** unverified label, as in RefRecord */
  user?: string
  when: number
  token: number | null
  index: number
}

/** A granted lock. `token` is the log index of the entry that granted it (or last changed its mode). */
export interface LockGrant {
  path: string
  mode: LockMode
  owner: string
  token: number
  /** lease end, ms: the leader's `lock.expire` removes the grant once its `now` reaches this */
  expires: number
  ttlMs: number
  grantedAt: number
  /** the holder's local user as its node said (unverified); absent when none was given */
  user?: string
}

/** A request waiting in the FIFO queue. `upgrade`: the owner holds `path` shared and wants it exclusive. */
export interface LockWaiter {
  path: string
  mode: LockMode
  owner: string
  client: string
  seq: number
  ttlMs: number
  /** ms; `lock.expire` times the wait out once its `now` reaches this */
  deadline: number
  queuedAt: number
  upgrade: boolean
  user?: string
}

/** Why a request cannot be granted now: a conflicting grant, or a conflicting request queued before it. */
export interface Blocker {
  status: 'held' | 'queued'
  path: string
  mode: LockMode
  owner: string
  /** the grant's token; null for a queued request */
  token: number | null
  /** the grant's lease end; null for a queued request */
  expires: number | null
}

/** An entry of the lock audit log: a grant removed by `lock.break` or by lease expiry. */
export interface AuditEntry {
  kind: 'break' | 'expire'
  grant: LockGrant
  /** who broke it; null for an expiry */
  by: string | null
  reason: string
  when: number
  index: number
}

/** An entry of the access audit log: one applied grant or revoke. */
export interface AccessAuditEntry {
  change: 'grant' | 'revoke'
  role: AccessRole
  peer: string
  /** the name given with a grant; null otherwise */
  name: string | null
  /** the admin who changed it (authenticated peer id) and its unverified user label */
  by: string
  user?: string
  when: number
  index: number
}

// ---- results -------------------------------------------------------------------------------------------

interface ErrorInfoBase<N extends string> {
  name: N
  message: string
  exitCode: ExitCode
}

/** A refused command, as data; `errorFromInfo` (errors.ts) turns it into the named error class. */
export type CommandErrorInfo =
  | ErrorInfoBase<'InvalidCommandError'>
  | ErrorInfoBase<'SessionExpiredError'> & { client: string, seq: number, floor: number }
  | ErrorInfoBase<'RefConflictError'> & { ref: string, current: string | null, expected: string | null }
  | ErrorInfoBase<'RefLockedError'> & { ref: string, holder: LockGrant }
  | ErrorInfoBase<'StaleTokenError'> & { ref: string, token: number, newer: LockGrant | null }
  | ErrorInfoBase<'LockConflictError'> & { path: string, mode: LockMode, blockers: Blocker[] }
  | ErrorInfoBase<'LockTimeoutError'> & { path: string, mode: LockMode, waitedMs: number, blockers: Blocker[] }
  | ErrorInfoBase<'LockNotHeldError'> & { path: string, owner: string }
  | ErrorInfoBase<'LockWaitCancelledError'> & { path: string, owner: string }
  | ErrorInfoBase<'DeadlockError'> & { path: string, cycle: string[] }
  | ErrorInfoBase<'AccessDeniedError'> & { peer: string, role: AccessRole }

export type CommandErrorName = CommandErrorInfo['name']

export interface Failure {
  ok: false
  error: CommandErrorInfo
}

export interface RefSetOk {
  ok: true
  type: 'ref.set'
  ref: RefRecord
  old: string | null
}

export interface RefRmOk {
  ok: true
  type: 'ref.rm'
  name: string
  old: string
  index: number
}

export interface LockGrantedOk {
  ok: true
  type: 'lock.acquire'
  status: 'granted'
  grant: LockGrant
}

/** The request waits; the shell learns the outcome from a later `granted`, `wait-timeout` or `wait-cancelled` event. */
export interface LockQueuedOk {
  ok: true
  type: 'lock.acquire'
  status: 'queued'
  waiter: LockWaiter
  blockers: Blocker[]
}

export interface LockReleaseOk {
  ok: true
  type: 'lock.release'
  released: LockGrant | null
  cancelled: LockWaiter | null
}

export interface LockRenewOk {
  ok: true
  type: 'lock.renew'
  grant: LockGrant
}

export interface LockBreakOk {
  ok: true
  type: 'lock.break'
  broken: LockGrant[]
}

export interface LockExpireOk {
  ok: true
  type: 'lock.expire'
  expired: LockGrant[]
  timedOut: LockWaiter[]
}

export interface AccessChangeOk {
  ok: true
  type: 'access.grant' | 'access.revoke'
  table: AccessTable
  change: AccessAuditEntry
}

export type LockAcquireResult = LockGrantedOk | LockQueuedOk | Failure

export type CommandResult =
  | RefSetOk | RefRmOk
  | LockGrantedOk | LockQueuedOk | LockReleaseOk | LockRenewOk | LockBreakOk | LockExpireOk
  | AccessChangeOk
  | Failure

// ---- events --------------------------------------------------------------------------------------------

/**
 * A queued `lock.acquire` reached its outcome while another command was applied. `result` is also what a
 * retry of `(client, seq)` now returns.
 */
export interface WaitResolvedEvent {
  type: 'granted' | 'wait-timeout' | 'wait-cancelled'
  client: string
  seq: number
  owner: string
  path: string
  result: LockGrantedOk | Failure
}

/** A grant went away without its holder asking: the lease ran out, or someone broke it. */
export interface GrantLostEvent {
  type: 'expired' | 'broken'
  grant: LockGrant
  /** who broke it; null for an expiry */
  by: string | null
  reason: string
}

export type StateEvent = WaitResolvedEvent | GrantLostEvent

export interface ApplyOutput {
  index: number
  result: CommandResult
  /** outcomes for other clients (waiters granted or timed out) and lost grants, in the order they happened */
  events: StateEvent[]
  /** true when `(client, seq)` had been applied before and `result` is the first outcome, replayed */
  duplicate: boolean
}

// ---- reads ---------------------------------------------------------------------------------------------

export interface RefGetQuery { type: 'ref.get', name: string }
/** `prefix`: a plain string prefix of normalized names (etcd-style); absent or '' lists everything. */
export interface RefLsQuery { type: 'ref.ls', prefix?: string }
export interface RefLogQuery { type: 'ref.log', name: string }
export interface LockLsQuery { type: 'lock.ls', prefix?: string }
export interface LockAuditQuery { type: 'lock.audit', prefix?: string }
export interface AccessLsQuery { type: 'access.ls' }

export type Query = RefGetQuery | RefLsQuery | RefLogQuery | LockLsQuery | LockAuditQuery | AccessLsQuery

export interface RefGetReply { ref: RefRecord | null }
export interface RefLsReply { refs: RefRecord[] }
/** `dropped`: how many older entries fell off the bounded log */
export interface RefLogReply { name: string, entries: RefLogEntry[], dropped: number }
export interface LockLsReply { locks: LockGrant[], waiters: LockWaiter[] }
export interface LockAuditReply { entries: AuditEntry[], dropped: number }
/** `table`: null until the first access change (until then each voter enforces its config `access`) */
export interface AccessLsReply { table: AccessTable | null, audit: AccessAuditEntry[], dropped: number }

export interface QueryReplies {
  'ref.get': RefGetReply
  'ref.ls': RefLsReply
  'ref.log': RefLogReply
  'lock.ls': LockLsReply
  'lock.audit': LockAuditReply
  'access.ls': AccessLsReply
}

export type QueryReply<Q extends Query> = QueryReplies[Q['type']]
