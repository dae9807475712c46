import type { Command } from 'commander'
import { once } from 'node:events'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { formatBytes } from '../progress.ts'
import { printableName } from '../../src/paths.ts'
import type { LsEntry, StatResult } from '../../node/exporter.ts'

const CID_PATH = 'a CID, or CID/sub/path for an entry inside a directory'

/** `ls` and `stat`: read-only views of manifests. */
export function register (program: Command): void {
  program.command('ls')
    .description('list a directory\'s entries (a file lists itself); -r lists the whole tree as it walks it. Control characters in names are shown escaped (\\n, \\x1b), as `ls -b` does, and --json has the names as they are')
    .argument('<cid>', CID_PATH)
    .option('-r, --recursive', 'every entry below, depth-first, with its path', false)
    .action(async (cid: string, opts: { recursive: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      if (!opts.recursive) {
        const entries = await withClient(ctx, 'read', async c => await c.call<LsEntry[]>('ls', { cid }))
        ctx.print(entries, entries.map(line))
        return
      }
      // streamed: the tree may be far larger than memory; with --json still one document, written as it comes
      let first = true
      await withClient(ctx, 'read', async c => {
        for await (const e of jsonLines<LsEntry>(c.stream('lsTree', { cid }))) {
          const text = ctx.json ? `${first ? '[\n' : ',\n'}  ${JSON.stringify(e)}` : line(e) + '\n'
          first = false
          if (!process.stdout.write(text)) await once(process.stdout, 'drain')
        }
      })
      if (ctx.json) process.stdout.write(first ? '[]\n' : '\n]\n')
    })

  program.command('stat')
    .description('describe a manifest: size, type, and for a file its chunks with offsets')
    .argument('<cid>', CID_PATH)
    .action(async (cid: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const s = await withClient(ctx, 'read', async c => await c.call<StatResult>('stat', { cid }))
      const lines = [`cid     ${s.cid}`, `type    ${s.type}`, `size    ${s.size} (${formatBytes(s.size)})`]
      if (s.type === 'file') lines.push(`blake3  ${s.blake3}`, `chunker ${s.chunker.name} ${s.chunker.min}/${s.chunker.avg}/${s.chunker.max}`, `chunks  ${s.chunk_count}`)
      if (s.type === 'dir') lines.push(`entries ${s.entries}`)
      ctx.print(s, lines)
    })
}

function line (e: LsEntry): string {
  return `${e.cid}  ${e.type === 'dir' ? 'dir ' : 'file'}  ${String(e.size).padStart(14)}  ${printableName(e.name)}${e.type === 'dir' ? '/' : ''}`
}

/** The JSON documents of a stream of lines, one at a time (a line may span the stream's pieces). */
async function * jsonLines<T> (pieces: AsyncIterable<Uint8Array>): AsyncGenerator<T> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const piece of pieces) {
    buffered += decoder.decode(piece, { stream: true })
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      yield JSON.parse(buffered.slice(0, nl)) as T
      buffered = buffered.slice(nl + 1)
    }
  }
  if (buffered.trim() !== '') yield JSON.parse(buffered) as T
}
