import assert from 'node:assert/strict'
import { mkdtemp, rm, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DitsBlockstore } from '../../../node/blockstore.ts'
import { Pins } from '../../../node/repo.ts'
import { SeedKeeper } from '../../../node/seed/keeper.ts'
import { SeedService, pushRoot, requestRootStatus } from '../../../node/net/seed.ts'
import { SEED_PROTOCOL } from '../../../protocol/ids.ts'
import { makeFile, startNode, stopAll, waitFor, MemoryBlockstore, MiB } from '../net/helpers.ts'
import type { TestNode } from '../net/helpers.ts'
import type { FetchOptions } from '../../../node/net/fetcher.ts'
import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'

/** A pusher that says it has the root and serves its manifests, but never sends a chunk: it went silent. */
class SilentBlockstore extends MemoryBlockstore {
  override async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    if (cid.code !== 0x55) return await super.get(cid, options)
    return await new Promise((_resolve, reject) => {
      options.signal?.addEventListener('abort', () => { reject(options.signal?.reason) }, { once: true })
    })
  }
}

/** A node's TCP address with its /p2p/ part. */
const at = (n: TestNode): string => n.addr.includes('/p2p/') ? n.addr : `${n.addr}/p2p/${n.net.peerId}`

interface Seed {
  node: TestNode
  keeper: SeedKeeper
  service: SeedService
  blocks: DitsBlockstore
  pins: Pins
  /** fetches the keeper started, by scope */
  fetches: string[]
}

/** A seed in-process: a real blockstore and pins on disk, the network's fetcher, the seed service. */
async function startSeed (dir: string, init: { stallTimeoutMs?: number, rootStatusMaxBlocks?: number } = {}): Promise<Seed> {
  const blocks = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
  await blocks.open()
  await mkdir(join(dir, 'pins'), { recursive: true })
  const pins = new Pins(join(dir, 'pins'))
  const node = await startNode({ role: 'seed', extraProtocols: [SEED_PROTOCOL], store: blocks as unknown as MemoryBlockstore })
  const fetches: string[] = []
  const keeper = new SeedKeeper({
    blocks,
    pins,
    rootStatusMaxBlocks: init.rootStatusMaxBlocks,
    fetch: async (root, options: FetchOptions) => {
      fetches.push(options.scope ?? 'all')
      return await node.net.fetch(root, { ...options, stallTimeoutMs: init.stallTimeoutMs })
    }
  })
  const service = new SeedService(node.net.libp2p, { handler: keeper })
  await service.start()
  return { node, keeper, service, blocks, pins, fetches }
}

describe('node/seed: the seed keeper behind /dits/seed (in-process nodes, real sockets, a real blockstore)', function () {
  this.timeout(60_000)
  let dir: string
  const nodes: TestNode[] = []
  const seeds: Seed[] = []

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dits-keeper-')) })
  afterEach(async () => {
    for (const s of seeds.splice(0)) await s.service.stop()
    await stopAll(nodes.splice(0))
    await rm(dir, { recursive: true, force: true })
  })

  const pusher = async (store = new MemoryBlockstore(), rate?: number): Promise<TestNode> => {
    const n = await startNode({ store, ...(rate !== undefined ? { maxServeRateBytesPerSec: rate } : {}) })
    nodes.push(n)
    return n
  }

  it('a second push of a root being pushed joins the first: one fetch, both answered done, pinned once', async () => {
    const seed = await startSeed(dir)
    seeds.push(seed)
    nodes.push(seed.node)
    const file = makeFile(16 * MiB, 256 * 1024, 32)
    const [a, b] = [await pusher(undefined, 16e6), await pusher()]
    a.store.putAll(file.blocks)
    b.store.putAll(file.blocks)
    const first = pushRoot(a.net.libp2p, at(seed.node), file.root)
    await waitFor(() => seed.keeper.pushing === 1, 10_000, 'the first push to start')
    const second = await pushRoot(b.net.libp2p, at(seed.node), file.root)
    const one = await first
    assert.equal(one.stage, 'done')
    assert.equal(second.stage, 'done')
    assert.equal(one.bytes_total, 16 * MiB)
    assert.deepEqual(seed.fetches, ['manifests', 'all'], 'the second push ran no fetch of its own')
    assert.deepEqual(Object.keys(await seed.pins.reasons(file.root)), ['push'])
  })

  it('a pusher that goes silent fails the push once the fetch judges it stalled, saying how far the seed got', async () => {
    const seed = await startSeed(dir, { stallTimeoutMs: 1000 })
    seeds.push(seed)
    nodes.push(seed.node)
    const file = makeFile(2 * MiB, 256 * 1024)
    const silent = await pusher(new SilentBlockstore())
    silent.store.putAll(file.blocks)
    const started = performance.now()
    await assert.rejects(pushRoot(silent.net.libp2p, at(seed.node), file.root), (err: Error) => {
      assert.equal(err.name, 'SeedRequestError')
      assert.match(err.message, new RegExp(`^seed ${seed.node.net.peerId} has 0 of 8 chunks of ${file.root.toString()}: .*stalled`))
      assert.equal((err as Error & { exitCode: number }).exitCode, 4)
      return true
    })
    assert.ok(performance.now() - started < 30_000)
    assert.equal(seed.keeper.pushing, 0)
    assert.deepEqual(await seed.pins.reasons(file.root), {})
  })

  it('a push whose pusher closes its stream is cancelled on the seed, and nothing is pinned', async () => {
    const seed = await startSeed(dir)
    seeds.push(seed)
    nodes.push(seed.node)
    const file = makeFile(32 * MiB, 256 * 1024, 64)
    const slow = await pusher(undefined, 8e6)
    slow.store.putAll(file.blocks)
    const stop = new AbortController()
    const pushing = pushRoot(slow.net.libp2p, at(seed.node), file.root, {
      signal: stop.signal,
      onProgress: p => { if (p.bytes_fetched > 2 * MiB) stop.abort(new Error('the pusher gives up')) }
    })
    await assert.rejects(pushing, /the pusher gives up/)
    // at 8 MB/s the rest would take ~4 s: the seed stops well before
    await waitFor(() => seed.keeper.pushing === 0, 2000, 'the seed to drop the push')
    const status = await requestRootStatus(slow.net.libp2p, at(seed.node), file.root)
    assert.equal(status.dag, 'incomplete')
    assert.ok(status.chunks_held > 0 && status.chunks_held < file.chunks.length)
    assert.deepEqual(status.reasons, [])
  })

  it('a root status beyond the walk budget says unknown, with the counts of what it saw', async () => {
    const seed = await startSeed(dir, { rootStatusMaxBlocks: 10 })
    seeds.push(seed)
    nodes.push(seed.node)
    const file = makeFile(4 * MiB, 256 * 1024, 4)
    const p = await pusher()
    p.store.putAll(file.blocks)
    await pushRoot(p.net.libp2p, at(seed.node), file.root)
    const status = await requestRootStatus(p.net.libp2p, at(seed.node), file.root)
    assert.equal(status.dag, 'unknown')
    assert.equal(status.blocks_walked, 10)
    assert.deepEqual(status.reasons, ['push'])
  })

  it('a node that is not a seed does not speak /dits/seed: NotASeedError', async () => {
    const plain = await pusher()
    const p = await pusher()
    const file = makeFile(1024, 1024)
    await assert.rejects(pushRoot(p.net.libp2p, at(plain), file.root), (err: Error) => err.name === 'NotASeedError' && /is not a seed/.test(err.message))
  })
})
