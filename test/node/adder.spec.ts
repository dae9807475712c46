import assert from 'node:assert/strict'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import { join } from 'node:path'
import { Adder, DEFAULT_PUT_CONCURRENCY } from '../../node/adder.ts'
import { BlockSync } from '../../node/block-sync.ts'
import { DitsBlockstore, WholeCidSharding } from '../../node/blockstore.ts'
import { chunkAndHashSequential } from '../../node/chunk-pipeline.ts'
import { cidFromDigest, RAW_CODE } from '../../src/cid.ts'
import { PROFILES, parseChunkSize } from '../../src/fastcdc/index.ts'
import { blake3 } from '../../src/hash/index.ts'
import { decodeNode, nodeLinks, readFileNode, walkBlocks, walkChunks } from '../../src/manifest/index.ts'
import type { CID } from 'multiformats/cid'
import type { Worker } from 'node:worker_threads'
import { pseudoRandomBytes } from '../src/fastcdc/testdata.ts'
import { watchSyncs } from '../helpers/sync-watch.ts'

const MiB = 1024 * 1024

describe('node/adder', () => {
  let dir: string
  let blocks: DitsBlockstore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-adder-'))
    blocks = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
    await blocks.createShards()
    await blocks.open()
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  const add = async (path: string, signal?: AbortSignal): Promise<{ adder: Adder, cid: import('multiformats/cid').CID }> => {
    const adder = new Adder(blocks, { profile: PROFILES.small, signal })
    await adder.scan([path])
    const { cid } = await adder.addPath(path)
    return { adder, cid }
  }

  it('stores a file past the worker threshold exactly as the sequential path chunks it', async () => {
    const data = pseudoRandomBytes(48 * MiB, 21)
    const path = join(dir, 'big.bin')
    await writeFile(path, data)
    const workers: Worker[] = []
    const onWorker = (w: Worker): void => { workers.push(w) }
    process.on('worker', onWorker)
    const { adder, cid } = await add(path).finally(() => process.off('worker', onWorker))
    assert.equal(workers.length, 1)
    assert.equal(workers[0].threadId, -1, 'the worker was stopped')

    const expected: string[] = []
    for await (const { digest } of chunkAndHashSequential(createReadStream(path), PROFILES.small)) expected.push(cidFromDigest(RAW_CODE, digest).toString())
    const getBlock = async (c: import('multiformats/cid').CID): Promise<Uint8Array> => await blocks.get(c)
    const file = await readFileNode(getBlock, cid)
    assert.equal(file.size, data.length)
    assert.deepEqual(Buffer.from(file.blake3), Buffer.from(blake3(data)))
    const stored: string[] = []
    for await (const chunk of walkChunks(getBlock, file)) {
      stored.push(chunk.cid.toString())
      // get() verifies every chunk against its CID
      assert.ok(Buffer.from(await blocks.get(chunk.cid)).equals(data.subarray(chunk.offset, chunk.offset + chunk.length)))
    }
    assert.deepEqual(stored, expected)
    assert.equal(adder.stats.bytesNew, data.length)
    assert.equal(adder.stats.bytesDedup, 0)
    assert.equal(adder.stats.chunks, expected.length)
    assert.equal(await blocks.removeTempFiles(), 0)
  })

  it('counts repeats within a file and chunks already in the repo as deduplicated, writing each chunk once', async () => {
    const part = pseudoRandomBytes(6 * MiB, 22)
    const path = join(dir, 'twice.bin')
    await writeFile(path, Buffer.concat([part, part]))
    const first = (await add(path)).adder.stats
    assert.equal(first.bytesNew + first.bytesDedup, 2 * part.length)
    assert.ok(first.bytesDedup > part.length - 2 * PROFILES.small.max, `${first.bytesDedup} deduplicated`)
    const again = (await add(path)).adder.stats
    assert.equal(again.bytesNew, 0)
    assert.equal(again.bytesDedup, 2 * part.length)
    assert.equal(again.chunks, first.chunks)
  })

  it('replaces a chunk the repo holds damaged in place (same size) or cut short when its file is added again, and counts it as repaired', async () => {
    const data = pseudoRandomBytes(3 * MiB, 27)
    const path = join(dir, 'damaged.bin')
    await writeFile(path, data)
    const { cid } = await add(path)
    const chunks = []
    for await (const c of walkChunks(async c => await blocks.get(c), await readFileNode(async c => await blocks.get(c), cid))) chunks.push(c)
    assert.ok(chunks.length >= 3)
    const [flipped, cut] = [chunks[1], chunks[2]]
    const stored = Buffer.from(await readFile(blocks.path(flipped.cid)))
    stored[100] ^= 0xff
    await writeFile(blocks.path(flipped.cid), stored)
    await truncate(blocks.path(cut.cid), cut.length - 10)
    const usage = await blocks.recount()

    const again = (await add(path)).adder.stats
    assert.equal(again.bytesRepaired, flipped.length + cut.length)
    assert.equal(again.bytesNew, 0)
    assert.equal(again.bytesDedup, data.length - flipped.length - cut.length)
    for (const c of chunks) assert.ok(Buffer.from(await blocks.get(c.cid)).equals(data.subarray(c.offset, c.offset + c.length)), `chunk at ${c.offset}`)
    const after = blocks.usageReport()
    assert.equal(after.blocks, usage.blocks)
    assert.equal(after.bytes, usage.bytes + 10)
    assert.equal(await blocks.removeTempFiles(), 0)
  })

  it('writes a chunk repeated while its first write is under way once, and counts the repeats as deduplicated', async () => {
    const path = join(dir, 'zeros.bin')
    await writeFile(path, new Uint8Array(4 * MiB))
    const written: string[] = []
    const put = blocks.putChecked.bind(blocks)
    blocks.putChecked = async (cid, bytes, options) => {
      const outcome = await put(cid, bytes, options)
      if (outcome === 'stored' && cid.code === RAW_CODE) written.push(cid.toString())
      return outcome
    }
    const { adder, cid } = await add(path)
    const distinct = new Map<string, number>()
    for await (const chunk of walkChunks(async c => await blocks.get(c), await readFileNode(async c => await blocks.get(c), cid))) distinct.set(chunk.cid.toString(), chunk.length)
    assert.ok(adder.stats.chunks > DEFAULT_PUT_CONCURRENCY, `${adder.stats.chunks} chunks, more than the writes at once`)
    assert.equal(distinct.size, 1)
    assert.deepEqual(written, [...distinct.keys()])
    assert.equal(adder.stats.bytesNew, [...distinct.values()][0])
    assert.equal(adder.stats.bytesDedup, 4 * MiB - adder.stats.bytesNew)
  })

  it('holds the CIDs of two sync batches at most (each the batch size and the writes under way), and has made every block of the file durable at the flush', async () => {
    const data = pseudoRandomBytes(4 * MiB, 26)
    const path = join(dir, 'many.bin')
    await writeFile(path, data)
    const syncs = watchSyncs(blocks)
    const batchBlocks = 50
    let maxHeld = 0
    class WatchedSync extends BlockSync {
      override async add (cid: CID, bytes?: number): Promise<void> {
        const adding = super.add(cid, bytes)
        maxHeld = Math.max(maxHeld, this.held)
        await adding
      }
    }
    const sync = new WatchedSync(blocks, { batchBlocks })
    const adder = new Adder(blocks, { profile: parseChunkSize('1K:2K:8K'), sync })
    await adder.scan([path])
    const { cid } = await adder.addPath(path)
    await sync.flush()

    assert.ok(adder.stats.chunks > 20 * batchBlocks, `${adder.stats.chunks} chunks`)
    assert.ok(maxHeld <= 2 * (batchBlocks + DEFAULT_PUT_CONCURRENCY), `held ${maxHeld} CIDs at once`)
    const dag = new Set<string>()
    for await (const c of walkBlocks(async c => await blocks.get(c), cid)) dag.add(c.toString())
    assert.deepEqual([...syncs.data].sort(), [...dag].sort(), 'exactly the blocks of the file were synced')
    assert.deepEqual([...syncs.durable()].sort(), [...dag].sort(), 'and their shard directories')
    assert.equal(adder.stats.bytesNew, data.length)
  })

  it('writes into shard directories made on first use when the store has none', async () => {
    const bare = new DitsBlockstore(join(dir, 'bare'), join(dir, 'quarantine'), join(dir, 'usage.json'))
    await bare.open()
    const path = join(dir, 'small.bin')
    await writeFile(path, pseudoRandomBytes(MiB, 23))
    const sync = new BlockSync(bare)
    const adder = new Adder(bare, { profile: PROFILES.small, sync })
    await adder.scan([path])
    await adder.addPath(path)
    await sync.flush()
    const shards = await readdir(join(dir, 'bare'))
    assert.ok(shards.length > 0 && shards.every(s => WholeCidSharding.shards.includes(s)))
  })

  it('writes direct blocks of every size exactly, from views at any offset (O_DIRECT and buffered writes)', async () => {
    const piece = pseudoRandomBytes(9 * MiB, 25)
    const sizes = [1, 4095, 4096, 4097, 65_535, 65_536, 65_537, MiB + 123, 4 * MiB]
    for (const [i, size] of sizes.entries()) {
      const bytes = piece.subarray(1000 + 4099 * i, 1000 + 4099 * i + size)
      const cid = cidFromDigest(RAW_CODE, blake3(bytes))
      await blocks.put(cid, bytes, { trusted: true, direct: true })
      assert.ok(Buffer.from(await blocks.get(cid)).equals(bytes), `${size} bytes`)
    }
    assert.equal(await blocks.removeTempFiles(), 0)
  })

  it('puts every manifest after every block it links to, while the files of a tree go on in parallel', async () => {
    const tree = join(dir, 'shot')
    await mkdir(join(tree, 'frames'), { recursive: true })
    for (let i = 0; i < 60; i++) await writeFile(join(tree, 'frames', `f${i}.exr`), pseudoRandomBytes(100 + i * 997, 300 + i))
    await writeFile(join(tree, 'plate.mov'), pseudoRandomBytes(3 * MiB, 299))
    const order = new Map<string, number>()
    const put = blocks.putChecked.bind(blocks)
    blocks.putChecked = async (cid, bytes, options) => {
      await delay(cid.code === RAW_CODE ? 2 : 0) // chunk writes slower than manifest writes
      const outcome = await put(cid, bytes, options)
      if (outcome === 'stored') order.set(cid.toString(), order.size)
      return outcome
    }
    const { cid } = await add(tree)
    for await (const c of walkBlocks(async c => await blocks.get(c), cid)) {
      if (c.code === RAW_CODE) continue
      const links = nodeLinks(decodeNode(c, await blocks.get(c)))
      for (const l of links) assert.ok((order.get(l.toString()) ?? -1) < (order.get(c.toString()) ?? -1), `${c} was put before ${l}, which it links to`)
    }
    assert.equal(order.size, (await readdir(join(dir, 'blocks'), { recursive: true })).filter(f => f.endsWith('.data')).length)
  })

  it('stops with the abort reason when aborted mid-file, once its writes under way have ended', async () => {
    const path = join(dir, 'abort.bin')
    await writeFile(path, pseudoRandomBytes(40 * MiB, 24))
    const controller = new AbortController()
    const adder = new Adder(blocks, {
      profile: PROFILES.small,
      signal: controller.signal,
      onProgress: p => { if (p.bytes >= 8 * MiB) controller.abort() }
    })
    await adder.scan([path])
    await assert.rejects(adder.addPath(path), { name: 'AbortError' })
    const files = async (): Promise<number> => (await readdir(join(dir, 'blocks'), { recursive: true })).length
    const after = await files()
    await delay(100)
    assert.equal(await files(), after)
  })
})
