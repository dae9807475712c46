import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { formatBytes } from '../progress.ts'
import { parseMultiaddr } from '../../src/multiaddr.ts'
import type { PeerInfo, NetworkStatus } from '../../node/net/index.ts'
import { swarmLine } from './swarm-key.ts'
import type { OfflineStatus } from '../../node/ops.ts'
import type { UsageReport } from '../../node/block-usage.ts'
import type { SeedStatus } from '../../node/seed/index.ts'

/** `peers`, `connect`: verbs that need the running daemon; `status`, which says what it can without one. */
export function register (program: Command): void {
  program.command('peers')
    .description('list connected peers: id, address, transport, roles, LAN or not')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const peers = await withClient(ctx, 'daemon', async c => await c.call<PeerInfo[]>('peers', {}))
      const width = Math.max(7, ...peers.map(p => p.id.length))
      ctx.print(peers, peers.length === 0
        ? ['no peers connected']
        : [
            `${'peer id'.padEnd(width)}  ${'roles'.padEnd(10)} net  ${'transport'.padEnd(13)} ${'dir'.padEnd(8)} address`,
            ...peers.map(p => `${p.id.padEnd(width)}  ${(p.roles.join('+') || '?').padEnd(10)} ${p.lan ? 'lan' : 'wan'}  ${p.transport.padEnd(13)} ${p.direction.padEnd(8)} ${p.addrs[0] ?? ''}`)
          ])
    })

  program.command('connect')
    .description('dial a peer and complete the hello handshake')
    .argument('<multiaddr>', 'e.g. /ip4/192.168.1.20/tcp/4101/p2p/12D3KooW…')
    .action(async (multiaddr: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      parseMultiaddr(multiaddr)
      const p = await withClient(ctx, 'daemon', async c => await c.call<PeerInfo>('connect', { multiaddr }))
      ctx.print(p, `connected to ${p.id} (${p.roles.join('+') || 'roles unknown'}, ${p.transport}, ${p.lan ? 'LAN' : 'WAN'})`)
    })

  program.command('status')
    .description('listen addresses, peers, DHT, blocks stored, transfers in flight; without a daemon, what the repo knows')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const s = await withClient(ctx, 'read', async c => await c.call<LiveStatus | OfflineStatus>('status', {}))
      const stored = `stored     ${s.repo.blocks} blocks, ${formatBytes(s.repo.bytes)}, ${s.repo.pins} pin(s)${s.repo.counting ? ' (so far: recounting after an unclean stop)' : ''}`
      if (!s.live) {
        ctx.print(s, [
          `peer id    ${s.peerId} (${s.roles.join('+')})`,
          `repo       ${s.repo.dir}`,
          stored,
          ...s.config.listen.map(a => `listen     ${a} (configured)`),
          `bootstrap  ${s.config.bootstrap.length === 0 ? '(none)' : s.config.bootstrap.join(', ')}`,
          `mdns       ${s.config.mdns ? 'on' : 'off'}`,
          `network    ${s.network}`
        ])
        return
      }
      ctx.print(s, [
        `peer id    ${s.peerId} (${s.roles.join('+')})`,
        `network    ${swarmLine(s.swarm)}`,
        ...s.addresses.map(a => `listening  ${a}`),
        `peers      ${s.peers}`,
        `dht        ${s.dht.mode}, routing table ${s.dht.routingTableSize}`,
        stored,
        `transfers  ${s.transfers.downloads} down, ${s.transfers.uploads} up`,
        ...(s.seed !== undefined ? seedLines(s.seed) : [])
      ])
    })
}

type LiveStatus = NetworkStatus & { live: true, repo: UsageReport & { pins: number }, seed?: SeedStatus }

/** A seed's ref follower: what it keeps, what it still fetches, what went wrong last. */
function seedLines (s: SeedStatus): string[] {
  const head = s.following
    ? `seed       following ${s.refs} ref(s): ${s.targets_kept} of ${s.targets_wanted} target(s) kept (newest ${s.keep_versions} of each ref)`
    : 'seed       not following yet: the refs could not be read'
  return [
    head,
    ...s.pending.map(p => `  pending  ${p.root} (${p.refs.join(', ')}) ${p.state === 'fetching' ? `fetching ${formatBytes(p.bytes)} of ${p.bytes_total > 0 ? formatBytes(p.bytes_total) : '?'}` : `waiting, retry in ${Math.ceil((p.retry_in_ms ?? 0) / 1000)} s`}${p.attempts > 0 ? `, ${p.attempts} failed tr${p.attempts === 1 ? 'y' : 'ies'}` : ''}`),
    ...(s.pending_count > s.pending.length ? [`  … and ${s.pending_count - s.pending.length} more pending`] : []),
    ...(s.last_error !== null ? [`  last error ${s.last_error.at}: ${s.last_error.message}`] : [])
  ]
}
