/**
 * The mutants a run can be given (`--mutant NAME`, `--list-mutants`): the Raft core's (src/raft/mutants.ts),
 * the state machine's (src/state/mutants.ts) and admission's (src/state/access.ts). Each is a deliberately broken variant that the checkers must
 * catch — the proof that they can fail (issue 5).
 */

import { RAFT_MUTANTS, RAFT_MUTANT_DESCRIPTIONS } from '../src/raft/index.ts'
import { ACCESS_MUTANTS, ACCESS_MUTANT_DESCRIPTIONS, STATE_MUTANTS, STATE_MUTANT_DESCRIPTIONS } from '../src/state/index.ts'
import { UnknownMutantError } from './errors.ts'
import type { RaftMutant } from '../src/raft/index.ts'
import type { AccessMutant, StateMutant } from '../src/state/index.ts'

/** Every mutant name, Raft's first, then the state machine's, then admission's (src/state/access.ts). */
export const MUTANTS: readonly string[] = [...RAFT_MUTANTS, ...STATE_MUTANTS, ...ACCESS_MUTANTS]

export interface MutantChoice {
  raft: RaftMutant | undefined
  state: StateMutant | undefined
  access?: AccessMutant
}

/** @throws {UnknownMutantError} naming the known mutants */
export function mutantNamed (name: string | undefined): MutantChoice {
  if (name === undefined) {
    return { raft: undefined, state: undefined }
  }
  if ((RAFT_MUTANTS as readonly string[]).includes(name)) {
    return { raft: name as RaftMutant, state: undefined }
  }
  if ((STATE_MUTANTS as readonly string[]).includes(name)) {
    return { raft: undefined, state: name as StateMutant }
  }
  if ((ACCESS_MUTANTS as readonly string[]).includes(name)) {
    return { raft: undefined, state: undefined, access: name as AccessMutant }
  }
  throw new UnknownMutantError(`unknown mutant ${JSON.stringify(name)} (known: ${MUTANTS.join(', ')})`)
}

/** What a mutant breaks, from the core's own description. */
export function describeMutant (name: string): string {
  const m = mutantNamed(name)
  if (m.access !== undefined) return ACCESS_MUTANT_DESCRIPTIONS[m.access]
  return m.raft !== undefined ? RAFT_MUTANT_DESCRIPTIONS[m.raft] : STATE_MUTANT_DESCRIPTIONS[m.state as StateMutant]
}
