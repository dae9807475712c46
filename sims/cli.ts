/**
 * `npm run sim -- [options]`: run the simulator over many seeds (or replay one) and report.
 *
 *   --seeds N              run seeds 1..N (from --first-seed) (default 100)
 *   --seed S               run (replay) seed S only, and print its trace if it fails
 *   --scenario NAME        a scenario, or `all` (default): seed S runs scenario number S mod 8 (--list-scenarios)
 *   --mutant NAME          break the core on purpose; the run must then report violations
 *   --list-mutants         print the mutant names, one a line
 *   --list-scenarios       print the scenarios with what they inject
 *   --export-history FILE  write every client call as a JSON line {client, op, key, input, output, call, return};
 *                          a call whose outcome is unknown (it timed out, or was under way when the run
 *                          stopped) has output and return null
 *   --trace N              events kept for a failure's trace (default 60); with --seed, printed even on success
 *   --jobs J               worker threads (default: one per core)
 *   --fail-fast            stop at the first failing seed
 *   --keep-going           run each seed to its end past its first violation (with --export-history: the
 *                          whole history of a mutant's run, for an outside checker)
 *   --json                 the last line is one JSON object: {runs, violations, ...}
 *
 * Exit code: 0 no violation, 1 violations found, 2 usage error (DESIGN §8).
 */

import { createWriteStream } from 'node:fs'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { DitsError } from '../src/errors.ts'
import { VIOLATION_KINDS } from './checkers/violations.ts'
import { SimUsageError } from './errors.ts'
import { historyToJsonLines } from './history.ts'
import { MUTANTS, describeMutant, mutantNamed } from './mutants.ts'
import { ALL_SCENARIOS, DEFAULT_SCENARIO, SCENARIOS, scenarioFor } from './scenarios.ts'
import { DEFAULT_LIVENESS_BOUND_TICKS, DEFAULT_TICK_MS } from './simulator.ts'
import { summarize, sweep } from './sweep.ts'
import { DEFAULT_TRACE_EVENTS } from './trace.ts'
import type { SeedResult, SweepSummary } from './sweep.ts'

/** Seeds a sweep runs when no --seeds is given. */
export const DEFAULT_SEEDS = 100
/** Failing seeds described one by one (the rest are listed by number). */
const MAX_FAILURES_SHOWN = 5

const HELP = `usage: npm run sim -- [--seeds N] [--seed S] [--scenario NAME] [--mutant NAME] [--json]
                      [--export-history FILE] [--trace N] [--jobs J] [--first-seed S] [--fail-fast] [--keep-going]
                      [--list-mutants] [--list-scenarios]`

interface CliOptions {
  seeds: number[]
  single: boolean
  scenario: string
  mutant: string | undefined
  json: boolean
  exportHistory: string | undefined
  traceEvents: number
  traceAlways: boolean
  jobs: number
  failFast: boolean
  keepGoing: boolean
}

function integer (name: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) {
    return undefined
  }
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new SimUsageError(`--${name} ${JSON.stringify(value)}: expected an integer from ${min} to ${max}`)
  }
  return n
}

