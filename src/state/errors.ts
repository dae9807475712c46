/**
 * Named errors of the refs+locks state machine. `apply` never throws for a refused command — a refusal is a
 * replicated outcome, so it travels as data ({@link CommandErrorInfo}) — and {@link errorFromInfo} turns that
 * data back into one of these classes where the shell or CLI wants an exception (DESIGN §8: exit 3 for a
 * conflict). Each class carries the data it was built from in `info`.
 */
import { ConflictError, DitsError, UsageError } from '../errors.ts'
import type { CommandErrorInfo, CommandErrorName } from './types.ts'

/** A command that is not well-formed: bad encoding, unknown type, a missing or malformed field. */
export class InvalidCommandError extends UsageError {
  static override name = 'InvalidCommandError'
  override name = 'InvalidCommandError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'invalid command', info?: CommandErrorInfo, options?: ErrorOptions) {
    super(message, options)
    this.info = info
  }
}

/** A retry of a sequence number older than the session's retained window: it may or may not have been applied. */
export class SessionExpiredError extends DitsError {
  static override name = 'SessionExpiredError'
  override name = 'SessionExpiredError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'client session expired: start a new session (new client id) and read before retrying', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** Compare-and-swap mismatch: the ref is not where the command expected it; the message names where it is. */
export class RefConflictError extends ConflictError {
  static override name = 'RefConflictError'
  override name = 'RefConflictError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'ref is not at the expected CID: read it and retry', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** A ref write under another owner's exclusive lock (fencing, DESIGN §7). */
export class RefLockedError extends ConflictError {
  static override name = 'RefLockedError'
  override name = 'RefLockedError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'ref is under another owner\'s exclusive lock', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** A ref write whose fencing token is older than a grant on the path, or names no live grant of the writer. */
export class StaleTokenError extends ConflictError {
  static override name = 'StaleTokenError'
  override name = 'StaleTokenError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'stale fencing token: acquire the lock again', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** A lock that cannot be granted now, and the request did not ask to wait. */
export class LockConflictError extends ConflictError {
  static override name = 'LockConflictError'
  override name = 'LockConflictError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'lock is held: retry later or wait for it', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** A queued lock request whose wait ran out before it could be granted. */
export class LockTimeoutError extends ConflictError {
  static override name = 'LockTimeoutError'
  override name = 'LockTimeoutError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'timed out waiting for the lock', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** Release, renew or upgrade of a lock the owner does not hold (never held, released, expired or broken). */
export class LockNotHeldError extends ConflictError {
  static override name = 'LockNotHeldError'
  override name = 'LockNotHeldError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'lock not held: its lease may have expired; acquire it again', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** A queued request that its owner cancelled with `lock.release` before it was granted. */
export class LockWaitCancelledError extends ConflictError {
  static override name = 'LockWaitCancelledError'
  override name = 'LockWaitCancelledError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'wait for the lock was cancelled', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** A wait that would close a wait-for cycle; the message names the cycle ("deadlock: a → b → a"). */
export class DeadlockError extends ConflictError {
  static override name = 'DeadlockError'
  override name = 'DeadlockError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'deadlock: release a lock you hold before waiting', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** The peer that sent a request lacks the role it needs; the message names the peer and the role (issue 14). */
export class AccessDeniedError extends ConflictError {
  static override name = 'AccessDeniedError'
  override name = 'AccessDeniedError'
  readonly info: CommandErrorInfo | undefined
  constructor (message = 'this peer lacks the role the request needs: see `dits-node access ls`', info?: CommandErrorInfo) {
    super(message)
    this.info = info
  }
}

/** The shell applied entries out of order (an index not above the last applied one): a bug in the caller. */
export class ApplyOrderError extends DitsError {
  static override name = 'ApplyOrderError'
  override name = 'ApplyOrderError'
}

/** Bytes that are not a snapshot of this state machine (wrong format, version or shape). */
export class SnapshotError extends DitsError {
  static override name = 'SnapshotError'
  override name = 'SnapshotError'
}

const CLASSES: Record<CommandErrorName, new (message: string, info: CommandErrorInfo) => DitsError> = {
  InvalidCommandError,
  SessionExpiredError,
  RefConflictError,
  RefLockedError,
  StaleTokenError,
  LockConflictError,
  LockTimeoutError,
  LockNotHeldError,
  LockWaitCancelledError,
  DeadlockError,
  AccessDeniedError
}

/** The named error for a refused command's data, with the data in `info`. */
export function errorFromInfo (info: CommandErrorInfo): DitsError {
  return new CLASSES[info.name](info.message, info)
}
