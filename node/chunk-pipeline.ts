/**
 * The fast path of `dits-node add`: chunk a byte stream (FastCDC 2020, WebAssembly) and BLAKE3 every
 * chunk, on both cores. The calling thread reads and chunks, and queues batches of chunks; a worker
 * thread (chunk-worker.ts) hashes them. The calling thread hashes a queued batch itself only when it would
 * otherwise wait (its queue is full and the oldest batch is not back yet), so the worker always has work
 * and neither side idles while the other is behind. Output is in stream order and identical to
 * `chunkAndHashSequential`.
 */
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads'
import { chunkStream, ChunkSplitter } from '../src/fastcdc/index.ts'
import { blake3, BLAKE3_DIGEST_BYTES } from '../src/hash/index.ts'
import type { ChunkerProfile } from '../src/fastcdc/index.ts'
import type { MessagePort } from 'node:worker_threads'
import type { ChunkWorkerData, HashRequest, OwnedChunk, WorkerMessage } from './chunk-worker.ts'

const MiB = 1024 * 1024

/**
 * Chunks are queued in batches of at least this many bytes: with the small profile one message to the
 * worker then carries a dozen chunks, not one, and the per-message cost (tens of µs) stays negligible.
 */
export const DEFAULT_BATCH_BYTES = 1 * MiB
/** Batches posted to the worker at once: one being hashed and one waiting, so it never idles between them. */
export const DEFAULT_WORKER_QUEUE_BATCHES = 2
/**
 * Batches cut but not yet yielded, wherever they are. This is the backpressure bound: besides the
 * chunker's own 2 × max, at most this × (batch + one max chunk) bytes are in flight — with the media
 * profile typically 6 to 12 chunks.
 */
export const DEFAULT_MAX_PENDING_BATCHES = 6
/**
 * The worker starts once a stream has produced this much: smaller files are hashed on the calling thread,
 * so adding many small files never pays for thread start-up. Even past it nothing waits for the worker:
 * batches go to it only once it reports ready.
 */
export const DEFAULT_WORKER_THRESHOLD_BYTES = 8 * MiB

export interface ChunkAndHashOptions {
  signal?: AbortSignal
  /** @default DEFAULT_BATCH_BYTES */
  batchBytes?: number
  /** @default DEFAULT_MAX_PENDING_BATCHES */
  maxPendingBatches?: number
  /** @default DEFAULT_WORKER_QUEUE_BATCHES */
  workerQueueBatches?: number
  /** @default DEFAULT_WORKER_THRESHOLD_BYTES */
  workerThresholdBytes?: number
}

export interface HashedChunk {
  /** the chunk, in its own buffer */
  bytes: Uint8Array
  /** BLAKE3-256 of bytes */
  digest: Uint8Array
}

/**
 * The chunks of `source` with their BLAKE3 digests, in order. Bounded memory: the source is read only as
 * fast as results are consumed. The worker, if started, is stopped when the generator completes, throws,
 * is aborted through `options.signal` (it then throws the signal's reason) or is returned early.
 */
export async function * chunkAndHash (source: AsyncIterable<Uint8Array>, profile: ChunkerProfile, options: ChunkAndHashOptions = {}): AsyncGenerator<HashedChunk> {
  const { signal } = options
  const batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES
  const maxPendingBatches = options.maxPendingBatches ?? DEFAULT_MAX_PENDING_BATCHES
  const workerThresholdBytes = options.workerThresholdBytes ?? DEFAULT_WORKER_THRESHOLD_BYTES
  signal?.throwIfAborted()
  const splitter = new ChunkSplitter(profile)
  const scheduler = new HashScheduler(options.workerQueueBatches ?? DEFAULT_WORKER_QUEUE_BATCHES)
  let batch: OwnedChunk[] = []
  let batched = 0
  let cut = 0
  /** The oldest batch's chunks; an abort takes effect between any two of them. */
  const takeBatch = async function * (): AsyncGenerator<HashedChunk> {
    for (const chunk of await scheduler.next(signal)) {
      signal?.throwIfAborted()
      yield chunk
    }
  }
  try {
    for await (const piece of source) {
      signal?.throwIfAborted()
      for (const chunk of splitter.push(piece)) {
        batch.push(chunk.bytes.slice())
        batched += chunk.length
        cut += chunk.length
        if (batched < batchBytes) continue
        if (cut >= workerThresholdBytes) scheduler.startWorker()
        scheduler.add(batch)
        batch = []
        batched = 0
        while (scheduler.pending >= maxPendingBatches) yield * takeBatch()
      }
    }
    for (const chunk of splitter.finish()) batch.push(chunk.bytes.slice())
    if (batch.length > 0) scheduler.add(batch)
    while (scheduler.pending > 0) yield * takeBatch()
  } finally {
    await scheduler.close()
  }
}

