/**
 * The node's view of its log: what storage holds (durable) plus an unstable tail not yet persisted
 * (etcd-io/raft's raftLog + unstable). Also tracks the commit and apply indexes.
 */

import { CompactedError, EntryUnavailableError, RaftStateError } from './errors.ts'
import { limitSize } from './storage.ts'
import type { Storage } from './storage.ts'
import type { Entry, Snapshot } from './types.ts'

export interface AppendResult {
  /** index of the last entry the leader's message covers */
  lastNewIndex: number
  /** the entries that were actually written (after skipping those already present) */
  appended: Entry[]
}

export class RaftLog {
  private readonly storage: Storage
  /** highest index known to be committed (Raft Figure 2 commitIndex) */
  committed: number
  /** highest index handed to the shell for application */
  applied: number
  /** a snapshot received from the leader and not yet persisted */
  private unstableSnapshot: Snapshot | undefined
  /** entries not yet persisted; the first one has index `offset` */
  private unstableEntries: Entry[] = []
  private offset: number

  constructor (storage: Storage) {
    this.storage = storage
    this.offset = storage.lastIndex() + 1
    // On restart the shell restores the state machine from storage's snapshot, so application resumes right
    // after it, even when storage kept some entries before the snapshot index.
    this.committed = Math.max(storage.firstIndex() - 1, storage.snapshot().index)
    this.applied = this.committed
  }

  firstIndex (): number {
    return this.unstableSnapshot !== undefined ? this.unstableSnapshot.index + 1 : this.storage.firstIndex()
  }

  lastIndex (): number {
    if (this.unstableEntries.length > 0) {
      return this.offset + this.unstableEntries.length - 1
    }
    return this.unstableSnapshot !== undefined ? this.unstableSnapshot.index : this.storage.lastIndex()
  }

  lastTerm (): number {
    return this.term(this.lastIndex())
  }

  private unstableTerm (index: number): number | undefined {
    if (index < this.offset) {
      return this.unstableSnapshot?.index === index ? this.unstableSnapshot.term : undefined
    }
    if (index >= this.offset + this.unstableEntries.length) {
      return undefined
    }
    return this.unstableEntries[index - this.offset].term
  }

  /**
   * The term of the entry at `index`, valid in [firstIndex() - 1, lastIndex()].
   * @throws {CompactedError} | {EntryUnavailableError} outside that range
   */
  term (index: number): number {
    const t = this.unstableTerm(index)
    if (t !== undefined) {
      return t
    }
    if (index + 1 < this.firstIndex()) {
      throw new CompactedError(`term of ${index} requested but the log starts at ${this.firstIndex()}`)
    }
    if (index > this.lastIndex()) {
      throw new EntryUnavailableError(`term of ${index} requested but the last index is ${this.lastIndex()}`)
    }
    return this.storage.term(index)
  }

  /** The term at `index`, or 0 when it is not known (compacted or beyond the end). */
  termOrZero (index: number): number {
    // The same bounds as term(), checked rather than thrown and caught: a follower asks this for every
    // entry it appends, and capturing the exceptions' stack traces cost ~20% of a simulator run.
    const t = this.unstableTerm(index)
    if (t !== undefined) return t
    if (index + 1 < this.firstIndex() || index > this.lastIndex()) return 0
    return this.storage.term(index)
  }

  matchTerm (index: number, term: number): boolean {
    return this.termOrZero(index) === term && (term > 0 || index === 0)
  }

