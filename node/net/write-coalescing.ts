/**
 * Fewer socket writes for small messages, without changing a byte of what the peer decodes.
 *
 * A Raft commit is a handful of messages of a few hundred bytes, and on a connection each costs a `write`
 * syscall per buffer handed to the socket — on loopback that syscall also runs the receiver's TCP stack and
 * wakes it (a voter's lock round trip spent ~30% of its CPU in socket writes). Two habits of the libraries
 * double that count:
 *
 * - noise hands the connection each record as [2-byte length, ciphertext], and @libp2p/tcp writes every
 *   buffer of that list with its own `socket.write`: two syscalls and two TCP segments per record;
 * - js-yamux answers every data frame it receives with a window-update frame of its own (its stream.js
 *   `sendWindowUpdate`), so each small message is followed by a record, a write and a wakeup going back.
 *
 * And one on the receiving side: noise's record-length decoder throws a RangeError whenever fewer than two
 * bytes are left, which ends the decoding of every chunk read from the socket — a stack trace captured per
 * received message (2% of a leader's CPU in a lock round trip profile).
 */
import { Uint8ArrayList } from 'uint8arraylist'
import type { ConnectionEncrypter, MessageStream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'

/**
 * Lists up to this size are joined into one buffer before they reach the socket. Bulk data (a chunk of a
 * `get`) arrives in larger lists, where two writes per 64 KiB record cost nothing worth a copy.
 */
export const MAX_JOINED_WRITE_BYTES = 64 * 1024

/**
 * Window credit a yamux stream may hold back. A quarter of the 256 KiB initial window of the yamux spec, which
 * a window never shrinks below: the peer always has at least 192 KiB of credit, so it never stalls on what we
 * hold, and a bulk stream (its credits are its frames, 64 KiB and up) sends credit on as before.
 */
export const DEFERRED_CREDIT_MAX_BYTES = 64 * 1024

/**
 * The connection encrypter `inner` (noise), writing each of its records to the socket in one piece and
 * reading record lengths without throwing.
 */
export function oneWritePerRecord<C> (inner: (components: C) => ConnectionEncrypter<any>): (components: C) => ConnectionEncrypter<any> {
  return (components: C) => {
    const encrypter = inner(components)
    return Object.assign(Object.create(encrypter) as ConnectionEncrypter<any>, {
      secureOutbound: async (connection: MessageStream, options?: Parameters<ConnectionEncrypter['secureOutbound']>[1]) => quietLengths(await encrypter.secureOutbound(joinSmallWrites(connection), options)),
      secureInbound: async (connection: MessageStream, options?: Parameters<ConnectionEncrypter['secureInbound']>[1]) => quietLengths(await encrypter.secureInbound(joinSmallWrites(connection), options))
    })
  }
}

/** What this module uses of noise's encrypted stream: the decoder that splits what it reads into records. */
interface RecordDecoderHolder {
  decoder?: { lengthDecoder?: (data: Uint8Array | Uint8ArrayList) => number }
}

/**
 * Swaps in {@link recordLength} as the record-length decoder of noise's encrypted stream (left as it is when
 * noise changed inside). @libp2p/utils' LengthPrefixedDecoder stops when the buffer is shorter than the prefix
 * plus the length decoded, so a 0 for "not enough bytes yet" (buffer < 2 bytes) stops it just as the
 * RangeError did, without the exception.
 */
function quietLengths<T extends { connection: MessageStream }> (secured: T): T {
  const decoder = (secured.connection as unknown as RecordDecoderHolder).decoder
  if (typeof decoder?.lengthDecoder === 'function') decoder.lengthDecoder = recordLength
  return secured
}

/** A noise record's length prefix (u16, big endian); 0 while fewer than its 2 bytes have arrived. */
export function recordLength (data: Uint8Array | Uint8ArrayList): number {
  if (data.byteLength < 2) return 0
  if (data instanceof Uint8Array) return (data[0] << 8) | data[1]
  return data.getUint16(0)
}

/** `connection.send` of a small multi-buffer list sends one joined buffer instead (same bytes, same order). */
export function joinSmallWrites (connection: MessageStream): MessageStream {
  const send = connection.send.bind(connection)
  connection.send = (data: Parameters<MessageStream['send']>[0]): boolean => {
    if (data instanceof Uint8Array || data.byteLength > MAX_JOINED_WRITE_BYTES) return send(data)
    return send(data.subarray())
  }
  return connection
}

/** What this module uses of js-yamux's muxer: every frame of a connection goes out through `sendFrame`. */
interface YamuxFrameSender {
  sendFrame(header: FrameHeader, data?: Uint8ArrayList): boolean
  send(data: Uint8ArrayList): boolean
}

interface FrameHeader {
  type: number
  flag: number
  streamID: number
  length: number
}

/** yamux spec: "Window Update (0x1)", and a header of version, type, flags (u16), stream id and length (u32). */
const TYPE_WINDOW_UPDATE = 1
const HEADER_BYTES = 12

/**
 * The stream muxer `inner` (js-yamux), sending a stream's window credit once it reaches
 * {@link DEFERRED_CREDIT_MAX_BYTES} or, before that, along with the next frame that goes out on the
 * connection (in the same record), as hashicorp/yamux sends an update only once half a window is used.
 * A Raft follower's credit for the leader's appends thus rides on its answers instead of travelling alone.
 * Updates that open, close or reset a stream (any flag set) go out at once. A muxer without `sendFrame` (a
 * yamux that changed inside) is left as it is.
 */
export function deferredWindowUpdates<C, M extends StreamMuxer> (inner: (components: C) => StreamMuxerFactory<M>): (components: C) => StreamMuxerFactory<M> {
  return (components: C) => {
    const factory = inner(components)
    return {
      protocol: factory.protocol,
      createStreamMuxer: (connection: MessageStream): M => {
        const muxer = factory.createStreamMuxer(connection)
        const frames = muxer as unknown as Partial<YamuxFrameSender>
        if (typeof frames.sendFrame !== 'function' || typeof frames.send !== 'function') return muxer
        deferCredit(frames as YamuxFrameSender)
        return muxer
      }
    }
  }
}

/** Replaces `muxer.sendFrame` (before any stream exists: each stream binds it when created). */
function deferCredit (muxer: YamuxFrameSender): void {
  const sendFrame = muxer.sendFrame.bind(muxer)
  const held = new Map<number, number>()
  muxer.sendFrame = (header: FrameHeader, data?: Uint8ArrayList): boolean => {
    if (header.type === TYPE_WINDOW_UPDATE && header.flag === 0) {
      const credit = (held.get(header.streamID) ?? 0) + header.length
      if (credit < DEFERRED_CREDIT_MAX_BYTES) {
        held.set(header.streamID, credit)
        return true
      }
      held.delete(header.streamID)
      return sendFrame({ ...header, length: credit }, data)
    }
    if (held.size === 0) return sendFrame(header, data)
    // the held credit first, then this frame: one send, so one record and one write
    const out = new Uint8ArrayList()
    for (const [streamID, credit] of held) out.append(encodeHeader({ type: TYPE_WINDOW_UPDATE, flag: 0, streamID, length: credit }))
    held.clear()
    out.append(encodeHeader(header))
    if (data !== undefined) out.append(data)
    return muxer.send(out)
  }
}

function encodeHeader (h: FrameHeader): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES)
  const view = new DataView(bytes.buffer)
  view.setUint8(1, h.type)
  view.setUint16(2, h.flag)
  view.setUint32(4, h.streamID)
  view.setUint32(8, h.length)
  return bytes
}
