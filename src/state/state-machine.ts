/**
 * The replicated refs+locks state machine (DESIGN §7, issue 4). Deterministic: its only inputs are the log
 * index and the bytes of each committed entry, so every replica that applies the same log holds the same
 * state and returns the same results. Time is the `now` the leader stamped on each command, clamped so it
 * never runs backwards (a new leader's clock may lag the old one's; a lease once expired stays expired).
 */
import * as dagCbor from '@ipld/dag-cbor'
import { UsageError } from '../errors.ts'
import { decodeCommand, validateCommand, validateQuery } from './codec.ts'
import {
  DEFAULT_MAX_AUDIT_ENTRIES, DEFAULT_MAX_REF_LOG_ENTRIES, DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_WINDOW
} from './constants.ts'
import { ApplyOrderError, InvalidCommandError, SnapshotError } from './errors.ts'
import { copyTable, defaultAccessTable, parseAccessTable, withGrant, withRevoke } from './access.ts'
import { LockTable } from './locks.ts'
import { STATE_MUTANTS } from './mutants.ts'
import { RefTable, withUser } from './refs.ts'
import { errorInfo } from './results.ts'
import { SessionTable } from './sessions.ts'
import { SNAPSHOT_SCHEMA } from './snapshot-schema.ts'
import type { ApplyContext, LocksData } from './locks.ts'
import type { StateMutant } from './mutants.ts'
import type { AccessTable } from './access.ts'
import type { RefsData } from './refs.ts'
import type { SessionsData } from './sessions.ts'
import type {
  AccessAuditEntry, AccessChangeOk, AccessGrantCommand, AccessLsReply, AccessRevokeCommand, ApplyOutput, ClientCommand, Command, CommandResult, Failure, LockGrant, Query, QueryReply, RefRmCommand,
  RefRmOk, RefSetCommand, RefSetOk, StateEvent
} from './types.ts'

export interface RefsLocksStateMachineInit {
  /**
   * Client sessions kept for exactly-once (least recently active dropped first).
   *
   * @default DEFAULT_MAX_SESSIONS
   */
  maxSessions?: number
  /**
   * Results kept per client session (the newest sequence numbers).
   *
   * @default DEFAULT_SESSION_WINDOW
   */
  sessionWindow?: number
  /**
   * Entries kept in each ref's log.
   *
   * @default DEFAULT_MAX_REF_LOG_ENTRIES
   */
  maxRefLogEntries?: number
  /**
   * Entries kept in the lock audit log.
   *
   * @default DEFAULT_MAX_AUDIT_ENTRIES
   */
  maxAuditEntries?: number
  /** A deliberately broken variant, for the simulator's checkers only (see mutants.ts). */
  mutant?: StateMutant
}

/** Options of {@link RefsLocksStateMachine.restore}: the sizes come from the snapshot, the mutant does not. */
export interface RestoreOptions {
  mutant?: StateMutant
}

const SNAPSHOT_FORMAT = 'dits/refs-locks'
const SNAPSHOT_VERSION = 1

interface Limits {
  maxSessions: number
  sessionWindow: number
  maxRefLogEntries: number
  maxAuditEntries: number
}

interface SnapshotData {
  format: typeof SNAPSHOT_FORMAT
  version: typeof SNAPSHOT_VERSION
  appliedIndex: number
  clock: number
  limits: Limits
  sessions: SessionsData
  refs: RefsData
  locks: LocksData
  /** absent in snapshots taken before access control: the table was never set */
  access?: AccessData
}

interface AccessData {
  table: AccessTable | null
  audit: AccessAuditEntry[]
  dropped: number
}

export class RefsLocksStateMachine {
  private applied = 0
  private now = 0
  private sessions: SessionTable
  private refs: RefTable
  private locks: LockTable
  /** the replicated access table; null until the first access change (config `access` rules until then) */
  private access: AccessData = { table: null, audit: [], dropped: 0 }
  private readonly limits: Limits
  private readonly mutant: StateMutant | undefined

  constructor (init: RefsLocksStateMachineInit = {}) {
    this.limits = {
      maxSessions: limit('maxSessions', init.maxSessions ?? DEFAULT_MAX_SESSIONS),
      sessionWindow: limit('sessionWindow', init.sessionWindow ?? DEFAULT_SESSION_WINDOW),
      maxRefLogEntries: limit('maxRefLogEntries', init.maxRefLogEntries ?? DEFAULT_MAX_REF_LOG_ENTRIES),
      maxAuditEntries: limit('maxAuditEntries', init.maxAuditEntries ?? DEFAULT_MAX_AUDIT_ENTRIES)
    }
    this.mutant = checkMutant(init.mutant)
    this.sessions = new SessionTable(this.limits.maxSessions, this.limits.sessionWindow)
    this.refs = new RefTable(this.limits.maxRefLogEntries)
    this.locks = new LockTable(this.limits.maxAuditEntries, this.mutant)
  }

