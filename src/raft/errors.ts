/**
 * Named errors of the Raft core. Tests and the shell match on `.name`; exit codes follow DESIGN §8
 * (3 conflict: retry later or change the request, 4 unavailable: no leader / no quorum).
 */

import { ConflictError, DitsError, UnavailableError, UsageError } from '../errors.ts'

/** A request that only the leader can serve reached a node that is not the leader. */
export class NotLeaderError extends UnavailableError {
  static override name = 'NotLeaderError'
  override name = 'NotLeaderError'
  /** the leader this node knows of, to forward to; undefined while an election is under way */
  readonly leader: string | undefined

  constructor (leader: string | undefined, message?: string) {
    super(message ?? (leader === undefined
      ? 'not the leader and no leader is known: an election is under way, retry shortly'
      : `not the leader: forward to ${leader}`))
    this.leader = leader
  }
}

/** The leader refused a proposal it would otherwise accept (leadership transfer under way, or it was removed). */
export class ProposalDroppedError extends UnavailableError {
  static override name = 'ProposalDroppedError'
  override name = 'ProposalDroppedError'
}

/** A membership change was proposed while another is uncommitted (thesis §4.1: one at a time). */
export class ConfChangePendingError extends ConflictError {
  static override name = 'ConfChangePendingError'
  override name = 'ConfChangePendingError'
}

/** A membership change that makes no sense against the current voters (add a voter twice, remove a stranger...). */
export class InvalidConfChangeError extends UsageError {
  static override name = 'InvalidConfChangeError'
  override name = 'InvalidConfChangeError'
}

/** A leadership transfer to a node that is not a voter. */
export class InvalidTransferError extends UsageError {
  static override name = 'InvalidTransferError'
  override name = 'InvalidTransferError'
}

/** A RaftNode config with an invalid value; the message names the field, the value and what is allowed. */
export class InvalidRaftConfigError extends UsageError {
  static override name = 'InvalidRaftConfigError'
  override name = 'InvalidRaftConfigError'
}

/** The requested log index lies before the first index still in storage (it was compacted into a snapshot). */
export class CompactedError extends DitsError {
  static override name = 'CompactedError'
  override name = 'CompactedError'

  constructor (message = 'requested index is unavailable due to compaction') {
    super(message)
  }
}

/** The requested log index lies after the last index in storage. */
export class EntryUnavailableError extends DitsError {
  static override name = 'EntryUnavailableError'
  override name = 'EntryUnavailableError'

  constructor (message = 'requested entry at index is unavailable') {
    super(message)
  }
}

/** A snapshot older than (or as old as) the one already held. */
export class SnapshotOutOfDateError extends DitsError {
  static override name = 'SnapshotOutOfDateError'
  override name = 'SnapshotOutOfDateError'

  constructor (message = 'requested snapshot is older than the existing snapshot') {
    super(message)
  }
}

/** The core was called out of order (e.g. `ready()` twice without `advance()`), a bug in the caller. */
export class RaftStateError extends DitsError {
  static override name = 'RaftStateError'
  override name = 'RaftStateError'
}

/** `step()` was handed a message that is not for this node or not a network message. */
export class InvalidMessageError extends DitsError {
  static override name = 'InvalidMessageError'
  override name = 'InvalidMessageError'
}
