import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { parseCount } from '../parse.ts'
import { progressReporter, formatBytes } from '../progress.ts'
import { printableName } from '../../src/paths.ts'
import type { AvailabilityReport } from '../../node/availability.ts'

/** `availability CID|REF`: who holds what of a root (issue 17). A report: exit 0 even when chunks are missing. */
export function register (program: Command): void {
  program.command('availability')
    .description('who holds the chunks of a root: this node, the seeds and every connected peer (chunks, bytes, %), the seed\'s pin of it, and the chunks nobody reachable holds, with their files; exit 0 even when some are missing, 4 when the root cannot be resolved')
    .argument('<target>', 'a root CID, CID/sub/path, or a ref name (resolved through the consensus group)')
    .option('--max-listed <n>', 'missing chunks listed with their paths (the rest are counted)', '1000')
    .action(async (target: string, opts: { maxListed: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const maxListed = parseCount('--max-listed', opts.maxListed)
      const progress = progressReporter('checking', !ctx.json)
      const r = await withClient(ctx, 'daemon', async c => await c.call<AvailabilityReport>('availability', { target, maxListed }, { onProgress: p => progress.update(p) }))
      progress.done()
      ctx.print(r, formatReport(r))
    })
}

export function formatReport (r: AvailabilityReport): string[] {
  const what = `${r.root}${r.path === '' ? '' : `/${printableName(r.path)}`}${r.ref === null ? '' : ` (ref ${printableName(r.ref)})`}`
  const rows = r.holders.map(h => {
    const name = `${h.peer}${h.self ? ' (this node)' : ''}`
    const held = h.state === 'ok' || h.chunks > 0 ? `${h.chunks.toLocaleString('en')}`.padStart(10) + `${h.percent.toFixed(1)}%`.padStart(8) + `  ${formatBytes(h.bytes).padStart(9)}` : ''.padStart(29)
    const pin = h.pin !== undefined
      ? (h.pin.pinned ? `  pinned (${h.pin.reasons.join(', ')})` : `  not pinned (kept until gc${(h.speculative?.chunks ?? 0) > 0 ? `; ${h.speculative?.chunks.toLocaleString('en') ?? 0} speculative, kept until they expire or a push pins them` : ''})`)
      : h.pin_error !== undefined ? `  pin unknown: ${h.pin_error}` : ''
    const state = h.state === 'ok' ? '' : `  ${h.state}: ${h.error ?? ''}`
    return { name, line: `${h.role.padEnd(7)} ${held}${pin}${state}` }
  })
  const width = Math.max(6, ...rows.map(x => x.name.length))
  const lines = [
    `${what}: ${r.chunks.toLocaleString('en')} chunks, ${formatBytes(r.bytes)}`,
    `${'holder'.padEnd(width)}  ${'role'.padEnd(7)} ${'chunks'.padStart(10)}${'%'.padStart(8)}  ${'bytes'.padStart(9)}`,
    ...rows.map(x => `${x.name.padEnd(width)}  ${x.line}`)
  ]
  if (r.missing_chunks === 0) {
    lines.push('every chunk is held by a reachable node')
    return lines
  }
  lines.push(`missing: ${r.missing_chunks.toLocaleString('en')} chunks (${formatBytes(r.missing_bytes)}) held by no reachable node`)
  for (const m of r.missing) lines.push(`  ${m.cid}  ${m.path === '' ? '(the root file)' : printableName(m.path)} @ ${m.offset} (${formatBytes(m.length)})`)
  if (r.missing_chunks > r.missing.length) lines.push(`  … and ${(r.missing_chunks - r.missing.length).toLocaleString('en')} more`)
  return lines
}