/** The same output on the calling thread alone: the reference that chunkAndHash is tested against. */
export async function * chunkAndHashSequential (source: AsyncIterable<Uint8Array>, profile: ChunkerProfile, options: { signal?: AbortSignal } = {}): AsyncGenerator<HashedChunk> {
  options.signal?.throwIfAborted()
  for await (const bytes of chunkStream(source, profile)) {
    options.signal?.throwIfAborted()
    yield { bytes, digest: blake3(bytes) }
  }
}

interface Batch {
  chunks: OwnedChunk[]
  /** posted to the worker, which now owns (has been transferred) the chunks */
  posted: boolean
  hashed?: HashedChunk[]
}

/**
 * Batches in stream order, each hashed by the worker or, when the caller would otherwise wait, by the
 * calling thread. Replies are also pulled synchronously (receiveMessageOnPort) whenever the calling thread
 * is about to decide what to do next: while it runs it does not return to the event loop, and an unread
 * reply would leave the worker idle. A dead worker fails the stream: the chunks it held are gone.
 */
class HashScheduler {
  private readonly workerQueueBatches: number
  private readonly batches: Batch[] = []
  private readonly posted = new Map<number, Batch>()
  private worker: Worker | undefined
  private port: MessagePort | undefined
  private ready = false
  private nextId = 0
  private failure: Error | undefined
  /** settles at the worker's next reply or failure */
  private progress = deferred()

  constructor (workerQueueBatches: number) {
    this.workerQueueBatches = workerQueueBatches
  }

  /** batches added and not yet taken by next() */
  get pending (): number {
    return this.batches.length
  }

  startWorker (): void {
    if (this.worker !== undefined) return
    const { port1, port2 } = new MessageChannel()
    const workerData: ChunkWorkerData = { port: port2 }
    // tsc emits chunk-worker.js next to this module.
    const worker = new Worker(new URL('./chunk-worker.js', import.meta.url), { workerData, transferList: [port2] })
    this.worker = worker
    this.port = port1
    port1.on('message', (message: WorkerMessage) => {
      this.onMessage(message)
      this.feed()
    })
    worker.on('error', err => { this.fail(err) })
    worker.on('exit', code => { this.fail(new Error(`the chunk hashing worker exited (code ${code})`)) })
    // Only posted work may keep the process alive (worker.ref() while some is), not an idle worker.
    worker.unref()
    port1.unref()
  }

  add (chunks: OwnedChunk[]): void {
    this.batches.push({ chunks, posted: false })
    this.poll()
    this.feed()
  }

  /** The oldest batch, hashed; while it is not, hash a batch the worker has not taken rather than idle. */
  async next (signal?: AbortSignal): Promise<HashedChunk[]> {
    const head = this.batches[0]
    while (head.hashed === undefined) {
      signal?.throwIfAborted()
      if (this.failure !== undefined) throw this.failure
      this.poll()
      this.feed()
      if (head.hashed !== undefined) break
      const unposted = this.batches.find(b => !b.posted && b.hashed === undefined)
      if (unposted !== undefined) {
        unposted.hashed = unposted.chunks.map(bytes => ({ bytes, digest: blake3(bytes) }))
      } else {
        await abortable(this.progress.promise, signal)
      }
    }
    this.batches.shift()
    return head.hashed
  }

  async close (): Promise<void> {
    this.fail(new Error('the chunk pipeline is closed'))
    this.port?.close()
    await this.worker?.terminate()
  }

  private poll (): void {
    if (this.port === undefined) return
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) {
      this.onMessage(m.message as WorkerMessage)
    }
  }

  /** Posts the oldest unhashed batches while the worker has room. */
  private feed (): void {
    const { worker, port } = this
    if (worker === undefined || port === undefined || !this.ready || this.failure !== undefined) return
    for (const batch of this.batches) {
      if (this.posted.size >= this.workerQueueBatches) break
      if (batch.posted || batch.hashed !== undefined) continue
      const id = this.nextId++
      batch.posted = true
      this.posted.set(id, batch)
      const request: HashRequest = { id, chunks: batch.chunks }
      worker.ref()
      port.postMessage(request, batch.chunks.map(c => c.buffer))
    }
  }

  private onMessage (message: WorkerMessage): void {
    if (message.type === 'ready') {
      this.ready = true
    } else {
      const batch = this.posted.get(message.id)
      if (batch === undefined) return
      this.posted.delete(message.id)
      if (this.posted.size === 0) this.worker?.unref()
      const { chunks, digests } = message
      batch.hashed = chunks.map((bytes, i) => ({ bytes, digest: digests.slice(i * BLAKE3_DIGEST_BYTES, (i + 1) * BLAKE3_DIGEST_BYTES) }))
    }
    this.progress.resolve()
    this.progress = deferred()
  }

  private fail (err: Error): void {
    if (this.failure !== undefined) return
    this.failure = err
    this.progress.resolve()
  }
}

interface Deferred {
  promise: Promise<void>
  resolve: () => void
}

function deferred (): Deferred {
  let resolve = (): void => {}
  const promise = new Promise<void>(res => { resolve = res })
  return { promise, resolve }
}

/** `promise`, or the signal's reason as soon as it aborts. */
async function abortable<T> (promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal == null) return await promise
  signal.throwIfAborted()
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
