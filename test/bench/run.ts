/**
 * `npm run bench -- [NAME...] [--json] [--runs N]`: runs the benchmarks of test/bench/*.bench.ts.
 * With --json each result is one JSON line (DESIGN §9); otherwise a table.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Bench, BenchResult } from './harness.ts'

const DEFAULT_RUNS = 3

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const json = args.includes('--json')
  const runsAt = args.indexOf('--runs')
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : DEFAULT_RUNS
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs takes a whole number >= 1, got ${args[runsAt + 1]}`)
  const names = args.filter((a, i) => !a.startsWith('--') && !(runsAt >= 0 && i === runsAt + 1))

  const here = dirname(fileURLToPath(import.meta.url))
  const benches: Bench[] = []
  for (const file of (await readdir(here)).filter(f => f.endsWith('.bench.js')).sort()) {
    const mod = await import(join(here, file)) as { benches: Bench[] }
    benches.push(...mod.benches)
  }
  const unknown = names.filter(n => !benches.some(b => b.name === n))
  if (unknown.length > 0) {
    throw new Error(`unknown benchmark ${unknown.join(', ')}; available: ${benches.map(b => b.name).join(', ')}`)
  }
  const chosen = names.length > 0 ? benches.filter(b => names.includes(b.name)) : benches
  const log = (m: string): void => { process.stderr.write(`[bench] ${m}\n`) }
  const results: BenchResult[] = []
  for (const bench of chosen) {
    const tmpDir = await mkdtemp(join(process.cwd(), '.bench-tmp-'))
    try {
      log(`${bench.name}: ${bench.description}`)
      for (const r of await bench.run({ tmpDir, runs, log })) {
        results.push(r)
        if (json) process.stdout.write(JSON.stringify(r) + '\n')
        else log(`${r.bench}: ${r.value} ${r.metric} vs ${r.baseline} ${r.baseline_value} → ratio ${r.ratio}`)
      }
    } finally {
      await rm(tmpDir, { recursive: true, force: true })
    }
  }
  if (!json) console.table(results)
}

main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`)
  process.exit(1)
})
