/**
 * The fast path of `dits-node add`: read a stream, chunk it (FastCDC 2020, WebAssembly) and BLAKE3 every chunk,
 * on both cores, with bounded memory, copying only the chunks that span two reads.
 *
 * The calling thread reads the stream in pieces into buffers of a fixed pool and hands each piece to a worker
 * thread (chunk-worker.ts) by transfer, not copy; the worker finds the cut points, hashes the chunks and hands
 * the piece back with their lengths and digests. The chunks are yielded as views into the pieces, so the bytes
 * are read once into memory and written once out of it. (A SharedArrayBuffer would spare the transfers, but V8
 * copies shared memory with a slow relaxed memmove: the chunker's copy cost twice as much from one.)
 * Until the worker is ready — and for streams too short to be worth one — the calling thread cuts and hashes on
 * its own, and hands the stream over at a cut point: FastCDC's next cut depends only on the bytes after the last
 * one, so the output is identical to `chunkAndHashSequential` either way.
 */
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads'
import { ChunkSplitter, chunkStream, validateProfile } from '../src/fastcdc/index.ts'
import { blake3, BLAKE3_DIGEST_BYTES } from '../src/hash/index.ts'
import { createBlake3 } from '../src/hash/blake3.ts'
import { abortable, Pulse } from './deferred.ts'
import type { Blake3Hasher } from '../src/hash/blake3.ts'
import type { ChunkerProfile } from '../src/fastcdc/index.ts'
import type { MessagePort } from 'node:worker_threads'
import type { ChunkWorkerData, CutRequest, WorkerMessage } from './chunk-worker.ts'

const MiB = 1024 * 1024

/**
 * The pool of pieces holds the chunks the consumer holds (`add`: up to 8 writes), the bytes read but not yet cut
 * (under one maximum chunk), and the pieces queued for the worker. A 1 GiB add was no faster with 64 MiB, which
 * took peak RSS of a 2 GiB add from ~230 to ~265 MiB.
 */
export const DEFAULT_BUFFER_BYTES = 32 * MiB
/** Reads of this size keep syscalls, messages to the worker and chunks that span two pieces few. */
export const DEFAULT_READ_BYTES = 4 * MiB
/**
 * Pieces queued for the worker before a chunk is yielded. The consumer may not pull for a while (`add` waits for
 * a free write slot); this much queued work keeps the worker busy meanwhile.
 */
export const DEFAULT_WORKER_QUEUE_READS = 4
/**
 * The worker starts once a stream has produced this much. It takes ~60 ms to start (the calling thread goes on
 * alone meanwhile), about as long as the calling thread takes to cut and hash this much and more: smaller
 * streams, done before it could help, never pay for one.
 */
export const DEFAULT_WORKER_THRESHOLD_BYTES = 32 * MiB

/** Reads the next bytes of the stream into `into` and returns how many; 0 at the end. */
export type ReadInto = (into: Uint8Array) => number | Promise<number>

/** A stream to chunk: a reader that fills the pipeline's buffers directly, or pieces (copied into them). */
export type ChunkSource = ReadInto | AsyncIterable<Uint8Array>

export interface ChunkAndHashOptions {
  signal?: AbortSignal
  /** Sees each piece of the stream as it is read; the view is valid during the call only. */
  onRead?: (bytes: Uint8Array) => void
  /**
   * Receives the BLAKE3-256 of the whole stream once it has ended, before the generator completes. The worker
   * computes it when it cuts from the first byte (see sizeHint), the calling thread otherwise.
   */
  onDigest?: (digest: Uint8Array) => void
  /**
   * The length the stream is expected to have (a file's size). From workerThresholdBytes on, the worker cuts it
   * from the first byte, and the calling thread reads ahead while the worker starts, instead of cutting the
   * start itself: it is then left only reading and the consumer's work. Only a hint: the output is the same.
   */
  sizeHint?: number
  /**
   * The stream bytes held at most, read ahead or held by the consumer, in buffers of readBytes: at least
   * ceil(max / readBytes) + 2 of them. Held chunks keep their pieces from the oldest on: when no buffer is free the
   * pipeline waits for releases.
   * @default DEFAULT_BUFFER_BYTES
   */
  bufferBytes?: number
  /** @default DEFAULT_READ_BYTES */
  readBytes?: number
  /** @default DEFAULT_WORKER_QUEUE_READS */
  workerQueueReads?: number
  /** @default DEFAULT_WORKER_THRESHOLD_BYTES */
  workerThresholdBytes?: number
}

