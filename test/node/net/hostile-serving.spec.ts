import assert from 'node:assert/strict'
import { startNode, stopAll, makeFile, readBack, waitFor, frame, MiB, MemoryBlockstore } from './helpers.ts'
import { ChunksMessage, Want } from '../../../protocol/chunks.ts'
import { CHUNKS_PROTOCOL, MAX_BLOCK_BYTES, DEFAULT_SERVE_PEER_BUDGET_BYTES, DEFAULT_SERVE_TOTAL_BUDGET_BYTES } from '../../../protocol/index.ts'
import { multiaddr } from '@multiformats/multiaddr'
import type { AbortOptions, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { TestNode } from './helpers.ts'

/** Every read is a new buffer, as a read from the disk is: what the server holds shows in the process's buffers. */
class DiskLikeBlockstore extends MemoryBlockstore {
  override async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    return Uint8Array.from(await super.get(cid, options))
  }
}

/**
 * The probe of issue 15: a real libp2p peer that opens chunks streams, wants every 4 MiB block of a file on each and
 * never reads (its streams are paused: yamux grants the server no more window than the first one).
 */
async function nonReadingStreams (from: TestNode, to: TestNode, streams: number, cids: Uint8Array[]): Promise<Stream[]> {
  const out: Stream[] = []
  for (let i = 0; i < streams; i++) {
    const stream = await from.net.libp2p.dialProtocol(multiaddr(to.addr), CHUNKS_PROTOCOL)
    // a stream the server refused is closed already
    if (stream.status !== 'open') continue
    stream.pause()
    stream.send(frame(ChunksMessage.encode({ wants: cids.map(cid => ({ cid, type: Want.Type.BLOCK })) })))
    out.push(stream)
  }
  return out
}

describe('node/net serving budgets against a peer that does not read (TCP loopback)', function () {
  this.timeout(60_000)
  const WRITE_IDLE_MS = 1000
  let server: TestNode | undefined
  let hostiles: TestNode[] = []
  let honest: TestNode | undefined

  afterEach(async () => {
    await stopAll([server, honest, ...hostiles])
    server = honest = undefined
    hostiles = []
  })

  it('holds at most the per-peer and total budgets, serves an honest peer meanwhile, and closes the stalled streams after the write-idle timeout', async () => {
    const file = makeFile(6 * MAX_BLOCK_BYTES, MAX_BLOCK_BYTES)
    server = await startNode({ store: new DiskLikeBlockstore(), serving: { writeIdleTimeoutMs: WRITE_IDLE_MS } })
    server.store.putAll(file.blocks)
    const cids = file.chunks.map(c => c.bytes)
    const before = process.memoryUsage().arrayBuffers
    // three hostile peers, four streams each, every stream wanting all six blocks: 72 wants of 4 MiB (the server
    // held 16 MiB per stream before it had budgets)
    hostiles = await Promise.all([0, 1, 2].map(async () => await startNode()))
    await Promise.all(hostiles.map(async h => await nonReadingStreams(h, server as TestNode, 4, cids)))
    // the server has read the blocks it may read for them, and holds no more than that (it held 16 MiB per stream)
    await waitFor(() => (server as TestNode).net.status().served.heldBytes >= 3 * MAX_BLOCK_BYTES, 10_000, 'the hostile wants to be taken up')
    await new Promise(resolve => setTimeout(resolve, 500))
    const grown = process.memoryUsage().arrayBuffers - before
    assert.ok(grown < DEFAULT_SERVE_TOTAL_BUDGET_BYTES + 32 * MiB, `buffers grew by ${Math.round(grown / MiB)} MiB under 12 streams that do not read`)

    // an honest peer still gets the file, from what the total budget leaves
    honest = await startNode()
    await honest.net.connect(server.addr)
    const report = await honest.net.fetch(file.root, { signal: AbortSignal.timeout(30_000) })
    assert.equal(report.bytes_fetched, file.data.byteLength)
    assert.deepEqual(await readBack(honest.store, file.root), file.data)

    const served = server.net.status().served
    assert.ok(served.peakPeerBytes <= DEFAULT_SERVE_PEER_BUDGET_BYTES, `one peer held ${served.peakPeerBytes} bytes`)
    assert.ok(served.peakHeldBytes <= DEFAULT_SERVE_TOTAL_BUDGET_BYTES, `all peers held ${served.peakHeldBytes} bytes`)
    // the hostile peers got no complete block: the server sent the honest peer's six and nothing more
    assert.equal(served.blocksServed, 6 + 1)

    // every hostile stream is closed once it has taken nothing for the write-idle timeout, and the budget is back
    await waitFor(() => {
      const s = (server as TestNode).net.status().served
      return s.heldBytes === 0 && s.writeTimeouts >= 3
    }, 15_000, 'the stalled streams to be closed and their budget freed')
    await waitFor(() => serverStreams(server as TestNode) === 0, 10_000, 'no serving stream left')
  })

  it('refuses more serving streams than the per-peer cap', async () => {
    const file = makeFile(2 * MiB, MiB)
    server = await startNode({ serving: { maxServeStreamsPerPeer: 2, writeIdleTimeoutMs: 5000 } })
    server.store.putAll(file.blocks)
    const hostile = await startNode()
    hostiles = [hostile]
    await nonReadingStreams(hostile, server, 4, file.chunks.map(c => c.bytes))
    await waitFor(() => (server as TestNode).net.status().served.refusedStreams >= 2, 10_000, 'two streams refused')
    assert.equal(serverStreams(server), 2)
  })
})

function serverStreams (node: TestNode): number {
  return (node.net.libp2p.services.chunks.stats()).streams
}
