/**
 * `dits-node`'s program: one file per verb under verbs/, and this one error handler — the only place that exits.
 * Exit codes (DESIGN §8): 0 ok, 1 error, 2 usage, 3 conflict, 4 unavailable.
 */
import { createRequire } from 'node:module'
import { Command, CommanderError } from 'commander'
import { printableText } from '../src/paths.ts'
import { register as init } from './verbs/init.ts'
import { register as start } from './verbs/start.ts'
import { register as config } from './verbs/config.ts'
import { register as id } from './verbs/id.ts'
import { register as add } from './verbs/add.ts'
import { register as get } from './verbs/get.ts'
import { register as cat } from './verbs/cat.ts'
import { register as inspect } from './verbs/inspect.ts'
import { register as verify } from './verbs/verify.ts'
import { register as gc } from './verbs/gc.ts'
import { register as pin } from './verbs/pin.ts'
import { register as network } from './verbs/network.ts'
import { register as ref } from './verbs/ref.ts'
import { register as lock } from './verbs/lock.ts'
import { register as cluster } from './verbs/cluster.ts'
import { register as swarmKey } from './verbs/swarm-key.ts'
import { register as access } from './verbs/access.ts'
import { register as car } from './verbs/car.ts'
import { register as service } from './verbs/service.ts'
import { register as completion } from './verbs/completion.ts'
import { register as push } from './verbs/push.ts'
import { register as availability } from './verbs/availability.ts'
import { register as dashboard } from './verbs/dashboard.ts'
import { register as watch } from './verbs/watch.ts'
import { register as speculative } from './verbs/speculative.ts'

export function buildProgram (): Command {
  const program = new Command('dits-node')
    .description('peer-to-peer chunk network node for media studios')
    .option('--repo <dir>', 'the repo (default: $DITS_REPO or ~/.dits)')
    .option('--json', 'machine-readable output: one JSON document')
    .version((createRequire(import.meta.url)('../../package.json') as { version: string }).version)
    .showHelpAfterError('(run with --help for usage)')
    // every verb's --help lists --json and --repo (set before the verbs are made: they copy it)
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', '\nExit codes: 0 ok, 1 error, 2 usage, 3 conflict (CAS mismatch, lock held, a role missing), 4 unavailable (no quorum, no provider, timeout).\nThe repo: --repo DIR, else $DITS_REPO, else ~/.dits. Docs: README.md.')
    .exitOverride()
  for (const reg of [init, start, config, id, add, get, cat, inspect, verify, gc, pin, network, push, availability, watch, speculative, ref, lock, cluster, swarmKey, access, car, service, completion, dashboard]) reg(program)
  program.commands.forEach(function override (c: Command): void {
    c.exitOverride()
    c.commands.forEach(override)
  })
  return program
}

async function main (): Promise<void> {
  // A reader that went away (`dits-node cat X | head`) is not a fault to report, and nothing more can be said: stop
  // at once and quietly, as a process stopped by SIGPIPE does (the repo is safe from a stop at any point), with exit
  // code 1 since not all of the output was read.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(1)
  })
  let code = 0
  try {
    await buildProgram().parseAsync(process.argv)
  } catch (err) {
    code = handleError(err)
  }
  // Exit explicitly: a verb is done when its action returns, whatever handles libraries leave open. But not before
  // what it wrote has left: a write to a pipe the reader has not emptied yet is still queued, and exit drops it.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)])
  process.exit(code)
}

/** Resolves once every write made so far to `stream` has been handed to the OS (or the stream has failed). */
async function flushed (stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return
  await new Promise<void>(resolve => { stream.write('', () => resolve()) })
}

function handleError (err: unknown): number {
  if (err instanceof CommanderError) {
    // help and version are not errors; commander has already printed the usage problem.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0
    return 2
  }
  const e = err as Error & { exitCode?: number, cause?: unknown }
  const json = process.argv.includes('--json')
  // A verb that already printed its own report (verify) only needs the exit code.
  if (e.cause !== 'reported') {
    if (json) process.stderr.write(JSON.stringify({ error: { name: e.name, message: e.message, exitCode: e.exitCode ?? 1 } }) + '\n')
    // a message can quote a name from a manifest: no control character or escape sequence reaches the terminal
    else process.stderr.write(`dits-node: ${printableText(e.message ?? String(err))}\n`)
    if (process.env.DITS_DEBUG != null && e.stack != null) process.stderr.write(e.stack + '\n')
  }
  return e.exitCode ?? 1
}

await main()
