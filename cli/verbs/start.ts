import { Option } from 'commander'
import type { Command } from 'commander'
import { setFlagsFromString } from 'node:v8'
import { initRepo, repoExists, NoRepoError } from '../../node/repo.ts'
import { CliContext } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { swarmLine } from './swarm-key.ts'
import { UsageError } from '../../src/errors.ts'
import { LOG_LEVEL_NAMES } from '../../config/index.ts'
import type { LogLevelName } from '../../config/index.ts'

/**
 * Calls after which V8 optimizes a function with TurboFan in the daemon (V8's default: 3,000). A voter runs most
 * of its per-request code once or twice per lock round trip, so by default it reached its steady speed only after
 * ~1,600 round trips, and a voter restarted after a failover paid that again: its user CPU per lock cycle fell
 * from 2.5 to 1.4 ms as the leader over those cycles. A daemon runs for days; compiling its hot code after 300
 * calls costs a little compile time in its first seconds.
 */
export const DAEMON_TURBOFAN_CALLS = 300

/** A stop signal within this long of the first is the same request (see below); a later one stops at once. */
export const REPEATED_STOP_SIGNAL_MS = 1000

/**
 * How long a stop (SIGINT, SIGTERM) may take before the daemon exits anyway (code 1, saying so): the API's requests
 * get DEFAULT_CLOSE_GRACE_MS (5 s) to clean up, then consensus and libp2p stop, which take well under a second when
 * nothing hangs. A service manager waits a little longer than this before it kills (`service install`'s
 * TimeoutStopSec). `DITS_STOP_TIMEOUT_MS` sets another bound.
 */
export const DEFAULT_STOP_TIMEOUT_MS = 30_000

/** The stop bound: `DITS_STOP_TIMEOUT_MS`, else DEFAULT_STOP_TIMEOUT_MS. */
export function stopTimeoutMs (env: NodeJS.ProcessEnv = process.env): number {
  const text = env.DITS_STOP_TIMEOUT_MS
  if (text === undefined || text === '') return DEFAULT_STOP_TIMEOUT_MS
  const ms = Number(text)
  if (!Number.isSafeInteger(ms) || ms < 1) throw new UsageError(`invalid DITS_STOP_TIMEOUT_MS "${text}": expected a whole number of milliseconds >= 1`)
  return ms
}

export function register (program: Command): void {
  program.command('start')
    .description(`run the node: open the repo, serve the local API and the network; Ctrl-C or SIGTERM stops it cleanly (within ${DEFAULT_STOP_TIMEOUT_MS / 1000} s, or DITS_STOP_TIMEOUT_MS). Creates the default repo (~/.dits) on first start; a repo named by --repo or $DITS_REPO must exist (dits-node init)`)
    .addOption(new Option('--log-level <level>', 'the daemon\'s log level in <repo>/logs (default: config log.level, "info")').choices(LOG_LEVEL_NAMES))
    .action(async (opts: { logLevel?: LogLevelName }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const stopBoundMs = stopTimeoutMs()
      if (!(await repoExists(ctx.repoDir))) {
        // Only the default repo is made on first start: a named path that holds none is a typo or a missing
        // mount more often than a wish for a new identity listening on every interface.
        if (ctx.repoNamed) throw new NoRepoError(`no repo at ${ctx.repoDir}: run \`dits-node init\``)
        await initRepo(ctx.repoDir)
        if (!ctx.json) process.stderr.write(`initialized a new repo at ${ctx.repoDir}\n`)
      }
      setFlagsFromString(`--invocation-count-for-turbofan=${DAEMON_TURBOFAN_CALLS}`)
      // Loaded here, not at the top: libp2p takes ~0.7 s to load, which no other verb should pay.
      const { Daemon } = await import('../../node/daemon.ts')
      const daemon = await Daemon.start(ctx.repoDir, { logLevel: opts.logLevel })
      // Listening for the stop signals before saying ready, and never letting go: a signal with no listener kills the
      // process at once, and a service manager or a script may send one as soon as it reads the ready line. A terminal's
      // Ctrl-C reaches both the installed command's launcher and this process, and the launcher passes it on: a stop
      // signal repeated at once is the same request, not a second Ctrl-C to stop at once.
      let stopping: number | undefined
      const stopRequested = new Promise<string>(resolve => {
        for (const s of ['SIGINT', 'SIGTERM'] as const) {
          process.on(s, () => {
            if (stopping === undefined) {
              stopping = performance.now()
              resolve(s)
            } else if (performance.now() - stopping >= REPEATED_STOP_SIGNAL_MS) {
              process.stderr.write(`stopped at once (${s} again): the repo is safe, the next start recovers\n`)
              process.exit(1)
            }
          })
        }
      })
      const info = await daemon.info()
      ctx.print({ ...info, ready: true }, [
        `dits-node ${info.roles.join('+')} ${info.peerId}`,
        `repo ${info.repo}`,
        `api ${info.api}`,
        `network ${swarmLine(info.swarm)}`,
        ...(info.swarm.dropped.length > 0 ? [`not listening on ${info.swarm.dropped.join(', ')}: WebRTC-direct cannot carry the swarm key, so a private node uses TCP only`] : []),
        ...info.addresses.map(a => `listening on ${a}`),
        'ready (Ctrl-C to stop)'
      ])
      const signal = await stopRequested
      if (!ctx.json) process.stderr.write(`stopping (${signal})…\n`)
      // Whatever hangs, the process ends within the bound: a service manager then sees it exit rather than kill it.
      const force = setTimeout(() => {
        process.stderr.write(`did not stop within ${stopBoundMs / 1000} s (DITS_STOP_TIMEOUT_MS): exiting now; the repo is safe, the next start recovers\n`)
        process.exit(1)
      }, stopBoundMs)
      await daemon.stop()
      clearTimeout(force)
      if (!ctx.json) process.stderr.write('stopped\n')
    })
}
