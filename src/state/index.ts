/**
 * The refs+locks state machine that the Raft group replicates (DESIGN §7, issue 4): refs set and deleted by
 * compare-and-swap with a bounded log per ref; hierarchical, leased, fenced locks with a FIFO wait queue,
 * deadlock detection and an audit log; exactly-once client sessions. Pure and deterministic — the shell
 * applies committed entries in log order, the simulator drives the same code (issue 5).
 *
 * - `apply(index, bytes)` returns `{ result, events, duplicate }`: `result` answers the command's client,
 *   `events` tell other clients that their queued acquire was granted, timed out or cancelled, and holders
 *   that a grant expired or was broken. Refusals are data (`{ ok: false, error }`); `errorFromInfo` makes the
 *   named error class (exit 3 for conflicts) where an exception is wanted.
 * - `query(read)` answers `ref.get | ref.ls | ref.log | lock.ls | lock.audit | access.ls` from the applied state.
 * - `admit(request, { from, table, voters, now })` (access.ts) is what a voter proposes for a client's request:
 *   the owner is the authenticated peer `from`, and a peer without the role the command needs is refused.
 * - `snapshot()` / `RefsLocksStateMachine.restore(bytes)` for log compaction and InstallSnapshot.
 *
 * @example
 * ```ts
 * import { RefsLocksStateMachine, encodeCommand } from './src/state/index.ts'
 *
 * const sm = new RefsLocksStateMachine()
 * const alice = { client: 'c-alice', owner: 'alice', now: 1_000 }
 * const lock = sm.apply(1, encodeCommand({ type: 'lock.acquire', ...alice, seq: 1, path: 'projects/reel3/', mode: 'exclusive', ttlMs: 30_000 }))
 * // lock.result: { ok: true, status: 'granted', grant: { path: 'projects/reel3/', mode: 'exclusive', token: 1, expires: 31000, ... } }
 * const cid = 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi'
 * const set = sm.apply(2, encodeCommand({ type: 'ref.set', ...alice, seq: 2, name: 'projects/reel3/cut', cid, expect: null, token: 1 }))
 * // set.result: { ok: true, type: 'ref.set', ref: { name: 'projects/reel3/cut', cid, index: 2, token: 1, ... }, old: null }
 * const bob = sm.apply(3, encodeCommand({ type: 'ref.set', client: 'c-bob', owner: 'bob', now: 1_001, seq: 1, name: 'projects/reel3/cut', cid }))
 * // bob.result.error: { name: 'RefLockedError', message: 'ref projects/reel3/cut is locked exclusive by alice (lock projects/reel3/, token 1); ...' }
 * sm.query({ type: 'ref.get', name: 'projects/reel3/cut' }) // { ref: { cid, who: 'alice', ... } }
 * ```
 */
export { RefsLocksStateMachine } from './state-machine.ts'
export { encodeCommand, decodeCommand, validateCommand, encodeQuery, decodeQuery, validateQuery } from './codec.ts'
export {
  InvalidCommandError, SessionExpiredError, RefConflictError, RefLockedError, StaleTokenError, LockConflictError,
  LockTimeoutError, LockNotHeldError, LockWaitCancelledError, DeadlockError, AccessDeniedError, ApplyOrderError,
  SnapshotError, errorFromInfo
} from './errors.ts'
export {
  ACCESS_ROLES, ACCESS_MUTANTS, ACCESS_MUTANT_DESCRIPTIONS, COMMAND_ROLES, MAX_ACCESS_PEERS, MAX_ACCESS_NAME_CHARS,
  STAMPED_FIELDS, admit, accessDenied, checkPeerId, copyTable, defaultAccessTable, describePeer, hasRole, parseAccessTable
} from './access.ts'
export type { AccessRole, AccessTable, AccessMutant, AdmitContext, AdmittedCommand, RequestBody } from './access.ts'
export { ERROR_EXIT_CODES } from './results.ts'
export { STATE_MUTANTS, STATE_MUTANT_DESCRIPTIONS } from './mutants.ts'
export {
  DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_WINDOW, DEFAULT_MAX_REF_LOG_ENTRIES, DEFAULT_MAX_AUDIT_ENTRIES,
  MAX_COMMAND_BYTES, MAX_ID_CHARS, MAX_REASON_CHARS, MAX_CID_CHARS, MAX_LOCK_TTL_MS, MAX_LOCK_WAIT_MS,
  MAX_TIMESTAMP_MS
} from './constants.ts'
export type { RefsLocksStateMachineInit, RestoreOptions } from './state-machine.ts'
export type { StateMutant } from './mutants.ts'
export type * from './types.ts'
