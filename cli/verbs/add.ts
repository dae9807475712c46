import type { Command } from 'commander'
import { resolve } from 'node:path'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { progressReporter, formatBytes } from '../progress.ts'
import { resolveProfile, parseChunkSize } from '../../src/fastcdc/index.ts'
import type { AddResponse } from '../../node/ops.ts'
import { UsageError } from '../../src/errors.ts'

export function register (program: Command): void {
  program.command('add')
    .description('chunk files or directory trees into the repo; prints the root CID last')
    .argument('<paths...>', 'files or directories')
    .option('--profile <name>', 'chunker profile: media (256K/1M/4M) or small (16K/64K/256K)', 'media')
    .option('--chunk-size <min:avg:max>', 'custom chunk sizes, e.g. 64K:256K:1M (overrides --profile)')
    .option('--pin', 'pin the root so gc keeps it (default)', true)
    .option('--no-pin', 'do not pin the root')
    .action(async (paths: string[], opts: { profile: string, chunkSize?: string, pin: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      if (opts.chunkSize !== undefined && cmd.getOptionValueSource('profile') === 'cli') throw new UsageError('pass either --profile or --chunk-size, not both')
      const profile = opts.chunkSize !== undefined ? parseChunkSize(opts.chunkSize) : resolveProfile(opts.profile)
      const progress = progressReporter('adding', !ctx.json)
      const r = await withClient(ctx, 'write', async c => await c.call<AddResponse>('add', { paths: paths.map(p => resolve(p)), profile, pin: opts.pin }, { onProgress: p => progress.update(p) }))
      progress.done()
      ctx.print(r, [
        ...r.added.map(a => `added ${a.cid} ${a.path} (${a.type}, ${formatBytes(a.size)})`),
        `${r.files} file(s), ${r.chunks} chunk(s), ${formatBytes(r.bytes_new)} new, ${formatBytes(r.bytes_dedup)} deduplicated${r.bytes_repaired > 0 ? `, ${formatBytes(r.bytes_repaired)} repaired (held damaged, replaced)` : ''}${r.pinned ? ', pinned' : ''}`,
        r.root
      ])
    })
}
