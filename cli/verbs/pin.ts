import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'

export function register (program: Command): void {
  const pin = program.command('pin').description('keep roots (and everything under them) safe from gc')
  pin.command('add')
    .argument('<cid>', 'root CID, or CID/sub/path for an entry inside a directory')
    .description('pin a root; every block under it must be present (the daemon fetches missing ones)')
    .action(async (cid: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'write', async c => await c.call<{ pinned: string }>('pinAdd', { cid }))
      ctx.print(r, `pinned ${r.pinned}`)
    })
  pin.command('rm')
    .argument('<cid>', 'root CID')
    .description('unpin a root (its blocks go at the next gc unless reachable from another pin)')
    .action(async (cid: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'write', async c => await c.call<{ unpinned: string }>('pinRm', { cid }))
      ctx.print(r, `unpinned ${r.unpinned}`)
    })
  pin.command('ls')
    .description('list pinned roots')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'read', async c => await c.call<string[]>('pinLs', {}))
      ctx.print(r, r.length === 0 ? 'no pins' : r)
    })
}