async function main (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        seeds: { type: 'string' },
        seed: { type: 'string' },
        'first-seed': { type: 'string' },
        scenario: { type: 'string' },
        mutant: { type: 'string' },
        'list-mutants': { type: 'boolean' },
        'list-scenarios': { type: 'boolean' },
        'export-history': { type: 'string' },
        trace: { type: 'string' },
        jobs: { type: 'string' },
        'fail-fast': { type: 'boolean' },
        'keep-going': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true
    }).values
  } catch (err) {
    throw new SimUsageError(`${(err as Error).message}\n${HELP}`)
  }
  if (parsed.help === true) {
    console.log(HELP)
    return 0
  }
  if (parsed['list-mutants'] === true) {
    for (const m of MUTANTS) {
      console.log(m)
    }
    return 0
  }
  if (parsed['list-scenarios'] === true) {
    console.log(`${ALL_SCENARIOS.padEnd(12)} seed S runs scenario number S mod ${Object.keys(SCENARIOS).length} below (the default)`)
    for (const s of Object.values(SCENARIOS)) {
      console.log(`${s.name.padEnd(12)} ${s.description}`)
    }
    return 0
  }
  const scenario = parsed.scenario ?? DEFAULT_SCENARIO
  scenarioFor(scenario, 0)
  mutantNamed(parsed.mutant)
  const seed = integer('seed', parsed.seed, 0, 2 ** 32 - 1)
  const count = integer('seeds', parsed.seeds, 1) ?? DEFAULT_SEEDS
  const first = integer('first-seed', parsed['first-seed'], 0, 2 ** 32 - 1) ?? 1
  const trace = integer('trace', parsed.trace, 0)
  const options: CliOptions = {
    seeds: seed !== undefined ? [seed] : Array.from({ length: count }, (_, i) => first + i),
    single: seed !== undefined,
    scenario,
    mutant: parsed.mutant,
    json: parsed.json === true,
    exportHistory: parsed['export-history'],
    traceEvents: trace ?? DEFAULT_TRACE_EVENTS,
    traceAlways: seed !== undefined && trace !== undefined,
    jobs: integer('jobs', parsed.jobs, 1) ?? availableParallelism(),
    failFast: parsed['fail-fast'] === true,
    keepGoing: parsed['keep-going'] === true
  }
  return await run(options)
}

async function run (o: CliOptions): Promise<number> {
  const history = o.exportHistory === undefined ? undefined : createWriteStream(o.exportHistory)
  const progress = !o.json && !o.single && process.stderr.isTTY
  let done = 0
  let failing = 0
  const started = performance.now()
  const results = await sweep({
    seeds: o.seeds,
    scenario: o.scenario,
    mutant: o.mutant,
    jobs: o.jobs,
    traceEvents: o.traceEvents,
    keepTrace: o.traceAlways,
    keepHistory: history !== undefined,
    failFast: o.failFast,
    keepGoing: o.keepGoing,
    onResult: r => {
      done++
      failing += r.violations.length > 0 ? 1 : 0
      if (history !== undefined && r.history !== undefined) {
        history.write(historyToJsonLines(r.history, o.single ? undefined : r.seed))
      }
      if (progress && (done % 50 === 0 || done === o.seeds.length)) {
        process.stderr.write(`\r  ${done}/${o.seeds.length} seeds, ${failing} failing`)
      }
    }
  })
  const wallMs = performance.now() - started
  if (progress) {
    process.stderr.write('\n')
  }
  if (history !== undefined) {
    await new Promise<void>((resolve, reject) => history.end((err?: Error | null) => err == null ? resolve() : reject(err)))
  }
  const summary = summarize(results)
  report(o, results, summary, wallMs)
  return summary.violations > 0 ? 1 : 0
}

function replayCommand (o: CliOptions, r: SeedResult): string {
  const scenario = scenarioFor(o.scenario, r.seed).name
  return `npm run sim -- --seed ${r.seed} --scenario ${scenario}${o.mutant === undefined ? '' : ` --mutant ${o.mutant}`}${o.keepGoing ? ' --keep-going' : ''}`
}

const fmt = (n: number): string => n.toLocaleString('en-US')

