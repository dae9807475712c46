/**
 * The seed as the studio's memory (issue 17): the ref follower keeps every ref's newest targets pinned here, and
 * `ref set --require-seed` (require-seed.ts) commits a ref only once the seed(s) hold its target. What a push or a
 * speculate does on the seed is the keeper's (keeper.ts); speculative chunks are recorded until they expire in the
 * SpeculativeRecord (speculative.ts), which gc reads.
 *
 * @example
 * ```ts
 * import { RefFollower } from './index.ts'
 *
 * const follower = new RefFollower({
 *   refs: { ls: async () => await consensus.refLs({}), log: async name => await consensus.refLog({ name }) },
 *   fetch: async (root, options) => await network.fetch(root, options),
 *   blocks: repo.blocks,
 *   pins: repo.pins
 * }, { keepVersions: 10 })
 * follower.start()
 * follower.status()  // { following: true, refs: 3, targets_kept: 12, pending: [...], ... }
 * await follower.stop()
 * ```
 */
export { GcSchedule } from './gc-schedule.ts'
export type { GcScheduleInit } from './gc-schedule.ts'
export { RefFollower, DEFAULT_MAX_FETCHES, DEFAULT_MAX_RETRY_FETCHES, DEFAULT_RETRY_MIN_MS, DEFAULT_RETRY_MAX_MS, DEFAULT_PIN_RESCAN_MS, MAX_LISTED_PENDING } from './ref-follower.ts'
export type { RefFollowerComponents, RefFollowerInit, SeedStatus, PendingFetch } from './ref-follower.ts'
export { refTargetsSeedsLack, SEED_STATUS_CONCURRENCY } from './gc-keep.ts'
export type { SeedKeepDeps } from './gc-keep.ts'
export { requireSeedOps, requiresSeed, RefSetRequiringSeedArgs, RefNotReplicatedError, DEFAULT_REQUIRE_SEED_WAIT_MS, MAX_REQUIRE_SEED_WAIT_MS } from './require-seed.ts'
export type { SeedHolding, RequireSeedDeps } from './require-seed.ts'
export { studioSeeds, seedTargets } from './targets.ts'
export { SeedKeeper, DEFAULT_MAX_PUSHES, DEFAULT_MAX_SPECULATES, DEFAULT_ROOT_STATUS_MAX_BLOCKS } from './keeper.ts'
export type { SeedKeeperInit } from './keeper.ts'
export { SpeculativeRecord, openSpeculativeRecord } from './speculative.ts'
export type { SpeculativeEntry } from './speculative.ts'
export type { StudioSeed } from './targets.ts'
