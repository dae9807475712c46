import { resolve } from 'node:path'
import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { cancellable, formatBytes, progressReporter } from '../progress.ts'
import type { CoverageReport, SpeculativeStatus } from '../../node/watch/index.ts'

/** `speculative status|coverage FILE|pause|resume|clear|sync DIR` (issue 18). */
export function register (program: Command): void {
  const spec = program.command('speculative')
    .description('speculative transport: the watched files\' chunks go to the seed before a push asks for them')
    .addHelpText('after', `
A file in a watched folder (\`dits-node watch DIR\`) is read once it settles, one at a time and yielding to adds and
gets; its chunks are stored here (unpinned, kept from gc while the file is unchanged) and uploaded to the seed(s)
(config seeds) as speculative chunks, which the seed keeps for speculative.ttl unless a push or ref promotes them.
An \`add\` of such a file reuses its chunk list instead of reading it (\`bytes_reused\`), and its push sends only
what is not there yet. Config: speculative.enabled, speculative.maxRate (bytes/s), speculative.ttl (ms).`)

  spec.command('status')
    .description('active or paused, files processed, chunks and bytes uploaded, queue depth, upload rate')
    .addHelpText('after', `
--json: {"state","enabled","dirs","seeds","files","files_uploaded","files_cached","rereads","chunks_uploaded",
"bytes_uploaded","chunks_already_on_seed","bytes_already_on_seed","queue_depth","uploads_waiting","rate","current",
"idle","last_error"} (rate in bytes/s). Exit codes: 4 no daemon.`)
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'daemon', async c => await c.call<SpeculativeStatus>('speculativeStatus', {}))
      ctx.print(r, statusLines(r))
    })

  spec.command('coverage')
    .argument('<file>', 'a file (on this machine)')
    .description('how much of a file\'s chunks the seed holds already, and how long its push would take at the measured rate')
    .addHelpText('after', `
The chunk list comes from the watcher's chunk cache when the file is as the watcher read it, else the file is read
and cut now. Each seed is asked which chunks it holds (a have-check); with several seeds, the one holding fewest counts.
--json: {"file","size","chunks","bytes","chunks_on_seed","bytes_on_seed","percent","bytes_remaining",
"estimated_push_ms","rate","cached","seeds":[...]}. Exit codes: 2 no such file; 4 no daemon, no seed, no seed answered.`)
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await withClient(ctx, 'daemon', async c => await c.call<CoverageReport>('speculativeCoverage', { file: resolve(file) }))
      const eta = r.estimated_push_ms === null ? 'no upload measured yet' : `~${(r.estimated_push_ms / 1000).toFixed(1)} s at ${formatBytes(r.rate)}/s`
      ctx.print(r, [
        `${r.file}: ${r.chunks.toLocaleString('en')} chunks, ${formatBytes(r.bytes)}${r.cached ? '' : ' (read now: not in the chunk cache)'}`,
        `on the seed: ${r.chunks_on_seed.toLocaleString('en')} chunks (${r.percent.toFixed(2)}%), ${formatBytes(r.bytes_remaining)} remaining; push: ${eta}`,
        ...r.seeds.filter(s => s.error !== undefined).map(s => `seed ${s.seed}: ${s.error as string}`)
      ])
    })

  for (const [verb, op, description, done] of [
    ['pause', 'speculativePause', 'stop chunking and uploading (kept across restarts) until resume', 'paused'],
    ['resume', 'speculativeResume', 'go on chunking and uploading', 'active'],
    ['clear', 'speculativeClear', 'forget the queue and the chunk cache (gc may then reclaim the chunks stored for it; what the seed has stays until its expiry)', 'cleared']
  ] as const) {
    spec.command(verb)
      .description(description)
      .addHelpText('after', '\n--json: the status (as `speculative status --json`). Exit codes: 4 no daemon.')
      .action(async (_o: unknown, cmd: Command) => {
        const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
        const r = await withClient(ctx, 'daemon', async c => await c.call<SpeculativeStatus & { files_forgotten?: number }>(op, {}))
        ctx.print(r, `speculative transport ${done}${r.files_forgotten !== undefined ? ` (${r.files_forgotten} file(s) forgotten)` : ''}`)
      })
  }

  spec.command('sync')
    .argument('<dir>', 'a directory (on this machine)')
    .description('take every file of a directory now (no debounce) and wait until all are chunked and uploaded')
    .addHelpText('after', `
Progress on a TTY. Ctrl-C stops the wait (the work goes on in the daemon). --json: the status once idle.
Exit codes: 2 not a directory, or paused; 4 no daemon, or an upload failed (the seed unreachable, its quota).`)
    .action(async (dir: string, _o: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const r = await cancellable('speculative sync', 'the daemon goes on with what it took', progressReporter('sync', !ctx.json), async (signal, progress) =>
        await withClient(ctx, 'daemon', async c => await c.call<SpeculativeStatus>('speculativeSync', { dir: resolve(dir) }, { signal, onProgress: p => progress.update(p) })))
      ctx.print(r, statusLines(r))
    })
}

function statusLines (r: SpeculativeStatus): string[] {
  return [
    `speculative transport ${r.state}${r.enabled ? '' : ' (uploads off: speculative.enabled false)'}; ${r.idle ? 'idle' : 'working'}`,
    `watching   ${r.dirs.length === 0 ? 'nothing (dits-node watch DIR)' : r.dirs.join(', ')}`,
    `seeds      ${r.seeds.length === 0 ? 'none (config seeds): nothing is uploaded' : r.seeds.join(', ')}`,
    `files      ${r.files} chunked, ${r.files_uploaded} uploaded, ${r.files_cached} in the chunk cache${r.rereads > 0 ? `, ${r.rereads} read again (changed while read)` : ''}`,
    `uploaded   ${r.chunks_uploaded.toLocaleString('en')} chunks, ${formatBytes(r.bytes_uploaded)} (${formatBytes(r.bytes_already_on_seed)} already there) at ${formatBytes(r.rate)}/s`,
    `queue      ${r.queue_depth} (uploads waiting ${r.uploads_waiting})`,
    ...r.current.map(c => `now        ${c.stage} ${c.path}`),
    ...(r.last_error !== undefined ? [`last error ${r.last_error.at}: ${r.last_error.message}`] : [])
  ]
}
