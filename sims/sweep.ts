/**
 * Many seeds at once: a pool of worker threads (one per core by default) each running whole seeds, and the
 * summary of a sweep. Each seed is a pure function of (seed, scenario, mutant), so how seeds are spread over
 * workers changes nothing but the wall time; results are put back in seed order.
 */

import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { simulate } from './simulator.ts'
import type { Violation, ViolationKind } from './checkers/violations.ts'
import type { HistoryRecord } from './history.ts'
import type { SimulationStats } from './simulator.ts'

/** Seeds handed to a worker at a time: small enough to balance the load, big enough to amortize messages. */
export const DEFAULT_SEEDS_PER_BATCH = 8

export interface SweepOptions {
  /** the seeds to run, in order */
  seeds: number[]
  scenario: string
  mutant: string | undefined
  /** worker threads; 1 runs in this thread. @default availableParallelism() */
  jobs?: number
  /** events kept per run for the trace */
  traceEvents: number
  /** keep the trace of passing runs too */
  keepTrace: boolean
  /** stop handing out seeds once one run failed */
  failFast: boolean
  /** run each seed to its end past its first violation (SimulationOptions.stopOnViolation false) */
  keepGoing: boolean
  /** keep each run's history (for --export-history) */
  keepHistory: boolean
  /** called once per seed, in completion order */
  onResult?: (r: SeedResult) => void
}

/** What a sweep keeps of one run. */
export interface SeedResult {
  seed: number
  violations: Violation[]
  stats: SimulationStats
  /** the run's last events: for failing runs, or every run when asked for */
  trace: string[]
  history: HistoryRecord[] | undefined
}

/** The job a worker gets. */
export interface WorkerBatch {
  seeds: number[]
  scenario: string
  mutant: string | undefined
  traceEvents: number
  keepTrace: boolean
  keepHistory: boolean
  keepGoing: boolean
}

export function runSeed (seed: number, batch: Omit<WorkerBatch, 'seeds'>): SeedResult {
  const r = simulate({ seed, scenario: batch.scenario, mutant: batch.mutant, traceEvents: batch.traceEvents, stopOnViolation: !batch.keepGoing })
  return {
    seed,
    violations: r.violations,
    stats: r.stats,
    trace: r.violations.length > 0 || batch.keepTrace ? r.trace : [],
    history: batch.keepHistory ? r.history : undefined
  }
}

/** Run every seed; results come back in seed order. */
export async function sweep (options: SweepOptions): Promise<SeedResult[]> {
  const jobs = Math.max(1, Math.min(options.jobs ?? availableParallelism(), Math.ceil(options.seeds.length / DEFAULT_SEEDS_PER_BATCH)))
  const batch = { scenario: options.scenario, mutant: options.mutant, traceEvents: options.traceEvents, keepTrace: options.keepTrace, keepHistory: options.keepHistory, keepGoing: options.keepGoing }
  const results: SeedResult[] = []
  if (jobs === 1) {
    for (const seed of options.seeds) {
      const r = runSeed(seed, batch)
      options.onResult?.(r)
      results.push(r)
      if (options.failFast && r.violations.length > 0) {
        break
      }
    }
    return results
  }
  const pending = [...options.seeds]
  const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url)
  await Promise.all(Array.from({ length: jobs }, async () => {
    const worker = new Worker(workerUrl)
    try {
      for (;;) {
        const seeds = pending.splice(0, DEFAULT_SEEDS_PER_BATCH)
        if (seeds.length === 0) {
          break
        }
        const done = await new Promise<SeedResult[]>((resolve, reject) => {
          worker.once('message', resolve)
          worker.once('error', reject)
          worker.postMessage({ ...batch, seeds } satisfies WorkerBatch)
        })
        worker.removeAllListeners('error')
        for (const r of done) {
          options.onResult?.(r)
          results.push(r)
          if (options.failFast && r.violations.length > 0) {
            pending.length = 0
          }
        }
      }
    } finally {
      await worker.terminate()
    }
  }))
  return results.sort((a, b) => a.seed - b.seed)
}

/** The per-run counters summed over the sweep (all of SimulationStats but the per-run sizes and recovery). */
export type SweepTotals = Omit<SimulationStats, 'voters' | 'clients' | 'recoveryMs'>

export interface SweepSummary extends SweepTotals {
  runs: number
  /** violations found, over all runs (a run stops at its first one unless kept going) */
  violations: number
  violationsByKind: Partial<Record<ViolationKind, number>>
  failingSeeds: number[]
  /** the slowest recovery after a heal, virtual ms */
  maxRecoveryMs: number
}

/** Summed over the runs, in this order in the JSON summary. */
const TOTAL_KEYS = ['ops', 'opsOk', 'opsFailed', 'opsUnknown', 'elections', 'partitions', 'crashes', 'pauses', 'skews', 'transfers', 'intrusions', 'messages', 'dropped', 'duplicated', 'committed', 'snapshotsTaken', 'snapshotsInstalled', 'virtualMs'] as const satisfies ReadonlyArray<keyof SweepTotals>

export function summarize (results: readonly SeedResult[]): SweepSummary {
  const totals = Object.fromEntries(TOTAL_KEYS.map(k => [k, 0])) as SweepTotals
  const s: SweepSummary = { runs: results.length, violations: 0, violationsByKind: {}, failingSeeds: [], ...totals, maxRecoveryMs: 0 }
  for (const r of results) {
    if (r.violations.length > 0) {
      s.failingSeeds.push(r.seed)
    }
    for (const v of r.violations) {
      s.violations++
      s.violationsByKind[v.kind] = (s.violationsByKind[v.kind] ?? 0) + 1
    }
    for (const k of TOTAL_KEYS) s[k] += r.stats[k]
    s.maxRecoveryMs = Math.max(s.maxRecoveryMs, r.stats.recoveryMs)
  }
  return s
}
