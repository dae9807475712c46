/**
 * `npm run gc-race -- [--rounds N] [--seed N] [--json]`: gc racing adds, gets and pin withdrawals on one repo
 * (test/gc-race/race.ts), checking after every round that every pinned root is whole. A failure prints the round,
 * seed, root and block; exit 1.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runGcRace } from './race.ts'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '200' },
    seed: { type: 'string' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (values.help) {
  console.log('usage: npm run gc-race -- [--rounds N] [--seed N] [--json] [-v]')
  process.exit(0)
}
const rounds = Number(values.rounds)
if (!Number.isSafeInteger(rounds) || rounds < 1) {
  console.error(`invalid --rounds "${values.rounds}": expected a whole number >= 1`)
  process.exit(2)
}
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed)
const dir = await mkdtemp(join(tmpdir(), 'dits-gc-race-'))
try {
  const r = await runGcRace({ seed, rounds, dir, log: values.verbose ? line => console.error(line) : undefined })
  console.log(values.json ? JSON.stringify({ ...r, seed }) : `gc-race seed ${seed}: ${r.rounds} rounds, ${r.adds} adds, ${r.gets} gets, ${r.speculates} speculates, ${r.gcs} gcs; ${r.removed} blocks removed, ${r.keptInFlight} kept for work in flight; ${r.pinsChecked} pinned roots checked whole; ${r.reclaimed} expired speculative chunks reclaimed; 0 lost, in ${(r.durationMs / 1000).toFixed(0)} s`)
} catch (err) {
  console.error(`gc-race seed ${seed}: ${(err as Error).message}`)
  process.exitCode = 1
} finally {
  await rm(dir, { recursive: true, force: true })
}
