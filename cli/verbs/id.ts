import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import type { IdResponse } from '../../node/ops.ts'
import { swarmLine } from './swarm-key.ts'

export function register (program: Command): void {
  program.command('id')
    .description('print this node\'s peer id, addresses and roles (without a daemon: the configured listen addresses)')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const id = await withClient(ctx, 'read', async c => await c.call<IdResponse>('id', {}))
      ctx.print(id, [
        `peer id   ${id.peerId}`,
        `roles     ${id.roles.join(', ')}`,
        `network   ${swarmLine(id.swarm)}`,
        ...(id.live ? id.addresses.map(a => `address   ${a}`) : id.listen.map(a => `listen    ${a} (configured; the daemon is not running)`))
      ])
    })
}
