/**
 * Length-prefixed (unsigned varint) frames over a libp2p 3 MessageStream, bounded and with backpressure.
 *
 * libp2p 3 streams push 'message' events and never pause on their own (its `for await` and `lpStream`
 * buffer without bound), so this reader pauses the stream — yamux then withholds window updates and the
 * sender stops — whenever more than `highWaterBytes` of decoded frames wait to be consumed. A frame whose
 * declared length exceeds `maxFrameBytes` fails the reader before any of its body is buffered.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolViolationError, PeerTimeoutError } from './errors.ts'
import { deferred } from '../deferred.ts'
import type { AbortOptions, MessageStream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import type { Deferred } from '../deferred.ts'

/** Decoded frames a reader holds before it pauses the stream. */
export const DEFAULT_HIGH_WATER_BYTES = 8 * 1024 * 1024
/**
 * The largest yamux stream window (the sender may have this much credit when we pause); see host.ts. 8 MiB
 * covers 1 Gb/s at 60 ms of round trip; yamux's default 16 MiB moved no faster on loopback and held ~20 MiB
 * more in a 2 GiB get (peak RSS 249 MiB against 260-279).
 */
export const MAX_STREAM_WINDOW_BYTES = 8 * 1024 * 1024
/**
 * Read buffer a paused stream may fill before libp2p resets it: the credit the sender holds when we pause,
 * plus the credit a resume grants before the next pause, plus a frame.
 */
export const PAUSED_READ_BUFFER_BYTES = 2 * MAX_STREAM_WINDOW_BYTES + 1024 * 1024

export interface FrameReaderInit {
  maxFrameBytes: number
  /** @default DEFAULT_HIGH_WATER_BYTES */
  highWaterBytes?: number
}

export class FrameReader {
  private readonly stream: MessageStream
  private readonly maxFrameBytes: number
  private readonly highWaterBytes: number
  private readonly buffer = new Uint8ArrayList()
  private readonly frames: Uint8ArrayList[] = []
  private queuedBytes = 0
  /** bytes received on the stream so far, whole frames or not */
  bytesRead = 0
  private ended = false
  private failure?: Error
  private wake?: Deferred<void>
  private paused = false
  private resuming = false

  constructor (stream: MessageStream, init: FrameReaderInit) {
    this.stream = stream
    this.maxFrameBytes = init.maxFrameBytes
    this.highWaterBytes = init.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, PAUSED_READ_BUFFER_BYTES)
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('close', this.onClose)
    stream.addEventListener('remoteCloseWrite', this.onEnd)
    if (stream.readableEnded) this.onEnd()
  }

  /** The next frame's body, or undefined once the remote has closed its end cleanly. */
  async next (options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    return (await this.nextPieces(options))?.subarray()
  }

  /**
   * The next frame's body in the pieces it arrived in, not copied together (a block is ~16 of yamux's 64 KiB
   * pieces: copying them into one buffer cost ~0.45 s per GiB received, and the garbage collections its
   * allocations caused more).
   */
  async nextPieces (options: AbortOptions = {}): Promise<Uint8ArrayList | undefined> {
    for (;;) {
      const frame = this.frames.shift()
      if (frame != null) {
        this.queuedBytes -= frame.byteLength
        if (this.paused && this.queuedBytes <= this.highWaterBytes / 2) this.resume()
        return frame
      }
      if (this.failure != null) throw this.failure
      if (this.ended) {
        if (this.buffer.byteLength > 0) throw new ProtocolViolationError(`stream ended inside a frame (${this.buffer.byteLength} bytes left over)`)
        return undefined
      }
      options.signal?.throwIfAborted()
      this.wake = deferred<void>()
      const signal = options.signal
      const onAbort = (): void => { this.wake?.reject(new PeerTimeoutError(`no message within the time allowed: ${String(signal?.reason?.message ?? signal?.reason)}`)) }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        await this.wake.promise
      } finally {
        signal?.removeEventListener('abort', onAbort)
        this.wake = undefined
      }
    }
  }

  /** Stop listening; unread frames are dropped. */
  release (): void {
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('close', this.onClose)
    this.stream.removeEventListener('remoteCloseWrite', this.onEnd)
    if (this.paused) this.resume()
  }

  private resume (): void {
    this.paused = false
    // a stream whose readable end closed while paused cannot (and need not) be resumed
    const readStatus = (this.stream as MessageStream & { readStatus?: string }).readStatus
    if (this.stream.status !== 'open' || readStatus === 'closing' || readStatus === 'closed') return
    // libp2p's resume() dispatches the buffered data and only then tells yamux to resume: a pause from
    // inside that dispatch would be undone at once and the sender's window would grow without bound
    this.resuming = true
    try {
      this.stream.resume()
    } finally {
      this.resuming = false
    }
    this.pauseIfFull()
  }

  private pauseIfFull (): void {
    if (this.paused || this.queuedBytes <= this.highWaterBytes) return
    this.paused = true
    this.stream.pause()
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    if (this.failure != null) return
    this.bytesRead += evt.data.byteLength
    // libp2p's Uint8ArrayList (v3) and ours (v2) differ in type only: append its pieces
    if (evt.data instanceof Uint8Array) this.buffer.append(evt.data)
    else for (const piece of evt.data) this.buffer.append(piece)
    try {
      this.decode()
    } catch (err) {
      this.fail(err as Error)
      return
    }
    if (!this.resuming) this.pauseIfFull()
    this.wake?.resolve()
  }

  private decode (): void {
    for (;;) {
      let length = 0
      let shift = 0
      let headerBytes = 0
      for (;;) {
        if (headerBytes >= this.buffer.byteLength) return
        const b = this.buffer.get(headerBytes)
        headerBytes++
        length += (b & 0x7f) * 2 ** shift
        shift += 7
        if ((b & 0x80) === 0) break
        if (shift > 35) throw new ProtocolViolationError('frame length prefix is longer than 5 bytes')
      }
      if (length > this.maxFrameBytes) throw new ProtocolViolationError(`frame of ${length} bytes exceeds the ${this.maxFrameBytes}-byte limit`)
      if (this.buffer.byteLength < headerBytes + length) return
      const frame = this.buffer.sublist(headerBytes, headerBytes + length)
      this.buffer.consume(headerBytes + length)
      this.frames.push(frame)
      this.queuedBytes += frame.byteLength
    }
  }

  private fail (err: Error): void {
    this.failure ??= err
    this.buffer.consume(this.buffer.byteLength)
    this.wake?.resolve()
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    if (evt.error != null) this.fail(evt.error)
    this.onEnd()
  }

  private readonly onEnd = (): void => {
    this.ended = true
    this.wake?.resolve()
  }
}

/** Send one length-prefixed frame, waiting for the stream to drain when its buffer is full. */
export async function writeFrame (stream: MessageStream, body: Uint8Array, options: AbortOptions = {}): Promise<void> {
  const prefixed = stream.send(varint(body.byteLength))
  if (!stream.send(body) || !prefixed) await stream.onDrain(options)
}

/** The unsigned varint (LEB128) of a frame length. */
export function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}
