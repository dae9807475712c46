import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Output, fetchTo } from '../../node/output.ts'
import { ChunksMessage, Presence } from '../../protocol/chunks.ts'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeBlockFrame, encodeBlockFrame } from '../../node/net/wire.ts'
import { MAX_BLOCK_BYTES } from '../../protocol/index.ts'
import { varint } from '../../node/net/framing.ts'
import { makeFile, startNode, stopAll, MiB, KiB, startLiarAndHonest, MemoryBlockstore } from './net/helpers.ts'
import type { TestNode } from './net/helpers.ts'
import type { CID } from 'multiformats/cid'
import { buildDirectory } from '../../src/manifest/index.ts'
import type { DirEntry, EncodedBlock } from '../../src/manifest/index.ts'
import { oneChunkFile, memoryGetBlock } from '../helpers/hostile-trees.ts'

/** The bytes of a frame's varint length prefix. */
function prefixLength (frame: Uint8Array): number {
  let n = 0
  while ((frame[n] & 0x80) !== 0) n++
  return n + 1
}

describe('node/output: get writes the output while fetching', function () {
  this.timeout(30_000)
  let dir: string
  let nodes: Array<TestNode | undefined> = []

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dits-output-')) })
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
    await rm(dir, { recursive: true, force: true })
  })

  const getter = (store: MemoryBlockstore) => async (cid: CID): Promise<Uint8Array> => await store.get(cid)

  it('writes chunks in any order, hashing the prefix (reading back what it could not hold), byte-exact', async () => {
    const file = makeFile(3 * MiB + 77, 128 * KiB, 4)
    const store = new MemoryBlockstore()
    store.putAll(file.blocks.filter(b => b.cid.code !== 0x55))
    const out = join(dir, 'out.bin')
    const progress: number[] = []
    const output = await Output.create(getter(store), file.root, out, { holdBytes: 256 * KiB, onProgress: p => progress.push(p.bytes) })
    const byCid = new Map(file.blocks.map(b => [b.cid.toString(), b.bytes]))
    for (const cid of [...file.chunks].reverse()) await output.write(cid, byCid.get(cid.toString()) as Uint8Array)
    const result = await output.finish()
    assert.deepEqual(result, { bytes: file.data.byteLength, files: 1, dirs: 0 })
    assert.equal(progress.at(-1), file.data.byteLength)
    assert.deepEqual(new Uint8Array(await readFile(out)), file.data)
    assert.deepEqual(await readdir(dir), ['out.bin'])
  })

  it('writes a large file direct through aligned staging, whatever the order and length of its chunks, byte-exact', async () => {
    // chunks of 5123 bytes against 8 KiB spans: chunks cross spans and pages, and the file ends mid-page
    const file = makeFile(600 * KiB + 77, 5 * KiB + 3, 5)
    const byCid = new Map(file.blocks.map(b => [b.cid.toString(), b.bytes]))
    const orders = {
      'in order': [...file.chunks],
      // the hold is too small for all: most are written in place first, read back and written again direct
      reversed: [...file.chunks].reverse(),
      interleaved: file.chunks.map((_, i) => file.chunks[i % 2 === 0 ? i >> 1 : file.chunks.length - 1 - (i >> 1)])
    }
    for (const [name, order] of Object.entries(orders)) {
      const store = new MemoryBlockstore()
      store.putAll(file.blocks.filter(b => b.cid.code !== 0x55))
      const out = join(dir, 'out.bin')
      const output = await Output.create(getter(store), file.root, out, { force: true, holdBytes: 64 * KiB, directMinBytes: 0, stagingBytes: 8 * KiB })
      for (const cid of order) await output.write(cid, byCid.get(cid.toString()) as Uint8Array)
      await output.finish()
      assert.ok(Buffer.from(await readFile(out)).equals(file.data), name)
    }
  })

  it('a chunk missing at the end is read from the repo; a wrong length is refused', async () => {
    const file = makeFile(MiB, 256 * KiB)
    const store = new MemoryBlockstore()
    store.putAll(file.blocks)
    const out = join(dir, 'out.bin')
    const output = await Output.create(getter(store), file.root, out)
    await assert.rejects(output.write(file.chunks[0], new Uint8Array(3)), { name: 'VerificationError' })
    await output.abort()
    assert.deepEqual(await readdir(dir), [])
    const again = await Output.create(getter(store), file.root, out)
    await again.finish()
    assert.deepEqual(new Uint8Array(await readFile(out)), file.data)
  })

  it('bytes whose whole-file BLAKE3 differs from the manifest never reach the output name', async () => {
    // a caller that hands in unverified bytes of the right length: the whole-file hash still catches it
    const file = makeFile(MiB, 256 * KiB)
    const store = new MemoryBlockstore()
    store.putAll(file.blocks)
    const out = join(dir, 'out.bin')
    const output = await Output.create(getter(store), file.root, out)
    const bad = new Uint8Array(256 * KiB)
    await output.write(file.chunks[1], bad)
    await assert.rejects(output.finish(), { name: 'VerificationError' })
    assert.deepEqual(await readdir(dir), [])
  })

  it('fetchTo: writes while fetching; a lying peer never lands a wrong byte, the honest one completes it', async () => {
    const file = makeFile(8 * MiB, 256 * KiB)
    const { liar, honest, d } = await startLiarAndHonest(file.blocks, 16e6)
    nodes = [liar, honest, d]
    const out = join(dir, 'out.bin')
    let chunksAtFirstOutput = -1
    const { fetched, result } = await fetchTo(async (cid, options) => await d.net.fetch(cid, {
      ...options,
      onChunk: async (c, bytes) => {
        if (chunksAtFirstOutput < 0 && bytes != null) chunksAtFirstOutput = d.store.blocks.size
        await options.onChunk?.(c, bytes)
      }
    }), getter(d.store), file.root, out)
    assert.equal(result.bytes, file.data.byteLength)
    assert.equal(fetched.bytes_fetched, file.data.byteLength)
    assert.ok(fetched.excluded?.[liar.net.peerId] != null, 'the liar is excluded')
    assert.ok(chunksAtFirstOutput < file.chunks.length / 2, `output written while fetching (first chunk out with ${chunksAtFirstOutput} blocks stored)`)
    assert.deepEqual(new Uint8Array(await readFile(out)), file.data)
  })

  it('fetchTo resumes: chunks held are copied from the repo, only the rest is fetched', async () => {
    const file = makeFile(4 * MiB, 256 * KiB)
    const a = await startNode()
    const d = await startNode()
    nodes = [a, d]
    a.store.putAll(file.blocks)
    d.store.putAll(file.blocks.filter(b => b.cid.code === 0x55).slice(0, 7))
    await d.net.connect(a.addr)
    const out = join(dir, 'out.bin')
    const { fetched } = await fetchTo(async (cid, options) => await d.net.fetch(cid, options), getter(d.store), file.root, out)
    assert.equal(fetched.bytes_local, 7 * 256 * KiB)
    assert.equal(fetched.bytes_fetched, file.data.byteLength - 7 * 256 * KiB)
    assert.deepEqual(new Uint8Array(await readFile(out)), file.data)
  })

  it('fetchTo aborted half way leaves no output and no partial file', async () => {
    const file = makeFile(16 * MiB, 256 * KiB)
    const a = await startNode({ maxServeRateBytesPerSec: 8e6 })
    const d = await startNode()
    nodes = [a, d]
    a.store.putAll(file.blocks)
    await d.net.connect(a.addr)
    const out = join(dir, 'out.bin')
    const stop = new AbortController()
    let written = 0
    await assert.rejects(fetchTo(async (cid, options) => await d.net.fetch(cid, {
      ...options,
      onChunk: async (c, bytes) => {
        await options.onChunk?.(c, bytes)
        if (++written === 8) stop.abort(new Error('killed'))
      }
    }), getter(d.store), file.root, out, { signal: stop.signal }))
    assert.deepEqual(await readdir(dir), [])
  })

  it('removes the partial output a killed get of the same target left, and keeps a live one\'s', async () => {
    const file = makeFile(300 * KiB, 64 * KiB, 2)
    const store = new MemoryBlockstore()
    store.putAll(file.blocks)
    const out = join(dir, 'clip.mov')
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
    await mkdir(join(dir, `.clip.mov.dits-partial-${dead}`))
    await writeFile(join(dir, `.clip.mov.dits-partial-${dead}`, 'half'), 'x')
    await writeFile(join(dir, `.clip.mov.dits-partial-${process.ppid}`), 'another get, still running')
    const output = await Output.create(getter(store), file.root, out)
    for (const cid of file.chunks) output.writeLocal(cid)
    await output.finish()
    assert.deepEqual(new Uint8Array(await readFile(out)), file.data)
    assert.deepEqual((await readdir(dir)).sort(), [`.clip.mov.dits-partial-${process.ppid}`, 'clip.mov'])
  })

  it('lays a file out as a window over its chunks: the plan waits while the window is full, and repeats are read back from the repo', async () => {
    // 40 chunks of 7 distinct ones, repeating every 7 positions: with a window of 4 a repeat is never in the
    // window with the chunk it repeats, so each is planned again and, its bytes stored already, read back
    const pattern = Array.from({ length: 7 }, () => new Uint8Array(randomBytes(4 * KiB)))
    const data = new Uint8Array(Buffer.concat(Array.from({ length: 40 }, (_, i) => pattern[i % 7])))
    const file = makeFile(data.byteLength, 4 * KiB, 8, data)
    const byCid = new Map(file.blocks.map(b => [b.cid.toString(), b.bytes]))
    const store = new MemoryBlockstore()
    store.putAll(file.blocks.filter(b => b.cid.code !== 0x55))
    const out = join(dir, 'out.bin')
    const output = await Output.create(getter(store), file.root, out, { windowChunks: 4 })
    const plan = output.plan()
    const taken: CID[] = []
    for (let i = 0; i < 4; i++) taken.push((await plan.next()).value.cid)
    // four positions known, none written: the fifth waits for the head to be written
    const fifth = plan.next()
    const early = await Promise.race([fifth.then(() => 'planned'), new Promise(resolve => setTimeout(() => resolve('waiting'), 100))])
    assert.equal(early, 'waiting')
    const deliver = async (cid: CID): Promise<void> => {
      if (await store.has(cid)) {
        output.writeLocal(cid)
        return
      }
      const bytes = byCid.get(cid.toString()) as Uint8Array
      store.putAll([{ cid, bytes }])
      await output.write(cid, bytes)
    }
    for (const cid of taken) await deliver(cid)
    let planned = taken.length + 1
    await deliver((await fifth).value.cid)
    for await (const { cid } of plan) {
      planned++
      await deliver(cid)
    }
    assert.equal(planned, 40)
    assert.deepEqual(await output.finish(), { bytes: data.byteLength, files: 1, dirs: 0 })
    assert.deepEqual(new Uint8Array(await readFile(out)), data)
  })

  it('fetchTo through a small window and plan: every chunk comes once from the peer, byte-exact', async () => {
    const file = makeFile(300 * 4 * KiB + 5, 4 * KiB, 16)
    const a = await startNode()
    const d = await startNode()
    nodes = [a, d]
    a.store.putAll(file.blocks)
    await d.net.connect(a.addr)
    const out = join(dir, 'out.bin')
    await d.net.fetch(file.root, { scope: 'manifests' })
    const output = await Output.create(getter(d.store), file.root, out, { windowChunks: 16 })
    let pulled = 0
    let delivered = 0
    let ahead = 0
    const plan = (async function * () {
      for await (const c of output.plan()) {
        pulled++
        ahead = Math.max(ahead, pulled - delivered)
        yield c
      }
    })()
    const report = await d.net.fetch(file.root, {
      plan,
      planAheadChunks: 8,
      onChunk: async (cid, bytes) => {
        delivered++
        if (bytes == null) output.writeLocal(cid)
        else await output.write(cid, bytes)
      }
    })
    await output.finish()
    assert.deepEqual(new Uint8Array(await readFile(out)), file.data)
    assert.equal(report.blocks_fetched, file.chunks.length)
    assert.equal(report.bytes_fetched, file.data.byteLength)
    // the download asks for a few chunks at a time, never the whole file: 8 planned, the rest of the output's window
    assert.ok(ahead <= 16, `planned ${ahead} chunks ahead of those delivered`)
  })

  it('counting a tree and laying it out read each manifest block from the store once', async () => {
    const blocks: EncodedBlock[] = []
    const chunks: EncodedBlock[] = []
    const folders: DirEntry[] = []
    for (let f = 0; f < 10; f++) {
      const files: DirEntry[] = []
      for (let i = 0; i < 30; i++) {
        const { file, chunk } = oneChunkFile(100 + i, f)
        blocks.push(file)
        chunks.push(chunk)
        files.push([`file-${i}.bin`, file.cid, 100 + i, 'file'])
      }
      const built = buildDirectory(files)
      blocks.push(...built.blocks, built.root)
      folders.push([`folder-${f}`, built.root.cid, files.reduce((n, e) => n + e[2], 0), 'dir'])
    }
    const top = buildDirectory(folders)
    blocks.push(...top.blocks, top.root)
    const reads = new Map<string, number>()
    const store = memoryGetBlock([...blocks, ...chunks])
    const counted = async (cid: CID): Promise<Uint8Array> => {
      reads.set(cid.toString(), (reads.get(cid.toString()) ?? 0) + 1)
      return await store.get(cid)
    }
    const output = await Output.create(counted, top.root.cid, join(dir, 'tree'))
    for (const c of chunks) await output.write(c.cid, c.bytes)
    assert.deepEqual(await output.finish(), { bytes: 10 * 30 * 100 + 10 * (29 * 30 / 2), files: 300, dirs: 11 })
    const manifests = blocks.map(b => b.cid.toString())
    assert.deepEqual(manifests.filter(c => reads.get(c) !== 1), [], 'every manifest block read from the store exactly once')
    assert.equal(await readFile(join(dir, 'tree', 'folder-3', 'file-7.bin')).then(b => b.byteLength), 107)
  })

  it('a block frame is byte for byte the protobuf encoding behind its length prefix', () => {
    const file = makeFile(300 * KiB, 300 * KiB)
    const [header] = encodeBlockFrame(file.chunks[0].bytes, new Uint8Array(0))
    // an empty block keeps its (empty) data field, which protons leaves out: the same message either way
    assert.deepEqual(ChunksMessage.decode(header.subarray(1)), { wants: [], cancels: [], presences: [], blocks: [{ cid: file.chunks[0].bytes, data: new Uint8Array(0) }], error: '' })
    for (const data of [new Uint8Array(100), file.blocks[0].bytes]) {
      const [header, body] = encodeBlockFrame(file.chunks[0].bytes, data)
      const encoded = ChunksMessage.encode({ blocks: [{ cid: file.chunks[0].bytes, data }] })
      assert.deepEqual(Buffer.concat([header, body]), Buffer.concat([varint(encoded.byteLength), encoded]))
    }
  })

  it('a block frame is read back from its pieces without copying; any other message is left to the protobuf decoder', () => {
    const cid = makeFile(1000, 1000).chunks[0].bytes
    for (const size of [0, 1, 127, 128, 16_383, 16_384, 300 * KiB]) {
      const data = new Uint8Array(size).map((_, i) => i * 7)
      const [header, body] = encodeBlockFrame(cid, data)
      const frame = new Uint8Array(Buffer.concat([header, body]))
      // split where yamux might: inside the header, inside the data
      const pieces = new Uint8ArrayList()
      for (let at = prefixLength(frame); at < frame.byteLength; at += 997) pieces.append(frame.subarray(at, Math.min(frame.byteLength, at + 997)))
      const block = decodeBlockFrame(pieces)
      assert.ok(block != null, `${size} bytes`)
      assert.deepEqual(block.cid, cid)
      assert.deepEqual(block.data.subarray(), data)
    }
    const others = [
      ChunksMessage.encode({ presences: [{ cid, type: Presence.Type.HAVE }] }),
      ChunksMessage.encode({ blocks: [{ cid, data: new Uint8Array(3) }, { cid, data: new Uint8Array(3) }] }),
      ChunksMessage.encode({ blocks: [{ cid, data: new Uint8Array(0) }] }),
      ChunksMessage.encode({ error: 'no' })
    ]
    for (const msg of others) assert.equal(decodeBlockFrame(new Uint8ArrayList(msg)), undefined)
    const [header] = encodeBlockFrame(cid, new Uint8Array(MAX_BLOCK_BYTES + 1))
    const tooLarge = new Uint8ArrayList(header.subarray(prefixLength(header)), new Uint8Array(MAX_BLOCK_BYTES + 1))
    assert.throws(() => decodeBlockFrame(tooLarge), { name: 'ProtocolViolationError' })
  })
})
