/**
 * Named errors of the pure core. Every error carries a message a user can act on; tests assert on `.name`.
 * The CLI maps errors to exit codes through `exitCode` (DESIGN §8: 1 error, 2 usage, 3 conflict, 4 unavailable;
 * 130 and 143 for work stopped by SIGINT and SIGTERM, as a shell reports a process those signals killed).
 */

export type ExitCode = 1 | 2 | 3 | 4 | 130 | 143

export class DitsError extends Error {
  static override name = 'DitsError'
  override name = 'DitsError'
  /** the CLI exit code this error maps to */
  readonly exitCode: ExitCode = 1
}

export class UsageError extends DitsError {
  static override name = 'UsageError'
  override name = 'UsageError'
  override readonly exitCode = 2
}

export class ConflictError extends DitsError {
  static override name = 'ConflictError'
  override name = 'ConflictError'
  override readonly exitCode = 3
}

export class UnavailableError extends DitsError {
  static override name = 'UnavailableError'
  override name = 'UnavailableError'
  override readonly exitCode = 4
}

/** Work stopped by a signal: Ctrl-C (SIGINT) exits 130, SIGTERM 143, as a shell reports a process they killed. */
export class InterruptedError extends DitsError {
  static override name = 'InterruptedError'
  override name = 'InterruptedError'
  override readonly exitCode: 130 | 143

  constructor (message: string, signal: 'SIGINT' | 'SIGTERM') {
    super(message)
    this.exitCode = signal === 'SIGINT' ? 130 : 143
  }
}

/** Bytes whose BLAKE3 digest does not match the CID they were asked for. */
export class VerificationError extends DitsError {
  static override name = 'VerificationError'
  override name = 'VerificationError'
}

export class InvalidCIDError extends UsageError {
  static override name = 'InvalidCIDError'
  override name = 'InvalidCIDError'
}

export class NotFoundError extends DitsError {
  static override name = 'NotFoundError'
  override name = 'NotFoundError'
}

export class InvalidChunkerError extends UsageError {
  static override name = 'InvalidChunkerError'
  override name = 'InvalidChunkerError'
}

export class InvalidPathError extends UsageError {
  static override name = 'InvalidPathError'
  override name = 'InvalidPathError'
}

export class ManifestError extends DitsError {
  static override name = 'ManifestError'
  override name = 'ManifestError'
}

/**
 * A manifest tree beyond a limit of the walk over it (MAX_DIR_DEPTH, MAX_PART_DEPTH, the entries a get may
 * lay out): the message names the limit, the path and the CID where it was reached.
 */
export class TreeLimitError extends ManifestError {
  static override name = 'TreeLimitError'
  override name = 'TreeLimitError'
}

/** The output of a get needs more space (bytes or inodes) than its file system has free. */
export class InsufficientSpaceError extends DitsError {
  static override name = 'InsufficientSpaceError'
  override name = 'InsufficientSpaceError'
}

export class InvalidMultiaddrError extends UsageError {
  static override name = 'InvalidMultiaddrError'
  override name = 'InvalidMultiaddrError'
}
