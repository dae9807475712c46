/**
 * The hashing half of chunk-pipeline.ts, on a worker thread: receives batches of chunks (transferred, so
 * not copied) on the MessagePort it is given, answers on it with their BLAKE3 digests and hands the chunks
 * back (transferred again).
 */
import { workerData } from 'node:worker_threads'
import { BLAKE3_DIGEST_BYTES, blake3 } from '../src/hash/index.ts'
import type { MessagePort } from 'node:worker_threads'

/** Chunks whose buffers are their own (not views into a larger one), so transferring them moves only them. */
export type OwnedChunk = Uint8Array<ArrayBuffer>

export interface ChunkWorkerData {
  port: MessagePort
}

export interface HashRequest {
  id: number
  chunks: OwnedChunk[]
}

export type WorkerMessage =
  /** sent once the modules (and hash-wasm's instances) are loaded */
  | { type: 'ready' }
  /** digests[i * BLAKE3_DIGEST_BYTES ..] is the digest of chunks[i] */
  | { type: 'hashed', id: number, chunks: OwnedChunk[], digests: Uint8Array<ArrayBuffer> }

const { port } = workerData as ChunkWorkerData

port.on('message', ({ id, chunks }: HashRequest) => {
  const digests = new Uint8Array(chunks.length * BLAKE3_DIGEST_BYTES)
  chunks.forEach((chunk, i) => { digests.set(blake3(chunk), i * BLAKE3_DIGEST_BYTES) })
  const reply: WorkerMessage = { type: 'hashed', id, chunks, digests }
  port.postMessage(reply, [digests.buffer, ...chunks.map(c => c.buffer)])
})
port.postMessage({ type: 'ready' } satisfies WorkerMessage)
