import assert from 'node:assert/strict'
import { startNode, stopAll, makeFile, readBack, waitFor, frame, MiB, KiB } from './helpers.ts'
import { ChunksMessage, Want, Presence } from '../../../protocol/chunks.ts'
import { CHUNKS_PROTOCOL, MAX_MESSAGE_BYTES, MAX_ENTRIES_PER_MESSAGE, MAX_HAVE_UPDATES_PER_SEC, HAVE_UPDATE_INTERVAL_MS } from '../../../protocol/index.ts'
import { FrameReader } from '../../../node/net/framing.ts'
import { decodeChunksMessage } from '../../../node/net/wire.ts'
import { chunkCid } from '../../../src/cid.ts'
import { CID } from 'multiformats/cid'
import type { TestNode } from './helpers.ts'

/** Bytes the node served to other nodes so far. */
const served = (n: TestNode): number => n.net.status().served.bytesServed

describe('node/net swarm (issue 19)', function () {
  this.timeout(60_000)
  let nodes: TestNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('a second fetcher gets from a first one the chunks it fetches after the second started', async () => {
    const file = makeFile(8 * MiB, 256 * KiB)
    // the seed sends 2 MB/s: the first fetcher needs ~4 s alone
    const seed = await startNode({ role: 'seed', maxServeRateBytesPerSec: 2_000_000 })
    const a = await startNode()
    const b = await startNode()
    nodes = [seed, a, b]
    seed.store.putAll(file.blocks)
    await a.net.connect(seed.addr)
    await b.net.connect(seed.addr)
    await b.net.connect(a.addr)
    const first = a.net.fetch(file.root)
    await waitFor(() => file.chunks.filter(c => a.store.blocks.has(c.toString())).length >= 4, 20_000, 'the first fetcher to hold 4 chunks')
    const heldByA = file.chunks.filter(c => a.store.blocks.has(c.toString())).length * 256 * KiB
    const report = await b.net.fetch(file.root)
    await first
    assert.deepEqual(await readBack(b.store, file.root), file.data)
    assert.deepEqual(await readBack(a.store, file.root), file.data)
    const fromA = report.sources[a.net.peerId] ?? 0
    // without have-updates b takes a's DONT_HAVEs for good and gets at most what a held when it asked
    assert.ok(fromA > heldByA, `b got ${fromA} bytes from a, which held ${heldByA} when b started`)
    // and the seed sent about one copy, not two
    assert.ok(served(seed) <= 1.4 * file.data.byteLength, `the seed served ${served(seed)} bytes of a ${file.data.byteLength}-byte root`)
  })

  it('three peers fetching at once from a capped seed pull about one copy from it', async () => {
    const file = makeFile(8 * MiB, 256 * KiB)
    const seed = await startNode({ role: 'seed', maxServeRateBytesPerSec: 4_000_000 })
    const peers = [await startNode(), await startNode(), await startNode()]
    nodes = [seed, ...peers]
    seed.store.putAll(file.blocks)
    for (const [i, p] of peers.entries()) {
      await p.net.connect(seed.addr)
      for (const q of peers.slice(0, i)) await p.net.connect(q.addr)
    }
    const reports = await Promise.all(peers.map(async p => await p.net.fetch(file.root)))
    for (const p of peers) assert.deepEqual(await readBack(p.store, file.root), file.data)
    const fromPeers = reports.map(r => Object.entries(r.sources).filter(([id]) => id !== seed.net.peerId).reduce((n, [, b]) => n + b, 0))
    assert.ok(served(seed) <= 1.3 * file.data.byteLength, `the seed served ${served(seed)} bytes of a ${file.data.byteLength}-byte root (${(served(seed) / file.data.byteLength).toFixed(2)} copies); from peers: ${fromPeers.join(', ')}`)
    assert.ok(seed.net.status().served.deferred > 0, 'the seed deferred some chunks to the peers that had them')
  })

  it('a node fetching a root answers PARTIAL and sends its have-updates in bounded messages', async () => {
    const file = makeFile(4 * MiB, 64 * KiB)
    const seed = await startNode({ role: 'seed', maxServeRateBytesPerSec: 4_000_000 })
    const a = await startNode()
    const watcher = await startNode()
    nodes = [seed, a, watcher]
    seed.store.putAll(file.blocks)
    await a.net.connect(seed.addr)
    await watcher.net.connect(a.addr)
    const fetching = a.net.fetch(file.root)
    await waitFor(() => a.store.blocks.has(file.root.toString()), 10_000, 'the root manifest on the fetcher')
    // a raw requester: probes the root, then only listens
    const stream = await watcher.net.libp2p.dialProtocol(a.net.libp2p.peerId, CHUNKS_PROTOCOL)
    const reader = new FrameReader(stream, { maxFrameBytes: MAX_MESSAGE_BYTES })
    stream.send(frame(ChunksMessage.encode({ wants: [{ cid: file.root.bytes, type: Want.Type.HAVE }] })))
    const messages: Array<{ at: number, haves: string[] }> = []
    let answer: Presence.Type | undefined
    const chunks = new Set(file.chunks.map(c => c.toString()))
    const announced = new Set<string>()
    while (announced.size < chunks.size) {
      const body = await reader.next({ signal: AbortSignal.timeout(10_000) })
      assert.ok(body != null, 'the stream ended before every chunk was announced')
      const msg = decodeChunksMessage(body)
      const haves: string[] = []
      for (const p of msg.presences) {
        const cid = CID.decode(p.cid).toString()
        if (cid === file.root.toString()) answer = p.type
        else if (p.type === Presence.Type.HAVE) haves.push(cid)
      }
      for (const h of haves) {
        assert.ok(chunks.has(h), `announced ${h}, no chunk of the root`)
        announced.add(h)
      }
      if (haves.length > 0) messages.push({ at: performance.now(), haves })
    }
    assert.equal(answer, Presence.Type.PARTIAL)
    for (const m of messages) assert.ok(m.haves.length <= MAX_ENTRIES_PER_MESSAGE)
    // one have-update per 250 ms at most: judged over the whole run, since a message held back by a busy event loop
    // arrives closer to the next one
    const spanMs = messages.at(-1)!.at - messages[0].at
    assert.ok(messages.length <= 2 + spanMs / HAVE_UPDATE_INTERVAL_MS, `${messages.length} have-updates in ${spanMs.toFixed(0)} ms`)
    reader.release()
    stream.abort(new Error('done'))
    await fetching
  })

  it('partial holders whose source went away: the download fails within the partial wait, it does not hang', async () => {
    const file = makeFile(4 * MiB, 256 * KiB)
    const seed = await startNode({ role: 'seed', maxServeRateBytesPerSec: 1_000_000 })
    const a = await startNode()
    const b = await startNode()
    nodes = [seed, a, b]
    seed.store.putAll(file.blocks)
    await a.net.connect(seed.addr)
    await b.net.connect(a.addr)
    const first = a.net.fetch(file.root, { partialWaitMs: 2000 }).catch((err: Error) => err)
    await waitFor(() => file.chunks.some(c => a.store.blocks.has(c.toString())), 20_000, 'a chunk on the first fetcher')
    const second = b.net.fetch(file.root, { partialWaitMs: 2000 }).catch((err: Error) => err)
    await new Promise(resolve => setTimeout(resolve, 500))
    await seed.net.stop()
    const started = performance.now()
    const [errA, errB] = await Promise.all([first, second])
    assert.equal((errA as Error).name, 'FetchFailedError')
    assert.equal((errB as Error).name, 'FetchFailedError', String(errB))
    assert.ok(performance.now() - started < 20_000)
  })

  it('a source that floods have-updates is disconnected as a violation', async () => {
    const file = makeFile(2 * MiB, 256 * KiB)
    const honest = await startNode({ maxServeRateBytesPerSec: 1_000_000 })
    const hostile = await startNode()
    const d = await startNode()
    nodes = [honest, hostile, d]
    honest.store.putAll(file.blocks)
    // answers the probe PARTIAL, then sends more HAVEs than a requester takes in a second
    await hostile.net.libp2p.unhandle(CHUNKS_PROTOCOL)
    await hostile.net.libp2p.handle(CHUNKS_PROTOCOL, (stream) => {
      const reader = new FrameReader(stream, { maxFrameBytes: MAX_MESSAGE_BYTES })
      void (async () => {
        const body = await reader.next()
        if (body == null) return
        const probe = decodeChunksMessage(body).wants[0]
        stream.send(frame(ChunksMessage.encode({ presences: [{ cid: probe.cid, type: Presence.Type.PARTIAL }] })))
        for (let m = 0; m * MAX_ENTRIES_PER_MESSAGE <= 2 * MAX_HAVE_UPDATES_PER_SEC && stream.status === 'open'; m++) {
          const presences = Array.from({ length: MAX_ENTRIES_PER_MESSAGE }, (_, i) => ({ cid: chunkCid(new Uint8Array([m, i >> 8, i & 255])).bytes, type: Presence.Type.HAVE }))
          stream.send(frame(ChunksMessage.encode({ presences })))
        }
      })().catch(() => {})
    })
    await d.net.connect(honest.addr)
    await d.net.connect(hostile.addr)
    const report = await d.net.fetch(file.root)
    assert.deepEqual(await readBack(d.store, file.root), file.data)
    assert.match(report.excluded[hostile.net.peerId] ?? '', /have-updates a second/)
    assert.equal(d.net.recentPenalties().some(p => p.peer === hostile.net.peerId && /have-updates/.test(p.reason)), true)
  })
})
