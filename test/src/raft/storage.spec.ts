/**
 * MemoryStorage (the etcd-io/raft MemoryStorage contract) and RaftLog, the node's stable + unstable view of it.
 */

import assert from 'node:assert/strict'
import { ENTRY_OVERHEAD_BYTES, MemoryStorage } from '../../../src/raft/index.ts'
import { RaftLog } from '../../../src/raft/log.ts'
import { limitSize } from '../../../src/raft/storage.ts'
import { ents } from './helpers.ts'
import type { Entry, Snapshot } from '../../../src/raft/index.ts'

function terms (entries: Entry[]): number[] {
  return entries.map(e => e.term)
}

function snapshot (index: number, term: number): Snapshot {
  return { index, term, voters: ['a'], data: new Uint8Array(0) }
}

const ALL = Number.MAX_SAFE_INTEGER

describe('raft: MemoryStorage', () => {
  it('starts empty: first index 1, last index 0, the term of index 0 is 0', () => {
    const s = new MemoryStorage()
    assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(0)], [1, 0, 0])
    assert.deepEqual(s.initialState(), { term: 0, vote: '', commit: 0 })
    assert.deepEqual(s.entries(1, 1, ALL), [])
  })

  it('reads entries in [lo, hi) within a byte budget, always at least one', () => {
    const s = new MemoryStorage()
    s.append(ents(1, 1, 2, 2))
    assert.deepEqual(terms(s.entries(2, 5, ALL)), [1, 2, 2])
    // each entry is "eN" (2 bytes) + overhead
    const one = 2 + ENTRY_OVERHEAD_BYTES
    assert.equal(s.entries(1, 5, 2 * one).length, 2)
    assert.equal(s.entries(1, 5, 1).length, 1)
    assert.throws(() => s.entries(1, 6, ALL), (err: any) => err.name === 'EntryUnavailableError')
    assert.deepEqual(limitSize([], 0), [])
  })

  it('an overlapping append replaces the suffix; a gap is refused', () => {
    const s = new MemoryStorage()
    s.append(ents(1, 1, 1))
    s.append([{ term: 2, index: 2, type: 'normal', data: new Uint8Array(0) }])
    assert.deepEqual(terms(s.entries(1, s.lastIndex() + 1, ALL)), [1, 2])
    assert.throws(() => s.append([{ term: 2, index: 5, type: 'normal', data: new Uint8Array(0) }]), (err: any) => err.name === 'EntryUnavailableError')
  })

  it('createSnapshot keeps the log; compact drops it up to an index the snapshot covers, keeping that index\'s term', () => {
    const s = new MemoryStorage()
    s.append(ents(1, 1, 2, 2, 3))
    s.createSnapshot(snapshot(4, 2))
    assert.equal(s.firstIndex(), 1)
    s.compact(3)
    assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(3)], [4, 5, 2])
    assert.throws(() => s.term(2), (err: any) => err.name === 'CompactedError')
    assert.throws(() => s.entries(3, 5, ALL), (err: any) => err.name === 'CompactedError')
    assert.throws(() => s.compact(3), (err: any) => err.name === 'CompactedError')
    assert.throws(() => s.compact(5), (err: any) => err.name === 'EntryUnavailableError')
    assert.throws(() => s.createSnapshot(snapshot(4, 2)), (err: any) => err.name === 'SnapshotOutOfDateError')
    assert.throws(() => s.createSnapshot(snapshot(9, 3)), (err: any) => err.name === 'EntryUnavailableError')
    // entries already compacted are skipped on append (a restart replaying a longer file)
    s.append(ents(1, 1, 2, 2, 3, 3))
    assert.deepEqual([s.firstIndex(), s.lastIndex()], [4, 6])
  })

  it('applySnapshot replaces everything and refuses an older snapshot', () => {
    const s = new MemoryStorage()
    s.append(ents(1, 1, 1))
    s.applySnapshot(snapshot(10, 4))
    assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(10), s.snapshot().index], [11, 10, 4, 10])
    assert.throws(() => s.applySnapshot(snapshot(9, 4)), (err: any) => err.name === 'SnapshotOutOfDateError')
  })
})

describe('raft: RaftLog', () => {
  it('reads across the stable (storage) and unstable parts', () => {
    const s = new MemoryStorage()
    s.append(ents(1, 1))
    const log = new RaftLog(s)
    log.append(ents(1, 1, 2, 2).slice(2))
    assert.deepEqual(terms(log.slice(1, 5, ALL)), [1, 1, 2, 2])
    assert.deepEqual(terms(log.entriesFrom(2, ALL)), [1, 2, 2])
    assert.equal(log.lastIndex(), 4)
  })

  it('stableTo ignores entries that were replaced after the Ready that handed them out', () => {
    const log = new RaftLog(new MemoryStorage())
    log.append(ents(1, 1, 1))
    log.append([{ term: 2, index: 3, type: 'normal', data: new Uint8Array(0) }])
    log.stableTo(3, 1)
    assert.equal(log.unstable().length, 3)
    log.stableTo(3, 2)
    assert.equal(log.unstable().length, 0)
  })

  it('findConflictByTerm finds the last index at or below a given one whose term is not above a given term', () => {
    const log = new RaftLog(new MemoryStorage())
    log.append(ents(1, 3, 3, 3, 5, 5))
    assert.deepEqual(log.findConflictByTerm(6, 4), { index: 4, term: 3 })
    assert.deepEqual(log.findConflictByTerm(6, 2), { index: 1, term: 1 })
    assert.deepEqual(log.findConflictByTerm(6, 0), { index: 0, term: 0 })
    assert.deepEqual(log.findConflictByTerm(3, 9), { index: 3, term: 3 })
  })

  it('never truncates committed entries', () => {
    const log = new RaftLog(new MemoryStorage())
    log.append(ents(1, 1, 1))
    log.commitTo(2)
    assert.throws(() => log.maybeAppend(1, 1, 0, [{ term: 2, index: 2, type: 'normal', data: new Uint8Array(0) }]), (err: any) => err.name === 'RaftStateError')
    assert.throws(() => log.commitTo(9), (err: any) => err.name === 'RaftStateError')
  })
})
