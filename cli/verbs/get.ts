import type { Command } from 'commander'
import { resolve } from 'node:path'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { progressReporter, formatBytes, cancellable } from '../progress.ts'
import { parseRate } from '../parse.ts'
import { UsageError } from '../../src/errors.ts'
import { DEFAULT_MAX_OUTPUT_ENTRIES } from '../../node/output.ts'
import type { GetResponse } from '../../node/ops.ts'
import { parseCidPath } from '../../src/manifest/path.ts'

export function register (program: Command): void {
  program.command('get')
    .description('write a file or directory tree out of the repo (fetching what is missing when the daemon runs)')
    .argument('<cid>', 'root CID, or CID/sub/path for an entry inside a directory')
    .option('-o, --output <path>', 'where to write it (default: ./NAME, NAME being the path\'s last part, or the CID)')
    .option('--force', 'replace the output path if it exists', false)
    .option('--max-rate <rate>', 'limit the download rate, e.g. 50MB/s')
    .option('--max-entries <n>', `refuse a tree that lays out more files and directories than this (every copy of a repeated subtree counts) (default: ${DEFAULT_MAX_OUTPUT_ENTRIES})`)
    .addHelpText('after', '\nBefore writing, get counts the tree and refuses it (exit 1) when it has more entries than --max-entries or needs more\nspace than the output\'s file system has free. Ctrl-C (or SIGTERM) stops the get, in the daemon too, and removes the partial output.')
    .option('--pin', 'pin it (reason user), so that gc keeps it', false)
    .addHelpText('after', `
What is kept: a get stores what it fetches in the repo, and writes the output. Without --pin those blocks are not
pinned: the next \`dits-node gc\` may remove them (the output is yours and stays). With --pin the root is pinned
like \`dits-node pin add\`, and gc keeps every block under it until \`dits-node pin rm\`.`)
    .option('--no-metadata', 'do not restore modes and modification times from the manifests (files get the umask\'s mode and the time of the get)')
    .action(async (cid: string, opts: { output?: string, force: boolean, maxRate?: string, maxEntries?: string, pin: boolean, metadata: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const { root, path } = parseCidPath(cid)
      // as \`ipfs get\` does: the entry's own name, or the CID for a root (a root has no name of its own)
      const output = opts.output ?? (path === '' ? root.toString() : path.slice(path.lastIndexOf('/') + 1))
      const maxRateBytesPerSec = opts.maxRate === undefined ? undefined : parseRate('--max-rate', opts.maxRate)
      const maxEntries = opts.maxEntries === undefined ? undefined : Number(opts.maxEntries)
      if (maxEntries !== undefined && !(Number.isSafeInteger(maxEntries) && maxEntries >= 1)) throw new UsageError(`--max-entries takes a whole number >= 1, got ${JSON.stringify(opts.maxEntries)}`)
      const out = resolve(output)
      // Ctrl-C cancels the get where it runs (a closed request stops the daemon's), which removes the partial output
      const r = await cancellable('get', `the partial output beside ${out} is removed`, progressReporter('getting', !ctx.json), async (signal, progress) =>
        await withClient(ctx, opts.pin ? 'write' : 'read', async c => await c.call<GetResponse>('get', { cid, out, force: opts.force, maxRateBytesPerSec, maxEntries, pin: opts.pin, metadata: opts.metadata }, { signal, onProgress: p => progress.update(p) })))
      const sources = Object.entries(r.sources).map(([peer, bytes]) => `${peer.slice(-8)} ${formatBytes(bytes)}`).join(', ')
      const secs = r.duration_ms / 1000
      const took = ` in ${secs.toFixed(1)} s${secs > 0 ? ` (${formatBytes(r.bytes_total / secs)}/s)` : ''}`
      ctx.print(r, `wrote ${r.out} (${formatBytes(r.bytes_total)}: ${formatBytes(r.bytes_local)} local, ${formatBytes(r.bytes_fetched)} fetched${sources === '' ? '' : ` from ${sources}`}${r.bytes_dedup > 0 ? `, ${formatBytes(r.bytes_dedup)} repeated within it` : ''})${took}${r.pinned ? ', pinned' : ''}`)
    })
}
