import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { formatBytes } from '../progress.ts'
import { GC_LISTED_MAX } from '../../node/maintenance.ts'
import type { GcResult } from '../../node/maintenance.ts'

export function register (program: Command): void {
  program.command('gc')
    .description('remove blocks not reachable from any pin')
    .option('--dry-run', `only count what would be removed, listing the first ${GC_LISTED_MAX}`, false)
    .action(async (opts: { dryRun: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'write', async c => await c.call<GcResult>('gc', { dryRun: opts.dryRun }))
      const unlisted = r.removedCount - r.removed.length
      ctx.print(r, [
        ...(r.dryRun ? r.removed.map(c => `would remove ${c}`) : []),
        ...(r.dryRun && unlisted > 0 ? [`… and ${unlisted} more (the first ${r.removed.length} are listed)`] : []),
        `${r.dryRun ? 'would remove' : 'removed'} ${r.removedCount} block(s), ${formatBytes(r.bytesRemoved)}; kept ${r.kept}`
      ])
    })
}
