/**
 * Named errors of the consensus shell. All "the group cannot answer now" errors are UnavailableErrors (exit 4,
 * DESIGN §8); a client retries the retriable ones (same client id and sequence number) until its deadline.
 */
import { UnavailableError, UsageError } from '../../src/errors.ts'

/** The command or read could not complete within the request timeout: too few voters answer. */
export class NoQuorumError extends UnavailableError {
  static override name = 'NoQuorumError'
  override name = 'NoQuorumError'
  readonly reachable: number
  readonly voters: number

  constructor (reachable: number, voters: number, detail = '') {
    super(`no quorum: ${reachable} of ${voters} voters reachable${detail === '' ? '' : ` (${detail})`}; nothing was applied by a minority, but a command may still commit once a majority is back — retrying it is safe`)
    this.reachable = reachable
    this.voters = voters
  }
}

/**
 * Another entry committed where the proposal was (a new leader overwrote it), or a snapshot replaced the log
 * before it was applied here. Retriable: a retry with the same (client, seq) is applied at most once.
 */
export class ProposalLostError extends UnavailableError {
  static override name = 'ProposalLostError'
  override name = 'ProposalLostError'
}

/** This node does not run Raft, or the request needs the leader and this voter is not it. */
export class NotVoterError extends UnavailableError {
  static override name = 'NotVoterError'
  override name = 'NotVoterError'
}

/** The node's config names no voters, so there is no group to ask. */
export class NoVotersError extends UsageError {
  static override name = 'NoVotersError'
  override name = 'NoVotersError'

  constructor (message = 'no consensus voters configured: set consensus.voters to the voters\' multiaddrs (each ending in /p2p/<peer id>), e.g. `dits-node config set consensus.voters \'["/ip4/10.0.0.2/tcp/4101/p2p/12D3KooW..."]\'`') {
    super(message)
  }
}

/** The Raft log could not be written: the voter stops taking part rather than risk acknowledging lost data. */
export class ConsensusStorageError extends UnavailableError {
  static override name = 'ConsensusStorageError'
  override name = 'ConsensusStorageError'
}

/** An error that crossed /dits/consensus: keeps the voter-side name, message and exit code. */
export class RemoteConsensusError extends Error {
  readonly exitCode: 1 | 2 | 3 | 4

  constructor (name: string, message: string, exitCode: number) {
    super(message)
    this.name = name
    this.exitCode = exitCode === 2 || exitCode === 3 || exitCode === 4 ? exitCode : 1
  }
}
