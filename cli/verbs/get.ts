import type { Command } from 'commander'
import { resolve } from 'node:path'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { progressReporter, formatBytes } from '../progress.ts'
import { parseRate } from '../parse.ts'
import type { GetResponse } from '../../node/ops.ts'

export function register (program: Command): void {
  program.command('get')
    .description('write a file or directory tree out of the repo (fetching what is missing when the daemon runs)')
    .argument('<cid>', 'root CID')
    .requiredOption('-o, --output <path>', 'where to write it')
    .option('--force', 'replace the output path if it exists', false)
    .option('--max-rate <rate>', 'limit the download rate, e.g. 50MB/s')
    .action(async (cid: string, opts: { output: string, force: boolean, maxRate?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const maxRateBytesPerSec = opts.maxRate === undefined ? undefined : parseRate('--max-rate', opts.maxRate)
      const progress = progressReporter('getting', !ctx.json)
      const r = await withClient(ctx, 'read', async c => await c.call<GetResponse>('get', { cid, out: resolve(opts.output), force: opts.force, maxRateBytesPerSec }, { onProgress: p => progress.update(p) }))
      progress.done()
      const sources = Object.entries(r.sources).map(([peer, bytes]) => `${peer.slice(-8)} ${formatBytes(bytes)}`).join(', ')
      const secs = r.duration_ms / 1000
      const took = ` in ${secs.toFixed(1)} s${secs > 0 ? ` (${formatBytes(r.bytes_total / secs)}/s)` : ''}`
      ctx.print(r, `wrote ${r.out} (${formatBytes(r.bytes_total)}: ${formatBytes(r.bytes_local)} local, ${formatBytes(r.bytes_fetched)} fetched${sources === '' ? '' : ` from ${sources}`}${r.bytes_dedup > 0 ? `, ${formatBytes(r.bytes_dedup)} repeated within it` : ''})${took}`)
    })
}
