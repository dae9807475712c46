import { resolve } from 'node:path'
import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { UsageError } from '../../src/errors.ts'
import type { WatchResponse } from '../../node/watch/index.ts'

/** `watch DIR…`, `watch --list`, `watch --remove DIR`: the folders whose files go to the seed before a push (issue 18). */
export function register (program: Command): void {
  program.command('watch')
    .description('watch folders: their media and project files are chunked in the background as they settle and uploaded to the seed as speculative chunks, so that their push is instant')
    .argument('[dirs...]', 'directories to add to the watch set (recursively; kept in config watch.dirs)')
    .option('--list', 'list the watched directories')
    .option('--remove <dir>', 'stop watching a directory (its chunk cache entries go: gc may then reclaim their chunks)')
    .addHelpText('after', `
Which files: config watch.include (media and project files: *.mov *.mp4 *.mxf *.r3d *.braw *.ari *.prproj *.drp
*.aep and the editors' autosave folders), never watch.ignore (.git/, .dits/, caches), at least watch.minBytes, once
nothing changed them for watch.debounceMs. See \`dits-node speculative --help\`.
--json: {"dirs","added","removed"}.
Exit codes: 2 a directory that does not exist, or --remove of one not watched; 4 no daemon.`)
    .action(async (dirs: string[], opts: { list?: boolean, remove?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const modes = [dirs.length > 0, opts.list === true, opts.remove !== undefined].filter(Boolean).length
      if (modes !== 1) throw new UsageError('watch: give directories to watch, --list, or --remove DIR (one of them)')
      const r = await withClient(ctx, 'daemon', async c => {
        if (opts.list === true) return await c.call<WatchResponse>('watchList', {})
        if (opts.remove !== undefined) return await c.call<WatchResponse>('watchRemove', { dir: resolve(opts.remove) })
        return await c.call<WatchResponse>('watch', { dirs: dirs.map(d => resolve(d)) })
      })
      ctx.print(r, [
        ...r.added.map(d => `watching ${d}`),
        ...r.removed.map(d => `no longer watching ${d}`),
        ...(opts.list === true ? (r.dirs.length === 0 ? ['no directory is watched'] : r.dirs) : [])
      ])
    })
}
