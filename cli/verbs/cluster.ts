import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { parseMultiaddr } from '../../src/multiaddr.ts'
import type { ClusterStatus } from '../../node/consensus/index.ts'

/** `cluster status|add|remove`: the Raft group of voters (DESIGN §4, §7). */
export function register (program: Command): void {
  const cluster = program.command('cluster').description('the consensus group: its leader, term and voters')

  cluster.command('status')
    .description('leader, term, commit index and each voter\'s state and lag (as the leader sees it)')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const s = await withClient(ctx, 'daemon', async c => await c.call<ClusterStatus>('clusterStatus', {}))
      ctx.print(s, [
        `leader  ${s.leader ?? '(none: election under way or no quorum)'}`,
        `term    ${s.term}`,
        `commit  ${s.commitIndex}`,
        ...s.voters.map(v => `voter   ${v.id}  ${v.state.padEnd(11)}${v.lag === null ? '' : ` lag ${v.lag}`}`)
      ])
    })

  cluster.command('add')
    .argument('<peer>', 'the new voter: a multiaddr ending in /p2p/<peer id> (or a peer id); start it with consensus.voter = true first')
    .description('add one voter to the group')
    .action(async (peer: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      if (peer.trim().startsWith('/')) parseMultiaddr(peer)
      const r = await withClient(ctx, 'daemon', async c => await c.call<{ voters: string[] }>('clusterAdd', { peer }))
      ctx.print(r, [`voters (${r.voters.length}):`, ...r.voters.map(v => `  ${v}`)])
    })

  cluster.command('remove')
    .argument('<peer>', 'the voter to remove: a peer id or a multiaddr ending in /p2p/<peer id>')
    .description('remove one voter from the group')
    .action(async (peer: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      if (peer.trim().startsWith('/')) parseMultiaddr(peer)
      const r = await withClient(ctx, 'daemon', async c => await c.call<{ voters: string[] }>('clusterRemove', { peer }))
      ctx.print(r, [`voters (${r.voters.length}):`, ...r.voters.map(v => `  ${v}`)])
    })
}
