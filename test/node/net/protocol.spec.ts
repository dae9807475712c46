import assert from 'node:assert/strict'
import { startNode, stopAll, makeFile, readBack, waitFor, frame, MiB, KiB } from './helpers.ts'
import { ChunksMessage, Want, Presence } from '../../../protocol/chunks.ts'
import { CHUNKS_PROTOCOL, HELLO_PROTOCOL, MAX_MESSAGE_BYTES, DEFAULT_MAX_OUTSTANDING_WANTS } from '../../../protocol/index.ts'
import { FrameReader, writeFrame, varint } from '../../../node/net/framing.ts'
import { decodeChunksMessage } from '../../../node/net/wire.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { chunkCid } from '../../../src/cid.ts'
import type { Stream } from '@libp2p/interface'
import type { TestNode } from './helpers.ts'

/** Open a raw /dits/chunks stream from `from` to `to`. */
async function rawStream (from: TestNode, to: TestNode): Promise<Stream> {
  return await from.net.libp2p.dialProtocol(multiaddr(to.addr), CHUNKS_PROTOCOL)
}

/** Read what the server says until it closes: the messages and how the stream ended. */
async function drain (stream: Stream): Promise<{ messages: ChunksMessage[], error?: string }> {
  const reader = new FrameReader(stream, { maxFrameBytes: MAX_MESSAGE_BYTES })
  const messages: ChunksMessage[] = []
  try {
    for (;;) {
      const frame = await reader.next({ signal: AbortSignal.timeout(5000) })
      if (frame == null) break
      messages.push(decodeChunksMessage(frame))
    }
  } catch {}
  return { messages, error: messages.find(m => m.error !== '')?.error }
}

describe('node/net /dits/chunks limits (TCP loopback)', function () {
  this.timeout(30_000)
  let server: TestNode
  let attacker: TestNode
  let file: ReturnType<typeof makeFile>

  beforeEach(async () => {
    file = makeFile(MiB, 256 * KiB)
    server = await startNode()
    server.store.putAll(file.blocks)
    attacker = await startNode()
  })

  afterEach(async () => {
    await stopAll([server, attacker])
  })

  it('answers wants with blocks and presences in order, and a cancel withdraws a queued want', async () => {
    const stream = await rawStream(attacker, server)
    const missing = makeFile(1000).root
    const [c0, c1, c2, c3] = file.chunks
    // both frames arrive together: the cancel is read before the server reaches c3
    stream.send(frame(ChunksMessage.encode({
      wants: [
        { cid: file.root.bytes, type: Want.Type.HAVE },
        { cid: missing.bytes, type: Want.Type.HAVE },
        ...[c0, c1, c2, c3].map(c => ({ cid: c.bytes, type: Want.Type.BLOCK }))
      ]
    })))
    stream.send(frame(ChunksMessage.encode({ cancels: [c3.bytes] })))
    await stream.close()
    const { messages, error } = await drain(stream)
    assert.equal(error, undefined)
    const presences = messages.flatMap(m => m.presences.map(p => p.type))
    assert.deepEqual(presences, [Presence.Type.HAVE, Presence.Type.DONT_HAVE])
    const blocks = messages.flatMap(m => m.blocks)
    assert.deepEqual(blocks.map(b => CID.decode(b.cid).toString()), [c0, c1, c2].map(String))
    assert.deepEqual(blocks[0].data, file.blocks.find(b => b.cid.equals(c0))?.bytes)
  })

  it('rejects an oversized frame with a reason, without crashing, and keeps serving others', async () => {
    const stream = await rawStream(attacker, server)
    stream.send(varint(MAX_MESSAGE_BYTES + 1))
    stream.send(new Uint8Array(1024))
    const { error } = await drain(stream)
    assert.match(error ?? '', /exceeds the \d+-byte limit/)
    const honest = await startNode()
    try {
      await honest.net.connect(server.addr)
      await honest.net.fetch(file.root)
      assert.deepEqual(await readBack(honest.store, file.root), file.data)
    } finally {
      await honest.net.stop()
    }
  })

  it('rejects a malformed message with a reason', async () => {
    const stream = await rawStream(attacker, server)
    await writeFrame(stream, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]))
    const { error } = await drain(stream)
    assert.match(error ?? '', /malformed chunks message/)
  })

  it('rejects a want with a malformed CID', async () => {
    const stream = await rawStream(attacker, server)
    await writeFrame(stream, ChunksMessage.encode({ wants: [{ cid: Uint8Array.from([1, 2, 3]), type: Want.Type.BLOCK }] }))
    const { error } = await drain(stream)
    assert.match(error ?? '', /want: malformed CID/)
  })

  it('rejects blocks sent by a requester', async () => {
    const stream = await rawStream(attacker, server)
    await writeFrame(stream, ChunksMessage.encode({ blocks: [{ cid: file.chunks[0].bytes, data: new Uint8Array(10) }] }))
    const { error } = await drain(stream)
    assert.match(error ?? '', /may send only wants and cancels/)
  })

  it('rejects more outstanding wants than the limit', async () => {
    const stream = await rawStream(attacker, server)
    const many = Array.from({ length: DEFAULT_MAX_OUTSTANDING_WANTS + 100 }, (_, i) => chunkCid(Uint8Array.from([i & 0xff, i >> 8, 7])))
    // two frames in one write: the second is read before the server has answered more than a few
    const frames = [many.slice(0, 1000), many.slice(1000)].map(part => frame(ChunksMessage.encode({ wants: part.map(c => ({ cid: c.bytes, type: Want.Type.BLOCK })) })))
    stream.send(Uint8Array.from([...frames[0], ...frames[1]]))
    const { error } = await drain(stream)
    assert.match(error ?? '', /more than 1024 outstanding wants/)
  })

  it('disconnects a peer at each violation and bans it after three', async () => {
    for (let i = 0; i < 3; i++) {
      const stream = await rawStream(attacker, server)
      await writeFrame(stream, Uint8Array.from([0xff]))
      await drain(stream)
      await waitFor(() => server.net.peers().length === 0, 5000, `the attacker to be disconnected after violation ${i + 1}`)
      assert.equal(server.net.status().served.violations, i + 1)
    }
    // refused by the server's connection gater: whatever the dialer thinks for a moment, the server keeps no connection
    await attacker.net.connect(server.addr).catch(() => {})
    await waitFor(() => attacker.net.libp2p.getConnections().every(c => c.status !== 'open'), 5000, 'the banned peer to be refused')
    assert.equal(server.net.peers().length, 0)
  })
})

