/**
 * Named errors of the network node. Tests assert on `.name`; the CLI maps `exitCode` (DESIGN §8).
 */
import { DitsError, UnavailableError } from '../../src/errors.ts'

/** A peer broke a rule of a dits protocol (oversized, malformed or unexpected message, too many wants). */
export class ProtocolViolationError extends DitsError {
  static override name = 'ProtocolViolationError'
  override name = 'ProtocolViolationError'
}

/** The remote closed a stream telling us we broke a rule; `message` is its reason. */
export class RemoteProtocolError extends DitsError {
  static override name = 'RemoteProtocolError'
  override name = 'RemoteProtocolError'
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