  /** Raft §5.4.1: a log is more up-to-date if its last term is higher, or equal with an index at least as high. */
  isUpToDate (lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm()
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex())
  }

  /**
   * Entries in [lo, hi) within `maxBytes` (at least one).
   * @throws {CompactedError} when lo has been compacted
   */
  slice (lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) {
      throw new CompactedError(`entries from ${lo} requested but the log starts at ${this.firstIndex()}`)
    }
    if (hi > this.lastIndex() + 1) {
      throw new EntryUnavailableError(`entries up to ${hi - 1} requested but the last index is ${this.lastIndex()}`)
    }
    if (lo >= hi) {
      return []
    }
    let ents: Entry[] = []
    if (lo < this.offset) {
      const storedHi = Math.min(hi, this.offset)
      ents = this.storage.entries(lo, storedHi, maxBytes)
      if (ents.length < storedHi - lo) {
        return ents
      }
    }
    if (hi > this.offset) {
      const unstable = this.unstableEntries.slice(Math.max(lo, this.offset) - this.offset, hi - this.offset)
      ents = ents.length > 0 ? ents.concat(unstable) : unstable
    }
    return limitSize(ents, maxBytes)
  }

  /** Entries from `index` to the end, within `maxBytes`. */
  entriesFrom (index: number, maxBytes: number): Entry[] {
    if (index > this.lastIndex()) {
      return []
    }
    return this.slice(index, this.lastIndex() + 1, maxBytes)
  }

  /** The index of the first entry that conflicts with the log (Raft §5.3), 0 when all are present. */
  private findConflict (entries: Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) {
        return e.index
      }
    }
    return 0
  }

  /**
   * The largest index <= `index` whose term is <= `term` (with that term, or 0 if unknown). A leader uses it to
   * skip a whole term of mismatching entries per round trip (the "fast backtracking" optimization, Raft §5.3).
   */
  findConflictByTerm (index: number, term: number): { index: number, term: number } {
    for (; index > 0; index--) {
      let ours: number
      try {
        ours = this.term(index)
      } catch {
        return { index, term: 0 }
      }
      if (ours <= term) {
        return { index, term: ours }
      }
    }
    return { index: 0, term: 0 }
  }

  /**
   * The follower side of AppendEntries (Raft §5.3): if the log matches at (index, logTerm), write the entries
   * (truncating a conflicting suffix) and advance commit; else undefined.
   * @param checkMatch false only under the 'skip-log-match' mutant
   */
  maybeAppend (index: number, logTerm: number, committed: number, entries: Entry[], checkMatch = true): AppendResult | undefined {
    if (checkMatch ? !this.matchTerm(index, logTerm) : index > this.lastIndex()) {
      return undefined
    }
    const lastNewIndex = index + entries.length
    const conflict = this.findConflict(entries)
    let appended: Entry[] = []
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new RaftStateError(`entry ${conflict} conflicts with a committed entry (committed ${this.committed})`)
      }
      appended = entries.slice(conflict - (index + 1))
      this.append(appended)
    }
    this.commitTo(Math.min(committed, lastNewIndex))
    return { lastNewIndex, appended }
  }

  /** Write entries to the unstable tail, replacing any suffix from `entries[0].index` on. */
  append (entries: Entry[]): number {
    if (entries.length === 0) {
      return this.lastIndex()
    }
    const after = entries[0].index
    if (after - 1 < this.committed) {
      throw new RaftStateError(`appending after ${after - 1} would overwrite committed entries (committed ${this.committed})`)
    }
    if (after === this.offset + this.unstableEntries.length) {
      this.unstableEntries = this.unstableEntries.concat(entries)
    } else if (after <= this.offset) {
      // the new entries replace everything unstable and shadow the stored suffix from `after` on
      this.offset = after
      this.unstableEntries = entries.slice()
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, after - this.offset).concat(entries)
    }
    return this.lastIndex()
  }

  commitTo (index: number): void {
    if (index > this.committed) {
      if (index > this.lastIndex()) {
        throw new RaftStateError(`commit ${index} is out of range [last index ${this.lastIndex()}]`)
      }
      this.committed = index
    }
  }

  /** Raft §5.4.2: only an entry of the current term is committed by counting replicas. */
  maybeCommit (index: number, term: number): boolean {
    if (index > this.committed && this.termOrZero(index) === term) {
      this.commitTo(index)
      return true
    }
    return false
  }

  appliedTo (index: number): void {
    if (index > this.committed || index < this.applied) {
      throw new RaftStateError(`applied ${index} is out of range [applied ${this.applied}, committed ${this.committed}]`)
    }
    this.applied = index
  }

  /** Replace the log with a snapshot from the leader (Raft §7): everything before it is discarded. */
  restore (snapshot: Snapshot): void {
    this.committed = snapshot.index
    this.unstableSnapshot = snapshot
    this.unstableEntries = []
    this.offset = snapshot.index + 1
  }

  /** The latest snapshot: the unstable one if any, else storage's. */
  snapshot (): Snapshot {
    return this.unstableSnapshot ?? this.storage.snapshot()
  }

  pendingSnapshot (): Snapshot | undefined {
    return this.unstableSnapshot
  }

  unstable (): Entry[] {
    return this.unstableEntries
  }

  /** The entries up to (index, term) are durable; drop them from the unstable tail unless they were replaced. */
  stableTo (index: number, term: number): void {
    if (index >= this.offset && this.unstableTerm(index) === term) {
      this.unstableEntries = this.unstableEntries.slice(index + 1 - this.offset)
      this.offset = index + 1
    }
  }

  stableSnapTo (index: number): void {
    if (this.unstableSnapshot?.index === index) {
      this.unstableSnapshot = undefined
    }
  }

  /** Committed entries not yet handed out, within `maxBytes`; none while a snapshot waits to be applied first. */
  nextCommittedEntries (maxBytes: number): Entry[] {
    if (this.unstableSnapshot !== undefined) {
      return []
    }
    const lo = Math.max(this.applied + 1, this.firstIndex())
    const hi = this.committed + 1
    return lo < hi ? this.slice(lo, hi, maxBytes) : []
  }

  hasNextCommittedEntries (): boolean {
    return this.unstableSnapshot === undefined && this.committed > Math.max(this.applied, this.firstIndex() - 1)
  }
}
