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
    .option('--reason <reason>', 'the reason to withdraw: user, ref (a seed keeping a ref target) or push (a root pushed to this seed)', 'user')
    .option('--all', 'withdraw every reason')
    .description('withdraw a reason a root is pinned for; with none left, its blocks go at the next gc unless another pin reaches them')
    .action(async (cid: string, o: { reason: string, all?: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const args = o.all === true ? { cid, all: true } : { cid, reason: o.reason }
      const r = await withClient(ctx, 'write', async c => await c.call<{ unpinned: string, removed: string[], remaining: string[] }>('pinRm', args))
      ctx.print(r, r.remaining.length === 0 ? `unpinned ${r.unpinned}` : `withdrew ${r.removed.join(', ')} from ${r.unpinned}: still pinned for ${r.remaining.join(', ')}`)
    })
  pin.command('ls')
    .description('list pinned roots and why each is pinned (user, ref, push)')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'read', async c => await c.call<Array<{ cid: string, reasons: Record<string, string> }>>('pinLs', {}))
      ctx.print(r, r.length === 0 ? 'no pins' : r.map(p => `${p.cid}  ${Object.keys(p.reasons).join(',')}`))
    })
}
