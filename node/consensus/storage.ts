/**
 * Durable Raft storage under `<repo>/datastore/raft/` (DESIGN §3, issue 4): a write-ahead log of entries,
 * hard states and snapshot installs, plus snapshot files. The Raft core reads a {@link MemoryStorage}; this
 * class writes every Ready to disk (one `write` + `fdatasync` per Ready, so proposals that arrive during one
 * fsync share the next: group commit; no fsync when only the commit index moved, see {@link mustSync}) and
 * only then mirrors it into that MemoryStorage — the shell's half of "persist before send" (Raft Figure 2;
 * etcd-io/raft's MemoryStorage contract).
 *
 * ```
 * raft/wal-<seq>.log          records: [u32 body length][u32 crc32(body)][body], little endian, then zeros
 * raft/snap-<index>.snap      [u32 crc32(body)][body]: index, term, voters (JSON), state machine bytes
 * ```
 * Record bodies: `1 term index type data` (an entry), `2 term commit vote` (the hard state), `3 index term`
 * (a snapshot received from the leader was installed: the log before it is gone). Numbers are u64.
 *
 * Preallocation: a segment is zero-filled ahead of the records, `preallocBytes` at a time, and records
 * overwrite those zeros in place. An fdatasync after a write that grows a file must also commit the new size
 * and block allocation through the filesystem journal; inside already written blocks it only flushes the data
 * (etcd preallocates its 64 MB WAL segments for the same reason). Zeros are written, not just reserved with
 * ftruncate or fallocate: a hole or an unwritten extent would still be allocated or converted at the first
 * write, through the journal.
 *
 * Recovery: replay the newest segment up to the first record that is not whole: a zero length (the
 * preallocated tail), a length that runs past the end of the file, or a failed checksum (a torn write from a
 * crash). Nothing after that point was ever acknowledged, since every acknowledgement follows the fsync that
 * made it and everything before it durable; whatever non-zero bytes a torn write left there are zeroed (and
 * fsynced) before anything new is written, so that a stale record can never line up behind new ones. Compaction (after a
 * local snapshot) writes the hard state and the retained log into a new segment (fsync, rename, fsync the
 * directory) and deletes the old one, so the WAL stays about as long as the snapshot interval and the newest
 * segment is always complete on its own.
 */
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { writeFully, writeFullySync, PRIVATE_FILE_MODE, PRIVATE_DIR_MODE } from '../files.ts'
import { MemoryStorage, NONE } from '../../src/raft/index.ts'
import { DitsError } from '../../src/errors.ts'
import { fsyncPath } from '../files.ts'
import type { FileHandle } from 'node:fs/promises'
import type { Entry, EntryType, HardState, Snapshot } from '../../src/raft/index.ts'

/** The directory under `<repo>/datastore/` that holds the Raft log and snapshots. */
export const RAFT_DIR = 'raft'

/** How far ahead of its records a WAL segment is zero-filled, and by how much it grows when they reach the end. */
export const DEFAULT_WAL_PREALLOC_BYTES = 8 * 1024 * 1024

const RECORD_HEADER_BYTES = 8
/** Zeros are written in pieces of this size. */
const ZERO_CHUNK_BYTES = 1024 * 1024
/** A record larger than this cannot have been written by us: a torn or corrupt length. */
const MAX_RECORD_BYTES = 256 * 1024 * 1024

const KIND_ENTRY = 1
const KIND_HARD_STATE = 2
const KIND_SNAPSHOT = 3

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'confchange', 'empty']
const EMPTY_SNAPSHOT: Snapshot = { index: 0, term: 0, voters: [], data: new Uint8Array(0) }

/** The Raft log or a snapshot on disk is damaged somewhere other than a torn tail. */
export class RaftStorageCorruptError extends DitsError {
  static override name = 'RaftStorageCorruptError'
  override name = 'RaftStorageCorruptError'
}

/** What {@link RaftDiskStorage.open} found and repaired. */
export interface RecoveryReport {
  segments: number
  records: number
  /** bytes of a torn write after the last whole record, zeroed */
  truncatedBytes: number
  snapshotIndex: number
  firstIndex: number
  lastIndex: number
  hardState: HardState
}

