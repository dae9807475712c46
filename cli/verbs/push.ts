import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { progressReporter, formatBytes, cancellable } from '../progress.ts'
import { parseSeedTarget } from '../../node/net/seed.ts'
import { UnavailableError } from '../../src/errors.ts'
import type { PushResponse } from '../../node/seed/ops.ts'

/** `push CID|REF [--to PEER]`: have the seed(s) keep a root (DESIGN §10). */
export function register (program: Command): void {
  program.command('push')
    .description('have the seed keep a root: it fetches only the chunks it lacks, verifies and fsyncs them, and pins the root (reason push)')
    .argument('<cid-or-ref>', 'a root CID, CID/sub/path, or a ref name (its current target)')
    .option('--to <peer>', 'the seed to push to: a peer id or a multiaddr ending in /p2p/<peer id>; again for several (default: config seeds, and connected peers whose role is seed)', (v: string, all: string[] = []) => [...all, v])
    .addHelpText('after', `
The seed answers once every block under the root is durable (fsync) there and the root is pinned. Interrupted
(Ctrl-C, a killed daemon, a lost link), what the seed stored stays: the next push sends only the rest.
A push through a daemon that is itself the seed does nothing, and says so ("noop": true).
--json: {"root","bytes_total","bytes_sent","bytes_already_on_seed","chunks_total","chunks_sent","chunks_already_on_seed",
"manifest_bytes_sent","duration_ms","noop","seeds":[...]} (several seeds: bytes sent and already there are summed).
Exit codes: 3 this node lacks the write role on the seed; 4 no daemon, no seed, the seed unreachable, or the push
failed (the message says how far it got: "seed 12D3… has 812 of 840 chunks of <root>: <reason>").`)
    .action(async (target: string, opts: { to?: string[] }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      // a bad --to is said before a daemon is looked for
      for (const t of opts.to ?? []) parseSeedTarget(t)
      const r = await cancellable('push', 'what the seed stored stays, a push again sends only the rest', progressReporter('pushing', !ctx.json), async (signal, progress) => {
        try {
          return await withClient(ctx, 'daemon', async c => await c.call<PushResponse>('push', { target, to: opts.to }, { signal, onProgress: p => progress.update(p) }))
        } catch (err) {
          if (err instanceof UnavailableError && /^no daemon running/.test(err.message)) throw new UnavailableError(`push needs the daemon: run \`dits-node start\` (${err.message})`)
          throw err
        }
      })
      if (r.noop) {
        ctx.print(r, r.message)
        return
      }
      const secs = r.duration_ms / 1000
      const already = r.bytes_total > 0 ? ` (${(100 * r.bytes_already_on_seed / r.bytes_total / Math.max(1, r.seeds.length)).toFixed(0)}% already there)` : ''
      ctx.print(r, [
        ...r.seeds.map(s => `seed ${s.seed}: ${formatBytes(s.bytes_sent)} sent, ${formatBytes(s.bytes_already_on_seed)} already there, of ${formatBytes(s.bytes_total)} (${s.chunks_total} chunks); durable and pinned`),
        `pushed ${r.root}${r.ref !== undefined ? ` (ref ${r.ref})` : ''}: ${formatBytes(r.bytes_sent)} sent${already} in ${secs.toFixed(1)} s${secs > 0 ? ` (${formatBytes(r.bytes_sent / secs)}/s)` : ''}`
      ])
    })
}
