import assert from 'node:assert/strict'
import { once } from 'node:events'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { yamux } from '@chainsafe/libp2p-yamux'
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Uint8ArrayList } from 'uint8arraylist'
import { DEFERRED_CREDIT_MAX_BYTES, MAX_JOINED_WRITE_BYTES, deferredWindowUpdates, joinSmallWrites, oneWritePerRecord, recordLength } from '../../../node/net/write-coalescing.ts'
import type { Stream, StreamMuxer } from '@libp2p/interface'

const WINDOW_BYTES = 256 * 1024
const DATA = 0
const WINDOW_UPDATE = 1

/** The yamux frames in one send: [type, flags, length] each. */
function frames (data: Uint8Array | { subarray(): Uint8Array }): Array<[number, number, number]> {
  const bytes = data instanceof Uint8Array ? data : data.subarray()
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: Array<[number, number, number]> = []
  for (let at = 0; at < bytes.byteLength;) {
    const type = view.getUint8(at + 1)
    const length = view.getUint32(at + 8)
    out.push([type, view.getUint16(at + 2), length])
    at += 12 + (type === DATA ? length : 0)
  }
  return out
}

const opened: StreamMuxer[] = []

/** Two yamux muxers over an in-memory connection, recording each send of the inbound side as its frames. */
function muxerPair (): { client: StreamMuxer, server: StreamMuxer, serverSends: Array<Array<[number, number, number]>> } {
  const [outbound, inbound] = multiaddrConnectionPair()
  const serverSends: Array<Array<[number, number, number]>> = []
  const send = inbound.send.bind(inbound)
  inbound.send = (data) => {
    serverSends.push(frames(data))
    return send(data)
  }
  // a window that cannot grow: yamux's growth updates are large and would go out at once, whenever they happen
  const factory = deferredWindowUpdates(yamux({ streamOptions: { maxStreamWindowSize: WINDOW_BYTES } }))(undefined)
  const client = factory.createStreamMuxer(outbound)
  const server = factory.createStreamMuxer(inbound)
  opened.push(client, server)
  return { client, server, serverSends }
}

async function accept (muxer: StreamMuxer): Promise<Stream> {
  const [evt] = await once(muxer as unknown as EventTarget, 'stream') as [CustomEvent<Stream>]
  return evt.detail
}

async function bytesArrive (stream: Stream, n: number): Promise<void> {
  let got = 0
  await new Promise<void>(resolve => {
    stream.addEventListener('message', (evt) => {
      got += evt.data.byteLength
      if (got >= n) resolve()
    })
  })
}

const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 20)) }

describe('node/net write coalescing', () => {
  afterEach(() => {
    for (const m of opened.splice(0)) m.abort(new Error('test over'))
  })

  it('joins a small multi-buffer send into one buffer and leaves large ones alone', () => {
    const seen: Array<Uint8Array | Uint8ArrayList> = []
    const connection = { send: (data: Uint8Array | Uint8ArrayList) => { seen.push(data); return true } }
    joinSmallWrites(connection as any)
    connection.send(new Uint8ArrayList(Uint8Array.from([0, 3]), Uint8Array.from([7, 8, 9])))
    const big = new Uint8ArrayList(new Uint8Array(2), new Uint8Array(MAX_JOINED_WRITE_BYTES))
    connection.send(big)
    assert.ok(seen[0] instanceof Uint8Array)
    assert.deepEqual(seen[0], Uint8Array.from([0, 3, 7, 8, 9]))
    assert.equal(seen[1], big)
  })

  it('holds small window credit back and sends it in front of the next frame', async () => {
    const { client, server, serverSends } = muxerPair()
    const accepted = accept(server)
    const out = await client.createStream()
    out.send(Uint8Array.from([1]))
    const inbound = await accepted
    const arrived = bytesArrive(inbound, 20 * 100)
    for (let i = 0; i < 20; i++) out.send(new Uint8Array(100))
    await arrived
    await settle()
    // after the update that acknowledges the stream, no credit went out alone
    assert.deepEqual(serverSends.flat().filter(([type, flag]) => type === WINDOW_UPDATE && flag === 0), [])
    serverSends.length = 0
    inbound.send(Uint8Array.from([42]))
    await settle()
    // the held credit and the data frame in one send
    assert.equal(serverSends.length, 1)
    const [credit, data] = serverSends[0]
    assert.deepEqual(credit, [WINDOW_UPDATE, 0, 20 * 100])
    assert.deepEqual(data, [DATA, 0, 1])
  })

  it('a one-way stream larger than many windows still flows: held credit goes out at its limit', async () => {
    const { client, server, serverSends } = muxerPair()
    const accepted = accept(server)
    const out = await client.createStream()
    out.send(Uint8Array.from([1]))
    const inbound = await accepted
    const total = 4 * 1024 * 1024
    const arrived = bytesArrive(inbound, total)
    for (let sent = 0; sent < total; sent += 16 * 1024) {
      if (!out.send(new Uint8Array(16 * 1024))) await out.onDrain()
    }
    await arrived
    const credits = serverSends.flat().filter(([type, flag]) => type === WINDOW_UPDATE && flag === 0)
    assert.ok(credits.length > 0)
    for (const [, , length] of credits) assert.ok(length >= DEFERRED_CREDIT_MAX_BYTES, `a credit of ${length} bytes went out alone`)
  })

  it('reads a noise record length without throwing, 0 until both bytes are there', () => {
    assert.equal(recordLength(new Uint8Array(0)), 0)
    assert.equal(recordLength(Uint8Array.from([1])), 0)
    assert.equal(recordLength(Uint8Array.from([1, 2, 3])), 258)
    assert.equal(recordLength(new Uint8ArrayList(Uint8Array.from([0xff]), Uint8Array.from([0xfe, 7]))), 0xfffe)
  })

  it('over real noise: records go out as one write each, with the quiet length decoder in place', async () => {
    const [outbound, inbound] = multiaddrConnectionPair()
    const writes: boolean[] = []
    const send = outbound.send.bind(outbound)
    outbound.send = (data) => {
      writes.push(data instanceof Uint8Array)
      return send(data)
    }
    const components = async (): Promise<any> => ({ privateKey: await generateKeyPair('Ed25519'), logger: { forComponent: () => outbound.log }, upgrader: { getStreamMuxers: () => new Map() } })
    const [a, b] = [oneWritePerRecord(noise())(await components()), oneWritePerRecord(noise())(await components())]
    const [left, right] = await Promise.all([a.secureOutbound(outbound), b.secureInbound(inbound)])
    for (const s of [left, right]) assert.equal((s.connection as any).decoder.lengthDecoder, recordLength)
    const got: Uint8Array[] = []
    right.connection.addEventListener('message', (evt) => { got.push(evt.data.subarray()) })
    writes.length = 0
    for (let i = 0; i < 5; i++) left.connection.send(Uint8Array.from([i, i, i]))
    await settle()
    assert.deepEqual(got.map(x => [...x]).flat(), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4])
    assert.deepEqual(writes, [true, true, true, true, true])
    left.connection.abort(new Error('test over'))
    right.connection.abort(new Error('test over'))
  })
})