export interface HashedChunk {
  /** The chunk. Valid until the next chunk is pulled — or, after hold(), until the release it returned is called. */
  bytes: Uint8Array
  /** BLAKE3-256 of bytes */
  digest: Uint8Array
  /**
   * Keeps `bytes` valid past the next pull, until the returned function is called (once the bytes are written,
   * say). Call it before pulling the next chunk. What is held keeps its buffer, and the pipeline may wait for a
   * release before it reads on: never make a release wait for a later chunk.
   */
  hold(): () => void
}

/**
 * The chunks of `source` with their BLAKE3 digests, in order. Reads ahead at most `bufferBytes`. The worker, if
 * started, is stopped when the generator completes, throws, is aborted through `options.signal` (it then throws
 * the signal's reason) or is returned early.
 */
export async function * chunkAndHash (source: ChunkSource, profile: ChunkerProfile, options: ChunkAndHashOptions = {}): AsyncGenerator<HashedChunk> {
  options.signal?.throwIfAborted()
  yield * new ChunkPipeline(source, profile, options).run()
}

/** The same output on the calling thread alone, each chunk in a buffer of its own: the reference for chunkAndHash. */
export async function * chunkAndHashSequential (source: AsyncIterable<Uint8Array>, profile: ChunkerProfile, options: { signal?: AbortSignal } = {}): AsyncGenerator<HashedChunk> {
  options.signal?.throwIfAborted()
  for await (const bytes of chunkStream(source, profile)) {
    options.signal?.throwIfAborted()
    yield { bytes, digest: blake3(bytes), hold: () => () => {} }
  }
}

/** A piece of the stream in one of the pool's buffers. */
interface Piece {
  /** the whole buffer; detached while the worker has it */
  buffer: Uint8Array<ArrayBuffer>
  /** where bytes[0] is in the stream */
  offset: number
  length: number
}

/** A cut chunk of the stream, from when it is cut until the consumer is done with its bytes. */
interface Cut {
  /** where it starts in the stream */
  offset: number
  length: number
  digest: Uint8Array
  state: 'cut' | 'yielded' | 'held' | 'released'
  /** the buffer a chunk that spans pieces was copied into, while yielded or held */
  copy?: Uint8Array<ArrayBuffer>
}

/** What finds the cut points: the calling thread itself, or the worker. */
interface Cutter {
  /** cut the next piece of the stream */
  push(piece: Piece): void
  end(): void
  /** requests not yet answered */
  readonly outstanding: number
}

class ChunkPipeline {
  private readonly profile: ChunkerProfile
  private readonly options: ChunkAndHashOptions
  private readonly read: ReadInto
  private readonly closeSource: () => Promise<void>
  private readonly readBytes: number
  private readonly maxBuffers: number
  /** buffers not in use */
  private readonly free: Array<Uint8Array<ArrayBuffer>> = []
  private buffers = 0
  /** buffers of profile.max bytes for chunks that span pieces, not in use; as many as such chunks held at once */
  private readonly spans: Array<Uint8Array<ArrayBuffer>> = []
  /** in stream order, from the one holding the oldest byte still needed to the newest read */
  private readonly pieces: Piece[] = []
  /** from the oldest chunk not yet released to the newest cut */
  private readonly cuts: Cut[] = []
  /** cuts[nextCut] is the next chunk to yield */
  private nextCut = 0
  /** stream bytes read so far */
  private readEnd = 0
  /** where the next cut chunk starts in the stream */
  private cutEnd = 0
  private ended = false
  private cutter: Cutter
  private worker: ChunkWorker | undefined
  /** settles at the next release, worker reply or worker failure */
  private readonly progress = new Pulse()
  /** the whole stream's hash, when the calling thread computes it */
  private readonly hasher: Blake3Hasher | undefined
  /** the whole stream's hash, once the worker has sent it */
  private workerDigest: Uint8Array | undefined

