/**
 * The simulator's checkers (issue 5): Raft safety on what nodes persist and apply (raft.ts), lock safety on the
 * committed order (locks.ts), linearizability of recorded ref histories (linearizability.ts), and the kinds of
 * violation they report (violations.ts). Each works on plain data, so the live runner reuses them too.
 *
 * @example
 * ```ts
 * import { checkRefHistories } from './index.ts'
 *
 * const history = [
 *   { client: 'c1', op: 'ref.set', key: 'reel3', input: { cid: 'bafk…a' }, output: { ok: true, old: null }, call: 0, return: 5 },
 *   { client: 'c2', op: 'ref.get', key: 'reel3', input: {}, output: { ok: true, value: null }, call: 10, return: 12 }
 * ] as const
 * console.log(checkRefHistories([...history])[0]?.ok)   // false: the read after the write missed it
 * ```
 */

export { checkRefHistories, DEFAULT_MAX_SEARCH_STEPS } from './linearizability.ts'
export { LockSafetyChecker, lockCovers } from './locks.ts'
export { RaftSafetyChecker } from './raft.ts'
export { VIOLATION_KINDS } from './violations.ts'
export type { LinearizabilityResult } from './linearizability.ts'
export type { LockViolation, LockViolationKind } from './locks.ts'
export type { Violation, ViolationKind } from './violations.ts'
