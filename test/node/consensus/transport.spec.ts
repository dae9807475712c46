import assert from 'node:assert/strict'
import { streamPair } from '@libp2p/utils'
import { RaftTransport } from '../../../node/consensus/transport.ts'
import { decodeRaftMessage } from '../../../node/consensus/wire.ts'
import { FrameReader } from '../../../node/net/framing.ts'
import type { Stream } from '@libp2p/interface'
import type { Message } from '../../../src/raft/index.ts'

const enc = new TextEncoder()

describe('node/consensus/transport', () => {
  it('sends the messages of one call to a voter in one write, leaving none behind', async () => {
    const [out, inbound] = await streamPair()
    const writes: number[] = []
    const send = out.send.bind(out)
    out.send = (data) => {
      writes.push(data.byteLength)
      return send(data)
    }
    const transport = new RaftTransport({
      handle: async () => {},
      unhandle: async () => {},
      dialProtocol: async () => out as Stream,
      getConnections: () => []
    }, { self: 'a', addresses: new Map([['b', ['/ip4/127.0.0.1/tcp/1']]]), electionMs: 1000, onMessage: () => {}, onUnreachable: () => {}, onSnapshotStatus: () => {} })
    await transport.start()
    const reader = new FrameReader(inbound, { maxFrameBytes: 1 << 20 })
    const app = (index: number): Message => ({ type: 'App', from: 'a', to: 'b', term: 2, index, logTerm: 2, commit: 0, entries: [{ term: 2, index: index + 1, type: 'normal', data: enc.encode(String(index)) }] })
    const heartbeat: Message = { type: 'Heartbeat', from: 'a', to: 'b', term: 2, commit: 0 }

    transport.send([app(0)])
    assert.equal(decodeRaftMessage(await reader.next({ signal: AbortSignal.timeout(1000) }) as Uint8Array).index, 0)
    writes.length = 0
    // the stream is open now: a second Ready's messages must not wait for a third
    transport.send([app(1), app(2), heartbeat])
    const first = decodeRaftMessage(await reader.next({ signal: AbortSignal.timeout(1000) }) as Uint8Array)
    assert.deepEqual(first.entries?.map(e => e.index), [2, 3])
    assert.equal(decodeRaftMessage(await reader.next({ signal: AbortSignal.timeout(1000) }) as Uint8Array).type, 'Heartbeat')
    assert.equal(writes.length, 1)
    await transport.stop()
  })
})
