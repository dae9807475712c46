import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile, readdir, stat, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { DitsBlockstore, DEFAULT_SYNCFS_MIN_BLOCKS } from '../../node/blockstore.ts'
import { chunkCid, blockCid, DAG_CBOR_CODE } from '../../src/cid.ts'

describe('node/blockstore', () => {
  let dir: string
  let store: DitsBlockstore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-bs-'))
    store = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
    await store.open()
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('stores and returns verified blocks of both codecs, and lists them (BLAKE3 CIDs survive listing)', async () => {
    const a = randomBytes(1000)
    const b = randomBytes(10)
    const ca = chunkCid(a)
    const cb = blockCid(DAG_CBOR_CODE, b)
    await store.put(ca, a)
    await store.put(cb, b)
    assert.deepEqual(Buffer.from(await store.get(ca)), a)
    assert.equal(await store.has(cb), true)
    const listed = []
    for await (const c of store.cids()) listed.push(c.toString())
    assert.deepEqual(listed.sort(), [ca.toString(), cb.toString()].sort())
  })

  it('writes a block by each path — small inline or through the pool, large direct or buffered, whole or in pieces — and reads it back, leaving no temp file', async () => {
    const cases = [
      { bytes: randomBytes(3000), options: { inline: true } },
      { bytes: randomBytes(3000), options: {} },
      { bytes: randomBytes(200 * 1024), options: { direct: true, inline: true } },
      { bytes: randomBytes(200 * 1024), options: {} }
    ]
    for (const [i, { bytes, options }] of cases.entries()) {
      const cid = chunkCid(bytes)
      // in pieces, as a fetched block arrives; the store was made without its shard directories, so each is made here
      const piece = i % 2 === 0 ? new Uint8ArrayList(bytes.subarray(0, 1000), bytes.subarray(1000)) : bytes
      await store.put(cid, piece, options)
      assert.deepEqual(Buffer.from(await store.get(cid)), bytes, `case ${i}`)
      assert.equal(await store.has(cid), true)
    }
    const names = (await readdir(join(dir, 'blocks'), { recursive: true })).filter(n => n.endsWith('.tmp'))
    assert.deepEqual(names, [])
    assert.equal((await store.recount()).blocks, cases.length)
  })

  it('never stores bytes that do not match their CID', async () => {
    const cid = chunkCid(randomBytes(10))
    await assert.rejects(store.put(cid, randomBytes(10)), { name: 'VerificationError' })
    assert.equal(await store.has(cid), false)
  })

  it('quarantines a block corrupted on disk and never returns it', async () => {
    const bytes = randomBytes(100)
    const cid = chunkCid(bytes)
    await store.put(cid, bytes)
    await writeFile(store.path(cid), Buffer.from('rotten'))
    await assert.rejects(store.get(cid), (e: Error) => e.name === 'VerificationError' && e.message.includes(cid.toString()) && e.message.includes(store.path(cid)))
    assert.equal(await store.has(cid), false)
    assert.equal((await readdir(join(dir, 'quarantine'))).length, 1)
    await assert.rejects(store.get(cid), { name: 'NotFoundError' })
  })

  it('syncs blocks, then the shard directories it names', async () => {
    const bytes = randomBytes(100)
    const cid = chunkCid(bytes)
    await store.put(cid, bytes)
    const dirs = await store.syncData([cid, cid])
    assert.deepEqual([...dirs], [dirname(store.path(cid))])
    await store.syncDirs(dirs)
  })

  it('makes a batch of DEFAULT_SYNCFS_MIN_BLOCKS blocks durable by one syncfs, which leaves no shard directory to fsync (Linux)', async function () {
    if (process.platform !== 'linux') this.skip()
    const cids = []
    for (let i = 0; i < DEFAULT_SYNCFS_MIN_BLOCKS; i++) {
      const bytes = randomBytes(100)
      cids.push(chunkCid(bytes))
      await store.put(cids[i], bytes)
    }
    assert.deepEqual([...await store.syncData(cids)], [])
    assert.equal((await store.syncData(cids.slice(1))).size > 0, true, 'a smaller batch is synced a file at a time')
  })

  it('hold renews a block\'s time and leaves the saved counts alone (it changes none); a block not here is not held', async () => {
    const a = randomBytes(500)
    await store.put(chunkCid(a), a)
    await store.recount()
    await store.close()
    store = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
    await store.open()
    const past = new Date(Date.now() - 3600_000)
    await utimes(store.path(chunkCid(a)), past, past)
    assert.equal(existsSync(join(dir, 'usage.json')), true, 'the counts were saved at close')
    assert.equal(await store.hold(chunkCid(a)), true)
    assert.ok((await stat(store.path(chunkCid(a)))).mtimeMs > Date.now() - 60_000)
    assert.equal(await store.hold(chunkCid(randomBytes(10))), false)
    assert.equal(existsSync(join(dir, 'usage.json')), true, 'a hold removed the saved counts')
  })
})
