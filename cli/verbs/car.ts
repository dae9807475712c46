import type { Command } from 'commander'
import { resolve } from 'node:path'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { progressReporter, formatBytes, cancellable } from '../progress.ts'
import { parseCidPath } from '../../src/manifest/path.ts'
import type { ExportCarResult, ImportCarResult } from '../../node/car/index.ts'

const INTEROP = `
The file is a CARv1 (https://ipld.io/specs/transport/car/carv1/) whose header names the root. An IPFS node reads
its blocks when it knows BLAKE3 (multihash 0x1e) and dag-cbor, and takes blocks of up to 4 MiB (Kubo:
\`ipfs dag import --allow-big-block\`). The manifests are dits' own dag-cbor format, not UnixFS: an IPFS node stores
and serves the blocks, \`dits-node get\` lays the files out (README, "CAR files and IPFS").`

/** `export CID -o F.car` and `import F.car` (README, "CAR files and IPFS"). */
export function register (program: Command): void {
  program.command('export')
    .description('write a root and every block under it to a CAR file (CARv1), for an IPFS node or another dits repo')
    .argument('<cid>', 'root CID, or CID/sub/path for an entry inside a directory')
    .requiredOption('-o, --output <file>', 'the CAR file to write (written under a temporary name, fsynced, then renamed)')
    .option('--force', 'replace the file if it exists', false)
    .addHelpText('after', `${INTEROP}
With a daemon running, what the repo lacks is fetched first; without one, every block must be in the repo (exit 4
otherwise). Ctrl-C (or SIGTERM) stops the export and removes the partial file.`)
    .action(async (cid: string, opts: { output: string, force: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      parseCidPath(cid)
      const out = resolve(opts.output)
      const r = await cancellable('export', `the partial file beside ${out} is removed`, progressReporter('exporting', !ctx.json), async (signal, progress) =>
        await withClient(ctx, 'read', async c => await c.call<ExportCarResult>('exportCar', { cid, out, force: opts.force }, { signal, onProgress: p => progress.update(p) })))
      ctx.print(r, `wrote ${r.out}: ${r.root}, ${r.blocks} block(s), ${formatBytes(r.bytes)} (${formatBytes(r.car_bytes)} file) in ${(r.duration_ms / 1000).toFixed(1)} s`)
    })

  program.command('import')
    .description('read a CAR file (CARv1, one root) into the repo, verifying every block, and pin its root')
    .argument('<file>', 'the CAR file, e.g. one `dits-node export` wrote')
    .addHelpText('after', `
Every block's CID must be a dits CID (BLAKE3, raw or dag-cbor), its size at most 4 MiB, and its bytes must match it:
the first block that fails is named with its byte offset (exit 1). The root is pinned (reason user) only once every
block under it is in the repo and durable; a file that lacks some is refused, its blocks left unpinned (gc removes
them). Ctrl-C (or SIGTERM) stops the import; nothing is pinned.${INTEROP}`)
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const path = resolve(file)
      const r = await cancellable('import', 'nothing was pinned', progressReporter('importing', !ctx.json), async (signal, progress) =>
        await withClient(ctx, 'write', async c => await c.call<ImportCarResult>('importCar', { file: path }, { signal, onProgress: p => progress.update(p) })))
      ctx.print(r, [
        `imported ${r.file}: ${r.blocks} block(s) (${r.blocks_new} new), ${formatBytes(r.bytes)} in ${(r.duration_ms / 1000).toFixed(1)} s, pinned`,
        r.root
      ])
    })
}