function report (o: CliOptions, results: SeedResult[], s: SweepSummary, wallMs: number): void {
  const out: string[] = []
  const seeds = o.single ? `seed ${o.seeds[0]}` : `${fmt(s.runs)} seeds (${o.seeds[0]}..${o.seeds[0] + s.runs - 1})`
  const scenario = o.single ? scenarioFor(o.scenario, o.seeds[0]).name : o.scenario
  out.push(`dits-node sim: ${seeds}, scenario ${scenario}, ${o.mutant === undefined ? 'no mutant' : `mutant ${o.mutant} (${describeMutant(o.mutant)})`}`)
  const row = (label: string, value: string): void => {
    out.push(`  ${label.padEnd(24)}${value}`)
  }
  row('runs', fmt(s.runs))
  row('violations', `${fmt(s.violations)}${s.violations > 0 ? ` in ${fmt(s.failingSeeds.length)} runs` : ''}`)
  for (const kind of VIOLATION_KINDS) {
    const n = s.violationsByKind[kind]
    if (n !== undefined) {
      row(`  ${kind}`, fmt(n))
    }
  }
  row('ops', `${fmt(s.ops)} calls: ${fmt(s.opsOk)} ok, ${fmt(s.opsFailed)} refused, ${fmt(s.opsUnknown)} unknown outcome`)
  row('elections', fmt(s.elections))
  row('partitions', fmt(s.partitions))
  row('faults', `${fmt(s.crashes)} crashes, ${fmt(s.pauses)} pauses, ${fmt(s.skews)} clock skews, ${fmt(s.transfers)} leadership transfers, ${fmt(s.intrusions)} intrusions by a non-member`)
  row('messages', `${fmt(s.messages)} sent, ${fmt(s.dropped)} dropped, ${fmt(s.duplicated)} duplicated`)
  row('committed', `${fmt(s.committed)} entries; ${fmt(s.snapshotsTaken)} snapshots taken, ${fmt(s.snapshotsInstalled)} installed from a leader`)
  row('recovery', `slowest ${fmt(s.maxRecoveryMs)} ms from heal to a new commit (bound ${fmt(DEFAULT_LIVENESS_BOUND_TICKS * DEFAULT_TICK_MS)} ms)`)
  row('time', `${s.virtualMs >= 3_600_000 ? `${(s.virtualMs / 3_600_000).toFixed(2)} h` : `${(s.virtualMs / 1000).toFixed(1)} s`} virtual, ${(wallMs / 1000).toFixed(1)} s wall (${(wallMs / Math.max(s.runs, 1)).toFixed(1)} ms/seed, ${Math.min(o.jobs, s.runs)} jobs)`)
  const failures = results.filter(r => r.violations.length > 0)
  if (failures.length > 0) {
    out.push('', `FAILED: ${fmt(failures.length)} of ${fmt(s.runs)} seeds${failures.length > MAX_FAILURES_SHOWN ? ` (first ${MAX_FAILURES_SHOWN} shown; all: ${s.failingSeeds.join(' ')})` : ''}`)
    for (const r of failures.slice(0, MAX_FAILURES_SHOWN)) {
      const v = r.violations[0]
      out.push(`  seed ${r.seed}: ${v.kind} at ${v.at.toFixed(1)} ms: ${v.message}`)
      out.push(`    replay: ${replayCommand(o, r)}`)
    }
    const first = failures[0]
    out.push('', `last ${first.trace.length} events of seed ${first.seed}:`, ...first.trace.map(l => `  ${l}`))
  } else if (o.traceAlways && results[0] !== undefined) {
    out.push('', `last ${results[0].trace.length} events of seed ${results[0].seed}:`, ...results[0].trace.map(l => `  ${l}`))
  }
  if (o.json) {
    out.push(JSON.stringify({
      ...s,
      scenario: o.scenario,
      mutant: o.mutant ?? null,
      wallMs: Math.round(wallMs),
      replay: failures.slice(0, MAX_FAILURES_SHOWN).map(r => replayCommand(o, r))
    }))
  }
  console.log(out.join('\n'))
}

// as in worker.ts: stacks of the core's control-flow exceptions are never printed, and cost a fifth of a run
Error.stackTraceLimit = 0

main(process.argv.slice(2)).then(code => {
  process.exitCode = code
}, (err: unknown) => {
  // the one error handler: usage errors exit 2, anything else 1 (DESIGN §8)
  const e = err as Error
  console.error(`sim: ${e.name}: ${e.message}`)
  process.exitCode = err instanceof DitsError ? err.exitCode : 1
})
