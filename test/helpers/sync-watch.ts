/**
 * Watch a blockstore's syncs, to check what a pin found durable: a block is durable once its file was fdatasynced
 * (syncData) and then its shard directory fsynced (syncDirs), or once a syncData of it left no directory to fsync (a
 * large batch made durable, names and all, by one syncfs).
 */
import { dirname } from 'node:path'
import type { CID } from 'multiformats/cid'
import type { DitsBlockstore } from '../../node/blockstore.ts'

export interface SyncWatch {
  /** the blocks (CID strings) whose files have been fdatasynced */
  readonly data: Set<string>
  /** the blocks durable now */
  durable(): Set<string>
}

export function watchSyncs (blocks: DitsBlockstore): SyncWatch {
  const data = new Set<string>()
  const dirOf = new Map<string, string>()
  const dirs = new Set<string>()
  const whole = new Set<string>()
  const syncData = blocks.syncData.bind(blocks)
  const syncDirs = blocks.syncDirs.bind(blocks)
  blocks.syncData = async (cids: Iterable<CID>) => {
    const list = [...cids]
    const synced = await syncData(list)
    for (const c of list) {
      data.add(c.toString())
      dirOf.set(c.toString(), dirname(blocks.path(c)))
      if (synced.size === 0) whole.add(c.toString())
    }
    return synced
  }
  blocks.syncDirs = async (synced: Iterable<string>) => {
    const list = [...synced]
    await syncDirs(list)
    for (const d of list) dirs.add(d)
  }
  return {
    data,
    durable: () => new Set([...data].filter(c => whole.has(c) || dirs.has(dirOf.get(c) as string)))
  }
}
