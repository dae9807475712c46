/**
 * Making a stream of blocks durable in batches, for a pin (or anything else that will reference them durably):
 * each block is fdatasynced and its shard directory fsynced (DitsBlockstore.sync) before `flush` returns, while
 * only the blocks of two batches are held at a time — one syncing in the background, the next filling — however
 * many blocks go through.
 */
import type { CID } from 'multiformats/cid'
import type { DitsBlockstore } from './blockstore.ts'

const MiB = 1024 * 1024

/**
 * Blocks per batch. The CIDs of a batch are held until it is synced (~2.3 KB each with the string multiformats caches
 * on a CID once printed), so this bounds the memory to ~10 MiB a batch; and a batch's sync fsyncs each shard
 * directory it touches (up to 1024) once, so batches much smaller than the number of shards would fsync a directory
 * for nearly every block.
 */
export const DEFAULT_SYNC_BATCH_BLOCKS = 4096
/**
 * Bytes per batch. Blocks written through the page cache (small ones, or where O_DIRECT is refused) are still to be
 * written by the sync: this bounds what the sync before a pin waits for to ~1 s of this machine class's disk
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
  private readonly blocks: Pick<DitsBlockstore, 'sync'>
  private readonly batchBlocks: number
  private readonly batchBytes: number
  /** the batch filling */
  private batch: CID[] = []
  private bytes = 0
  /** the batch syncing, and its sync; the sync never rejects (its failure goes to `failure`) */
  private syncingBatch: CID[] = []
  private syncing: Promise<void> | undefined
  private failure: Error | undefined

  constructor (blocks: Pick<DitsBlockstore, 'sync'>, init: BlockSyncInit = {}) {
    this.blocks = blocks
    this.batchBlocks = init.batchBlocks ?? DEFAULT_SYNC_BATCH_BLOCKS
    this.batchBytes = init.batchBytes ?? DEFAULT_SYNC_BATCH_BYTES
  }

  /** Blocks added and not yet durable: the batch filling and the one syncing. */
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

  /** Sync the rest. Once it resolves, every block added is durable. Call it with no `add` under way. */
  async flush (): Promise<void> {
    await this.syncing
    if (this.batch.length > 0) this.start()
    await this.syncing
    if (this.failure !== undefined) throw this.failure
  }

  private full (): boolean {
    return this.batch.length >= this.batchBlocks || this.bytes >= this.batchBytes
  }

  private start (): void {
    this.syncingBatch = this.batch
    this.batch = []
    this.bytes = 0
    this.syncing = this.blocks.sync(this.syncingBatch)
      .catch((err: Error) => { this.failure ??= err })
      .finally(() => {
        this.syncingBatch = []
        this.syncing = undefined
      })
  }
}
