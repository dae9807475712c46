/**
 * Deliberately broken variants of the core, for the simulator (issue 5): its checkers must catch each one.
 * A mutant is selected with `RaftConfig.mutant`; every branch it enables is marked `MUTANT(<name>)` in the
 * source, so that `grep MUTANT src/raft` lists all the places where behaviour departs from Raft.
 */

export type RaftMutant =
  | 'vote-twice'
  | 'forget-vote'
  | 'stale-log-vote'
  | 'commit-old-term'
  | 'read-without-quorum'
  | 'no-check-quorum'
  | 'skip-log-match'
  | 'admit-non-member'
  | 'trust-claimed-sender'

/**
 * Each mutant, with the rule it breaks and the checker that catches it. "Durable-state" checkers inspect each
 * persisted HardState: a vote never changes within its term, and a leader only advances commit to an entry of
 * its own term. Under random faults the end-to-end symptoms of 'forget-vote' (two leaders after a restart
 * mid-election) and 'commit-old-term' (the Figure 8 overwrite) are rare, so those two need the durable-state
 * checkers or a targeted schedule (see test/src/raft/paper.spec.ts `figure8`).
 */
export const RAFT_MUTANT_DESCRIPTIONS: Readonly<Record<RaftMutant, string>> = {
  'vote-twice': 'grants a vote in a term it already voted in, ignoring votedFor (Raft §5.2) -> election safety',
  'forget-vote': 'restarts without its persisted vote, so it may vote again in the same term (Raft Figure 2) -> vote never changes within a term; election safety',
  'stale-log-vote': 'grants votes without the up-to-date log check (Raft §5.4.1) -> state-machine safety, log matching',
  'commit-old-term': 'commits entries of earlier terms by counting replicas, and a new leader appends no no-op (Raft §5.4.2, Figure 8) -> commit rule; state-machine safety',
  'read-without-quorum': 'answers ReadIndex at once from its own commit index, without a heartbeat round or a commit in its term (thesis §6.4) -> linearizability of reads',
  'no-check-quorum': 'a leader cut off from a majority never steps down (thesis §6.2) -> no leader lingers in a minority',
  'skip-log-match': 'a follower appends without checking the previous entry\'s term (Raft §5.3) -> log matching, state-machine safety',
  'admit-non-member': 'steps Raft messages from a peer outside the configuration (membership.ts rule 3) -> a non-member never moves a member\'s term nor gets an entry applied',
  'trust-claimed-sender': 'believes a message\'s `from` instead of the authenticated sender (membership.ts rule 1) -> a non-member never gets an entry applied'
}

/** The mutant names, in a stable order (`npm run sim -- --list-mutants`). */
export const RAFT_MUTANTS: readonly RaftMutant[] = Object.keys(RAFT_MUTANT_DESCRIPTIONS) as RaftMutant[]