  constructor (source: ChunkSource, profile: ChunkerProfile, options: ChunkAndHashOptions) {
    this.profile = validateProfile(profile)
    this.options = options
    const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES
    this.readBytes = options.readBytes ?? DEFAULT_READ_BYTES
    this.maxBuffers = Math.floor(bufferBytes / this.readBytes)
    // The bytes not yet cut (under one largest chunk) may span this many pieces, and one more is read into.
    if (!(this.readBytes >= 1 && this.maxBuffers >= Math.ceil(profile.max / this.readBytes) + 2)) {
      throw new RangeError(`${bufferBytes} bytes of buffers in reads of ${this.readBytes} cannot hold a chunk of ${profile.max} bytes across reads and one read more`)
    }
    const reader = typeof source === 'function' ? { read: source, close: async () => {} } : readerOf(source)
    this.read = reader.read
    this.closeSource = reader.close
    const threshold = options.workerThresholdBytes ?? DEFAULT_WORKER_THRESHOLD_BYTES
    if (options.sizeHint !== undefined && options.sizeHint >= threshold) {
      this.worker = new ChunkWorker(this.profile, this, options.onDigest !== undefined)
      this.cutter = this.worker
    } else {
      this.cutter = new InlineCutter(profile, this)
      if (options.onDigest !== undefined) this.hasher = createBlake3()
    }
  }

  async * run (): AsyncGenerator<HashedChunk> {
    const { signal } = this.options
    const threshold = this.options.workerThresholdBytes ?? DEFAULT_WORKER_THRESHOLD_BYTES
    const queueReads = this.options.workerQueueReads ?? DEFAULT_WORKER_QUEUE_READS
    try {
      for (;;) {
        signal?.throwIfAborted()
        this.worker?.poll()
        if (this.cutter === this.worker && this.worker.failure !== undefined) throw this.worker.failure
        if (this.worker === undefined && !this.ended && this.readEnd >= threshold) this.worker = new ChunkWorker(this.profile, this)
        if (this.worker?.ready === true && this.cutter instanceof InlineCutter && !this.ended) this.handOver(this.worker)
        if (this.cutter === this.worker && this.cutter.outstanding < queueReads && this.canRead()) {
          await this.readNext()
        } else if (this.nextCut < this.cuts.length) {
          const cut = this.cuts[this.nextCut++]
          cut.state = 'yielded'
          yield this.chunk(cut)
          if (cut.state === 'yielded') this.release(cut)
        } else if (this.canRead()) {
          await this.readNext()
        } else if (this.ended && this.cutter.outstanding === 0) {
          const digest = this.hasher?.digest() ?? this.workerDigest
          if (digest !== undefined) this.options.onDigest?.(digest)
          return
        } else {
          await this.wait()
        }
      }
    } finally {
      await this.worker?.close()
      await this.closeSource()
    }
  }

  /** A cut chunk's place in the stream; called by the cutters in stream order. */
  addCut (length: number, digest: Uint8Array): void {
    this.cuts.push({ offset: this.cutEnd, length, digest, state: 'cut' })
    this.cutEnd += length
  }

  /** The worker's hash of the whole stream, sent with its last answer. */
  setWorkerDigest (digest: Uint8Array): void {
    this.workerDigest = digest
  }

  /** Wakes the generator if it waits. */
  wake (): void {
    this.progress.notify()
  }

  /**
   * Room for the next read: a free buffer, once the pieces before the oldest byte still needed (of a chunk not
   * released, or not yet cut) are given back. Such pieces are home: the worker answers in order, and only cuts
   * it answered with can end past a piece.
   */
  private canRead (): boolean {
    if (this.ended) return false
    const oldest = this.cuts.length > 0 ? this.cuts[0].offset : this.cutEnd
    while (this.pieces.length > 0 && this.pieces[0].offset + this.pieces[0].length <= oldest) {
      this.recycle((this.pieces.shift() as Piece).buffer)
    }
    return this.free.length > 0 || this.buffers < this.maxBuffers
  }

