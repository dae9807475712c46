/**
 * Errors of the local API (node/api.ts): what the daemon answers to a request it refuses, and what the CLI's
 * client reports about a daemon. Each keeps the exit code of DESIGN §8.
 */
import { DitsError, UsageError, UnavailableError } from '../src/errors.ts'
import type { ExitCode } from '../src/errors.ts'

/** A request body that does not fit its operation's schema: the message names each field and what is allowed. */
export class InvalidArgumentError extends UsageError {
  static override name = 'InvalidArgumentError'
  override name = 'InvalidArgumentError'
}

/** A request body that is not JSON, or is over the size limit. */
export class BadRequestError extends UsageError {
  static override name = 'BadRequestError'
  override name = 'BadRequestError'
}

/**
 * The daemon neither answered a call nor a check that it is alive (stopped with SIGSTOP, hung). What it was
 * asked may still be carried out if it resumes: the outcome of the call is unknown.
 */
export class DaemonNotAnsweringError extends UnavailableError {
  static override name = 'DaemonNotAnsweringError'
  override name = 'DaemonNotAnsweringError'
}

/** An error that crossed the API: keeps the daemon-side name, message and exit code. */
export class RemoteError extends DitsError {
  static override name = 'RemoteError'
  override readonly exitCode: ExitCode

  constructor (name: string, message: string, exitCode: ExitCode) {
    super(message)
    this.name = name
    this.exitCode = exitCode
  }
}
