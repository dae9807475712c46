import assert from 'node:assert/strict'
import { mkdtemp, mkdir, rm, writeFile, readFile, access } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { BlockUsage } from '../../node/block-usage.ts'
import { DitsBlockstore } from '../../node/blockstore.ts'
import { deferred } from '../../node/deferred.ts'
import { chunkCid } from '../../src/cid.ts'
import type { CID } from 'multiformats/cid'

describe('node/block-usage', () => {
  let dir: string

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dits-usage-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  const blocksDir = (): string => join(dir, 'blocks')
  const openStore = async (): Promise<DitsBlockstore> => {
    const store = new DitsBlockstore(blocksDir(), join(dir, 'quarantine'), join(dir, 'usage.json'))
    await store.open()
    return store
  }
  const block = (size: number): { cid: CID, bytes: Uint8Array } => {
    const bytes = randomBytes(size)
    return { cid: chunkCid(bytes), bytes }
  }
  const exists = async (path: string): Promise<boolean> => await access(path).then(() => true, () => false)

  it('follows puts, repeated and concurrent puts of one block, deletes and quarantines exactly', async () => {
    await new DitsBlockstore(blocksDir(), join(dir, 'quarantine'), join(dir, 'usage.json')).createShards()
    const store = await openStore()
    assert.deepEqual(store.usageReport(), { blocks: 0, bytes: 0, counting: false })
    const blocks = Array.from({ length: 40 }, (_, i) => block(100 + i))
    await Promise.all(blocks.map(async b => await store.put(b.cid, b.bytes)))
    // the same block put again, and put twice at once, is stored (and counted) once
    await Promise.all([store.put(blocks[0].cid, blocks[0].bytes), store.put(blocks[0].cid, blocks[0].bytes)])
    const dup = block(5000)
    await Promise.all([store.put(dup.cid, dup.bytes), store.put(dup.cid, dup.bytes), store.put(dup.cid, dup.bytes)])
    let bytes = blocks.reduce((n, b) => n + b.bytes.byteLength, 0) + 5000
    assert.deepEqual(store.usageReport(), { blocks: 41, bytes, counting: false })

    await store.delete(blocks[1].cid)
    await store.delete(blocks[1].cid) // gone already: no change
    await writeFile(store.path(blocks[2].cid), randomBytes(blocks[2].bytes.byteLength)) // rot: quarantined on read
    await assert.rejects(store.get(blocks[2].cid), { name: 'VerificationError' })
    bytes -= blocks[1].bytes.byteLength + blocks[2].bytes.byteLength
    assert.deepEqual(store.usageReport(), { blocks: 39, bytes, counting: false })
    assert.deepEqual(await store.recount(), { blocks: 39, bytes })
  })

  it('saves the counts at close for the next open, and forgets them durably before the first change', async () => {
    await new DitsBlockstore(blocksDir(), join(dir, 'quarantine'), join(dir, 'usage.json')).createShards()
    const file = join(dir, 'usage.json')
    let store = await openStore()
    const a = block(300)
    await store.put(a.cid, a.bytes)
    assert.equal(await exists(file), false, 'the saved counts are removed before the first change')
    await store.close()
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { version: 1, blocks: 1, bytes: 300 })

    store = await openStore()
    assert.deepEqual(store.usageReport(), { blocks: 1, bytes: 300, counting: false })
    const b = block(700)
    await store.put(b.cid, b.bytes)
    assert.equal(await exists(file), false)
    // killed here, without close: the next process does not trust any counts, and recounts
    store = await openStore()
    assert.equal(store.usageReport().counting, true)
    assert.deepEqual(await store.recount(), { blocks: 2, bytes: 1000 })
    assert.deepEqual(store.usageReport(), { blocks: 2, bytes: 1000, counting: false })

    await writeFile(file, '{"version":1,"blocks":-3,"bytes":"x"}')
    store = await openStore()
    assert.equal(store.usageReport().counting, true, 'a damaged counts file is not believed')
    await store.recount()
  })

  it('refuses a change while the saved counts cannot be removed, naming the file, and tries again at the next', async () => {
    const file = join(dir, 'usage.json')
    await mkdir(join(file, 'in-the-way'), { recursive: true })
    const store = await openStore()
    const a = block(100)
    await assert.rejects(store.put(a.cid, a.bytes), (e: Error) => e.message.includes(`cannot remove ${file}`))
    assert.equal(await store.has(a.cid), false)
    await rm(file, { recursive: true })
    await store.put(a.cid, a.bytes)
    assert.equal(await store.has(a.cid), true)
  })

  it('ends a recount exact while blocks are put and deleted alongside it', async () => {
    let store = await openStore()
    const old = Array.from({ length: 600 }, (_, i) => block(200 + i))
    await Promise.all(old.map(async b => await store.put(b.cid, b.bytes)))
    store = await openStore() // no saved counts: unknown
    const fresh = Array.from({ length: 400 }, (_, i) => block(1000 + i))
    const counting = store.recount()
    await Promise.all([
      counting,
      ...fresh.map(async b => await store.put(b.cid, b.bytes)),
      ...old.slice(0, 300).map(async b => await store.delete(b.cid)),
      ...old.slice(300, 400).map(async b => await store.put(b.cid, b.bytes))
    ])
    const kept = [...old.slice(300), ...fresh]
    const truth = { blocks: kept.length, bytes: kept.reduce((n, b) => n + b.bytes.byteLength, 0) }
    assert.deepEqual(store.usageReport(), { ...truth, counting: false })
    assert.deepEqual(await store.recount(), truth)
  })

  it('holds a change to a shard being walked until the walk is done, and counts it after', async () => {
    const usage = await BlockUsage.load(join(dir, 'usage.json'))
    const walkingA = deferred()
    const ran: string[] = []
    const counting = usage.count(['a', 'b'], async shard => {
      if (shard === 'a') await walkingA.promise
      return { blocks: 10, bytes: 1000 }
    })
    const change = usage.change('a', async () => {
      ran.push('a')
      return { result: undefined, delta: { blocks: 1, bytes: 5 } }
    })
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.deepEqual(ran, [], 'the change waits while its shard is walked')
    assert.deepEqual(usage.report(), { blocks: 10, bytes: 1000, counting: true }, 'shard b is walked meanwhile')
    walkingA.resolve()
    await Promise.all([counting, change])
    assert.deepEqual(ran, ['a'])
    assert.deepEqual(usage.report(), { blocks: 21, bytes: 2005, counting: false })
  })
})
