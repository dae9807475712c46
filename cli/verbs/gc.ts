import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { formatBytes, progressReporter } from '../progress.ts'
import { GC_LISTED_MAX } from '../../node/maintenance.ts'
import type { GcResult } from '../../node/maintenance.ts'

export function register (program: Command): void {
  program.command('gc')
    .description('remove blocks not reachable from any pin, while adds, gets and serving go on')
    .option('--dry-run', `only count what would be removed, listing the first ${GC_LISTED_MAX}`, false)
    .addHelpText('after', `
gc keeps every block under a pin, and every block an add, get, fetch or import still in flight has written or
used (no pin names those yet): nothing waits for gc, and gc waits for nothing. A gc stopped half way (Ctrl-C,
a killed daemon) is resumed by the next one from where its sweep got. On a workstation of a consensus group, gc
also keeps the target of every ref that no seed holds whole and pinned yet (each seed is asked): this copy may be
the studio's last. It lists them, with what each seed said. On a seed, gc keeps the speculative chunks that
workstations uploaded ahead of a push until they expire (speculative.ttl), and reclaims them after; a chunk a pin
reaches is the pin's from then on (README "Speculative chunks"). A dry run lists the speculative chunks it keeps.`)
    .action(async (opts: { dryRun: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const progress = progressReporter('gc', !ctx.json)
      const r = await withClient(ctx, 'write', async c => await c.call<GcResult>('gc', { dryRun: opts.dryRun }, { onProgress: p => progress.update(p) }))
      progress.done()
      const unlisted = r.removedCount - r.removed.length
      ctx.print(r, [
        ...(r.dryRun ? r.removed.map(c => `would remove ${c}`) : []),
        ...(r.dryRun && unlisted > 0 ? [`… and ${unlisted} more (the first ${r.removed.length} are listed)`] : []),
        ...r.keptForSeed.map(k => `kept ${k.root} (ref ${k.ref}), no seed holds it yet: ${k.why}`),
        ...(r.dryRun ? r.speculative.map(k => `would keep ${k.cid}: speculative until ${k.expires}`) : []),
        ...(r.keptSpeculative > 0 ? [`kept ${r.keptSpeculative} speculative chunk(s) under no pin until they expire${r.dryRun && r.keptSpeculative > r.speculative.length ? ` (the first ${r.speculative.length} are listed)` : ''}`] : []),
        `${r.dryRun ? 'would remove' : 'removed'} ${r.removedCount} block(s), ${formatBytes(r.bytesRemoved)}; kept ${r.kept} under pins${r.keptInFlight > 0 ? ` and ${r.keptInFlight} in use by work in flight` : ''}${r.resumed ? ' (went on from a stopped gc)' : ''} in ${(r.durationMs / 1000).toFixed(1)} s`
      ])
    })
}
