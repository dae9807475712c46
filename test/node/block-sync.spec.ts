import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import { BlockSync } from '../../node/block-sync.ts'
import { deferred } from '../../node/deferred.ts'
import { chunkCid } from '../../src/cid.ts'
import type { Deferred } from '../../node/deferred.ts'
import type { CID } from 'multiformats/cid'

/** A blockstore whose syncs of files end when the test says so; each block's directory is named after it. */
class StubStore {
  readonly batches: string[][] = []
  readonly ends: Array<Deferred<void>> = []
  readonly dirSyncs: string[][] = []

  async syncData (cids: Iterable<CID>): Promise<Set<string>> {
    const batch = [...cids].map(c => c.toString())
    this.batches.push(batch)
    const end = deferred()
    this.ends.push(end)
    await end.promise
    return new Set(batch.map(c => `dir-${c}`))
  }

  async syncDirs (dirs: Iterable<string>): Promise<void> {
    this.dirSyncs.push([...dirs])
  }
}

const cids = Array.from({ length: 10 }, (_, i) => chunkCid(Uint8Array.of(i)))
const names = (from: number, to: number): string[] => cids.slice(from, to).map(c => c.toString())

/** Whether `p` has settled by the time the event loop has turned. */
async function settled (p: Promise<unknown>): Promise<boolean> {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  await tick()
  return done
}

describe('node/block-sync', () => {
  it('syncs a full batch in the background, waits for it when the next one fills, and syncs the rest and the directories at flush', async () => {
    const store = new StubStore()
    const sync = new BlockSync(store, { batchBlocks: 3 })
    for (const c of cids.slice(0, 3)) await sync.add(c)
    assert.deepEqual(store.batches, [names(0, 3)])
    assert.equal(sync.held, 3)

    for (const c of cids.slice(3, 5)) await sync.add(c)
    const sixth = sync.add(cids[5])
    assert.equal(await settled(sixth), false, 'a full batch waits while the one before syncs')
    assert.equal(sync.held, 6)
    store.ends[0].resolve()
    await sixth
    assert.deepEqual(store.batches, [names(0, 3), names(3, 6)])
    assert.equal(sync.held, 3)

    await sync.add(cids[6])
    const flush = sync.flush()
    assert.equal(await settled(flush), false)
    store.ends[1].resolve()
    await tick()
    assert.deepEqual(store.batches, [names(0, 3), names(3, 6), names(6, 7)])
    assert.equal(await settled(flush), false, 'flush waits for the last batch')
    assert.deepEqual(store.dirSyncs, [], 'directories are synced once, after every file')
    store.ends[2].resolve()
    await flush
    assert.equal(sync.held, 0)
    assert.deepEqual(store.dirSyncs, [names(0, 7).map(c => `dir-${c}`)])
  })

  it('starts one sync for adds that fill a batch together', async () => {
    const store = new StubStore()
    const sync = new BlockSync(store, { batchBlocks: 2 })
    await sync.add(cids[0])
    await sync.add(cids[1])
    const together = [cids[2], cids[3], cids[4]].map(c => sync.add(c))
    store.ends[0].resolve()
    await Promise.all(together)
    assert.deepEqual(store.batches, [names(0, 2), names(2, 5)])
  })

  it('counts a batch full at batchBytes, whatever its number of blocks', async () => {
    const store = new StubStore()
    const sync = new BlockSync(store, { batchBlocks: 100, batchBytes: 1000 })
    await sync.add(cids[0], 600)
    assert.equal(store.batches.length, 0)
    await sync.add(cids[1], 400)
    assert.deepEqual(store.batches, [names(0, 2)])
  })

  it('fails the next add and the flush once a batch failed to sync', async () => {
    const store = new StubStore()
    const sync = new BlockSync(store, { batchBlocks: 1 })
    await sync.add(cids[0])
    store.ends[0].reject(new Error('EIO'))
    await tick()
    await assert.rejects(sync.add(cids[1]), /EIO/)
    await assert.rejects(sync.flush(), /EIO/)
    assert.deepEqual(store.dirSyncs, [])
  })
})
