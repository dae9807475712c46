import type { Command } from 'commander'
import { once } from 'node:events'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { parseCount } from '../parse.ts'

export function register (program: Command): void {
  program.command('cat')
    .description('write a file\'s bytes (or a range of them) to stdout; reads only the chunks the range needs')
    .argument('<cid>', 'a file\'s CID, or CID/sub/path for a file inside a directory')
    .option('--offset <n>', 'first byte', '0')
    .option('--length <n>', 'how many bytes (default: to the end)')
    .action(async (cid: string, opts: { offset: string, length?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const offset = parseCount('--offset', opts.offset)
      const length = opts.length === undefined ? undefined : parseCount('--length', opts.length)
      await withClient(ctx, 'read', async c => {
        for await (const piece of c.stream('cat', { cid, offset, length })) {
          if (!process.stdout.write(piece)) await once(process.stdout, 'drain')
        }
      })
    })
}