/** The parts of a Ready that must be durable before its messages go out. */
export interface PersistBatch {
  hardState?: HardState
  entries: Entry[]
  snapshot?: Snapshot
}

export interface RaftDiskStorageInit {
  /** @default DEFAULT_WAL_PREALLOC_BYTES */
  preallocBytes?: number
}

export class RaftDiskStorage {
  /** the core's view: updated only after the data is on disk */
  readonly memory: MemoryStorage
  readonly dir: string
  readonly recovery: RecoveryReport
  private readonly preallocBytes: number
  private fh: FileHandle
  private segment: number
  /** where the next record goes: the end of the records in the live segment */
  private end: number
  /** the live segment's size: records, then zeros */
  private allocated: number
  private closed = false

  private constructor (dir: string, memory: MemoryStorage, fh: FileHandle, segment: number, end: number, allocated: number, preallocBytes: number, recovery: RecoveryReport) {
    this.dir = dir
    this.memory = memory
    this.fh = fh
    this.segment = segment
    this.end = end
    this.allocated = allocated
    this.preallocBytes = preallocBytes
    this.recovery = recovery
  }

  /**
   * Open (creating if needed) the storage in `dir`, replay it into a MemoryStorage, and zero a torn tail.
   * @throws {RaftStorageCorruptError} when the log or the snapshots are damaged beyond a torn tail
   */
  static async open (dir: string, init: RaftDiskStorageInit = {}): Promise<RaftDiskStorage> {
    const preallocBytes = Math.max(ZERO_CHUNK_BYTES, init.preallocBytes ?? DEFAULT_WAL_PREALLOC_BYTES)
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
    const names = await readdir(dir)
    for (const n of names.filter(n => n.endsWith('.tmp'))) await unlink(join(dir, n)).catch(() => {})
    const segments = names.map(parseSegmentName).filter((s): s is number => s !== undefined).sort((a, b) => a - b)
    const snapshot = await loadNewestSnapshot(dir, names)

    // Every segment after the first is written whole by a compaction (see rewrite()) and holds the complete
    // retained log and hard state, so only the newest one counts; older ones are left over from a crash
    // between writing a new segment and deleting the old ones.
    for (const seq of segments.slice(0, -1)) await rm(join(dir, segmentName(seq)), { force: true })
    const segment = segments.length > 0 ? segments[segments.length - 1] : 1
    const path = join(dir, segmentName(segment))
    let entries: Entry[] = []
    let hardState: HardState = { term: 0, vote: NONE, commit: 0 }
    let installed = 0
    let records = 0
    let truncatedBytes = 0
    const bytes = segments.length > 0 ? await readFile(path) : Buffer.alloc(0)
    let at = 0
    while (at < bytes.byteLength) {
      const rec = readRecord(bytes, at)
      if (rec === undefined) {
        truncatedBytes = lastNonZero(bytes, at) + 1 - at
        break
      }
      records++
      at = rec.next
      const body = rec.body
      switch (body[0]) {
        case KIND_ENTRY: {
          const e = decodeEntry(body, path)
          if (entries.length > 0 && e.index <= entries[entries.length - 1].index) {
            // a new leader overwrote an uncommitted suffix (Raft §5.3): the later record wins
            entries = entries.slice(0, Math.max(0, e.index - entries[0].index))
          }
          const last = entries[entries.length - 1]
          if (last !== undefined && e.index !== last.index + 1) {
            throw new RaftStorageCorruptError(`raft log ${path}: entry ${e.index} follows entry ${last.index}`)
          }
          entries.push(e)
          break
        }
        case KIND_HARD_STATE:
          hardState = { term: readU64(body, 1), commit: readU64(body, 9), vote: Buffer.from(body.subarray(17)).toString('utf8') }
          break
        case KIND_SNAPSHOT:
          installed = readU64(body, 1)
          entries = []
          break
        default:
          throw new RaftStorageCorruptError(`raft log ${path}: unknown record kind ${body[0]}`)
      }
    }
    if (installed > snapshot.index) {
      throw new RaftStorageCorruptError(`raft log in ${dir} records a snapshot installed at ${installed}, but the newest readable snapshot file is at ${snapshot.index}`)
    }
    entries = entries.filter(e => e.index > snapshot.index)
    if (entries.length > 0 && entries[0].index !== snapshot.index + 1) {
      throw new RaftStorageCorruptError(`raft log in ${dir} starts at entry ${entries[0].index} but the snapshot ends at ${snapshot.index}: entries are missing`)
    }

    const memory = new MemoryStorage()
    if (snapshot.index > 0) memory.applySnapshot(snapshot)
    memory.append(entries)
    memory.setHardState(hardState)

    // positional writes: a file opened for appending would ignore the offsets
    const fh = await open(path, segments.length > 0 ? 'r+' : 'w+', PRIVATE_FILE_MODE)
    try {
      let allocated = bytes.byteLength
      if (truncatedBytes > 0 || allocated - at < preallocBytes / 2) {
        if (truncatedBytes > 0) await writeZeros(fh, at, at + truncatedBytes)
        if (allocated - at < preallocBytes / 2) {
          await writeZeros(fh, allocated, at + preallocBytes)
          allocated = at + preallocBytes
        }
        await fh.datasync()
      }
      if (segments.length === 0) await fsyncPath(dir)
      return new RaftDiskStorage(dir, memory, fh, segment, at, allocated, preallocBytes, {
      segments: segments.length,
      records,
      truncatedBytes,
      snapshotIndex: snapshot.index,
      firstIndex: memory.firstIndex(),
        lastIndex: memory.lastIndex(),
        hardState
      })
    } catch (err) {
      await fh.close()
      throw err
    }
  }

