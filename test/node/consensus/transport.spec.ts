import assert from 'node:assert/strict'
import { streamPair } from '@libp2p/utils'
import { RaftTransport } from '../../../node/consensus/transport.ts'
import { decodeRaftMessage } from '../../../node/consensus/wire.ts'
import { RaftNode, MemoryStorage } from '../../../src/raft/index.ts'
import { FrameReader } from '../../../node/net/framing.ts'
import { encodeRaftMessage, frameAll } from '../../../node/consensus/wire.ts'
import type { Connection, Stream } from '@libp2p/interface'
import type { Message, Refusal } from '../../../src/raft/index.ts'

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
    }, { self: 'a', addresses: new Map([['b', ['/ip4/127.0.0.1/tcp/1']]]), electionMs: 1000, onMessage: () => undefined, onUnreachable: () => {}, onSnapshotStatus: () => {} })
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

  it('steps only what the core admits: a non-voter is dropped, logged and scored once per interval; a forged sender or a malformed frame aborts the stream and disconnects', async () => {
    // b's core: a member of {a, b, c}
    const core = new RaftNode({ id: 'b', storage: new MemoryStorage(), voters: ['a', 'b', 'c'] })
    const stepped: Message[] = []
    const logs: string[] = []
    const penalties: Array<[string, string, boolean | undefined]> = []
    let handler: ((s: Stream, c: Connection) => void) | undefined
    const transport = new RaftTransport({
      handle: async (_p, h) => { handler = h as (s: Stream, c: Connection) => void },
      unhandle: async () => {},
      dialProtocol: async () => { throw new Error('no dialing here') },
      getConnections: () => []
    }, {
      self: 'b',
      addresses: new Map(),
      electionMs: 1000,
      refusalIntervalMs: 60_000,
      onMessage: (m, remote): Refusal | undefined => {
        const refusal = core.refuse(m, remote)
        if (refusal === undefined) stepped.push(m)
        return refusal
      },
      penalize: (peer, reason, disconnect) => { penalties.push([peer, reason, disconnect]) },
      log: m => { logs.push(m) },
      onUnreachable: () => {},
      onSnapshotStatus: () => {}
    })
    await transport.start()
    const open = async (remote: string, messages: Message[]): Promise<Stream> => {
      const [out, inbound] = await streamPair()
      handler?.(inbound as Stream, { remotePeer: { toString: () => remote } } as unknown as Connection)
      out.send(frameAll(messages.map(encodeRaftMessage)))
      await out.close().catch(() => {})
      return out as Stream
    }
    const vote = (from: string, term: number): Message => ({ type: 'Vote', from, to: 'b', term, index: 9, logTerm: term })

    await open('x', [vote('x', 5), vote('x', 6), vote('x', 7)])
    await open('x', [vote('x', 8)])
    await open('a', [vote('a', 2)])
    const until = Date.now() + 5_000
    while (stepped.length === 0 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 10))
    assert.deepEqual(stepped.map(m => [m.from, m.term]), [['a', 2]])
    assert.equal(penalties.length, 1, 'a non-voter is scored down once per interval, not once per message')
    assert.equal(penalties[0][0], 'x')
    assert.match(penalties[0][1], /from x, which is not a voter \(a, b, c\)/)
    assert.notEqual(penalties[0][2], true, 'a stale non-voter is scored, not disconnected: it may not know it was removed')
    assert.equal(logs.filter(l => l.includes('not a voter')).length, 1)

    // a member's message on a connection from someone else: a protocol violation, scored every time
    await open('x', [vote('a', 3)])
    while (penalties.length < 2 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 10))
    assert.match(penalties[1][1], /claims to come from a but its connection is from x/)
    assert.equal(penalties[1][2], true, 'a forged sender is disconnected')
    assert.equal(stepped.length, 1)

    // a frame that is not a raft message: a violation too
    await open('y', [])
    const [out, inbound] = await streamPair()
    handler?.(inbound as Stream, { remotePeer: { toString: () => 'y' } } as unknown as Connection)
    out.send(frameAll([Uint8Array.from([0xff, 0xff, 0xff])]))
    await out.close().catch(() => {})
    while (penalties.length < 3 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 10))
    assert.deepEqual([penalties[2][0], penalties[2][2]], ['y', true])
    assert.match(penalties[2][1], /raft: malformed raft message/)
    await transport.stop()
  })
})