  /**
   * Fills a buffer (all but the last one of a stream are filled whatever the source's reads return), so that the
   * bytes not yet cut, under one largest chunk, never take more than ceil(max / readBytes) + 1 buffers.
   */
  private async readNext (): Promise<void> {
    let buffer = this.free.pop()
    if (buffer === undefined) {
      // A stream known to be shorter than a read gets a first buffer of its size, and one byte more to see the end in:
      // an image sequence's frames would each take a zeroed 4 MiB, for the garbage collector to reclaim.
      const hint = this.options.sizeHint
      buffer = new Uint8Array(this.buffers === 0 && hint !== undefined && hint < this.readBytes ? hint + 1 : this.readBytes)
      this.buffers++
    }
    let length = 0
    let n: number
    do {
      n = await this.read(buffer.subarray(length))
      length += n
    } while (n > 0 && length < buffer.length)
    if (length > 0) {
      this.options.onRead?.(buffer.subarray(0, length))
      this.hasher?.update(buffer.subarray(0, length))
      const piece = { buffer, offset: this.readEnd, length }
      this.pieces.push(piece)
      this.readEnd += length
      this.cutter.push(piece)
    } else {
      this.recycle(buffer)
    }
    if (n === 0) {
      this.ended = true
      this.cutter.end()
    }
  }

  /**
   * A buffer is read into again only if it has a whole read's room: a short one (of a stream that outgrew its size
   * hint) goes, and a full-size one takes its place.
   */
  private recycle (buffer: Uint8Array<ArrayBuffer>): void {
    if (buffer.length === this.readBytes) this.free.push(buffer)
    else this.buffers--
  }

  /**
   * The worker takes over at the last cut, with a copy of the bytes read since then (the pieces that hold them
   * may hold chunks yielded too, so they stay); the inline splitter is dropped.
   */
  private handOver (worker: ChunkWorker): void {
    if (this.readEnd > this.cutEnd) {
      const rest = this.copy(this.cutEnd, this.readEnd - this.cutEnd)
      worker.push({ buffer: rest, offset: this.cutEnd, length: rest.length })
    }
    this.cutter = worker
  }

  private chunk (cut: Cut): HashedChunk {
    return {
      bytes: this.bytesOf(cut),
      digest: cut.digest,
      hold: () => {
        if (cut.state !== 'yielded') throw new Error('hold() must be called before the next chunk is pulled')
        cut.state = 'held'
        return () => { this.release(cut) }
      }
    }
  }

  /**
   * A view into its piece. A chunk that spans pieces (about one in four, at the defaults) is copied into a
   * buffer that is reused once the chunk is released: allocating them anew left hundreds of MiB for the GC.
   */
  private bytesOf (cut: Cut): Uint8Array {
    const piece = this.pieces.find(p => cut.offset < p.offset + p.length) as Piece
    const start = cut.offset - piece.offset
    if (start + cut.length <= piece.length) return piece.buffer.subarray(start, start + cut.length)
    cut.copy = this.spans.pop() ?? new Uint8Array(this.profile.max)
    return this.copy(cut.offset, cut.length, cut.copy)
  }

  /** Stream bytes [offset, offset + length), which are in pieces at home, copied to the start of `out`. */
  private copy (offset: number, length: number, out = new Uint8Array(length)): Uint8Array<ArrayBuffer> {
    for (const p of this.pieces) {
      const from = Math.max(offset, p.offset)
      const to = Math.min(offset + length, p.offset + p.length)
      if (from < to) out.set(p.buffer.subarray(from - p.offset, to - p.offset), from - offset)
    }
    return out.subarray(0, length)
  }

  private release (cut: Cut): void {
    if (cut.state === 'released') return
    cut.state = 'released'
    if (cut.copy !== undefined) this.spans.push(cut.copy)
    while (this.cuts.length > 0 && this.cuts[0].state === 'released') {
      this.cuts.shift()
      this.nextCut--
    }
    this.wake()
  }

  private async wait (): Promise<void> {
    const promise = this.progress.wait()
    const worker = this.cutter.outstanding > 0 ? this.worker : undefined
    // Only the worker's pending answers may keep the process alive, not an idle worker.
    worker?.ref()
    try {
      await abortable(promise, this.options.signal)
    } finally {
      worker?.unref()
    }
  }
}

/** Cuts and hashes on the calling thread, at once. */
class InlineCutter implements Cutter {
  readonly outstanding = 0
  private readonly splitter: ChunkSplitter
  private readonly pipeline: ChunkPipeline

  constructor (profile: ChunkerProfile, pipeline: ChunkPipeline) {
    this.splitter = new ChunkSplitter(profile)
    this.pipeline = pipeline
  }

