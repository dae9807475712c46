import assert from 'node:assert/strict'
import { streamPair } from '@libp2p/utils'
import { FrameReader, writeFrame, varint } from '../../../node/net/framing.ts'

describe('node/net framing', () => {
  it('encodes varints', () => {
    assert.deepEqual(varint(0), Uint8Array.from([0]))
    assert.deepEqual(varint(300), Uint8Array.from([0xac, 0x02]))
    assert.deepEqual(varint(4 * 1024 * 1024), Uint8Array.from([0x80, 0x80, 0x80, 0x02]))
  })

  it('reads frames across arbitrary splits and ends cleanly', async () => {
    const [a, b] = await streamPair()
    const reader = new FrameReader(b, { maxFrameBytes: 1000 })
    const bodies = [Uint8Array.from([1, 2, 3]), new Uint8Array(0), new Uint8Array(700).fill(9)]
    const wire = Uint8Array.from(bodies.flatMap(x => [...varint(x.byteLength), ...x]))
    for (let i = 0; i < wire.length; i += 7) a.send(wire.subarray(i, i + 7))
    await a.close()
    for (const body of bodies) assert.deepEqual(await reader.next(), body)
    assert.equal(await reader.next(), undefined)
  })

  it('fails on a declared length over the limit before the body arrives', async () => {
    const [a, b] = await streamPair()
    const reader = new FrameReader(b, { maxFrameBytes: 1000 })
    a.send(varint(1001))
    await assert.rejects(reader.next(), { name: 'ProtocolViolationError', message: /frame of 1001 bytes exceeds the 1000-byte limit/ })
  })

  it('fails on a stream that ends inside a frame', async () => {
    const [a, b] = await streamPair()
    const reader = new FrameReader(b, { maxFrameBytes: 1000 })
    a.send(Uint8Array.from([...varint(10), 1, 2]))
    await a.close()
    await assert.rejects(reader.next(), { name: 'ProtocolViolationError' })
  })

  it('times out a read with the caller\'s signal', async () => {
    const [, b] = await streamPair()
    const reader = new FrameReader(b, { maxFrameBytes: 1000 })
    await assert.rejects(reader.next({ signal: AbortSignal.timeout(20) }), { name: 'PeerTimeoutError' })
  })

  it('pauses the stream above the high-water mark and resumes when drained', async () => {
    const [a, b] = await streamPair()
    const reader = new FrameReader(b, { maxFrameBytes: 100_000, highWaterBytes: 150_000 })
    for (let i = 0; i < 4; i++) await writeFrame(a, new Uint8Array(60_000))
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(b.readStatus, 'paused')
    for (let i = 0; i < 3; i++) await reader.next()
    assert.equal(b.readStatus, 'readable')
    assert.equal((await reader.next())?.byteLength, 60_000)
  })
})
