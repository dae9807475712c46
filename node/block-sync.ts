/**
 * Making a stream of blocks durable before a pin (or anything else that will reference them durably) makes them
 * reachable: once `flush` returns, every block added has been fdatasynced and its shard directory fsynced. The files
 * are synced in batches as blocks come, one batch in the background while the next fills, so only two batches of
 * CIDs are held however many blocks go through; the shard directories (1024 at most) are fsynced once, at the flush.
 */
import type { CID } from 'multiformats/cid'
import type { DitsBlockstore } from './blockstore.ts'

const MiB = 1024 * 1024

/**
 * Blocks per batch. The CIDs of a batch are held until it is synced (~2.3 KB each with the string multiformats caches
 * on a CID once printed): ~10 MiB a batch. Few batches, because each costs a journal commit (ext4: its first
 * fdatasync commits the metadata of the rest with it); syncing each block as it was written, a commit per block,
 * took ~0.3 s per GiB more than one sync at the end.
 */
export const DEFAULT_SYNC_BATCH_BLOCKS = 4096
/**
 * Bytes per batch. Blocks written through the page cache (small ones, or where O_DIRECT is refused) are still to be
 * written by the sync: this bounds what the flush before a pin waits for to ~1 s of this machine class's disk
 * (~270 MB/s). With the `small` profile (64 KiB chunks) this and DEFAULT_SYNC_BATCH_BLOCKS meet.
 */
export const DEFAULT_SYNC_BATCH_BYTES = 256 * MiB

export interface BlockSyncInit {
  /** @default DEFAULT_SYNC_BATCH_BLOCKS */
  batchBlocks?: number
  /** @default DEFAULT_SYNC_BATCH_BYTES */
  batchBytes?: number
}

export class BlockSync {
  private readonly blocks: Pick<DitsBlockstore, 'syncData' | 'syncDirs'>
  private readonly batchBlocks: number
  private readonly batchBytes: number
  /** the batch filling */
  private batch: CID[] = []
  private bytes = 0
  /** the batch syncing, and its sync; the sync never rejects (its failure goes to `failure`) */
  private syncingBatch: CID[] = []
  private syncing: Promise<void> | undefined
  private failure: Error | undefined
  /** the shard directories of the blocks synced so far, to fsync at the flush */
  private dirs = new Set<string>()

  constructor (blocks: Pick<DitsBlockstore, 'syncData' | 'syncDirs'>, init: BlockSyncInit = {}) {
    this.blocks = blocks
    this.batchBlocks = init.batchBlocks ?? DEFAULT_SYNC_BATCH_BLOCKS
    this.batchBytes = init.batchBytes ?? DEFAULT_SYNC_BATCH_BYTES
  }

  /** Blocks added and not yet synced: the batch filling and the one syncing. */
  get held (): number {
    return this.batch.length + this.syncingBatch.length
  }

  /**
   * Add a block that is in the store (written, renamed into place, or found there). A full batch starts syncing in
   * the background; if the one before is still syncing, this waits for it. `bytes` (the block's length, where the
   * caller knows it) counts toward the batch's byte limit. Throws if an earlier batch failed to sync.
   */
  async add (cid: CID, bytes = 0): Promise<void> {
    if (this.failure !== undefined) throw this.failure
    this.batch.push(cid)
    this.bytes += bytes
    // Callers that filled the batch together wake together: the first starts its sync, the others find it empty.
    while (this.full() && this.failure === undefined) {
      if (this.syncing === undefined) this.start()
      else await this.syncing
    }
    if (this.failure !== undefined) throw this.failure
  }

  /** Sync the rest and the shard directories. Once it resolves, every block added is durable. Call it with no `add` under way. */
  async flush (): Promise<void> {
    await this.syncing
    if (this.batch.length > 0) this.start()
    await this.syncing
    if (this.failure !== undefined) throw this.failure
    const dirs = this.dirs
    this.dirs = new Set()
    await this.blocks.syncDirs(dirs)
  }

  private full (): boolean {
    return this.batch.length >= this.batchBlocks || this.bytes >= this.batchBytes
  }

  private start (): void {
    this.syncingBatch = this.batch
    this.batch = []
    this.bytes = 0
    this.syncing = this.blocks.syncData(this.syncingBatch)
      .then(dirs => { for (const dir of dirs) this.dirs.add(dir) })
      .catch((err: Error) => { this.failure ??= err })
      .finally(() => {
        this.syncingBatch = []
        this.syncing = undefined
      })
  }
}
