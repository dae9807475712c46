import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { formatBytes } from '../progress.ts'
import type { GcResult } from '../../node/maintenance.ts'

export function register (program: Command): void {
  program.command('gc')
    .description('remove blocks not reachable from any pin')
    .option('--dry-run', 'only list what would be removed', false)
    .action(async (opts: { dryRun: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'write', async c => await c.call<GcResult>('gc', { dryRun: opts.dryRun }))
      ctx.print(r, [
        ...(r.dryRun ? r.removed.map(c => `would remove ${c}`) : []),
        `${r.dryRun ? 'would remove' : 'removed'} ${r.removed.length} block(s), ${formatBytes(r.bytesRemoved)}; kept ${r.kept}`
      ])
    })
}
