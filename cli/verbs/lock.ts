import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { parseDuration } from '../parse.ts'
import { normalizePath } from '../../src/paths.ts'
import type { LockInfo } from '../../node/consensus/index.ts'
import type { LockLsReply } from '../../src/state/index.ts'

/** `lock acquire|release|renew|ls|break`: leased, fenced, hierarchical locks (DESIGN §7). */
export function register (program: Command): void {
  const lock = program.command('lock').description('leased, fenced file locks held by this node and replicated by the voters')

  lock.command('acquire')
    .argument('<path>', 'repo path; a trailing / locks a whole directory')
    .option('--shared', 'a shared (read) lock instead of an exclusive one')
    .option('--ttl <duration>', 'lease, renewed by this node until released (e.g. 30s)', '30s')
    .option('--wait <duration>', 'wait (FIFO) up to this long for the lock instead of failing at once (e.g. 2m)')
    .option('--request-id <id>', 'a retry with the same id (through this node) is the same request: applied once, answered with the first result')
    .description('take a lock; prints its fencing token (exit 3 if held by someone else)')
    .action(async (path: string, opts: { shared?: boolean, ttl: string, wait?: string, requestId?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      normalizePath(path, { allowDirectory: true })
      const ttlMs = parseDuration('--ttl', opts.ttl)
      const waitMs = opts.wait === undefined ? undefined : parseDuration('--wait', opts.wait)
      const r = await withClient(ctx, 'daemon', async c => await c.call<LockInfo>('lockAcquire', { path, shared: opts.shared === true, ttlMs, waitMs, requestId: opts.requestId }))
      ctx.print(r, `locked ${r.path} (${r.mode}) token ${r.token}, lease until ${new Date(r.expires).toISOString()}`)
    })

  lock.command('release')
    .argument('<path>', 'the path as locked')
    .option('--request-id <id>', 'a retry with the same id (through this node) is the same request: applied once, answered with the first result')
    .description('release this node\'s lock on a path (or cancel its wait)')
    .action(async (path: string, opts: { requestId?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      normalizePath(path, { allowDirectory: true })
      const r = await withClient(ctx, 'daemon', async c => await c.call<{ released: LockInfo | null, cancelled: boolean }>('lockRelease', { path, requestId: opts.requestId }))
      ctx.print(r, r.released !== null ? `released ${r.released.path} (token ${r.released.token})` : `cancelled the wait for ${path}`)
    })

  lock.command('renew')
    .argument('<path>', 'the path as locked')
    .option('--ttl <duration>', 'new lease length (default: the current one)')
    .option('--request-id <id>', 'a retry with the same id (through this node) is the same request: applied once, answered with the first result')
    .description('extend this node\'s lease now (the node also renews in the background)')
    .action(async (path: string, opts: { ttl?: string, requestId?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      normalizePath(path, { allowDirectory: true })
      const ttlMs = opts.ttl === undefined ? undefined : parseDuration('--ttl', opts.ttl)
      const r = await withClient(ctx, 'daemon', async c => await c.call<LockInfo>('lockRenew', { path, ttlMs, requestId: opts.requestId }))
      ctx.print(r, `renewed ${r.path} (token ${r.token}) until ${new Date(r.expires).toISOString()}`)
    })

  lock.command('ls')
    .argument('[prefix]', 'only paths starting with this')
    .description('list locks and waiting requests: the holder node\'s peer id, and its user as that node said (unverified)')
    .action(async (prefix: string | undefined, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'daemon', async c => await c.call<LockLsReply>('lockLs', { prefix }))
      ctx.print(r, [
        ...r.locks.map(g => `${g.path}  ${g.mode.padEnd(9)} ${g.owner}${unverified(g.user)}  token ${g.token}  until ${new Date(g.expires).toISOString()}`),
        ...r.waiters.map(w => `${w.path}  ${w.mode.padEnd(9)} ${w.owner}${unverified(w.user)}  waiting until ${new Date(w.deadline).toISOString()}`)
      ])
    })

  lock.command('break')
    .argument('<path>', 'the path as locked')
    .requiredOption('--reason <text>', 'why: recorded in the audit log')
    .option('--request-id <id>', 'a retry with the same id (through this node) is the same request: applied once, answered with the first result')
    .description('remove every lock on exactly this path, whoever holds it (audited)')
    .action(async (path: string, opts: { reason: string, requestId?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      normalizePath(path, { allowDirectory: true })
      const r = await withClient(ctx, 'daemon', async c => await c.call<{ broken: LockInfo[] }>('lockBreak', { path, reason: opts.reason, requestId: opts.requestId }))
      ctx.print(r, r.broken.length === 0 ? `no lock on ${path}` : r.broken.map(g => `broke ${g.owner}'s ${g.mode} lock on ${g.path} (token ${g.token})`))
    })
}

/** A user label as a node said it: shown, and marked as what it is. */
function unverified (user: string | undefined): string {
  return user === undefined ? '' : ` (user ${user}, unverified)`
}