  /**
   * Make a Ready's snapshot, entries and hard state durable (snapshot file first, then one WAL write and one
   * fdatasync), then mirror them into {@link memory}.
   */
  async save (batch: PersistBatch): Promise<void> {
    this.assertOpen()
    const parts: Uint8Array[] = []
    if (batch.snapshot !== undefined) {
      await writeSnapshotFile(this.dir, batch.snapshot)
      parts.push(record(snapshotBody(batch.snapshot)))
    }
    for (const e of batch.entries) parts.push(record(entryBody(e)))
    if (batch.hardState !== undefined) parts.push(record(hardStateBody(batch.hardState)))
    if (parts.length > 0) {
      const buf = Buffer.concat(parts)
      if (this.end + buf.byteLength > this.allocated) {
        // the next fdatasync commits the new size along with the records
        const allocated = this.end + buf.byteLength + this.preallocBytes
        await writeZeros(this.fh, this.allocated, allocated)
        this.allocated = allocated
      }
      // the write only copies into the page cache: done synchronously it saves a thread-pool round trip
      // on the path of every commit; the fsync, which waits for the disk, stays off the event loop
      writeFullySync(this.fh.fd, buf, this.end)
      this.end += buf.byteLength
      if (mustSync(batch, this.memory.initialState())) await this.fh.datasync()
    }
    if (batch.snapshot !== undefined) {
      this.memory.applySnapshot(batch.snapshot)
      await pruneSnapshots(this.dir)
    }
    this.memory.append(batch.entries)
    if (batch.hardState !== undefined) this.memory.setHardState(batch.hardState)
  }

  /**
   * Record a snapshot taken locally (RaftNode.createSnapshot), drop the log up to `compactTo` (<= its index),
   * and rewrite the WAL so that it holds only the hard state and the retained entries.
   */
  async saveLocalSnapshot (snapshot: Snapshot, compactTo: number): Promise<void> {
    this.assertOpen()
    await writeSnapshotFile(this.dir, snapshot)
    this.memory.createSnapshot(snapshot)
    if (compactTo >= this.memory.firstIndex()) this.memory.compact(compactTo)
    await this.rewrite()
    await pruneSnapshots(this.dir)
  }

  /** Bytes of records in the live WAL segment (the zeros preallocated after them not counted). */
  walBytes (): number {
    return this.end
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.fh.close()
  }

