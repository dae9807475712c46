/**
 * The dits-node simulation harness (issue 5, STYLE habit 9): the production Raft core and refs+locks state
 * machine driven through seeded fault schedules in virtual time, with checkers for Raft safety, lock safety,
 * linearizability of ref histories, liveness after heal and convergence; and built-in mutants that prove the
 * checkers can fail. `npm run sim -- --help` for the command line.
 *
 * @example
 * ```ts
 * import { simulate } from './index.ts'
 *
 * const run = simulate({ seed: 42, scenario: 'partitions' })
 * console.log(run.violations.length, run.stats.ops, run.stats.elections)   // 0, a few hundred calls, a few elections
 * const broken = simulate({ seed: 42, mutant: 'ignore-fencing-token', stopOnViolation: true })
 * console.log(broken.violations[0]?.kind)                                   // 'stale-token-write', for most seeds
 * ```
 */

export { simulate, DEFAULT_TICK_MS, DEFAULT_ELECTION_TICKS, DEFAULT_LIVENESS_BOUND_TICKS, DEFAULT_STALE_LEADER_TICKS } from './simulator.ts'
export { SCENARIOS, DEFAULT_SCENARIO, ALL_SCENARIOS, scenarioFor } from './scenarios.ts'
export { sweep, summarize } from './sweep.ts'
export { MUTANTS, mutantNamed, describeMutant } from './mutants.ts'
export { checkRefHistories, LockSafetyChecker, lockCovers, RaftSafetyChecker, VIOLATION_KINDS } from './checkers/index.ts'
export { historyToJsonLines, simCid } from './history.ts'
export * from './errors.ts'
export type { SimulationOptions, SimulationResult, SimulationStats } from './simulator.ts'
export type { SeedResult, SweepOptions, SweepSummary } from './sweep.ts'
export type { Scenario } from './scenarios.ts'
export type { Violation, ViolationKind } from './checkers/index.ts'
export type { HistoryRecord } from './history.ts'
