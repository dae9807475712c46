/**
 * The simulated disk of one node. The shell writes a Ready's snapshot, entries and hard state as records of a
 * write-ahead log, fsyncs, and only then mirrors them into the MemoryStorage the core reads and sends the
 * Ready's messages (src/raft/index.ts, STYLE habit 8). A crash keeps everything fsynced plus a random prefix
 * of what was written since — the page cache flushed some of it — and the record right after that prefix may
 * be torn (half written): its checksum fails on restart and it is discarded, as etcd's WAL discards a torn
 * tail. Nothing here touches a real file.
 */

import { MemoryStorage } from '../src/raft/index.ts'
import type { Prng } from './random.ts'
import type { Entry, HardState, Snapshot } from '../src/raft/index.ts'

/** One record of the write-ahead log. */
export type DiskRecord =
  | { kind: 'snapshot', snapshot: Snapshot }
  | { kind: 'entry', entry: Entry }
  | { kind: 'hard-state', hardState: HardState }

/** What a crash did to the records written since the last fsync. */
export interface CrashLoss {
  /** records written but not fsynced */
  unsynced: number
  /** of those, how many survived */
  kept: number
  /** whether the record after the survivors was torn (half written, discarded on restart) */
  torn: boolean
}

/** Chance that the first record lost in a crash was half written rather than not written at all. */
export const DEFAULT_TORN_WRITE_RATE = 0.5

export class SimDisk {
  /** the durable state, which is also what the core reads (it is only updated once records are fsynced) */
  readonly storage = new MemoryStorage()
  private unsynced: DiskRecord[] = []

  constructor (private readonly tornWriteRate = DEFAULT_TORN_WRITE_RATE) {}

  /** Queue records for the next fsync; they are not durable yet. */
  write (records: DiskRecord[]): void {
    for (const r of records) {
      this.unsynced.push(r)
    }
  }

  /** Make every written record durable and visible to the core. */
  fsync (): void {
    const records = this.unsynced
    this.unsynced = []
    this.replay(records)
  }

  /** Lose power: a random prefix of the unsynced records reaches the platter, the rest is gone. */
  crash (prng: Prng): CrashLoss {
    const records = this.unsynced
    this.unsynced = []
    const kept = prng.range(0, records.length)
    // the first record that did not make it may have been half written: its checksum fails on restart, so it
    // is discarded just like the records after it
    const torn = kept < records.length && prng.chance(this.tornWriteRate)
    this.replay(records.slice(0, kept))
    return { unsynced: records.length, kept, torn }
  }

  /**
   * Record a snapshot this node took of its own state machine and drop the log up to `compactTo` (Raft §7).
   * The shell writes and fsyncs the snapshot before compacting, so both are durable at once.
   */
  compact (snapshot: Snapshot, compactTo: number): void {
    this.storage.createSnapshot(snapshot)
    this.storage.compact(compactTo)
  }

  private replay (records: DiskRecord[]): void {
    let batch: Entry[] = []
    for (const r of records) {
      if (r.kind === 'entry') {
        batch.push(r.entry)
        continue
      }
      if (batch.length > 0) {
        this.storage.append(batch)
        batch = []
      }
      if (r.kind === 'snapshot') {
        this.storage.applySnapshot(r.snapshot)
      } else {
        this.storage.setHardState(r.hardState)
      }
    }
    if (batch.length > 0) {
      this.storage.append(batch)
    }
  }
}
