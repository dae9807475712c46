/**
 * Named errors of the simulator and the live runner (STYLE habit 5). Usage errors map to exit 2 like every
 * other verb (DESIGN §8); a run that finds violations is not an error — it is the simulator's answer (exit 1).
 */

import { DitsError, UsageError } from '../src/errors.ts'

/** `--scenario` names no known scenario. */
export class UnknownScenarioError extends UsageError {
  static override name = 'UnknownScenarioError'
  override name = 'UnknownScenarioError'
}

/** `--mutant` names neither a Raft mutant nor a state-machine mutant. */
export class UnknownMutantError extends UsageError {
  static override name = 'UnknownMutantError'
  override name = 'UnknownMutantError'
}

/** A command-line option with a bad value; the message names the option, the value and what is allowed. */
export class SimUsageError extends UsageError {
  static override name = 'SimUsageError'
  override name = 'SimUsageError'
}

/** The live runner could not set up or drive its processes (a missing binary, a daemon that never came up...). */
export class LiveRunnerError extends DitsError {
  static override name = 'LiveRunnerError'
  override name = 'LiveRunnerError'
}