  push (piece: Piece): void {
    this.cut(this.splitter.push(piece.buffer.subarray(0, piece.length)))
  }

  end (): void {
    this.cut(this.splitter.finish())
    this.splitter.release()
  }

  private cut (cuts: Iterable<{ length: number, bytes: Uint8Array }>): void {
    // Each view is hashed before the splitter advances, which may move its working memory.
    for (const { length, bytes } of cuts) this.pipeline.addCut(length, blake3(bytes))
  }
}

/**
 * The worker thread, and the pieces it has: each goes there by transfer and comes back with the answer to it.
 * Answers are also pulled synchronously (poll), so that they are seen while the calling thread is busy and does
 * not return to the event loop. A dead worker fails the stream.
 */
class ChunkWorker implements Cutter {
  ready = false
  failure: Error | undefined
  private readonly worker: Worker
  private readonly port: MessagePort
  private readonly pipeline: ChunkPipeline
  /** one entry per request not yet answered, in order: the piece it took away, if any */
  private readonly away: Array<Piece | undefined> = []

  /** with `wholeDigest`, the worker also hashes the whole stream: it must be given it from the first byte */
  constructor (profile: ChunkerProfile, pipeline: ChunkPipeline, wholeDigest = false) {
    this.pipeline = pipeline
    const { port1, port2 } = new MessageChannel()
    const workerData: ChunkWorkerData = { port: port2, profile, wholeDigest }
    // tsc emits chunk-worker.js next to this module.
    this.worker = new Worker(new URL('./chunk-worker.js', import.meta.url), { workerData, transferList: [port2] })
    this.port = port1
    port1.on('message', (message: WorkerMessage) => { this.onMessage(message) })
    this.worker.on('error', err => { this.fail(err) })
    this.worker.on('exit', code => { this.fail(new Error(`the chunking worker exited (code ${code})`)) })
    this.unref()
  }

  get outstanding (): number {
    return this.away.length
  }

  push (piece: Piece): void {
    this.post({ bytes: piece.buffer, length: piece.length }, piece)
  }

  end (): void {
    this.post({ end: true }, undefined)
  }

  poll (): void {
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) {
      this.onMessage(m.message as WorkerMessage)
    }
  }

  ref (): void {
    this.worker.ref()
  }

  unref (): void {
    this.worker.unref()
    this.port.unref()
  }

  async close (): Promise<void> {
    this.fail(new Error('the chunk pipeline is closed'))
    this.port.close()
    await this.worker.terminate()
  }

  private post (request: CutRequest, piece: Piece | undefined): void {
    this.away.push(piece)
    this.port.postMessage(request, 'bytes' in request ? [request.bytes.buffer] : [])
  }

  private onMessage (message: WorkerMessage): void {
    if (message.type === 'ready') {
      this.ready = true
    } else {
      const piece = this.away.shift()
      if (piece !== undefined && message.bytes !== undefined) piece.buffer = message.bytes
      message.lengths.forEach((length, i) => {
        this.pipeline.addCut(length, message.digests.subarray(i * BLAKE3_DIGEST_BYTES, (i + 1) * BLAKE3_DIGEST_BYTES))
      })
      if (message.wholeDigest !== undefined) this.pipeline.setWorkerDigest(message.wholeDigest)
    }
    this.pipeline.wake()
  }

  private fail (err: Error): void {
    if (this.failure !== undefined) return
    this.failure = err
    this.pipeline.wake()
  }
}

/** A ReadInto over pieces, copying each into the caller's buffer (keeping what does not fit for the next read). */
function readerOf (source: AsyncIterable<Uint8Array>): { read: ReadInto, close: () => Promise<void> } {
  const pieces = source[Symbol.asyncIterator]()
  let rest: Uint8Array = new Uint8Array(0)
  let done = false
  return {
    read: async (into) => {
      while (rest.length === 0 && !done) {
        const next = await pieces.next()
        if (next.done === true) done = true
        else rest = next.value
      }
      const n = Math.min(rest.length, into.length)
      into.set(rest.subarray(0, n))
      rest = rest.subarray(n)
      return n
    },
    close: async () => {
      if (!done) await pieces.return?.()
    }
  }
}
