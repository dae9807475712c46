/**
 * The live runner (issue 5): real `dits-node` processes in network namespaces, partitioned and healed while a
 * workload runs, with checks on exit codes, fencing, seed fallback, convergence and linearizability, and an HTML
 * timeline report. Needs root and iproute2; `npm run sim:live -- --nodes 5 [--json]` is the command line.
 *
 * @example
 * ```ts
 * import { runLive } from './index.ts'
 *
 * const summary = await runLive({ nodes: 5, outDir: '.', seed: 1, keep: false, log: console.log })
 * console.log(summary.ok, summary.report)   // true ./live-report.html
 * ```
 */

export { runLive, DEFAULT_LIVE_TIMING, SPLIT_LOCK_TTL_MS, CONTENT_BYTES, DEFAULT_CONVERGE_MS } from './runner.ts'
export { NamespaceNetwork, checkNamespaceSupport } from './netns.ts'
export { LiveCluster, LIVE_PORT, BIN } from './cluster.ts'
export { Timeline, renderReport } from './timeline.ts'
export type { LiveOptions, LiveSummary, LiveCheck } from './runner.ts'
export type { LiveTiming, LiveNodeSpec } from './cluster.ts'
export type { TimelineEvent, Outcome } from './timeline.ts'
