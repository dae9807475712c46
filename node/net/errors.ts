/**
 * Named errors of the network node. Tests assert on `.name`; the CLI maps `exitCode` (DESIGN §8).
 */
import { DitsError, UnavailableError, UsageError } from '../../src/errors.ts'
import type { ExitCode } from '../../src/errors.ts'

/** A peer broke a rule of a dits protocol (oversized, malformed or unexpected message, too many wants). */
export class ProtocolViolationError extends DitsError {
  static override name = 'ProtocolViolationError'
  override name = 'ProtocolViolationError'
}

/**
 * This node hung up on a peer for a violation: what every other stream of that peer's connections ends with. Not
 * itself a violation, so one offence is counted once, however many streams it closes.
 */
export class PeerPenalizedError extends DitsError {
  static override name = 'PeerPenalizedError'
  override name = 'PeerPenalizedError'
}

/** The remote closed a stream telling us we broke a rule; `message` is its reason. */
export class RemoteProtocolError extends DitsError {
  static override name = 'RemoteProtocolError'
  override name = 'RemoteProtocolError'
}

/** This node does not serve the peer: it lacks the role (DESIGN §10); the message names the peer and the role. */
export class AccessRefusedError extends DitsError {
  static override name = 'AccessRefusedError'
  override name = 'AccessRefusedError'
  override readonly exitCode = 3
}

/**
 * A peer refused to answer a have-check: it does not serve this node (it lacks the read role there, DESIGN §10).
 * The message names the peer and carries its reason.
 */
export class HaveCheckRefusedError extends DitsError {
  static override name = 'HaveCheckRefusedError'
  override name = 'HaveCheckRefusedError'
  override readonly exitCode = 3
}

/** Hello negotiation failed: no common protocol version, unusable limits, or the peer refused us. */
export class IncompatiblePeerError extends UnavailableError {
  static override name = 'IncompatiblePeerError'
  override name = 'IncompatiblePeerError'
}

/** A peer did not answer in time (hello, a probe, a send). */
export class PeerTimeoutError extends UnavailableError {
  static override name = 'PeerTimeoutError'
  override name = 'PeerTimeoutError'
}

/**
 * A fetch could not complete: no source has (some of) the content, or every source failed. `errors`
 * holds what each source did, like an AggregateError (it extends UnavailableError for exit code 4).
 */
export class FetchFailedError extends UnavailableError {
  static override name = 'FetchFailedError'
  override name = 'FetchFailedError'
  readonly errors: Error[]

  constructor (message: string, errors: Error[] = []) {
    super(message)
    this.errors = errors
  }
}

/** An operation needs the network to be started. */
export class NotStartedError extends DitsError {
  static override name = 'NotStartedError'
  override name = 'NotStartedError'
}

/** A swarm key file that cannot be read or is not a pnet key (the message names the file and what is wrong). */
export class SwarmKeyError extends UsageError {
  static override name = 'SwarmKeyError'
  override name = 'SwarmKeyError'
}

/** `swarm.required` is set and the node has no swarm key: it refuses to join an open network. */
export class SwarmKeyRequiredError extends UsageError {
  static override name = 'SwarmKeyRequiredError'
  override name = 'SwarmKeyRequiredError'
}

/**
 * A dial of a private network's node failed in the handshake: the usual cause is a peer with another swarm key or
 * none, which the pnet protector cannot tell apart from a broken connection (both read as garbage).
 */
export class PrivateNetworkDialError extends UnavailableError {
  static override name = 'PrivateNetworkDialError'
  override name = 'PrivateNetworkDialError'
}

/** The peer asked to keep a root is not a seed: it does not speak /dits/seed (only nodes with role `seed` do). */
export class NotASeedError extends UnavailableError {
  static override name = 'NotASeedError'
  override name = 'NotASeedError'
}

/**
 * A seed answered a /dits/seed request with a failure, or stopped answering. The message says how far a push got
 * ("seed 12D3… has 812 of 840 chunks of <root>: <reason>"); `exitCode` is the one the seed gave (4 unless it said).
 */
export class SeedRequestError extends DitsError {
  static override name = 'SeedRequestError'
  override name = 'SeedRequestError'
  override readonly exitCode: ExitCode
  /** the error class the seed named, e.g. "FetchFailedError" */
  readonly remoteName: string

  constructor (message: string, exitCode: ExitCode = 4, remoteName = 'SeedRequestError') {
    super(message)
    this.exitCode = exitCode
    this.remoteName = remoteName
  }
}

/**
 * A SPECULATE that would take the requester past its quota of unexpired speculative bytes on the seed (config
 * `seed.speculativeQuotaBytes`): nothing of it is stored. Exit 4: it can go once some expire or a push takes them over.
 */
export class SpeculativeQuotaError extends UnavailableError {
  static override name = 'SpeculativeQuotaError'
  override name = 'SpeculativeQuotaError'
  /** the quota, what the requester uses of it now, and what the refused request would have added */
  readonly quotaBytes: number
  readonly usedBytes: number
  readonly requestedBytes: number

  constructor (message: string, figures: { quotaBytes: number, usedBytes: number, requestedBytes: number }) {
    super(message)
    this.quotaBytes = figures.quotaBytes
    this.usedBytes = figures.usedBytes
    this.requestedBytes = figures.requestedBytes
  }
}

/**
 * A SPECULATE batch that is wrong in itself: empty, beyond MAX_SPECULATE_CHUNKS or MAX_SPECULATE_BYTES, a manifest
 * node or a repeated CID in it, a size that is not the chunk's, or a chunk its requester does not have. Nothing of
 * it is recorded.
 */
export class SpeculativeBatchError extends UsageError {
  static override name = 'SpeculativeBatchError'
  override name = 'SpeculativeBatchError'
}
