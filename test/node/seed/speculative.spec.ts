import assert from 'node:assert/strict'
import { mkdtemp, rm, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DitsBlockstore } from '../../../node/blockstore.ts'
import { Pins } from '../../../node/repo.ts'
import { SeedKeeper } from '../../../node/seed/keeper.ts'
import { SpeculativeRecord } from '../../../node/seed/speculative.ts'
import { SeedService, pushRoot, requestRootStatus, speculate } from '../../../node/net/seed.ts'
import { frame } from '../net/helpers.ts'
import { availability } from '../../../node/availability.ts'
import { SEED_PROTOCOL } from '../../../protocol/ids.ts'
import { SeedRequest, SeedResponse } from '../../../protocol/seed.ts'
import { MAX_SPECULATE_BYTES, MAX_SPECULATE_CHUNKS, MAX_SEED_RESPONSE_BYTES } from '../../../protocol/limits.ts'
import { FrameReader } from '../../../node/net/framing.ts'
import { makeFile, startNode, stopAll, MemoryBlockstore, MiB, KiB } from '../net/helpers.ts'
import type { TestNode } from '../net/helpers.ts'
import type { CID } from 'multiformats/cid'

const at = (n: TestNode): string => n.addr.includes('/p2p/') ? n.addr : `${n.addr}/p2p/${n.net.peerId}`

interface Seed {
  node: TestNode
  service: SeedService
  blocks: DitsBlockstore
  pins: Pins
  record: SpeculativeRecord
}

const TTL_MS = 72 * 3600_000

/** A seed in-process: a real blockstore, pins and speculative record on disk, the network's pull, the seed service. */
async function startSeed (dir: string, init: { quotaBytes?: number, ttlMs?: number } = {}): Promise<Seed> {
  const blocks = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
  await blocks.open()
  await mkdir(join(dir, 'pins'), { recursive: true })
  const pins = new Pins(join(dir, 'pins'))
  const record = new SpeculativeRecord(join(dir, 'speculative'))
  await record.open()
  const node = await startNode({ role: 'seed', extraProtocols: [SEED_PROTOCOL], store: blocks as unknown as MemoryBlockstore })
  const keeper = new SeedKeeper({
    blocks,
    pins,
    fetch: async (root, options) => await node.net.fetch(root, options),
    speculative: {
      record,
      pull: async (peer, chunks, options) => await node.net.pull(peer, chunks, { ...options, stallTimeoutMs: 5000 }),
      ttlMs: init.ttlMs ?? TTL_MS,
      quotaBytes: init.quotaBytes ?? 1024 * MiB
    }
  })
  const service = new SeedService(node.net.libp2p, { handler: keeper })
  await service.start()
  return { node, service, blocks, pins, record }
}