  /** Index of the last entry applied (0 before any): the index a snapshot taken now covers. */
  get appliedIndex (): number {
    return this.applied
  }

  /** The replicated clock: the largest `now` of any applied command, ms. */
  get clock (): number {
    return this.now
  }

  /**
   * Apply the committed entry at `index` (indexes must increase; gaps are fine, e.g. for Raft's own no-op and
   * membership entries). `command` is the entry's bytes or an already decoded command. Never throws for a bad
   * command — a malformed entry yields an InvalidCommandError result, like any refusal, so one bad proposal
   * cannot stop every replica — only for an index out of order (ApplyOrderError: a bug in the caller).
   */
  apply (index: number, command: Uint8Array | Command): ApplyOutput {
    if (!Number.isSafeInteger(index) || index <= this.applied) {
      throw new ApplyOrderError(`cannot apply entry ${index} after entry ${this.applied}: indexes must increase`)
    }
    this.applied = index
    let cmd: Command
    try {
      cmd = command instanceof Uint8Array ? decodeCommand(command) : validateCommand(command)
    } catch (err) {
      if (!(err instanceof InvalidCommandError)) throw err
      return output(index, { ok: false, error: errorInfo('InvalidCommandError', err.message, {}) }, [], false)
    }
    this.now = Math.max(this.now, cmd.now)
    const ctx: ApplyContext = { index, now: this.now, events: [] }
    let result: CommandResult
    if (cmd.type === 'lock.expire') {
      result = this.locks.expire(ctx)
    } else {
      // MUTANT(no-exactly-once): a retried (client, seq) is applied again.
      if (this.mutant !== 'no-exactly-once') {
        const seen = this.sessions.lookup(cmd.client, cmd.seq)
        if (seen.kind === 'duplicate') return output(index, seen.result, [], true)
        if (seen.kind === 'expired') {
          return output(index, {
            ok: false,
            error: errorInfo('SessionExpiredError', `client ${cmd.client} seq ${cmd.seq} is at or below ${seen.floor}, the newest result this session no longer keeps: it may or may not have been applied; read the state and use a new client id`, {
              client: cmd.client, seq: cmd.seq, floor: seen.floor
            })
          }, [], false)
        }
      }
      result = deepFreeze(this.execute(cmd, ctx))
      this.sessions.record(cmd.client, cmd.seq, result)
    }
    for (const event of ctx.events) {
      deepFreeze(event)
      if (event.type === 'granted' || event.type === 'wait-timeout' || event.type === 'wait-cancelled') {
        this.sessions.resolve(event.client, event.seq, event.result)
      }
    }
    return output(index, result, ctx.events, false)
  }

  /**
   * Answer a read from the applied state. Linearizable only if the shell first made sure this replica has
   * applied everything committed when the read arrived (ReadIndex, thesis §6.4). Throws InvalidCommandError
   * for a malformed read.
   */
  query<Q extends Query> (query: Q): QueryReply<Q> {
    const q = validateQuery(query)
    switch (q.type) {
      case 'ref.get': {
        const ref = this.refs.get(q.name)
        return { ref: ref === undefined ? null : { ...ref } } satisfies QueryReply<typeof q> as QueryReply<Q>
      }
      case 'ref.ls':
        return { refs: this.refs.list(q.prefix ?? '') } satisfies QueryReply<typeof q> as QueryReply<Q>
      case 'ref.log':
        return { name: q.name, ...this.refs.log(q.name) } satisfies QueryReply<typeof q> as QueryReply<Q>
      case 'lock.ls':
        return this.locks.list(q.prefix ?? '') satisfies QueryReply<typeof q> as QueryReply<Q>
      case 'lock.audit':
        return this.locks.auditLog(q.prefix ?? '') satisfies QueryReply<typeof q> as QueryReply<Q>
      case 'access.ls':
        return this.accessReply() satisfies QueryReply<typeof q> as QueryReply<Q>
    }
  }

  /**
   * The whole state as dag-cbor: applied index, clock, sizes, sessions (with their results), refs, ref logs,
   * grants, waiters and the audit log, each in the order the live state iterates it, so a restored replica
   * makes the very same choices as the one that took the snapshot.
   */
  snapshot (): Uint8Array {
    const data: SnapshotData = {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      appliedIndex: this.applied,
      clock: this.now,
      limits: this.limits,
      sessions: this.sessions.toData(),
      refs: this.refs.toData(),
      locks: this.locks.toData(),
      access: this.access
    }
    return dagCbor.encode(data)
  }

