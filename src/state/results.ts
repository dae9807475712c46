/**
 * Building refused-command results. The exit code travels with the data so that a shell or client that
 * never builds the error class (the simulator, a JSON client) still maps it the way DESIGN §8 says.
 */
import type { ExitCode } from '../errors.ts'
import type { CommandErrorInfo, CommandErrorName } from './types.ts'

type InfoOf<N extends CommandErrorName> = Extract<CommandErrorInfo, { name: N }>

/** The fields an error of kind `N` carries besides its name, message and exit code. */
export type ErrorDetails<N extends CommandErrorName> = Omit<InfoOf<N>, 'name' | 'message' | 'exitCode'>

/** Exit code of each refusal: the same as its class in errors.ts (a test holds them together). */
export const ERROR_EXIT_CODES: Readonly<Record<CommandErrorName, ExitCode>> = {
  InvalidCommandError: 2,
  SessionExpiredError: 1,
  RefConflictError: 3,
  RefLockedError: 3,
  StaleTokenError: 3,
  LockConflictError: 3,
  LockTimeoutError: 3,
  LockNotHeldError: 3,
  LockWaitCancelledError: 3,
  DeadlockError: 3,
  AccessDeniedError: 3
}

export function errorInfo<N extends CommandErrorName> (name: N, message: string, details: ErrorDetails<N>): InfoOf<N> {
  return { name, message, exitCode: ERROR_EXIT_CODES[name], ...details } as unknown as InfoOf<N>
}