describe('node/seed: speculative chunks on a seed (SPECULATE; in-process nodes, real sockets, a real blockstore)', function () {
  this.timeout(60_000)
  let dir: string
  const nodes: TestNode[] = []
  const seeds: Seed[] = []

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dits-speculative-')) })
  afterEach(async () => {
    for (const s of seeds.splice(0)) await s.service.stop()
    await stopAll(nodes.splice(0))
    await rm(dir, { recursive: true, force: true })
  })

  const seed = async (init?: { quotaBytes?: number, ttlMs?: number }): Promise<Seed> => {
    const s = await startSeed(dir, init)
    seeds.push(s)
    nodes.push(s.node)
    return s
  }
  const workstation = async (): Promise<TestNode> => {
    const n = await startNode()
    nodes.push(n)
    return n
  }
  const sized = (file: { blocks: Array<{ cid: CID, bytes: Uint8Array }> }, cids: CID[]): Array<{ cid: CID, bytes: number }> =>
    cids.map(cid => ({ cid, bytes: (file.blocks.find(b => b.cid.equals(cid)) as { bytes: Uint8Array }).bytes.byteLength }))
  const heldOf = async (s: Seed, cids: CID[]): Promise<boolean[]> => await Promise.all(cids.map(async c => await s.blocks.has(c)))

  it('stores the chunks unpinned with an expiry; a push of their root then sends only the rest, pins it, and ROOT_STATUS told the difference', async () => {
    const s = await seed()
    const ws = await workstation()
    const file = makeFile(4 * MiB, 256 * KiB, 4)
    ws.store.putAll(file.blocks)
    const early = file.chunks.slice(0, 10)
    const before = Date.now()
    const r = await speculate(ws.net.libp2p, at(s.node), sized(file, early))
    assert.equal(r.seed, s.node.net.peerId)
    assert.equal(r.chunks, 10)
    assert.equal(r.chunks_fetched, 10)
    assert.equal(r.bytes_fetched, 10 * 256 * KiB)
    assert.equal(r.chunks_already, 0)
    assert.equal(r.bytes_accepted, 10 * 256 * KiB)
    assert.equal(r.quota_used_bytes, 10 * 256 * KiB)
    assert.ok(r.expires_at >= before + TTL_MS && r.expires_at <= Date.now() + TTL_MS, `expires_at ${r.expires_at}`)
    assert.deepEqual(await heldOf(s, early), early.map(() => true))
    assert.deepEqual(await s.pins.ls(), [], 'nothing is pinned')
    const entry = await s.record.get(early[0])
    assert.equal(entry?.expiresAt, r.expires_at)
    assert.equal(entry?.peer, ws.net.peerId)

    // the same chunks again: held already, nothing charged twice
    const again = await speculate(ws.net.libp2p, at(s.node), sized(file, early.slice(0, 2)))
    assert.equal(again.chunks_already, 2)
    assert.equal(again.bytes_accepted, 0)
    assert.equal(again.quota_used_bytes, 10 * 256 * KiB)

    // the seed lacks the manifests: the walk sees only the root missing
    const status = await requestRootStatus(ws.net.libp2p, at(s.node), file.root)
    assert.equal(status.manifests_missing, 1)
    // with the manifests there (a push of them is what a workstation's next push does first), the ten are speculative
    for (const b of file.blocks) if (b.cid.code === 0x71) await s.blocks.put(b.cid, b.bytes)
    const seen = await requestRootStatus(ws.net.libp2p, at(s.node), file.root)
    assert.equal(seen.chunks_held, 10)
    assert.equal(seen.chunks_speculative, 10)
    assert.equal(seen.bytes_speculative, 10 * 256 * KiB)
    assert.equal(seen.chunks_missing, 6)
    // and `availability` shows them on the seed's holder, beside its pin state
    const asker = await startNode({ seeds: [at(s.node)] })
    nodes.push(asker)
    asker.store.putAll(file.blocks.filter(b => b.cid.code === 0x71))
    const report = await availability({
      getBlock: async cid => await asker.store.get(cid),
      has: async cid => await asker.store.has(cid),
      pinReasons: async () => ({}),
      role: 'peer',
      network: () => asker.net,
      resolveRef: async () => { throw new Error('no refs here') }
    }, { target: file.root.toString() })
    const onSeed = report.holders.find(h => h.peer === s.node.net.peerId)
    assert.equal(onSeed?.chunks, 10)
    assert.deepEqual(onSeed?.pin, { pinned: false, reasons: [] })
    assert.deepEqual(onSeed?.speculative, { chunks: 10, bytes: 10 * 256 * KiB })

    const pushed = await pushRoot(ws.net.libp2p, at(s.node), file.root)
    assert.equal(pushed.chunks_already, 10)
    assert.equal(pushed.bytes_already, 10 * 256 * KiB)
    assert.equal(pushed.bytes_fetched, 6 * 256 * KiB, 'the push sent only the chunks that were not speculative')
    assert.deepEqual(Object.keys(await s.pins.reasons(file.root)), ['push'])
    const after = await requestRootStatus(ws.net.libp2p, at(s.node), file.root)
    assert.equal(after.dag, 'complete')
    assert.equal(after.chunks_speculative, 0, 'a pinned root has no speculative chunks')
  })

  it('refuses a batch beyond the requester\'s quota, naming it, and keeps nothing of it', async () => {
    const s = await seed({ quotaBytes: 1 * MiB })
    const ws = await workstation()
    const file = makeFile(2 * MiB, 256 * KiB, 4)
    ws.store.putAll(file.blocks)
    const ok = await speculate(ws.net.libp2p, at(s.node), sized(file, file.chunks.slice(0, 3)))
    assert.equal(ok.quota_bytes, 1 * MiB)
    assert.equal(ok.quota_used_bytes, 768 * KiB)
    const over = file.chunks.slice(3, 5)
    await assert.rejects(speculate(ws.net.libp2p, at(s.node), sized(file, over)), (err: Error & { exitCode?: number, quotaBytes?: number, usedBytes?: number, requestedBytes?: number }) => {
      assert.equal(err.name, 'SpeculativeQuotaError')
      assert.match(err.message, /would pass its quota of 1048576 bytes \(config seed\.speculativeQuotaBytes\)/)
      assert.equal(err.exitCode, 4)
      assert.equal(err.quotaBytes, 1 * MiB)
      assert.equal(err.usedBytes, 768 * KiB)
      assert.equal(err.requestedBytes, 512 * KiB)
      return true
    })
    assert.deepEqual(await heldOf(s, over), [false, false])
    assert.equal(await s.record.get(over[0]), undefined)
    // another peer has its own quota
    const other = await workstation()
    other.store.putAll(file.blocks)
    const theirs = await speculate(other.net.libp2p, at(s.node), sized(file, over))
    assert.equal(theirs.bytes_accepted, 512 * KiB)
  })

  it('a hostile requester — a chunk it lacks, a size it lies about, a batch over the limits — gets a clear error and nothing is recorded', async () => {
    const s = await seed()
    const ws = await workstation()
    const file = makeFile(2 * MiB, 256 * KiB, 4)
    ws.store.putAll(file.blocks.filter(b => !b.cid.equals(file.chunks[7])))
    const lacking = sized(file, file.chunks.slice(4, 8))
    await assert.rejects(speculate(ws.net.libp2p, at(s.node), lacking), (err: Error) => {
      assert.equal(err.name, 'SpeculativeBatchError')
      assert.match(err.message, new RegExp(`does not have chunk ${file.chunks[7].toString()}`))
      return true
    })
    assert.deepEqual(await heldOf(s, file.chunks.slice(4, 8)), [false, false, false, false], 'a batch naming a chunk its requester lacks stores nothing')

    const lying = sized(file, file.chunks.slice(0, 2)).map(c => ({ ...c, bytes: c.bytes - 1 }))
    await assert.rejects(speculate(ws.net.libp2p, at(s.node), lying), (err: Error) => {
      assert.equal(err.name, 'SpeculativeBatchError')
      assert.match(err.message, /is 262144 bytes, not the 262143 its requester said/)
      return true
    })
    for (const c of file.chunks) assert.equal(await s.record.get(c), undefined)
    assert.ok(s.record.empty)

    // over the limits: the client says so before sending; a request sent anyway gets the seed's reason
    const many = Array.from({ length: MAX_SPECULATE_CHUNKS + 1 }, (_, i) => ({ cid: makeFile(8, 8, 4, new Uint8Array([i & 255, i >> 8, 1, 2, 3, 4, 5, 6])).chunks[0], bytes: 8 }))
    await assert.rejects(speculate(ws.net.libp2p, at(s.node), many), /names 1025 chunks, more than the 1024 one request may \(MAX_SPECULATE_CHUNKS\)/)
    const huge = sized(file, file.chunks.slice(0, 1)).map(c => ({ ...c, bytes: 4 * MiB }))
    const big = Array.from({ length: MAX_SPECULATE_BYTES / (4 * MiB) + 1 }, (_, i) => ({ cid: i === 0 ? huge[0].cid : many[i].cid, bytes: 4 * MiB }))
    const stream = await ws.net.libp2p.dialProtocol(s.node.net.libp2p.peerId, SEED_PROTOCOL)
    stream.send(frame(SeedRequest.encode({ kind: SeedRequest.Kind.SPECULATE, root: new Uint8Array(0), chunks: big.map(c => ({ cid: c.cid.bytes, bytes: c.bytes })), ttlMs: 0 })))
    const answer = await new FrameReader(stream, { maxFrameBytes: MAX_SEED_RESPONSE_BYTES }).next({ signal: AbortSignal.timeout(10_000) })
    const failure = SeedResponse.decode(answer as Uint8Array).error
    assert.equal(failure?.name, 'SpeculativeBatchError')
    assert.match(failure?.message ?? '', /a speculate of 71303168 bytes is more than the 67108864 one request may carry \(MAX_SPECULATE_BYTES\)/)
    assert.equal(failure?.exitCode, 2)
    assert.equal(await s.blocks.has(huge[0].cid), false)
  })
})

describe('node/seed SpeculativeRecord beside a gc', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dits-spec-record-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('a record written while gc sweeps the same shards is kept: the sweep leaves this process\'s temp files alone', async () => {
    const record = new SpeculativeRecord(join(dir, 'speculative'))
    await record.open()
    const chunks = makeFile(1024 * KiB, KiB, 64).chunks.map(cid => ({ cid, bytes: KiB }))
    const expires = Date.now() + 3_600_000
    let recorded = false
    const writing = record.record('peer', chunks, expires).finally(() => { recorded = true })
    let sweeps = 0
    while (!recorded) {
      for await (const _ of record.sweep(Date.now(), () => false)) { /* only the walk matters */ }
      sweeps++
    }
    await writing
    assert.ok(sweeps > 0)
    for (const c of chunks) assert.equal((await record.get(c.cid))?.expiresAt, expires, `${c.cid} is recorded`)
  })
})
