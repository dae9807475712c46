/**
 * The daemon's operations of speculative transport (DESIGN §10): `watch DIR…`, `watch --list`, `watch --remove DIR`,
 * `speculative status|coverage FILE|pause|resume|clear|sync DIR`. Merged into the daemon's op table (node/daemon.ts).
 */
import { join } from 'node:path'
import { z } from 'zod'
import { rpc, NoArgs } from '../api.ts'
import { AbsolutePathArg } from '../ops.ts'
import { writeDurable } from '../files.ts'
import { readConfigFile, setKey, validateConfig, CONFIG_FILE, MAX_WATCH_DIRS } from '../../config/index.ts'
import { UnavailableError, UsageError } from '../../src/errors.ts'
import type { RpcOp } from '../api.ts'
import type { Repo } from '../repo.ts'
import type { SpeculativeService, SpeculativeStatus, CoverageReport } from './speculative.ts'

export const WatchArgs = z.strictObject({ dirs: z.array(AbsolutePathArg).min(1).max(MAX_WATCH_DIRS) })
export const WatchRemoveArgs = z.strictObject({ dir: AbsolutePathArg.describe('--remove') })
export const CoverageArgs = z.strictObject({ file: AbsolutePathArg })
export const SyncArgs = z.strictObject({ dir: AbsolutePathArg })

export interface WatchResponse {
  /** every directory watched now (config watch.dirs) */
  dirs: string[]
  added: string[]
  removed: string[]
}

export interface WatchOpsDeps {
  repo: Repo
  /** the running service; undefined until the daemon has started it */
  service(): SpeculativeService | undefined
}

export function watchOps (deps: WatchOpsDeps): Record<string, RpcOp> {
  const service = (): SpeculativeService => {
    const s = deps.service()
    if (s === undefined) throw new UnavailableError('the folder watcher runs in a workstation\'s daemon (role peer), not on a seed')
    return s
  }
  return {
    watch: rpc(WatchArgs, async (a): Promise<WatchResponse> => {
      const s = service()
      const added: string[] = []
      for (const dir of a.dirs) {
        if (s.watcher.dirs().includes(dir)) continue
        await s.watch(dir)
        added.push(dir)
      }
      return { dirs: await saveDirs(deps.repo, s.watcher.dirs()), added, removed: [] }
    }),
    watchRemove: rpc(WatchRemoveArgs, async (a): Promise<WatchResponse> => {
      const s = service()
      if (!s.watcher.dirs().includes(a.dir)) throw new UsageError(`${a.dir} is not watched (watched: ${s.watcher.dirs().join(', ') || 'none'})`)
      await s.unwatch(a.dir)
      return { dirs: await saveDirs(deps.repo, s.watcher.dirs()), added: [], removed: [a.dir] }
    }),
    watchList: rpc(NoArgs, async (): Promise<WatchResponse> => ({ dirs: service().watcher.dirs(), added: [], removed: [] })),
    speculativeStatus: rpc(NoArgs, async (): Promise<SpeculativeStatus> => service().status()),
    speculativeCoverage: rpc(CoverageArgs, async (a, c): Promise<CoverageReport> => await service().coverage(a.file, { signal: c.signal })),
    speculativePause: rpc(NoArgs, async (): Promise<SpeculativeStatus> => {
      await service().pause()
      return service().status()
    }),
    speculativeResume: rpc(NoArgs, async (): Promise<SpeculativeStatus> => {
      await service().resume()
      return service().status()
    }),
    speculativeClear: rpc(NoArgs, async (): Promise<SpeculativeStatus & { files_forgotten: number }> => {
      const { files_forgotten: n } = await service().clear()
      return { ...service().status(), files_forgotten: n }
    }),
    speculativeSync: rpc(SyncArgs, async (a, c): Promise<SpeculativeStatus> => await service().sync(a.dir, { signal: c.signal, onProgress: p => c.onProgress?.(p) }))
  }
}

/** config watch.dirs becomes `dirs` (in the file, and in the running config), so that the next start watches them. */
async function saveDirs (repo: Repo, dirs: string[]): Promise<string[]> {
  const raw = await readConfigFile(repo.dir)
  setKey(raw, 'watch.dirs', dirs)
  const path = join(repo.dir, CONFIG_FILE)
  validateConfig(raw, path)
  await writeDurable(path, JSON.stringify(raw, null, 2) + '\n')
  repo.config.watch.dirs = [...dirs]
  return dirs
}
