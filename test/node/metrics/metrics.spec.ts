import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { DaemonMetrics, OTHER_PEERS_LABEL } from '../../../node/metrics/index.ts'
import { MetricsListener } from '../../../node/metrics/listener.ts'
import { createNetwork } from '../../../node/net/index.ts'
import { makeFile, startNode, stopAll, waitFor, KiB, MiB, LyingBlockstore, MemoryBlockstore } from '../net/helpers.ts'
import type { TestNode } from '../net/helpers.ts'
import type { DitsNetwork } from '../../../node/net/index.ts'

/** The value of one sample of `metrics`' registry, or undefined. */
async function sample (metrics: DaemonMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name)
  if (metric === undefined) return undefined
  const values = (await metric.get()).values as Array<{ labels: Record<string, string | number>, value: number }>
  return values.find(v => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value
}

describe('node/metrics: DaemonMetrics', function () {
  this.timeout(60_000)
  let nodes: Array<TestNode | undefined> = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('two nodes in one process count libp2p\'s metrics into their own registries', async () => {
    const ma = new DaemonMetrics()
    const mb = new DaemonMetrics()
    // both built before either starts: the TCP listeners register their metrics at start, one node after the other
    const build = async (metrics: DaemonMetrics): Promise<DitsNetwork> => await createNetwork({
      privateKey: await generateKeyPair('Ed25519'), role: 'peer', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, blockstore: new MemoryBlockstore(), metrics: metrics.libp2p(tmpdir())
    })
    const netA = await build(ma)
    const netB = await build(mb)
    await netA.start()
    await netB.start()
    const a = { net: netA, store: new MemoryBlockstore(), addr: netA.addresses()[0] }
    const b = { net: netB, store: new MemoryBlockstore(), addr: netB.addresses()[0] }
    nodes = [a, b]
    await a.net.connect(b.addr)
    const inbound = 'libp2p_tcp_inbound_connections_total'
    await waitFor(async () => await sample(mb, inbound) === 1, 10_000, 'b\'s TCP listener to count its inbound connection')
    assert.equal(await sample(ma, inbound), 0)
    const connections = 'libp2p_connection_manager_connections'
    await waitFor(async () => await sample(mb, connections, { [connections]: 'inbound' }) === 1, 10_000, 'b to count its inbound connection')
    assert.equal(await sample(ma, connections, { [connections]: 'outbound' }), 1)
    assert.equal(await sample(ma, connections, { [connections]: 'inbound' }), 0)
    assert.equal(await sample(mb, connections, { [connections]: 'outbound' }), 0)
    // the metrics libp2p registers in its constructors are in both registries, the DHT's included
    for (const name of [inbound, 'libp2p_registrar_protocol_handlers', 'dits_kad_routing_table_size', 'libp2p_data_transfer_bytes_total', 'process_cpu_seconds_total']) {
      assert.ok(ma.registry.getSingleMetric(name) !== undefined, `a lacks ${name}`)
      assert.ok(mb.registry.getSingleMetric(name) !== undefined, `b lacks ${name}`)
    }
  })

  it('counts verified and corrupt blocks, the ban of the liar, and bytes by source and by peer', async () => {
    const file = makeFile(4 * MiB, 256 * KiB)
    const metrics = new DaemonMetrics()
    const liar = await startNode({ store: new LyingBlockstore() })
    const honest = await startNode({ maxServeRateBytesPerSec: 20e6 })
    const d = await startNode({ observer: metrics })
    nodes = [liar, honest, d]
    liar.store.putAll(file.blocks)
    honest.store.putAll(file.blocks)
    await d.net.connect(liar.addr)
    await d.net.connect(honest.addr)
    const report = await d.net.fetch(file.root)
    assert.match(report.excluded[liar.net.peerId] ?? '', /fail BLAKE3 verification/)
    const snap = await metrics.snapshot()
    assert.equal(snap.blocksFailedVerification, 1)
    assert.equal(snap.peersBanned, 1)
    assert.ok(snap.blocksVerified.chunk >= file.chunks.length)
    assert.ok(snap.blocksVerified.manifest >= 1)
    assert.ok(snap.fetchedBytes.lan >= file.data.byteLength)
    assert.equal(snap.fetchedBytes.seed + snap.fetchedBytes.wan, 0)
    assert.ok((snap.fetchedBytesByPeer[honest.net.peerId] ?? 0) >= file.data.byteLength)
    assert.equal(snap.fetchedBytesByPeer[liar.net.peerId], undefined)
    assert.equal(snap.transfers.downloads, 0)
    // a second fetch of the same root finds every chunk held
    await d.net.fetch(file.root)
    assert.equal((await metrics.snapshot()).fetchLocalBytes, file.data.byteLength)
  })

  it('labels at most maxPeerLabels peers; the bytes of the others go to peer="other"', async () => {
    const metrics = new DaemonMetrics({ maxPeerLabels: 2 })
    const peers = await Promise.all([0, 1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
    for (const [i, p] of peers.entries()) {
      metrics.served(p, 100 * (i + 1))
      metrics.blockVerified(p, 10, 'chunk', 'wan')
    }
    metrics.served(peers[0], 1)
    const snap = await metrics.snapshot()
    assert.deepEqual(snap.servedBytesByPeer, { [peers[0].toString()]: 101, [peers[1].toString()]: 200, [OTHER_PEERS_LABEL]: 700 })
    assert.deepEqual(Object.keys(snap.fetchedBytesByPeer).sort(), [peers[0].toString(), peers[1].toString(), OTHER_PEERS_LABEL].sort())
    assert.equal(snap.fetchedBytes.wan, 40)
  })

  it('metrics.listen: an address in use is a usage error naming it; HEAD and GET answer, other methods 405', async () => {
    const metrics = new DaemonMetrics()
    const first = new MetricsListener(async () => ({ contentType: metrics.contentType, body: await metrics.text() }))
    const second = new MetricsListener(async () => ({ contentType: metrics.contentType, body: '' }))
    try {
      const url = await first.listen('127.0.0.1:0')
      const port = new URL(url).port
      await assert.rejects(second.listen(`127.0.0.1:${port}`), (err: Error) => err.name === 'UsageError' && err.message.includes(`127.0.0.1:${port}`) && /EADDRINUSE/.test(err.message))
      await assert.rejects(second.listen('localhost'), /not HOST:PORT/)
      assert.equal((await fetch(url, { method: 'HEAD' })).status, 200)
      assert.match(await (await fetch(url)).text(), /^# HELP dits_/m)
      assert.equal((await fetch(url, { method: 'DELETE' })).status, 405)
    } finally {
      await first.close()
      await second.close()
    }
  })

  it('counts gc runs that removed something, not dry runs', async () => {
    const metrics = new DaemonMetrics()
    metrics.gcRan({ dryRun: true, removedCount: 5, bytesRemoved: 500 })
    metrics.gcRan({ dryRun: false, removedCount: 3, bytesRemoved: 300 })
    assert.deepEqual((await metrics.snapshot()).gc, { runs: 1, freedBytes: 300, freedBlocks: 3 })
    assert.match(await metrics.text(), /^dits_gc_freed_bytes_total 300$/m)
  })
})
