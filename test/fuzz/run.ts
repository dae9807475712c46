/**
 * `npm run fuzz -- [--runs N] [--only TEXT] [--seed N] [--json]`: every decoder with N inputs (default 100,000),
 * one line each: inputs, accepted, rejected by error name, the slowest input. The first unsound input stops that
 * target with fast-check's report (seed, path, shrunk input) and the run exits 1; make it a spec.
 */
import { parseArgs } from 'node:util'
import { TARGETS } from './targets.ts'
import { fuzz } from './fuzz.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    only: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (values.help) {
  console.log('usage: npm run fuzz -- [--runs N] [--only TEXT] [--seed N] [--json]\ntargets:\n' + TARGETS.map(t => `  ${t.name}`).join('\n'))
  process.exit(0)
}
const runs = Number(values.runs)
if (!Number.isSafeInteger(runs) || runs < 1) {
  console.error(`invalid --runs "${values.runs}": expected a whole number >= 1`)
  process.exit(2)
}
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed)
const targets = TARGETS.filter(t => values.only === undefined || t.name.includes(values.only))
if (targets.length === 0) {
  console.error(`no target matches --only "${values.only}"`)
  process.exit(2)
}

/** fast-check's error wraps the decoder's: print the chain */
function causes (err: unknown): string {
  const lines: string[] = []
  for (let c = (err as Error).cause; c instanceof Error; c = c.cause) lines.push(`caused by ${c.name}: ${c.message}`)
  return lines.join('\n')
}

let failed = 0
if (!values.json) console.log(`fuzz: ${targets.length} decoders × ${runs} inputs, seed ${seed}`)
for (const target of targets) {
  try {
    const r = fuzz(target, { runs, seed })
    if (values.json) {
      console.log(JSON.stringify({ target: r.name, runs: r.runs, accepted: r.accepted, rejected: r.rejected, slowest_cpu_ms: +r.slowestMs.toFixed(2), duration_ms: Math.round(r.durationMs), seed }))
    } else {
      const rejected = Object.entries(r.rejected).map(([name, n]) => `${name} ${n}`).join(', ') || 'none'
      console.log(`ok    ${r.name}: ${r.runs} inputs in ${(r.durationMs / 1000).toFixed(1)} s, ${r.accepted} accepted, rejected: ${rejected}; slowest ${r.slowestMs.toFixed(1)} ms of CPU`)
    }
  } catch (err) {
    failed++
    if (values.json) console.log(JSON.stringify({ target: target.name, failed: true, error: (err as Error).message, seed }))
    else console.log(`FAIL  ${target.name}\n${(err as Error).message}\n${causes(err)}`)
  }
}
if (!values.json) console.log(`${targets.length - failed} passed, ${failed} failed`)
process.exitCode = failed === 0 ? 0 : 1
