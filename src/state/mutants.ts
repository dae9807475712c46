/**
 * Deliberately broken variants of the refs+locks state machine, for the simulator (issue 5): its lock-safety
 * and linearizability checkers must catch each one. A mutant is selected with the constructor's `mutant`
 * option (and `restore(bytes, { mutant })`); every branch it enables is marked `MUTANT(<name>)` in the
 * source, so `grep -rn MUTANT src/state` lists every place where behaviour departs from the rules.
 */

export type StateMutant =
  | 'ignore-fencing-token'
  | 'ignore-exclusive-lock'
  | 'grant-conflicting-lock'
  | 'no-exactly-once'
  | 'ignore-cas-expect'

/** Each mutant, with what it breaks and which checker should catch it. */
export const STATE_MUTANT_DESCRIPTIONS: Readonly<Record<StateMutant, string>> = {
  'ignore-fencing-token': 'accepts a ref write whose token is stale or names no live grant of the writer -> lock safety (no write accepted with a stale token)',
  'ignore-exclusive-lock': 'accepts a ref write under another owner\'s exclusive lock -> lock safety (writes only by the exclusive holder)',
  'grant-conflicting-lock': 'grants a lock without checking conflicting grants (only the queue) -> lock safety (no two conflicting holders at once)',
  'no-exactly-once': 'applies a retried (client, seq) again instead of returning its first result -> linearizability of ref histories',
  'ignore-cas-expect': 'ref.set and ref.rm ignore `expect` when the ref exists -> linearizability of ref histories'
}

/** The mutant names, in a stable order (`npm run sim -- --list-mutants`). */
export const STATE_MUTANTS: readonly StateMutant[] = Object.keys(STATE_MUTANT_DESCRIPTIONS) as StateMutant[]
