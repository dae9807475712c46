/**
 * What can be wrong with a CAR file given to `import` (or with the output of `export`): each error names the file,
 * where in it (the byte offset of the section) and, for a block, its CID.
 */
import { DitsError, UsageError, VerificationError } from '../../src/errors.ts'

/** Not a CARv1 dits can read: a bad header, a version other than 1, not exactly one root, a CID that is not dits'. */
export class CarFormatError extends DitsError {
  static override name = 'CarFormatError'
  override name = 'CarFormatError'
}

/** The file ends inside its header or inside a block's section. */
export class CarTruncatedError extends DitsError {
  static override name = 'CarTruncatedError'
  override name = 'CarTruncatedError'
}

/** A block whose bytes do not hash (BLAKE3) to the CID its section names. */
export class CarBlockMismatchError extends VerificationError {
  static override name = 'CarBlockMismatchError'
  override name = 'CarBlockMismatchError'
}

/** A block over MAX_BLOCK_BYTES (protocol/limits.ts): refused before its bytes are read. */
export class CarBlockTooLargeError extends DitsError {
  static override name = 'CarBlockTooLargeError'
  override name = 'CarBlockTooLargeError'
}

/** A CAR that lacks blocks under its root: its blocks are stored, unpinned; nothing is pinned. */
export class CarIncompleteError extends DitsError {
  static override name = 'CarIncompleteError'
  override name = 'CarIncompleteError'
}

/** The output of an export exists and --force was not given. */
export class CarOutputExistsError extends UsageError {
  static override name = 'CarOutputExistsError'
  override name = 'CarOutputExistsError'
}
