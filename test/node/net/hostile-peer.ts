/**
 * A hostile source for the specs: a real dits node on loopback whose /dits/chunks handler answers probes honestly
 * (so that a downloader takes it as a source) and then misbehaves on the first block it is asked for.
 */
import { randomBytes } from 'node:crypto'
import { startNode, frame } from './helpers.ts'
import { ChunksMessage, Want, Presence } from '../../../protocol/chunks.ts'
import { CHUNKS_PROTOCOL, MAX_MESSAGE_BYTES, MAX_BLOCK_BYTES } from '../../../protocol/index.ts'
import { FrameReader, varint } from '../../../node/net/framing.ts'
import { decodeChunksMessage, encodeBlockFrame } from '../../../node/net/wire.ts'
import { chunkCid } from '../../../src/cid.ts'
import { CID } from 'multiformats/cid'
import type { Stream } from '@libp2p/interface'
import type { TestNode } from './helpers.ts'

export type Misbehaviour =
  /** answers nothing */
  | 'silent'
  /** starts the block's message and sends 100 bytes of it every 300 ms (slowloris) */
  | 'trickle'
  /** a block message whose block is one byte over MAX_BLOCK_BYTES */
  | 'oversized-block'
  /** a frame prefix of 64 MiB */
  | 'huge-prefix'
  /** a frame of bytes that are no protobuf */
  | 'garbage'
  /** a message a responder may not send (wants) */
  | 'wants'
  /** a well-formed block nobody asked for */
  | 'unasked-block'
  /** the block with one byte flipped */
  | 'bad-bytes'

export interface HostileSource {
  node: TestNode
  /** chunks streams opened to it */
  streams: number
  /** block wants received, with the time they came */
  blockWants: Array<{ cid: string, at: number }>
}

export async function startHostileSource (blocks: Array<{ cid: CID, bytes: Uint8Array }>, misbehaviour: Misbehaviour): Promise<HostileSource> {
  const node = await startNode()
  node.store.putAll(blocks)
  const hostile: HostileSource = { node, streams: 0, blockWants: [] }
  await node.net.libp2p.unhandle(CHUNKS_PROTOCOL)
  await node.net.libp2p.handle(CHUNKS_PROTOCOL, (stream) => {
    hostile.streams++
    misbehave(stream, hostile, misbehaviour).catch(() => { stream.abort(new Error('hostile peer done')) })
  }, { maxInboundStreams: 32 })
  return hostile
}

async function misbehave (stream: Stream, hostile: HostileSource, misbehaviour: Misbehaviour): Promise<void> {
  const reader = new FrameReader(stream, { maxFrameBytes: MAX_MESSAGE_BYTES })
  let done = false
  let trickle: ReturnType<typeof setInterval> | undefined
  stream.addEventListener('close', () => clearInterval(trickle))
  try {
    for (;;) {
      const body = await reader.next()
      if (body == null) return
      const msg = decodeChunksMessage(body)
      const presences = []
      for (const want of msg.wants) {
        const cid = CID.decode(want.cid)
        const held = hostile.node.store.blocks.get(cid.toString())
        if (want.type === Want.Type.HAVE) {
          presences.push({ cid: want.cid, type: held != null ? Presence.Type.HAVE : Presence.Type.DONT_HAVE })
          continue
        }
        hostile.blockWants.push({ cid: cid.toString(), at: performance.now() })
        if (done || held == null) continue
        done = true
        trickle = offend(stream, misbehaviour, cid, held.bytes)
      }
      if (presences.length > 0) stream.send(frame(ChunksMessage.encode({ presences })))
    }
  } finally {
    reader.release()
  }
}

function offend (stream: Stream, misbehaviour: Misbehaviour, cid: CID, bytes: Uint8Array): ReturnType<typeof setInterval> | undefined {
  switch (misbehaviour) {
    case 'silent':
      return undefined
    case 'trickle': {
      const [header, data] = encodeBlockFrame(cid.bytes, bytes)
      stream.send(header)
      let at = 0
      return setInterval(() => {
        if (stream.status !== 'open' || at >= data.byteLength - 100) return
        stream.send(data.subarray(at, at + 100))
        at += 100
      }, 300)
    }
    case 'oversized-block': {
      const [header, data] = encodeBlockFrame(cid.bytes, new Uint8Array(MAX_BLOCK_BYTES + 1))
      stream.send(header)
      stream.send(data)
      return undefined
    }
    case 'huge-prefix':
      stream.send(varint(64 * 1024 * 1024))
      stream.send(new Uint8Array(1024))
      return undefined
    case 'garbage':
      stream.send(frame(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])))
      return undefined
    case 'wants':
      stream.send(frame(ChunksMessage.encode({ wants: [{ cid: cid.bytes, type: Want.Type.BLOCK }] })))
      return undefined
    case 'unasked-block': {
      const other = new Uint8Array(randomBytes(1024))
      stream.send(frame(ChunksMessage.encode({ blocks: [{ cid: chunkCid(other).bytes, data: other }] })))
      return undefined
    }
    case 'bad-bytes': {
      const bad = Uint8Array.from(bytes)
      bad[0] ^= 0xff
      stream.send(frame(ChunksMessage.encode({ blocks: [{ cid: cid.bytes, data: bad }] })))
      return undefined
    }
  }
}
