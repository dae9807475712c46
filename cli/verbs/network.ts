import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { formatBytes } from '../progress.ts'
import type { PeerInfo, NetworkStatus } from '../../node/net/index.ts'
import { swarmLine } from './swarm-key.ts'

/** `peers`, `connect`, `status`: verbs that need the running daemon. */
export function register (program: Command): void {
  program.command('peers')
    .description('list connected peers: id, address, transport, roles, LAN or not')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const peers = await withClient(ctx, 'daemon', async c => await c.call<PeerInfo[]>('peers', {}))
      ctx.print(peers, peers.length === 0
        ? ['no peers connected']
        : peers.map(p => `${p.id}  ${(p.roles.join('+') || '?').padEnd(10)} ${p.lan ? 'lan' : 'wan'}  ${p.transport.padEnd(13)} ${p.direction.padEnd(8)} ${p.addrs[0] ?? ''}`))
    })

  program.command('connect')
    .description('dial a peer and complete the hello handshake')
    .argument('<multiaddr>', 'e.g. /ip4/192.168.1.20/tcp/4101/p2p/12D3KooW…')
    .action(async (multiaddr: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const p = await withClient(ctx, 'daemon', async c => await c.call<PeerInfo>('connect', { multiaddr }))
      ctx.print(p, `connected to ${p.id} (${p.roles.join('+') || 'roles unknown'}, ${p.transport}, ${p.lan ? 'LAN' : 'WAN'})`)
    })

  program.command('status')
    .description('listen addresses, peers, DHT, blocks stored, transfers in flight')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const s = await withClient(ctx, 'daemon', async c => await c.call<NetworkStatus & { repo: { blocks: number, bytes: number, pins: number, counting: boolean } }>('status', {}))
      ctx.print(s, [
        `peer id    ${s.peerId} (${s.roles.join('+')})`,
        `network    ${swarmLine(s.swarm)}`,
        ...s.addresses.map(a => `listening  ${a}`),
        `peers      ${s.peers}`,
        `dht        ${s.dht.mode}, routing table ${s.dht.routingTableSize}`,
        `stored     ${s.repo.blocks} blocks, ${formatBytes(s.repo.bytes)}, ${s.repo.pins} pin(s)${s.repo.counting ? ' (so far: recounting after an unclean stop)' : ''}`,
        `transfers  ${s.transfers.downloads} down, ${s.transfers.uploads} up`
      ])
    })
}
