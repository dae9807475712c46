import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { progressReporter, formatBytes } from '../progress.ts'
import { VERIFY_LISTED_MAX } from '../../node/maintenance.ts'
import type { VerifyResult } from '../../node/maintenance.ts'
import { DitsError } from '../../src/errors.ts'

export function register (program: Command): void {
  program.command('verify')
    .description('scrub: re-hash every block (under CID, or the whole repo and then every pin); corrupt blocks are quarantined and listed, blocks a pin needs and the repo lacks listed as missing; exit 1 if any')
    .argument('[cid]', 'only the blocks reachable from this root')
    .option('--repair', 'fetch corrupt or missing blocks again from peers (needs the daemon)', false)
    .action(async (cid: string | undefined, opts: { repair: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const progress = progressReporter('verifying', !ctx.json)
      const r = await withClient(ctx, 'write', async c => await c.call<VerifyResult & { repaired?: number }>('verify', { cid, repair: opts.repair }, { onProgress: p => progress.update(p) }))
      progress.done()
      const ok = r.bad_count === 0 && r.missing_count === 0
      const where = new Map((r.missing_under_pins ?? []).map(m => [m.cid, m]))
      const place = (cid: string): string => {
        const m = where.get(cid)
        return m === undefined ? '' : ` (needed by pin ${m.pin}${m.path === '' ? '' : `, at ${m.path}`})`
      }
      ctx.print({ ok, ...r }, [
        ...r.bad.map(b => `bad      ${b.cid}: ${b.error}`),
        ...r.missing.map(m => `missing  ${m}${place(m)}`),
        ...(r.repaired !== undefined ? [`repaired ${r.repaired} block(s) from peers`] : []),
        ...(r.bad_count > r.bad.length || r.missing_count > r.missing.length ? [`(the first ${VERIFY_LISTED_MAX} of each listed)`] : []),
        `${r.checked} block(s), ${formatBytes(r.bytes)} checked: ${r.bad_count} bad, ${r.missing_count} missing`
      ])
      if (!ok) throw new DitsError('verify found problems', { cause: 'reported' })
    })
}
