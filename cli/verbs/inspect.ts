import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { formatBytes } from '../progress.ts'
import { printableName } from '../../src/paths.ts'
import type { LsEntry, StatResult } from '../../node/exporter.ts'

/** `ls` and `stat`: read-only views of manifests. */
export function register (program: Command): void {
  program.command('ls')
    .description('list a directory\'s entries (a file lists itself); control characters in names are shown escaped (\\n, \\x1b), as `ls -b` does, and --json has the names as they are')
    .argument('<cid>', 'root CID')
    .action(async (cid: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const entries = await withClient(ctx, 'read', async c => await c.call<LsEntry[]>('ls', { cid }))
      ctx.print(entries, entries.map(e => `${e.cid}  ${e.type === 'dir' ? 'dir ' : 'file'}  ${String(e.size).padStart(14)}  ${printableName(e.name)}${e.type === 'dir' ? '/' : ''}`))
    })

  program.command('stat')
    .description('describe a manifest: size, type, and for a file its chunks with offsets')
    .argument('<cid>', 'CID')
    .action(async (cid: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const s = await withClient(ctx, 'read', async c => await c.call<StatResult>('stat', { cid }))
      const lines = [`cid     ${s.cid}`, `type    ${s.type}`, `size    ${s.size} (${formatBytes(s.size)})`]
      if (s.type === 'file') lines.push(`blake3  ${s.blake3}`, `chunker ${s.chunker.name} ${s.chunker.min}/${s.chunker.avg}/${s.chunker.max}`, `chunks  ${s.chunk_count}`)
      if (s.type === 'dir') lines.push(`entries ${s.entries}`)
      ctx.print(s, lines)
    })
}
