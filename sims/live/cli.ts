/**
 * `npm run sim:live -- [--nodes N] [--json] [--out DIR] [--seed S] [--keep]`: the live runner (runner.ts) on
 * this machine. Needs root and iproute2 (network namespaces). Prints a line per check, the report's path, and
 * with --json a last line `{"ok", "checks", ...}`. Exit 0 when every check passed, 1 otherwise, 2 on a usage
 * error (DESIGN §8).
 */

import { parseArgs } from 'node:util'
import { DitsError } from '../../src/errors.ts'
import { SimUsageError } from '../errors.ts'
import { runLive } from './runner.ts'

const HELP = 'usage: npm run sim:live -- [--nodes N (>= 5, default 5)] [--json] [--out DIR (default .)] [--seed S] [--keep]'

async function main (argv: string[]): Promise<number> {
  let values
  try {
    values = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string' },
        json: { type: 'boolean' },
        out: { type: 'string' },
        seed: { type: 'string' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      },
      strict: true
    }).values
  } catch (err) {
    throw new SimUsageError(`${(err as Error).message}\n${HELP}`)
  }
  if (values.help === true) {
    console.log(HELP)
    return 0
  }
  const nodes = Number(values.nodes ?? 5)
  const seed = Number(values.seed ?? 1)
  if (!Number.isSafeInteger(nodes) || nodes < 5) {
    throw new SimUsageError(`--nodes ${String(values.nodes)}: expected an integer of at least 5 (3 voters, a peer, a seed)`)
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new SimUsageError(`--seed ${String(values.seed)}: expected a non-negative integer`)
  }
  const json = values.json === true
  const summary = await runLive({
    nodes,
    seed,
    outDir: values.out ?? '.',
    keep: values.keep === true,
    log: line => { (json ? process.stderr : process.stdout).write(`${line}\n`) }
  })
  const out = json ? process.stderr : process.stdout
  out.write(`${summary.ok ? 'live run passed' : 'live run FAILED'}: ${summary.checks.filter(c => c.ok).length}/${summary.checks.length} checks in ${(summary.durationMs / 1000).toFixed(1)} s; report ${summary.report}, summary ${summary.summary}\n`)
  if (json) {
    console.log(JSON.stringify(summary))
  }
  return summary.ok ? 0 : 1
}

main(process.argv.slice(2)).then(code => {
  process.exitCode = code
}, (err: unknown) => {
  // the one error handler: usage errors exit 2, anything else 1 (DESIGN §8)
  const e = err as Error
  console.error(`sim:live: ${e.name}: ${e.message}`)
  process.exitCode = err instanceof DitsError ? err.exitCode : 1
})