  /** A new segment with the hard state and every retained entry, made durable before the old ones go. */
  private async rewrite (): Promise<void> {
    const next = this.segment + 1
    const first = this.memory.firstIndex()
    const last = this.memory.lastIndex()
    const parts: Uint8Array[] = []
    if (last >= first) {
      for (const e of this.memory.entries(first, last + 1, Number.MAX_SAFE_INTEGER)) parts.push(record(entryBody(e)))
    }
    parts.push(record(hardStateBody(this.memory.initialState())))
    const buf = Buffer.concat(parts)
    const allocated = buf.byteLength + this.preallocBytes
    const path = join(this.dir, segmentName(next))
    const tmp = path + '.tmp'
    const fh = await open(tmp, 'w', PRIVATE_FILE_MODE)
    try {
      await fh.write(buf, 0, buf.byteLength, 0)
      await writeZeros(fh, buf.byteLength, allocated)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
    await fsyncPath(this.dir)
    const old = this.fh
    this.fh = await open(path, 'r+')
    this.segment = next
    this.end = buf.byteLength
    this.allocated = allocated
    await old.close()
    for (const n of await readdir(this.dir)) {
      const seq = parseSegmentName(n)
      if (seq !== undefined && seq < next) await rm(join(this.dir, n), { force: true })
    }
    await fsyncPath(this.dir)
  }

  private assertOpen (): void {
    if (this.closed) throw new DitsError('raft storage is closed')
  }
}

/**
 * Whether a batch must reach the disk before anything that depends on it is sent (etcd-io/raft MustSync):
 * new entries, a snapshot, or a new term or vote (Raft Figure 2: currentTerm, votedFor and log[] are the
 * persistent state). A commit index that only moved forward need not be durable — it is re-learned from
 * the leader after a restart — so the leader's commit-only Readies skip the fsync and apply at once.
 */
export function mustSync (batch: PersistBatch, durable: HardState): boolean {
  if (batch.entries.length > 0 || batch.snapshot !== undefined) return true
  const hs = batch.hardState
  return hs !== undefined && (hs.term !== durable.term || hs.vote !== durable.vote)
}

const ZEROS = Buffer.alloc(ZERO_CHUNK_BYTES)

async function writeZeros (fh: FileHandle, from: number, to: number): Promise<void> {
  for (let at = from; at < to; at += ZEROS.byteLength) await writeFully(fh, ZEROS.subarray(0, Math.min(ZEROS.byteLength, to - at)), at)
}

/** The offset of the last byte at or after `from` that is not zero, or `from - 1` when there is none. */
function lastNonZero (bytes: Buffer, from: number): number {
  for (let end = bytes.byteLength; end > from;) {
    const start = Math.max(from, end - ZEROS.byteLength)
    if (bytes.compare(ZEROS, 0, end - start, start, end) !== 0) {
      for (let i = end - 1; i >= start; i--) if (bytes[i] !== 0) return i
    }
    end = start
  }
  return from - 1
}

function segmentName (seq: number): string {
  return `wal-${seq.toString(16).padStart(16, '0')}.log`
}

function parseSegmentName (name: string): number | undefined {
  const m = /^wal-([0-9a-f]{16})\.log$/.exec(name)
  return m == null ? undefined : parseInt(m[1], 16)
}

function snapshotName (index: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}.snap`
}

function parseSnapshotName (name: string): number | undefined {
  const m = /^snap-([0-9a-f]{16})\.snap$/.exec(name)
  return m == null ? undefined : parseInt(m[1], 16)
}

function writeU64 (buf: Buffer, at: number, n: number): void {
  buf.writeUInt32LE(n % 0x1_0000_0000, at)
  buf.writeUInt32LE(Math.floor(n / 0x1_0000_0000), at + 4)
}

function readU64 (buf: Uint8Array, at: number): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x1_0000_0000
}

function record (body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES)
  header.writeUInt32LE(body.byteLength, 0)
  header.writeUInt32LE(crc32(body), 4)
  return Buffer.concat([header, body])
}

/** The record at `at`, or undefined when it is torn or fails its checksum. */
function readRecord (bytes: Buffer, at: number): { body: Buffer, next: number } | undefined {
  if (at + RECORD_HEADER_BYTES > bytes.byteLength) return undefined
  const length = bytes.readUInt32LE(at)
  const sum = bytes.readUInt32LE(at + 4)
  const start = at + RECORD_HEADER_BYTES
  if (length === 0 || length > MAX_RECORD_BYTES || start + length > bytes.byteLength) return undefined
  const body = bytes.subarray(start, start + length)
  if (crc32(body) !== sum) return undefined
  return { body, next: start + length }
}

function entryBody (e: Entry): Buffer {
  const body = Buffer.allocUnsafe(18 + e.data.byteLength)
  body[0] = KIND_ENTRY
  writeU64(body, 1, e.term)
  writeU64(body, 9, e.index)
  body[17] = ENTRY_TYPES.indexOf(e.type)
  body.set(e.data, 18)
  return body
}

function decodeEntry (body: Buffer, path: string): Entry {
  const type = ENTRY_TYPES[body[17]]
  if (body.byteLength < 18 || type === undefined) throw new RaftStorageCorruptError(`raft log ${path}: malformed entry record`)
  // copy: the record lives in the segment's read buffer
  return { term: readU64(body, 1), index: readU64(body, 9), type, data: new Uint8Array(body.subarray(18)) }
}

function hardStateBody (hs: HardState): Buffer {
  const vote = Buffer.from(hs.vote, 'utf8')
  const body = Buffer.allocUnsafe(17 + vote.byteLength)
  body[0] = KIND_HARD_STATE
  writeU64(body, 1, hs.term)
  writeU64(body, 9, hs.commit)
  body.set(vote, 17)
  return body
}

function snapshotBody (s: Snapshot): Buffer {
  const body = Buffer.allocUnsafe(17)
  body[0] = KIND_SNAPSHOT
  writeU64(body, 1, s.index)
  writeU64(body, 9, s.term)
  return body
}

async function writeSnapshotFile (dir: string, s: Snapshot): Promise<void> {
  const voters = Buffer.from(JSON.stringify(s.voters), 'utf8')
  const head = Buffer.allocUnsafe(20)
  writeU64(head, 0, s.index)
  writeU64(head, 8, s.term)
  head.writeUInt32LE(voters.byteLength, 16)
  const body = Buffer.concat([head, voters, s.data])
  const sum = Buffer.allocUnsafe(4)
  sum.writeUInt32LE(crc32(body), 0)
  const path = join(dir, snapshotName(s.index))
  const tmp = path + '.tmp'
  const fh = await open(tmp, 'w', PRIVATE_FILE_MODE)
  try {
    await fh.write(Buffer.concat([sum, body]))
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
  await fsyncPath(dir)
}

async function readSnapshotFile (path: string): Promise<Snapshot | undefined> {
  const bytes = await readFile(path).catch(() => undefined)
  if (bytes === undefined || bytes.byteLength < 24) return undefined
  const body = bytes.subarray(4)
  if (crc32(body) !== bytes.readUInt32LE(0)) return undefined
  const votersLength = body.readUInt32LE(16)
  if (20 + votersLength > body.byteLength) return undefined
  let voters: unknown
  try {
    voters = JSON.parse(body.subarray(20, 20 + votersLength).toString('utf8'))
  } catch {
    return undefined
  }
  if (!Array.isArray(voters) || !voters.every(v => typeof v === 'string')) return undefined
  return { index: readU64(body, 0), term: readU64(body, 8), voters, data: new Uint8Array(body.subarray(20 + votersLength)) }
}

/**
 * The newest snapshot file. It was written whole (temp file, fsync, rename) and the log before it is
 * compacted away, so an older one could not stand in for it: a damaged one stops the node.
 */
async function loadNewestSnapshot (dir: string, names: string[]): Promise<Snapshot> {
  const index = names.map(parseSnapshotName).filter((i): i is number => i !== undefined).sort((a, b) => b - a)[0]
  if (index === undefined) return EMPTY_SNAPSHOT
  const path = join(dir, snapshotName(index))
  const s = await readSnapshotFile(path)
  if (s === undefined || s.index !== index) {
    throw new RaftStorageCorruptError(`raft snapshot ${path} is damaged (checksum or format); restore the repo's datastore/raft from a backup, or wipe it and re-add this voter so the leader sends a fresh snapshot`)
  }
  return s
}

/** Only the newest snapshot is ever read; older ones go once a newer one is durable. */
async function pruneSnapshots (dir: string): Promise<void> {
  const indexes = (await readdir(dir)).map(parseSnapshotName).filter((i): i is number => i !== undefined).sort((a, b) => b - a)
  for (const index of indexes.slice(1)) await rm(join(dir, snapshotName(index)), { force: true })
}
