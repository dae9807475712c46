/**
 * `npm run kill -- [--runs N] [--scenario add|get|ref|lock ...] [--seed N] [--json]`: kill -9 at random points of each
 * operation, N times each (default 100), checking after every kill that the repo opens, verify is clean and nothing
 * acknowledged is lost (test/kill/kill.ts). A failure prints the scenario, run, seed and kill delay; exit 1.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SCENARIOS, runKill } from './kill.ts'
import type { Scenario } from './kill.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    scenario: { type: 'string', multiple: true },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (values.help) {
  console.log(`usage: npm run kill -- [--runs N] [--scenario ${SCENARIOS.join('|')} ...] [--seed N] [--json] [-v]`)
  process.exit(0)
}
const runs = Number(values.runs)
const scenarios = (values.scenario ?? SCENARIOS) as Scenario[]
const unknown = scenarios.filter(s => !SCENARIOS.includes(s))
if (!Number.isSafeInteger(runs) || runs < 1 || unknown.length > 0) {
  console.error(unknown.length > 0 ? `unknown scenario ${unknown.join(', ')}: expected ${SCENARIOS.join(', ')}` : `invalid --runs "${values.runs}": expected a whole number >= 1`)
  process.exit(2)
}
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed)
let failed = 0
for (const scenario of scenarios) {
  const dir = await mkdtemp(join(tmpdir(), `dits-kill-${scenario}-`))
  try {
    const r = await runKill(scenario, { runs, seed, dir, log: values.verbose ? line => console.error(line) : undefined })
    if (values.json) console.log(JSON.stringify({ ...r, seed }))
    else console.log(`ok    ${scenario}: ${r.runs} kills in ${(r.durationMs / 1000).toFixed(0)} s; ${r.acknowledged} acknowledged (all intact), ${r.killed} cut; seed ${seed}`)
  } catch (err) {
    failed++
    if (values.json) console.log(JSON.stringify({ scenario, failed: true, error: (err as Error).message, seed }))
    else console.log(`FAIL  ${scenario} (seed ${seed}): ${(err as Error).stack ?? String(err)}`)
  }
}
if (!values.json) console.log(`${scenarios.length - failed} passed, ${failed} failed`)
process.exitCode = failed === 0 ? 0 : 1
