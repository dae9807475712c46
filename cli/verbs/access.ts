import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import { UsageError } from '../../src/errors.ts'
import { ACCESS_ROLES, describePeer } from '../../src/state/index.ts'
import type { GlobalOptions } from '../context.ts'
import type { AccessListing } from '../../node/consensus/index.ts'
import type { AccessAuditEntry, AccessRole, AccessTable } from '../../src/state/index.ts'

/** `access ls|grant|revoke`: who may read, write, lock and administer (DESIGN §10). */
export function register (program: Command): void {
  const access = program.command('access').description('roles: which peers may read, write, lock and administer (enforced by the voters and by every node serving chunks)')

  access.command('ls')
    .description('the roles in effect, where they come from (config or replicated), and the audit log of changes')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'daemon', async c => await c.call<AccessListing>('accessLs', {}))
      ctx.print(r, [
        `source  ${r.source === 'config' ? 'config (the voters\' config `access`; the first grant or revoke replicates it)' : 'replicated'}`,
        ...ACCESS_ROLES.map(role => `${role.padEnd(6)}  ${holders(r.table, role)}`),
        ...(r.audit.length > 0 ? ['changes:', ...r.audit.map(e => `  ${describeChange(r.table, e)}`)] : []),
        ...(r.dropped > 0 ? [`  (${r.dropped} older changes dropped)`] : [])
      ])
    })

  access.command('grant')
    .argument('<role>', `one of ${ACCESS_ROLES.join(', ')}`)
    .argument('<peer>', 'a peer id (or a multiaddr ending in /p2p/<peer id>)')
    .option('--name <name>', 'a display name for the peer (shown in listings and refusals)')
    .description('give a peer a role (needs the admin role; the first grant of a role turns its default into an allow-list)')
    .action(async (role: string, peer: string, opts: { name?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'daemon', async c => await c.call<{ table: AccessTable, change: AccessAuditEntry }>('accessGrant', { role: checkRole(role), peer, name: opts.name }))
      ctx.print(r, [`granted ${r.change.role} to ${describePeer(r.table, r.change.peer)}`, `${r.change.role} is now held by ${holders(r.table, r.change.role)}`])
    })

  access.command('revoke')
    .argument('<role>', `one of ${ACCESS_ROLES.join(', ')}`)
    .argument('<peer>', 'a peer id (or a multiaddr ending in /p2p/<peer id>)')
    .description('take a role from a peer (needs the admin role)')
    .action(async (role: string, peer: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'daemon', async c => await c.call<{ table: AccessTable, change: AccessAuditEntry }>('accessRevoke', { role: checkRole(role), peer }))
      ctx.print(r, [`revoked ${r.change.role} from ${describePeer(r.table, r.change.peer)}`, `${r.change.role} is now held by ${holders(r.table, r.change.role)}`])
    })
}

function checkRole (role: string): AccessRole {
  if (!(ACCESS_ROLES as readonly string[]).includes(role)) throw new UsageError(`unknown role ${JSON.stringify(role)}: expected one of ${ACCESS_ROLES.join(', ')}`)
  return role as AccessRole
}

function holders (table: AccessTable, role: AccessRole): string {
  const list = table[role]
  if (list === null) return role === 'admin' ? 'the voters (no admin named)' : 'every member of the network (default)'
  if (list.length === 0) return 'nobody'
  return list.map(p => describePeer(table, p)).join(', ')
}

function describeChange (table: AccessTable, e: AccessAuditEntry): string {
  const by = `${describePeer(table, e.by)}${e.user === undefined ? '' : ` (user ${e.user}, unverified)`}`
  return `${new Date(e.when).toISOString()}  ${e.change} ${e.role} ${e.change === 'grant' ? 'to' : 'from'} ${describePeer(table, e.peer)}  by ${by}  (index ${e.index})`
}
