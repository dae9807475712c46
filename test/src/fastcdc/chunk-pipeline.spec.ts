import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { chunkAndHash, chunkAndHashSequential } from '../../../node/chunk-pipeline.ts'
import { PROFILES } from '../../../src/fastcdc/index.ts'
import { blake3 } from '../../../src/hash/index.ts'
import type { Worker } from 'node:worker_threads'
import type { HashedChunk } from '../../../node/chunk-pipeline.ts'
import type { ChunkerProfile } from '../../../src/fastcdc/index.ts'
import { pseudoRandomBytes, pseudoRandomInts } from './testdata.ts'

const MiB = 1024 * 1024

async function * inPieces (data: Uint8Array, seed: number, maxPiece: number, onPull: (bytes: number) => void = () => {}): AsyncGenerator<Uint8Array> {
  const next = pseudoRandomInts(seed)
  for (let at = 0; at < data.length;) {
    const n = Math.min(data.length - at, 1 + next(maxPiece))
    onPull(n)
    yield data.slice(at, at + n)
    at += n
  }
}

async function collect (chunks: AsyncIterable<HashedChunk>): Promise<HashedChunk[]> {
  const out: HashedChunk[] = []
  for await (const chunk of chunks) out.push(chunk)
  return out
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

function summary (chunks: HashedChunk[]): Array<[number, string]> {
  return chunks.map(c => [c.bytes.length, hex(c.digest)])
}

/** Workers started while `fn` runs; each must be gone (threadId -1) once it settles. */
async function withWorkers<T> (fn: () => Promise<T>): Promise<{ result: T, workers: Worker[] }> {
  const workers: Worker[] = []
  const onWorker = (w: Worker): void => { workers.push(w) }
  process.on('worker', onWorker)
  try {
    return { result: await fn(), workers }
  } finally {
    process.off('worker', onWorker)
    for (const w of workers) assert.equal(w.threadId, -1, 'the worker was stopped')
  }
}

describe('fastcdc', () => {
  describe('chunkAndHash (node/chunk-pipeline)', () => {
    let data: Uint8Array = new Uint8Array(0)
    before(() => { data = pseudoRandomBytes(40 * MiB, 77) })

    for (const profile of [PROFILES.media, PROFILES.small] satisfies ChunkerProfile[]) {
      it(`${profile.name}: identical to the sequential path, with the worker from the first batch`, async () => {
        const expected = summary(await collect(chunkAndHashSequential(inPieces(data, 1, 4 * MiB), profile)))
        const { result, workers } = await withWorkers(async () => await collect(chunkAndHash(inPieces(data, 2, MiB), profile, { workerThresholdBytes: 0 })))
        assert.equal(workers.length, 1)
        assert.deepEqual(summary(result), expected)
      })
    }

    it('is identical with the default options and odd piece sizes', async () => {
      const profile: ChunkerProfile = { name: 'odd', min: 3000, avg: 20_000, max: 90_001, normalization: 2, seed: 3 }
      const expected = summary(await collect(chunkAndHashSequential(inPieces(data, 3, 50_000), profile)))
      const { result } = await withWorkers(async () => await collect(chunkAndHash(inPieces(data, 4, 300_000), profile)))
      assert.deepEqual(summary(result), expected)
    })

    it('yields the bytes in buffers of their own, with their BLAKE3', async () => {
      const input = data.subarray(0, 12 * MiB)
      const chunks = await collect(chunkAndHash(inPieces(input, 5, MiB), PROFILES.small, { workerThresholdBytes: 0 }))
      for (const { bytes, digest } of chunks) {
        assert.equal(bytes.byteOffset, 0)
        assert.equal(bytes.buffer.byteLength, bytes.length)
        assert.equal(hex(digest), hex(blake3(bytes)))
      }
      assert.ok(Buffer.concat(chunks.map(c => c.bytes)).equals(input))
    })

    it('starts no worker for a stream below the threshold', async () => {
      const { result, workers } = await withWorkers(async () => await collect(chunkAndHash(inPieces(data.subarray(0, 3 * MiB), 6, MiB), PROFILES.small)))
      assert.equal(workers.length, 0)
      assert.equal(result.reduce((n, c) => n + c.bytes.length, 0), 3 * MiB)
    })

    it('yields nothing for an empty source', async () => {
      assert.deepEqual(await collect(chunkAndHash(inPieces(new Uint8Array(0), 1, 1), PROFILES.media)), [])
    })

    it('reads ahead only a bounded amount while the consumer is slow', async () => {
      let pulled = 0
      const profile = PROFILES.small
      const options = { workerThresholdBytes: 0, batchBytes: MiB, maxPendingBatches: 4 }
      const piece = 256 * 1024
      const chunks = chunkAndHash(inPieces(data, 7, piece, n => { pulled += n }), profile, options)
      await chunks.next()
      await delay(100)
      // the chunker's 2 × max, the pending batches (each at most batch + max), and one piece
      const bound = 2 * profile.max + options.maxPendingBatches * (options.batchBytes + profile.max) + piece
      assert.ok(pulled <= bound, `pulled ${pulled} > ${bound}`)
      await chunks.return(undefined)
    })

    it('stops the worker when the consumer stops early', async () => {
      const { workers } = await withWorkers(async () => {
        for await (const chunk of chunkAndHash(inPieces(data, 8, MiB), PROFILES.small, { workerThresholdBytes: 0 })) {
          if (chunk.bytes.length > 0) break
        }
      })
      assert.equal(workers.length, 1)
    })

    it('throws the abort reason and stops the worker when aborted', async () => {
      const controller = new AbortController()
      const { workers } = await withWorkers(async () => {
        const chunks = chunkAndHash(inPieces(data, 9, MiB), PROFILES.small, { signal: controller.signal, workerThresholdBytes: 0 })
        let seen = 0
        await assert.rejects(async () => {
          for await (const _ of chunks) {
            if (++seen === 20) controller.abort()
          }
        }, { name: 'AbortError' })
        assert.equal(seen, 20)
      })
      assert.equal(workers.length, 1)
    })

    it('does not start on an already aborted signal', async () => {
      await assert.rejects(collect(chunkAndHash(inPieces(data, 1, MiB), PROFILES.small, { signal: AbortSignal.abort() })), { name: 'AbortError' })
    })

    it('passes on a source error and stops the worker', async () => {
      async function * failing (): AsyncGenerator<Uint8Array> {
        yield * inPieces(data.subarray(0, 10 * MiB), 10, MiB)
        throw new Error('disk on fire')
      }
      const { workers } = await withWorkers(async () => {
        await assert.rejects(collect(chunkAndHash(failing(), PROFILES.small, { workerThresholdBytes: 0 })), /disk on fire/)
      })
      assert.equal(workers.length, 1)
    })

    it('rejects an invalid profile', async () => {
      await assert.rejects(collect(chunkAndHash(inPieces(data, 1, MiB), { name: 'bad', min: 1, avg: 2, max: 3, normalization: 1 })), { name: 'InvalidChunkerError' })
    })
  })
})
