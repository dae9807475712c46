/**
 * What a seed keeps for refs (DESIGN §4, §10; issue 17): for each ref, the targets of its newest
 * `keepVersions` versions, read from the ref's log; pinned with the reason `ref`. Pure: the follower
 * (node/seed/ref-follower.ts) feeds it what the group committed and what the repo pins, and acts on the plan.
 */
import { DEFAULT_MAX_REF_LOG_ENTRIES } from '../state/index.ts'
import type { RefLogEntry } from '../state/index.ts'

/** Versions of each ref a seed keeps (config `seed.keepVersions`). */
export const DEFAULT_KEEP_VERSIONS = 10
/** How often a seed reads the committed refs, ms (config `seed.followIntervalMs`): one round trip to the leader. */
export const DEFAULT_FOLLOW_INTERVAL_MS = 500
/** A ref's log holds its newest DEFAULT_MAX_REF_LOG_ENTRIES changes: no more versions can be known. */
export const MAX_KEEP_VERSIONS = DEFAULT_MAX_REF_LOG_ENTRIES

/**
 * The targets a ref keeps, newest first, each once, at most `keepVersions`: `current` (what the ref points at),
 * then the targets of the older entries of its log. A delete in the log is no version; the versions before it
 * still count (a ref deleted and set again continues its log). The log may be newer than `current` (read
 * after it): its newest entries then come after `current`, until the next read of the ref lines them up.
 */
export function refTargets (current: string, log: ReadonlyArray<Pick<RefLogEntry, 'new'>>, keepVersions: number): string[] {
  const out = [current]
  for (let i = log.length - 1; i >= 0 && out.length < keepVersions; i--) {
    const target = log[i].new
    if (target !== null && !out.includes(target)) out.push(target)
  }
  return out.slice(0, Math.max(1, keepVersions))
}

export interface RefPinPlan {
  /** every target some ref keeps, current targets first, then each ref's older versions, newer before older */
  keep: string[]
  /** kept targets not pinned for `ref` yet, in the order of `keep`: the order to fetch them in */
  fetch: string[]
  /** targets pinned for `ref` that no ref keeps any more: their `ref` reason is withdrawn (other reasons stay) */
  release: string[]
}

/**
 * Plan the `ref` pins from each ref's kept targets (`refTargets`, newest first) and the roots pinned for `ref`
 * now. A target two refs keep is kept once; a target no ref keeps is released even if it was another ref's.
 */
export function planRefPins (kept: Iterable<readonly string[]>, pinnedForRef: ReadonlySet<string>): RefPinPlan {
  const lists = [...kept]
  const keep: string[] = []
  const seen = new Set<string>()
  const depth = Math.max(0, ...lists.map(l => l.length))
  // breadth first over versions: every ref's current target before any ref's previous one
  for (let v = 0; v < depth; v++) {
    for (const list of lists) {
      const target = list[v]
      if (target === undefined || seen.has(target)) continue
      seen.add(target)
      keep.push(target)
    }
  }
  return {
    keep,
    fetch: keep.filter(t => !pinnedForRef.has(t)),
    release: [...pinnedForRef].filter(t => !seen.has(t))
  }
}

/** The pause before attempt `attempts + 1` of a fetch that failed `attempts` times: doubling from `minMs`, at most `maxMs`. */
export function retryDelayMs (attempts: number, minMs: number, maxMs: number): number {
  if (attempts <= 0) return 0
  return Math.min(maxMs, minMs * 2 ** Math.min(attempts - 1, 30))
}
