import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm, readdir, open, stat, truncate, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RaftDiskStorage, DEFAULT_WAL_PREALLOC_BYTES } from '../../../node/consensus/storage.ts'
import type { Entry } from '../../../src/raft/index.ts'

const enc = new TextEncoder()

function entries (from: number, to: number, term: number, tag = ''): Entry[] {
  const out: Entry[] = []
  for (let i = from; i <= to; i++) out.push({ term, index: i, type: 'normal', data: enc.encode(`e${i}t${term}${tag}`) })
  return out
}

function all (s: RaftDiskStorage): Entry[] {
  const m = s.memory
  return m.lastIndex() < m.firstIndex() ? [] : m.entries(m.firstIndex(), m.lastIndex() + 1, Number.MAX_SAFE_INTEGER)
}

async function segments (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(n => n.startsWith('wal-')).sort()
}

/** Write `bytes` at `position` of `path`, as a crash mid-write could have left them. */
async function writeAt (path: string, bytes: Uint8Array, position: number): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    await fh.write(bytes, 0, bytes.byteLength, position)
  } finally {
    await fh.close()
  }
}

describe('node/consensus/storage', () => {
  let dir: string

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dits-raft-storage-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('starts empty, and gives back entries and the hard state after a reopen', async () => {
    const s = await RaftDiskStorage.open(dir)
    assert.equal(s.memory.lastIndex(), 0)
    assert.deepEqual(s.memory.initialState(), { term: 0, vote: '', commit: 0 })
    await s.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 'a', commit: 2 } })
    await s.save({ entries: entries(4, 5, 2), hardState: { term: 2, vote: 'b', commit: 4 } })
    await s.close()
    const r = await RaftDiskStorage.open(dir)
    assert.deepEqual(all(r), [...entries(1, 3, 1), ...entries(4, 5, 2)])
    assert.deepEqual(r.memory.initialState(), { term: 2, vote: 'b', commit: 4 })
    assert.equal(r.recovery.truncatedBytes, 0)
    await r.close()
  })

  it('a later append replaces the suffix it overlaps (Raft §5.3), on disk as in memory', async () => {
    const s = await RaftDiskStorage.open(dir)
    await s.save({ entries: entries(1, 5, 1) })
    await s.save({ entries: entries(3, 4, 2, 'new') })
    assert.deepEqual(all(s), [...entries(1, 2, 1), ...entries(3, 4, 2, 'new')])
    await s.close()
    const r = await RaftDiskStorage.open(dir)
    assert.deepEqual(all(r), [...entries(1, 2, 1), ...entries(3, 4, 2, 'new')])
    await r.close()
  })

  it('cuts a torn tail (half a record) and a record with a bad checksum, keeping everything before', async () => {
    const s = await RaftDiskStorage.open(dir)
    await s.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 'a', commit: 3 } })
    const good = s.walBytes()
    await s.close()
    const [seg] = await segments(dir)
    // a record header announcing 100 bytes, followed by only 10
    const torn = Buffer.alloc(18, 0xab)
    torn.writeUInt32LE(100, 0)
    await writeAt(join(dir, seg), torn, good)
    let r = await RaftDiskStorage.open(dir)
    assert.equal(r.recovery.truncatedBytes, 18)
    assert.deepEqual(all(r), entries(1, 3, 1))
    assert.equal(r.walBytes(), good)
    assert.ok((await readFile(join(dir, seg))).subarray(good, good + 18).every(b => b === 0), 'the torn bytes are zeroed')
    // writing goes on after the cut, and survives the next reopen
    await r.save({ entries: entries(4, 4, 1) })
    const end = r.walBytes()
    await r.close()
    // flip a byte inside the last record's body: its checksum fails, it is cut, the rest stays
    const bytes = await readFile(join(dir, seg))
    await writeAt(join(dir, seg), Uint8Array.of(bytes[end - 2] ^ 0xff), end - 2)
    r = await RaftDiskStorage.open(dir)
    assert.ok(r.recovery.truncatedBytes > 0)
    assert.deepEqual(all(r), entries(1, 3, 1))
    assert.deepEqual(r.memory.initialState(), { term: 1, vote: 'a', commit: 3 })
    await r.close()
  })

  it('writes inside a zero-filled preallocated segment: the file does not grow with each record, and its zeros read as the end of the log', async () => {
    const s = await RaftDiskStorage.open(dir)
    const [seg] = await segments(dir)
    assert.equal((await stat(join(dir, seg))).size, DEFAULT_WAL_PREALLOC_BYTES)
    for (let i = 1; i <= 20; i++) await s.save({ entries: entries(i, i, 1), hardState: { term: 1, vote: 'a', commit: i - 1 } })
    assert.equal((await stat(join(dir, seg))).size, DEFAULT_WAL_PREALLOC_BYTES)
    assert.ok(s.walBytes() > 0 && s.walBytes() < DEFAULT_WAL_PREALLOC_BYTES)
    await s.close()
    const r = await RaftDiskStorage.open(dir)
    assert.deepEqual(all(r), entries(1, 20, 1))
    assert.deepEqual(r.memory.initialState(), { term: 1, vote: 'a', commit: 19 })
    assert.equal(r.recovery.truncatedBytes, 0)
    await r.close()
  })

  it('grows the segment by another preallocation when the records reach its end', async () => {
    const prealloc = 1024 * 1024
    const big = (from: number, to: number): Entry[] => entries(from, to, 1).map(e => ({ ...e, data: new Uint8Array(400 * 1024).fill(e.index) }))
    const s = await RaftDiskStorage.open(dir, { preallocBytes: prealloc })
    for (let i = 1; i <= 6; i++) await s.save({ entries: big(i, i) })
    const [seg] = await segments(dir)
    assert.ok((await stat(join(dir, seg))).size > s.walBytes())
    await s.close()
    const r = await RaftDiskStorage.open(dir, { preallocBytes: prealloc })
    assert.deepEqual(all(r), big(1, 6))
    await r.close()
  })

  it('never replays a stale whole record that a torn write left behind the cut, even when new records line up with it', async () => {
    const s = await RaftDiskStorage.open(dir)
    await s.save({ entries: entries(1, 3, 1) })
    const good = s.walBytes()
    await s.close()
    // the records of entries 4 and 5 as one batch writes them, from a scratch storage
    const other = await mkdtemp(join(tmpdir(), 'dits-raft-storage-batch-'))
    try {
      const o = await RaftDiskStorage.open(other)
      await o.save({ entries: entries(1, 3, 1) })
      await o.save({ entries: entries(4, 5, 1) })
      const size = o.walBytes()
      await o.close()
      const [oseg] = await segments(other)
      const batch = (await readFile(join(other, oseg))).subarray(good, size)
      // a crash persisted the page with record 5 but not the start of record 4: its checksum fails
      batch[4] ^= 0xff
      const [seg] = await segments(dir)
      await writeAt(join(dir, seg), batch, good)
      let r = await RaftDiskStorage.open(dir)
      assert.deepEqual(all(r), entries(1, 3, 1))
      assert.equal(r.recovery.truncatedBytes, batch.byteLength)
      // the same entry 4 again ends exactly where the stale record 5 began
      await r.save({ entries: entries(4, 4, 1) })
      await r.close()
      r = await RaftDiskStorage.open(dir)
      assert.deepEqual(all(r), entries(1, 4, 1))
      await r.close()
    } finally {
      await rm(other, { recursive: true, force: true })
    }
  })

  it('a local snapshot compacts the log and rewrites the WAL into one segment', async () => {
    const s = await RaftDiskStorage.open(dir)
    await s.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 'a', commit: 10 } })
    const walBefore = s.walBytes()
    await s.saveLocalSnapshot({ index: 8, term: 1, voters: ['a', 'b', 'c'], data: enc.encode('state@8') }, 5)
    assert.equal(s.memory.firstIndex(), 6)
    assert.ok(s.walBytes() < walBefore)
    await s.save({ entries: entries(11, 12, 2), hardState: { term: 2, vote: 'b', commit: 12 } })
    await s.close()
    assert.equal((await segments(dir)).length, 1)
    const r = await RaftDiskStorage.open(dir)
    assert.deepEqual(r.memory.snapshot(), { index: 8, term: 1, voters: ['a', 'b', 'c'], data: enc.encode('state@8') })
    // entries the snapshot covers are not needed after a restart
    assert.equal(r.memory.firstIndex(), 9)
    assert.deepEqual(all(r), [...entries(9, 10, 1), ...entries(11, 12, 2)])
    assert.deepEqual(r.memory.initialState(), { term: 2, vote: 'b', commit: 12 })
    await r.close()
  })

  it('a snapshot received from the leader replaces the whole log', async () => {
    const s = await RaftDiskStorage.open(dir)
    await s.save({ entries: entries(1, 4, 1) })
    await s.save({ snapshot: { index: 20, term: 3, voters: ['a', 'b', 'c'], data: enc.encode('state@20') }, entries: [], hardState: { term: 3, vote: '', commit: 20 } })
    await s.save({ entries: entries(21, 22, 3) })
    await s.close()
    const r = await RaftDiskStorage.open(dir)
    assert.equal(r.memory.snapshot().index, 20)
    assert.deepEqual(all(r), entries(21, 22, 3))
    assert.equal(r.memory.term(20), 3)
    await r.close()
  })

  it('keeps only the newest snapshot file, and refuses to start from a damaged one', async () => {
    const s = await RaftDiskStorage.open(dir)
    await s.save({ entries: entries(1, 40, 1), hardState: { term: 1, vote: 'a', commit: 40 } })
    for (const at of [10, 20, 30, 40]) await s.saveLocalSnapshot({ index: at, term: 1, voters: ['a'], data: enc.encode(`s${at}`) }, at - 5)
    await s.close()
    const snaps = (await readdir(dir)).filter(n => n.startsWith('snap-'))
    assert.deepEqual(snaps, ['snap-0000000000000028.snap'])
    await truncate(join(dir, snaps[0]), 10)
    await assert.rejects(RaftDiskStorage.open(dir), (e: Error) => e.name === 'RaftStorageCorruptError' && e.message.includes(snaps[0]))
  })

  it('loses nothing acknowledged when the writing process is killed with SIGKILL', async function () {
    this.timeout(60_000)
    const storageModule = fileURLToPath(new URL('../../../node/consensus/storage.js', import.meta.url))
    const script = `
      const { RaftDiskStorage } = await import(${JSON.stringify(storageModule)})
      const s = await RaftDiskStorage.open(${JSON.stringify(dir)})
      for (let i = s.memory.lastIndex() + 1; ; i++) {
        await s.save({ entries: [{ term: 1, index: i, type: 'normal', data: new Uint8Array(200 + (i % 50)).fill(i % 256) }], hardState: { term: 1, vote: 'a', commit: i } })
        process.stdout.write('ack ' + i + '\\n')
      }`
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
      let acked = 0
      let count = 0
      let buffered = ''
      await new Promise<void>(resolve => {
        child.stdout.on('data', (d: Buffer) => {
          buffered += d.toString()
          const m = [...buffered.matchAll(/ack (\d+)\n/g)]
          buffered = buffered.slice(buffered.lastIndexOf('\n') + 1)
          count += m.length
          if (m.length > 0) acked = Number(m[m.length - 1][1])
          if (count >= 150 + round * 37) { child.kill('SIGKILL'); resolve() }
        })
      })
      await new Promise(resolve => child.once('exit', resolve))
      const r = await RaftDiskStorage.open(dir)
      assert.ok(r.memory.lastIndex() >= acked, `acknowledged ${acked} but only ${r.memory.lastIndex()} survived`)
      assert.ok(r.memory.initialState().commit >= acked)
      const last = all(r).at(-1)
      assert.deepEqual(last?.data, new Uint8Array(200 + (last!.index % 50)).fill(last!.index % 256))
      await r.close()
    }
  })
})
