/**
 * The cutting half of chunk-pipeline.ts, on a worker thread: finds the FastCDC cut points of the pieces of a
 * stream that the calling thread hands it, BLAKE3s every chunk, and hands each piece back (both ways by
 * transfer, not copy) with the lengths and digests of the chunks it completed.
 */
import { workerData } from 'node:worker_threads'
import { ChunkSplitter } from '../src/fastcdc/index.ts'
import { BLAKE3_DIGEST_BYTES, blake3 } from '../src/hash/index.ts'
import { createBlake3 } from '../src/hash/blake3.ts'
import type { ChunkerProfile } from '../src/fastcdc/index.ts'
import type { MessagePort } from 'node:worker_threads'

export interface ChunkWorkerData {
  port: MessagePort
  profile: ChunkerProfile
  /** also hash the whole stream (handed over from its first byte), and send the digest with the last answer */
  wholeDigest: boolean
}

export type CutRequest =
  /** the next piece of the stream: bytes[0, length) */
  | { bytes: Uint8Array<ArrayBuffer>, length: number }
  /** the stream has ended */
  | { end: true }

export type WorkerMessage =
  /** sent once the modules are loaded */
  | { type: 'ready' }
  /** the answer to one CutRequest: its piece back, and the chunks it completed, lengths[i] bytes with digests[i * 32 ..] */
  | { type: 'cut', bytes?: Uint8Array<ArrayBuffer>, lengths: Uint32Array<ArrayBuffer>, digests: Uint8Array<ArrayBuffer>, wholeDigest?: Uint8Array }

const { port, profile, wholeDigest } = workerData as ChunkWorkerData
const splitter = new ChunkSplitter(profile)
const whole = wholeDigest ? createBlake3() : undefined

port.on('message', (request: CutRequest) => {
  const lengths: number[] = []
  const digests: Uint8Array[] = []
  if (!('end' in request)) whole?.update(request.bytes.subarray(0, request.length))
  // Each view is hashed before the splitter advances, which may move its working memory.
  for (const cut of 'end' in request ? splitter.finish() : splitter.push(request.bytes.subarray(0, request.length))) {
    lengths.push(cut.length)
    digests.push(blake3(cut.bytes))
  }
  const bytes = 'end' in request ? undefined : request.bytes
  const reply = { type: 'cut', bytes, lengths: Uint32Array.from(lengths), digests: concat(digests), ...('end' in request && whole !== undefined ? { wholeDigest: whole.digest() } : {}) } satisfies WorkerMessage
  port.postMessage(reply, [reply.lengths.buffer, reply.digests.buffer, ...(bytes === undefined ? [] : [bytes.buffer])])
})

function concat (digests: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(digests.length * BLAKE3_DIGEST_BYTES)
  digests.forEach((d, i) => { out.set(d, i * BLAKE3_DIGEST_BYTES) })
  return out
}

port.postMessage({ type: 'ready' } satisfies WorkerMessage)