describe('node/net /dits/hello (TCP loopback)', function () {
  this.timeout(30_000)
  let nodes: TestNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('a peer with no common chunks version is told why and disconnected (it dials us)', async () => {
    const ours = await startNode()
    const future = await startNode()
    nodes = [ours, future]
    ;(future.net.libp2p.services.hello as unknown as { local: { protocols: string[] } }).local.protocols = ['/dits/hello/1.0.0', '/dits/chunks/2.0.0']
    await assert.rejects(future.net.connect(ours.addr), (err: Error) => {
      assert.equal(err.name, 'IncompatiblePeerError')
      assert.match(err.message, /no common \/dits\/chunks version: this node speaks \/dits\/chunks\/1\.0\.0 .* the peer speaks \/dits\/chunks\/2\.0\.0/)
      return true
    })
    await waitFor(() => ours.net.peers().length === 0 && future.net.peers().length === 0, 5000, 'the connection to close')
    assert.match(ours.net.libp2p.services.hello.failure(future.net.peerId) ?? '', /no common/)
  })

  it('a peer with no common chunks version is told why and disconnected (we dial it)', async () => {
    const ours = await startNode()
    const future = await startNode()
    nodes = [ours, future]
    ;(future.net.libp2p.services.hello as unknown as { local: { protocols: string[] } }).local.protocols = ['/dits/hello/1.0.0', '/dits/chunks/2.0.0']
    await assert.rejects(ours.net.connect(future.addr), /IncompatiblePeerError|no common \/dits\/chunks version/)
    await waitFor(() => ours.net.peers().length === 0, 5000, 'the connection to close')
  })

  it('a malformed hello is a violation: the connection closes at once and the third one bans the peer', async () => {
    const ours = await startNode()
    const attacker = await startNode()
    nodes = [ours, attacker]
    for (let i = 0; i < 3; i++) {
      const stream = await attacker.net.libp2p.dialProtocol(multiaddr(ours.addr), HELLO_PROTOCOL)
      await writeFrame(stream, Uint8Array.from([0xff, 0xff, 0xff])).catch(() => {})
      // both sides: a dial must not reuse a connection the attacker has not yet seen aborted
      await waitFor(() => ours.net.libp2p.getConnections(attacker.net.libp2p.peerId).length === 0 && attacker.net.libp2p.getConnections(ours.net.libp2p.peerId).length === 0, 5000, `the attacker to be disconnected after malformed hello ${i + 1}`)
    }
    await attacker.net.connect(ours.addr).catch(() => {})
    await waitFor(() => attacker.net.libp2p.getConnections().every(c => c.status !== 'open'), 5000, 'the banned peer to be refused')
    assert.equal(ours.net.peers().length, 0)
  })

  it('a peer that does not speak hello is disconnected with a clear reason', async () => {
    const ours = await startNode()
    const mute = await startNode()
    nodes = [ours, mute]
    await mute.net.libp2p.unhandle('/dits/hello/1.0.0')
    await assert.rejects(ours.net.connect(mute.addr), /does not speak \/dits\/hello\/1\.0\.0/)
  })
})
