import assert from 'node:assert/strict'
import { Advertiser } from '../../../node/net/advertiser.ts'
import { provideKey } from '../../../protocol/provide-key.ts'
import { makeFile, MemoryBlockstore, waitFor, quietLogger } from './helpers.ts'
import type { CID } from 'multiformats/cid'

function stubDht (): { provided: string[], dht: any } {
  const provided: string[] = []
  return {
    provided,
    dht: {
      async * provide (key: CID) { provided.push(key.toString()) },
      async * findProviders () {}
    }
  }
}

describe('node/net advertiser', () => {
  it('announces under the derived sha2-256 key, waits for a DHT peer, and re-announces', async () => {
    const file = makeFile(1024, 256)
    const { provided, dht } = stubDht()
    let tableSize = 0
    const events = new EventTarget()
    const store = new MemoryBlockstore()
    store.putAll(file.blocks)
    const adv = new Advertiser({ dht, routingTableSize: () => tableSize, peerStore: { merge: async () => ({}) as any }, events: events as any, blockstore: store, logger: quietLogger() }, { reannounceIntervalMs: 100 })
    adv.start()
    try {
      const key = (await provideKey(file.root)).toString()
      assert.equal((await provideKey(file.root)).multihash.code, 0x12)
      await adv.provide(file.root)
      assert.deepEqual(provided, [])
      assert.equal(adv.stats().waiting, 1)
      tableSize = 1
      events.dispatchEvent(new CustomEvent('peer:identify', { detail: {} }))
      await waitFor(() => provided.length === 1, 2000, 'the waiting announcement')
      assert.equal(provided[0], key)
      assert.equal(adv.stats().waiting, 0)
      await waitFor(() => provided.length >= 3, 2000, 're-announcements')
      assert.ok(provided.every(k => k === key))
    } finally {
      adv.stop()
    }
  })

  it('stops re-announcing a root it no longer holds (a gc removed it), and forgets it', async () => {
    const kept = makeFile(1024, 256)
    const gone = makeFile(1024, 256)
    const { provided, dht } = stubDht()
    const store = new MemoryBlockstore()
    store.putAll([...kept.blocks, ...gone.blocks])
    const adv = new Advertiser({ dht, routingTableSize: () => 1, peerStore: { merge: async () => ({}) as any }, events: new EventTarget() as any, blockstore: store, logger: quietLogger() }, { reannounceIntervalMs: 100 })
    adv.start()
    try {
      await adv.provide(kept.root)
      await adv.provide(gone.root)
      assert.equal(adv.stats().roots, 2)
      for (const b of gone.blocks) store.blocks.delete(b.cid.toString())
      const before = provided.length
      const keptKey = (await provideKey(kept.root)).toString()
      await waitFor(() => provided.slice(before).filter(k => k === keptKey).length >= 3, 5000, 're-announcements of the root still held')
      // a re-announcement already under way as the blocks went may still name it; the ones after it may not
      const after = provided.slice(before)
      const second = after.indexOf(keptKey, after.indexOf(keptKey) + 1)
      assert.ok(!after.slice(second).includes((await provideKey(gone.root)).toString()), 'the removed root was announced again')
      assert.equal(adv.stats().roots, 1)
    } finally {
      adv.stop()
    }
  })

  it('with announceChunks, announces every block under the root', async () => {
    const file = makeFile(4096, 256, 4)
    const { provided, dht } = stubDht()
    const store = new MemoryBlockstore()
    store.putAll(file.blocks)
    const adv = new Advertiser({ dht, routingTableSize: () => 1, peerStore: { merge: async () => ({}) as any }, events: new EventTarget() as any, blockstore: store, logger: quietLogger() }, { announceChunks: true })
    adv.start()
    try {
      await adv.provide(file.root)
      await waitFor(() => provided.length === file.blocks.length, 2000, 'every block announced')
      const expected = await Promise.all(file.blocks.map(async b => (await provideKey(b.cid)).toString()))
      assert.deepEqual([...provided].sort(), expected.sort())
    } finally {
      adv.stop()
    }
  })
})
