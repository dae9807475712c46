import assert from 'node:assert/strict'
import { makeFile, startNode, stopAll, KiB } from './helpers.ts'
import type { TestNode } from './helpers.ts'

/** Issue 14, "Roles enforced where the data is": a node serves chunks only to peers with the read role. */
describe('node/net serving: the read role (TCP loopback)', function () {
  this.timeout(30_000)
  let nodes: TestNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('a peer without the read role gets a refusal naming the role, and no content; a peer with it is served', async () => {
    const file = makeFile(300 * KiB, 64 * KiB)
    let allowed = ''
    const server = await startNode({ refuseServing: peer => peer.toString() === allowed ? undefined : `peer ${peer.toString()} lacks the read role (chunks)` })
    const outsider = await startNode()
    const reader = await startNode()
    nodes = [server, outsider, reader]
    server.store.putAll(file.blocks)
    allowed = reader.net.peerId
    await outsider.net.connect(server.addr)
    await assert.rejects(outsider.net.fetch(file.root, { signal: AbortSignal.timeout(10_000) }), (e: Error & { errors?: Error[] }) => {
      const all = [e, ...(e.errors ?? [])].map(x => x.message).join('\n')
      return e.name === 'FetchFailedError' && all.includes(`peer ${outsider.net.peerId} lacks the read role`)
    })
    assert.equal(outsider.store.blocks.size, 0)
    assert.equal(server.net.status().served.blocksServed, 0)
    await reader.net.connect(server.addr)
    const report = await reader.net.fetch(file.root)
    assert.equal(report.bytes_fetched, file.data.byteLength)
  })
})
