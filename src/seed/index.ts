/**
 * The seed's pure decisions (issue 17): which ref targets it keeps, which `ref` pins it withdraws, and how long
 * it waits before it tries a fetch again. node/seed/ref-follower.ts acts on them.
 *
 * @example
 * ```ts
 * import { refTargets, planRefPins } from './index.ts'
 *
 * const cut = refTargets('bafyC', [{ new: 'bafyA' }, { new: 'bafyB' }, { new: 'bafyC' }], 2)  // ['bafyC', 'bafyB']
 * const plan = planRefPins([cut], new Set(['bafyA', 'bafyB']))
 * // { keep: ['bafyC', 'bafyB'], fetch: ['bafyC'], release: ['bafyA'] }
 * ```
 */
export { refTargets, planRefPins, retryDelayMs, DEFAULT_KEEP_VERSIONS, DEFAULT_FOLLOW_INTERVAL_MS, MAX_KEEP_VERSIONS } from './keep.ts'
export type { RefPinPlan } from './keep.ts'
