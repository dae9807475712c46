/**
 * What a checker reports. Each kind names the property it breaks (issue 5's list, plus the two durable-state
 * rules the Raft core's mutants need: a vote never changes within its term, a leader commits only entries of
 * its own term; and `non-member`: a message from outside the configuration moved a voter's term, log or
 * commit, or a command it forged was applied; `forged-identity`: a command was applied whose owner is not the
 * identity of the client that sent it; `unauthorized-command`: a command was applied whose owner lacks the role
 * it needs).
 */

import type { LockViolationKind } from './locks.ts'

export type ViolationKind =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'vote-changed'
  | 'commit-rule'
  | 'read-index'
  | 'stale-leader'
  | 'non-member'
  | 'forged-identity'
  | 'unauthorized-command'
  | 'linearizability'
  | 'linearizability-inconclusive'
  | LockViolationKind
  | 'liveness'
  | 'convergence'
  | 'exception'

/** Every kind, in the order the summary table lists them. */
export const VIOLATION_KINDS: readonly ViolationKind[] = [
  'election-safety', 'log-matching', 'leader-completeness', 'state-machine-safety', 'vote-changed', 'commit-rule',
  'read-index', 'stale-leader', 'non-member', 'forged-identity', 'unauthorized-command', 'linearizability', 'linearizability-inconclusive', 'lock-conflict',
  'lock-token-order', 'stale-token-write', 'locked-write', 'lock-not-held', 'liveness', 'convergence', 'exception'
]

export interface Violation {
  kind: ViolationKind
  message: string
  /** virtual ms when it was seen */
  at: number
}
