/**
 * The read interface the core uses to reach the persisted log, and an in-memory implementation of it.
 *
 * The core only ever reads; the shell writes, and only after the data is durable: it persists a Ready's
 * entries/hardState/snapshot to disk, then mirrors them into its {@link MemoryStorage} (etcd-io/raft's
 * MemoryStorage contract). On restart the shell rebuilds the MemoryStorage from disk before creating the node.
 */

import { CompactedError, EntryUnavailableError, SnapshotOutOfDateError } from './errors.ts'
import { NONE } from './types.ts'
import type { Entry, HardState, Snapshot } from './types.ts'

export interface Storage {
  /** the persisted hard state ({term: 0, vote: NONE, commit: 0} for a fresh node) */
  initialState(): HardState
  /**
   * Entries in [lo, hi), at most `maxBytes` of entry data but always at least one entry when lo < hi.
   * @throws {CompactedError} when lo <= the snapshot index
   * @throws {EntryUnavailableError} when hi > lastIndex() + 1
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[]
  /**
   * The term of the entry at `index`, for index in [firstIndex() - 1, lastIndex()]: the entry just before the
   * first one stays known so that appends right after a snapshot can be matched (Raft §5.3 consistency check).
   * @throws {CompactedError} | {EntryUnavailableError} outside that range
   */
  term(index: number): number
  /** index of the first entry still in the log (snapshot index + 1 when nothing is retained) */
  firstIndex(): number
  /** index of the last entry, or the snapshot index when the log is empty */
  lastIndex(): number
  /** the most recent snapshot (index 0 when there is none yet) */
  snapshot(): Snapshot
}

/** What an entry's term, index and type add to its payload on the wire (protobuf varints and tags, roughly). */
export const ENTRY_OVERHEAD_BYTES = 16

/** Bytes an entry counts for in batching limits; never 0, so that a byte budget also bounds entry counts. */
export function entrySize (entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES
}

/** The longest prefix of `entries` within `maxBytes`, never empty unless `entries` is. */
export function limitSize (entries: Entry[], maxBytes: number): Entry[] {
  if (entries.length === 0) {
    return entries
  }
  let size = entrySize(entries[0])
  let n = 1
  for (; n < entries.length; n++) {
    size += entrySize(entries[n])
    if (size > maxBytes) {
      break
    }
  }
  return n === entries.length ? entries : entries.slice(0, n)
}

const EMPTY_SNAPSHOT: Snapshot = { index: 0, term: 0, voters: [], data: new Uint8Array(0) }

/**
 * The log, hard state and snapshot in memory. `ents[0]` is a placeholder standing for the entry at the
 * snapshot (or compaction) index, so that its term stays available (as in etcd-io/raft's MemoryStorage).
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: NONE, commit: 0 }
  private snap: Snapshot = EMPTY_SNAPSHOT
  private ents: Entry[] = [{ term: 0, index: 0, type: 'empty', data: new Uint8Array(0) }]

  initialState (): HardState {
    return { ...this.hardState }
  }

  /** Record the hard state once it is durable. */
  setHardState (hardState: HardState): void {
    this.hardState = { ...hardState }
  }

  entries (lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0].index
    if (lo <= offset) {
      throw new CompactedError(`entries from ${lo} requested but the log is compacted up to ${offset}`)
    }
    if (hi > this.lastIndex() + 1) {
      throw new EntryUnavailableError(`entries up to ${hi - 1} requested but the last index is ${this.lastIndex()}`)
    }
    if (lo >= hi) {
      return []
    }
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes)
  }

  term (index: number): number {
    const offset = this.ents[0].index
    if (index < offset) {
      throw new CompactedError(`term of ${index} requested but the log is compacted up to ${offset}`)
    }
    if (index - offset >= this.ents.length) {
      throw new EntryUnavailableError(`term of ${index} requested but the last index is ${this.lastIndex()}`)
    }
    return this.ents[index - offset].term
  }

  firstIndex (): number {
    return this.ents[0].index + 1
  }

  lastIndex (): number {
    return this.ents[0].index + this.ents.length - 1
  }

  snapshot (): Snapshot {
    return this.snap
  }

  /**
   * Replace the whole content with a snapshot received from the leader (or loaded on restart). On an empty
   * storage a snapshot at index 0 is accepted too: it sets an initial configuration without log entries
   * (tests use it to start nodes with hand-made logs; groups normally bootstrap through `RaftConfig.voters`).
   * @throws {SnapshotOutOfDateError} when it is not newer than the snapshot held
   */
  applySnapshot (snapshot: Snapshot): void {
    const empty = this.snap.index === 0 && this.lastIndex() === 0
    if (snapshot.index <= this.snap.index && !empty) {
      throw new SnapshotOutOfDateError(`snapshot at ${snapshot.index} is not newer than the one held at ${this.snap.index}`)
    }
    this.snap = snapshot
    this.ents = [{ term: snapshot.term, index: snapshot.index, type: 'empty', data: new Uint8Array(0) }]
  }

  /**
   * Record a snapshot taken locally (see `RaftNode.createSnapshot`); the log is kept until {@link compact}.
   * @throws {SnapshotOutOfDateError} when it is not newer than the snapshot held
   * @throws {EntryUnavailableError} when it is beyond the last index
   */
  createSnapshot (snapshot: Snapshot): void {
    if (snapshot.index <= this.snap.index) {
      throw new SnapshotOutOfDateError(`snapshot at ${snapshot.index} is not newer than the one held at ${this.snap.index}`)
    }
    if (snapshot.index > this.lastIndex()) {
      throw new EntryUnavailableError(`snapshot at ${snapshot.index} is beyond the last index ${this.lastIndex()}`)
    }
    this.snap = snapshot
  }

  /**
   * Discard entries up to and including `index`, which must be covered by the snapshot. Keeping some entries
   * before the snapshot index lets slightly lagging followers catch up from the log instead of a snapshot.
   * @throws {CompactedError} when already compacted past `index`
   * @throws {EntryUnavailableError} when `index` is beyond the snapshot
   */
  compact (index: number): void {
    const offset = this.ents[0].index
    if (index <= offset) {
      throw new CompactedError(`cannot compact to ${index}: already compacted up to ${offset}`)
    }
    if (index > this.snap.index) {
      throw new EntryUnavailableError(`cannot compact to ${index}: the snapshot only covers up to ${this.snap.index}`)
    }
    const kept = this.ents.slice(index - offset)
    kept[0] = { term: kept[0].term, index: kept[0].index, type: 'empty', data: new Uint8Array(0) }
    this.ents = kept
  }

  /**
   * Append entries once they are durable. Entries that overlap the log replace it from the first overlapping
   * index on (a new leader overwrote an uncommitted suffix, Raft §5.3); entries already compacted are skipped.
   * @throws {EntryUnavailableError} when the entries leave a gap after the last index
   */
  append (entries: Entry[]): void {
    if (entries.length === 0) {
      return
    }
    const first = this.firstIndex()
    const last = entries[entries.length - 1].index
    if (last < first) {
      return
    }
    if (entries[0].index < first) {
      entries = entries.slice(first - entries[0].index)
    }
    const offset = entries[0].index - this.ents[0].index
    if (offset > this.ents.length) {
      throw new EntryUnavailableError(`missing log entries: last index ${this.lastIndex()}, appending from ${entries[0].index}`)
    }
    // in place: a copy of the whole log on every append cost time in proportion to its length (up to a
    // snapshot interval of entries) on every Ready
    this.ents.length = offset
    for (const e of entries) {
      this.ents.push(e)
    }
  }
}
