import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { parseCount, parseDuration } from '../parse.ts'
import { progressReporter } from '../progress.ts'
import { DitsError } from '../../src/errors.ts'
import type { SeedHolding } from '../../node/seed/index.ts'
import { parseCid } from '../../src/cid.ts'
import { normalizePath } from '../../src/paths.ts'
import type { RefRecord, RefLogReply } from '../../src/state/index.ts'

/** `ref get|set|rm|ls|log`: named pointers to manifests, replicated by the voters (DESIGN §7). */
export function register (program: Command): void {
  const ref = program.command('ref').description('named pointers to manifest CIDs, set by compare-and-swap through the voters')

  ref.command('get')
    .argument('<name>', 'ref name, e.g. projects/reel3/cut')
    .description('print the CID a ref points at (a linearizable read)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      normalizePath(name)
      const r = await withClient(ctx, 'daemon', async c => await c.call<RefRecord>('refGet', { name }))
      ctx.print(r, r.cid)
    })

  ref.command('set')
    .argument('<name>', 'ref name')
    .argument('<cid>', 'manifest root CID')
    .option('--expect <cid>', 'only if the ref points at this CID now')
    .option('--expect-none', 'only if the ref does not exist yet')
    .option('--token <token>', 'fencing token of a lock you hold covering the ref')
    .option('--request-id <id>', 'a retry with the same id (through this node) is the same request: applied once, answered with the first result')
    .option('--require-seed', 'push the CID to the seed(s) first and set the ref only once they hold every block of it durably (default: config consensus.requireSeed, else on when config seeds names a seed)')
    .option('--no-require-seed', 'set the ref without pushing to the seed first')
    .option('--wait <duration>', 'with --require-seed: how long the seed(s) may take (default 10m, at most 24h)')
    .description('point a ref at a CID; with --expect/--expect-none a compare-and-swap (exit 3 on mismatch)')
    .addHelpText('after', `
With --require-seed (or consensus.requireSeed), the daemon first pushes the CID to the seed(s) — they fetch only
what they lack, verify and fsync it, and pin it — and proposes the ref only once every seed has all of it. If a
seed cannot get there within --wait, nothing is committed: exit 4, "seed 12D3… has 812 of 840 chunks of <cid>:
<why>; the ref was not set". --json then adds "seeds": [{"seed","chunks_total","bytes_total","bytes_sent","duration_ms"}].`)
    .action(async (name: string, cid: string, opts: { expect?: string, expectNone?: boolean, token?: string, requestId?: string, requireSeed?: boolean, wait?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      // what is wrong with the arguments is said before a daemon is looked for
      normalizePath(name)
      parseCid(cid)
      if (opts.expect !== undefined) parseCid(opts.expect)
      const token = opts.token === undefined ? undefined : parseCount('--token', opts.token)
      const waitMs = opts.wait === undefined ? undefined : parseDuration('--wait', opts.wait)
      const progress = progressReporter('pushing to the seed', !ctx.json)
      const cancel = new AbortController()
      const interrupted = (signal: string): void => {
        progress.done()
        cancel.abort(new DitsError(`ref set interrupted (${signal}) while the seed fetched the target: the ref was not set`))
      }
      process.once('SIGINT', interrupted)
      process.once('SIGTERM', interrupted)
      let r: { name: string, cid: string, old: string | null, index: number, seeds?: SeedHolding[] }
      try {
        r = await withClient(ctx, 'daemon', async c => await c.call<typeof r>('refSet', {
          name, cid, expect: opts.expect, expectNone: opts.expectNone === true ? true : undefined, token, requestId: opts.requestId, requireSeed: opts.requireSeed, waitMs
        }, { signal: cancel.signal, onProgress: p => { progress.update(p) } }))
      } finally {
        process.off('SIGINT', interrupted)
        process.off('SIGTERM', interrupted)
        progress.done()
      }
      // the voters store a name in its normal form (src/paths.ts): say so when that is not the name as typed
      const normalized = r.name !== name
      if (normalized && !ctx.json) process.stderr.write(`dits-node: note: the ref name ${JSON.stringify(name)} was normalized to ${JSON.stringify(r.name)}\n`)
      ctx.print({ ...r, requested: name, normalized }, [
        ...(r.seeds ?? []).map(s => `seed ${s.seed} holds all ${s.chunks_total} chunks of ${r.cid}, durable and pinned`),
        `${r.name} -> ${r.cid} (was ${r.old ?? 'none'}, version ${r.index})`
      ])
    })

  ref.command('rm')
    .argument('<name>', 'ref name')
    .requiredOption('--expect <cid>', 'the CID the ref must point at now')
    .option('--token <token>', 'fencing token of a lock you hold covering the ref')
    .option('--request-id <id>', 'a retry with the same id (through this node) is the same request: applied once, answered with the first result')
    .description('delete a ref by compare-and-swap (exit 3 on mismatch)')
    .action(async (name: string, opts: { expect: string, token?: string, requestId?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      normalizePath(name)
      parseCid(opts.expect)
      const token = opts.token === undefined ? undefined : parseCount('--token', opts.token)
      const r = await withClient(ctx, 'daemon', async c => await c.call<{ name: string, old: string, index: number }>('refRm', { name, expect: opts.expect, token, requestId: opts.requestId }))
      ctx.print(r, `removed ${r.name} (was ${r.old})`)
    })

  ref.command('ls')
    .argument('[prefix]', 'only refs whose name starts with this')
    .description('list refs')
    .action(async (prefix: string | undefined, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const refs = await withClient(ctx, 'daemon', async c => await c.call<RefRecord[]>('refLs', { prefix }))
      ctx.print(refs, refs.map(r => `${r.name}  ${r.cid}`))
    })

  ref.command('log')
    .argument('<name>', 'ref name')
    .description('the changes of a ref: old, new, who (the writing node\'s peer id, and its user as that node said: unverified), when, fencing token')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      normalizePath(name)
      const log = await withClient(ctx, 'daemon', async c => await c.call<RefLogReply>('refLog', { name }))
      ctx.print(log, [
        ...log.entries.map(e => `${new Date(e.when).toISOString()}  ${e.who}${e.user === undefined ? '' : ` (user ${e.user}, unverified)`}  ${e.old ?? 'none'} -> ${e.new ?? 'deleted'}${e.token === null ? '' : `  token ${e.token}`}`),
        ...(log.dropped > 0 ? [`(${log.dropped} older entries dropped)`] : [])
      ])
    })
}
