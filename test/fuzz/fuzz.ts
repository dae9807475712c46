/**
 * Runs a fuzz target with fast-check: every input must decode or be refused with a clear error, in bounded time.
 * A failure is shrunk to its smallest input and reported with the seed and path that replay it.
 */
import fc from 'fast-check'
import { MAX_CALL_MS, unclearRejection } from './targets.ts'
import type { FuzzTarget } from './targets.ts'

export interface FuzzResult {
  name: string
  runs: number
  accepted: number
  /** rejections by error name */
  rejected: Record<string, number>
  /** CPU time of the costliest input */
  slowestMs: number
  durationMs: number
}

export interface FuzzOptions {
  runs: number
  seed?: number
  /** replay a failure: the path fast-check printed */
  path?: string
}

/** Fuzz one target; throws (fast-check's report, with seed and shrunk input) on the first unsound input. */
export function fuzz (target: FuzzTarget, options: FuzzOptions): FuzzResult {
  const result: FuzzResult = { name: target.name, runs: 0, accepted: 0, rejected: {}, slowestMs: 0, durationMs: 0 }
  const started = performance.now()
  fc.assert(fc.property(target.input, input => {
    result.runs++
    // CPU time, not wall time: a loaded machine may leave a call off the CPU for a second; a hang burns CPU
    const t0 = process.cpuUsage()
    let decoded: unknown
    let failure: unknown
    let ok = false
    try {
      decoded = target.run(input)
      ok = true
    } catch (err) {
      failure = err
    }
    const used = process.cpuUsage(t0)
    const ms = (used.user + used.system) / 1000
    result.slowestMs = Math.max(result.slowestMs, ms)
    if (ms > MAX_CALL_MS) throw new Error(`${target.name}: one input took ${ms.toFixed(0)} ms of CPU (limit ${MAX_CALL_MS} ms)`)
    if (ok) {
      target.check?.(decoded, input)
      result.accepted++
      return
    }
    const unclear = unclearRejection(failure)
    if (unclear !== undefined) throw new Error(`${target.name}: ${unclear}`, { cause: failure })
    const name = (failure as Error).name
    result.rejected[name] = (result.rejected[name] ?? 0) + 1
  }), { numRuns: options.runs, seed: options.seed, path: options.path, endOnFailure: options.path === undefined ? false : true })
  result.durationMs = performance.now() - started
  return result
}