  /** The state machine a {@link snapshot} was taken of; SnapshotError if the bytes are not one. */
  static restore (bytes: Uint8Array, options: RestoreOptions = {}): RefsLocksStateMachine {
    let data: SnapshotData
    try {
      data = dagCbor.decode(bytes)
    } catch (err) {
      throw new SnapshotError(`not a refs+locks snapshot: not dag-cbor (${(err as Error).message})`, { cause: err })
    }
    if (data === null || typeof data !== 'object' || data.format !== SNAPSHOT_FORMAT) {
      throw new SnapshotError(`not a refs+locks snapshot (format ${JSON.stringify((data as { format?: unknown } | null)?.format)})`)
    }
    if (data.version !== SNAPSHOT_VERSION) {
      throw new SnapshotError(`refs+locks snapshot version ${String(data.version)} is not supported (this build reads version ${SNAPSHOT_VERSION})`)
    }
    const checked = SNAPSHOT_SCHEMA.safeParse(data)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      throw new SnapshotError(`malformed refs+locks snapshot: ${issue.path.join('.') || 'the top level'}: ${issue.message}`)
    }
    const mutant = checkMutant(options.mutant)
    try {
      const sm = new RefsLocksStateMachine({ ...data.limits, mutant })
      sm.applied = data.appliedIndex
      sm.now = data.clock
      sm.sessions = SessionTable.fromData(deepFreeze(data.sessions), sm.limits.maxSessions, sm.limits.sessionWindow)
      sm.refs = RefTable.fromData(data.refs, sm.limits.maxRefLogEntries)
      sm.locks = LockTable.fromData(data.locks, sm.limits.maxAuditEntries, sm.mutant)
      if (data.access !== undefined) {
        sm.access = {
          table: data.access.table === null ? null : parseAccessTable(data.access.table, 'access', message => { throw new Error(message) }),
          audit: data.access.audit,
          dropped: data.access.dropped
        }
      }
      return sm
    } catch (err) {
      throw new SnapshotError(`malformed refs+locks snapshot: ${(err as Error).message}`, { cause: err })
    }
  }

  private execute (cmd: ClientCommand, ctx: ApplyContext): CommandResult {
    switch (cmd.type) {
      case 'ref.set': return this.setRef(cmd, ctx)
      case 'ref.rm': return this.rmRef(cmd, ctx)
      case 'lock.acquire': return this.locks.acquire(cmd, ctx)
      case 'lock.release': return this.locks.release(cmd, ctx)
      case 'lock.renew': return this.locks.renew(cmd, ctx)
      case 'lock.break': return this.locks.break(cmd, ctx)
      case 'access.grant':
      case 'access.revoke': return this.changeAccess(cmd, ctx)
    }
  }

  /**
   * Apply an access change (who may send it was decided by the voter that admitted it, access.ts `admit`).
   * The first change starts from the `base` its admitting voter stamped — that voter's config `access` — and
   * from then on the replicated table is the one every voter enforces.
   */
  private changeAccess (cmd: AccessGrantCommand | AccessRevokeCommand, ctx: ApplyContext): AccessChangeOk | Failure {
    const current = this.access.table ?? cmd.base ?? defaultAccessTable()
    const next = cmd.type === 'access.grant' ? withGrant(current, cmd.role, cmd.peer, cmd.name) : withRevoke(current, cmd.role, cmd.peer)
    if (typeof next === 'string') return { ok: false, error: errorInfo('InvalidCommandError', `access revoke ${cmd.role} ${cmd.peer}: ${next}`, {}) }
    const change: AccessAuditEntry = {
      change: cmd.type === 'access.grant' ? 'grant' : 'revoke',
      role: cmd.role,
      peer: cmd.peer,
      name: cmd.type === 'access.grant' ? cmd.name ?? null : null,
      by: cmd.owner,
      when: ctx.now,
      index: ctx.index
    }
    if (cmd.user !== undefined) change.user = cmd.user
    this.access.table = next
    this.access.audit.push(change)
    if (this.access.audit.length > this.limits.maxAuditEntries) {
      const excess = this.access.audit.length - this.limits.maxAuditEntries
      this.access.audit.splice(0, excess)
      this.access.dropped += excess
    }
    return { ok: true, type: cmd.type, table: copyTable(next), change: { ...change } }
  }

  private accessReply (): AccessLsReply {
    return {
      table: this.access.table === null ? null : copyTable(this.access.table),
      audit: this.access.audit.map(e => ({ ...e })),
      dropped: this.access.dropped
    }
  }

  private setRef (cmd: RefSetCommand, ctx: ApplyContext): RefSetOk | Failure {
    const fenced = this.fence(cmd.name, cmd.owner, cmd.token)
    if (fenced !== undefined) return fenced
    const current = this.refs.get(cmd.name)?.cid ?? null
    // MUTANT(ignore-cas-expect): an existing ref is overwritten whatever `expect` says.
    const ignoreExpect = this.mutant === 'ignore-cas-expect' && current !== null
    if (cmd.expect !== undefined && cmd.expect !== current && !ignoreExpect) return casConflict(cmd.name, current, cmd.expect)
    this.refs.write(cmd.name, cmd.cid, cmd.owner, ctx.now, cmd.token ?? null, ctx.index, cmd.user)
    return { ok: true, type: 'ref.set', ref: withUser({ name: cmd.name, cid: cmd.cid, index: ctx.index, when: ctx.now, who: cmd.owner, token: cmd.token ?? null }, cmd.user), old: current }
  }

  private rmRef (cmd: RefRmCommand, ctx: ApplyContext): RefRmOk | Failure {
    const fenced = this.fence(cmd.name, cmd.owner, cmd.token)
    if (fenced !== undefined) return fenced
    const current = this.refs.get(cmd.name)?.cid ?? null
    if (current === null) return casConflict(cmd.name, current, cmd.expect)
    // MUTANT(ignore-cas-expect): an existing ref is deleted whatever `expect` says.
    if (current !== cmd.expect && this.mutant !== 'ignore-cas-expect') return casConflict(cmd.name, current, cmd.expect)
    this.refs.write(cmd.name, null, cmd.owner, ctx.now, cmd.token ?? null, ctx.index, cmd.user)
    return { ok: true, type: 'ref.rm', name: cmd.name, old: current, index: ctx.index }
  }

  /**
   * Fencing in the data plane (DESIGN §7). A ref write is refused under another owner's exclusive lock on a
   * path covering the name. A write carrying a token is accepted only if the token names a live grant of the
   * writer covering the name — so no conflicting grant can have been made since — and refused otherwise,
   * naming the newer grant's token when there is one.
   */
  private fence (name: string, owner: string, token: number | undefined): Failure | undefined {
    const covering = this.locks.covering(name)
    // MUTANT(ignore-exclusive-lock): another owner's exclusive lock does not stop the write.
    if (this.mutant !== 'ignore-exclusive-lock') {
      const holder = covering.find(g => g.mode === 'exclusive' && g.owner !== owner)
      if (holder !== undefined) {
        return {
          ok: false,
          error: errorInfo('RefLockedError', `ref ${name} is locked exclusive by ${holder.owner} (lock ${holder.path}, token ${holder.token}); only the holder may update it`, { ref: name, holder })
        }
      }
    }
    // MUTANT(ignore-fencing-token): the token is not checked at all.
    if (token === undefined || this.mutant === 'ignore-fencing-token') return undefined
    if (covering.some(g => g.owner === owner && g.token === token)) return undefined
    const newer = covering.reduce<LockGrant | null>((max, g) => g.token > token && (max === null || g.token > max.token) ? g : max, null)
    const message = newer === null
      ? `token ${token} names no live lock of ${owner} covering ref ${name} (released, expired or broken): acquire the lock again`
      : `token ${token} is older than token ${newer.token} (${newer.owner}'s ${newer.mode} lock on ${newer.path}): ref ${name} not written`
    return { ok: false, error: errorInfo('StaleTokenError', message, { ref: name, token, newer }) }
  }
}

function casConflict (name: string, current: string | null, expected: string | null): Failure {
  const message = current === null
    ? `ref ${name} does not exist, expected ${String(expected)}`
    : `ref ${name} is at ${current}, expected ${expected ?? 'none'}`
  return { ok: false, error: errorInfo('RefConflictError', message, { ref: name, current, expected }) }
}

function output (index: number, result: CommandResult, events: StateEvent[], duplicate: boolean): ApplyOutput {
  return { index, result: deepFreeze(result), events, duplicate }
}

function checkMutant (mutant: StateMutant | undefined): StateMutant | undefined {
  if (mutant !== undefined && !STATE_MUTANTS.includes(mutant)) {
    throw new UsageError(`unknown state machine mutant ${JSON.stringify(mutant)} (known: ${STATE_MUTANTS.join(', ')})`)
  }
  return mutant
}

function limit (name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`${name} must be a positive integer, got ${String(value)}`)
  return value
}

/**
 * Results and events are shared between the caller and the session table (a retry returns the very same
 * object), so they are frozen: a caller that edited one would otherwise change replicated state.
 */
function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
