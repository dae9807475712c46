import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { chunkAndHash, chunkAndHashSequential } from '../../../node/chunk-pipeline.ts'
import { PROFILES } from '../../../src/fastcdc/index.ts'
import { blake3 } from '../../../src/hash/index.ts'
import type { Worker } from 'node:worker_threads'
import type { HashedChunk, ReadInto } from '../../../node/chunk-pipeline.ts'
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

/** Reads `data` straight into the pipeline's buffer, in reads of random size, pausing `pauseMs` once `pauseAt` bytes are read. */
function reader (data: Uint8Array, seed: number, maxRead: number, pause: { at: number, ms: number } = { at: Infinity, ms: 0 }): ReadInto {
  const next = pseudoRandomInts(seed)
  let at = 0
  let paused = false
  return async (into) => {
    if (!paused && at >= pause.at) {
      paused = true
      await delay(pause.ms)
    }
    const n = Math.min(data.length - at, into.length, 1 + next(maxRead))
    into.set(data.subarray(at, at + n))
    at += n
    return n
  }
}

/** [length, digest] of each chunk, checking its bytes while they are valid. */
async function summary (chunks: AsyncIterable<HashedChunk>): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = []
  for await (const { bytes, digest } of chunks) {
    assert.equal(hex(blake3(bytes)), hex(digest))
    out.push([bytes.length, hex(digest)])
  }
  return out
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
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
    const expected = new Map<ChunkerProfile, Array<[number, string]>>()
    before(async () => {
      data = pseudoRandomBytes(40 * MiB, 77)
      for (const profile of [PROFILES.media, PROFILES.small]) expected.set(profile, await summary(chunkAndHashSequential(inPieces(data, 1, 4 * MiB), profile)))
    })

    for (const profile of [PROFILES.media, PROFILES.small] satisfies ChunkerProfile[]) {
      it(`${profile.name}: identical to the sequential path when the worker cuts the whole stream`, async () => {
        // The first read waits until the worker is surely ready, so it cuts from byte 0.
        const source = reader(data, 2, MiB, { at: 0, ms: 500 })
        const { result, workers } = await withWorkers(async () => await summary(chunkAndHash(source, profile, { workerThresholdBytes: 0 })))
        assert.equal(workers.length, 1)
        assert.deepEqual(result, expected.get(profile))
      })

      it(`${profile.name}: identical when the worker takes over mid-stream, at the last cut`, async () => {
        const source = reader(data, 3, 3 * MiB, { at: 9 * MiB, ms: 500 })
        const { result, workers } = await withWorkers(async () => await summary(chunkAndHash(source, profile, { workerThresholdBytes: 0 })))
        assert.equal(workers.length, 1)
        assert.deepEqual(result, expected.get(profile))
      })
    }

    it('gives the whole stream\'s BLAKE3: from the worker when sizeHint starts it at byte 0, from the calling thread otherwise', async () => {
      const whole = hex(blake3(data))
      for (const options of [{ sizeHint: data.length }, { sizeHint: 0 }, {}, { sizeHint: data.length, workerThresholdBytes: 0 }]) {
        let digest: Uint8Array | undefined
        const { result, workers } = await withWorkers(async () => await summary(chunkAndHash(reader(data, 5, 3 * MiB), PROFILES.media, { ...options, onDigest: d => { digest = d } })))
        assert.deepEqual(result, expected.get(PROFILES.media), JSON.stringify(options))
        assert.equal(digest === undefined ? undefined : hex(digest), whole, JSON.stringify(options))
        // a size hint over the threshold starts the worker at once; 40 MiB crosses the 32 MiB default either way
        assert.equal(workers.length, 1, JSON.stringify(options))
      }
      let empty: Uint8Array | undefined
      await summary(chunkAndHash(reader(new Uint8Array(0), 6, MiB), PROFILES.media, { sizeHint: 0, onDigest: d => { empty = d } }))
      assert.equal(empty === undefined ? undefined : hex(empty), hex(blake3(new Uint8Array(0))))
    })

    it('is identical for streams of a few bytes read into a buffer of their size, and for one longer than its size hint', async () => {
      for (const size of [0, 1, 100, 5000, 70_000]) {
        const small = pseudoRandomBytes(size, 20 + size)
        const reference = await summary(chunkAndHashSequential(inPieces(small, 1, 1000), PROFILES.small))
        assert.deepEqual(await summary(chunkAndHash(reader(small, 2, 3000), PROFILES.small, { sizeHint: size })), reference, `${size} bytes`)
      }
      // the file grew after it was stat'ed: the short first buffer is not read into again
      const grown = pseudoRandomBytes(3 * MiB, 30)
      const reference = await summary(chunkAndHashSequential(inPieces(grown, 3, 100_000), PROFILES.small))
      const options = { sizeHint: 10_000, readBytes: 256 * 1024, bufferBytes: 2 * MiB }
      assert.deepEqual(await summary(chunkAndHash(reader(grown, 4, 300_000), PROFILES.small, options)), reference)
    })

    it('is identical with the default options and odd piece sizes', async () => {
      const profile: ChunkerProfile = { name: 'odd', min: 3000, avg: 20_000, max: 90_001, normalization: 2, seed: 3 }
      const reference = await summary(chunkAndHashSequential(inPieces(data, 3, 50_000), profile))
      const { result } = await withWorkers(async () => await summary(chunkAndHash(inPieces(data, 4, 300_000), profile)))
      assert.deepEqual(result, reference)
    })

    it('keeps held chunks intact until released, in any order, across many reads into few buffers', async () => {
      // Like `add`: up to maxHeld chunks held at once, each released when its (here: randomly slow) write is done.
      const profile = PROFILES.small
      const maxHeld = 5
      const readBytes = 100_000
      const bufferBytes = 2 * profile.max + readBytes + maxHeld * profile.max
      const next = pseudoRandomInts(11)
      const writes = new Set<Promise<void>>()
      const { workers } = await withWorkers(async () => {
        let offset = 0
        const lengths: number[] = []
        for await (const chunk of chunkAndHash(reader(data, 5, readBytes, { at: MiB, ms: 300 }), profile, { bufferBytes, readBytes, workerThresholdBytes: 0 })) {
          assert.equal(hex(blake3(chunk.bytes)), hex(chunk.digest))
          const release = chunk.hold()
          const at = offset
          const write = delay(next(4)).then(() => {
            assert.ok(Buffer.from(chunk.bytes).equals(data.subarray(at, at + chunk.bytes.length)), `chunk at ${at} intact`)
            release()
            writes.delete(write)
          })
          writes.add(write)
          offset += chunk.bytes.length
          lengths.push(chunk.bytes.length)
          if (writes.size === maxHeld) await Promise.race(writes)
        }
        await Promise.all(writes)
        assert.equal(offset, data.length)
        assert.deepEqual(lengths, expected.get(profile)?.map(([length]) => length))
      })
      assert.equal(workers.length, 1)
    })

    it('starts no worker for a stream below the threshold', async () => {
      const { result, workers } = await withWorkers(async () => await summary(chunkAndHash(inPieces(data.subarray(0, 3 * MiB), 6, MiB), PROFILES.small)))
      assert.equal(workers.length, 0)
      assert.equal(result.reduce((n, [length]) => n + length, 0), 3 * MiB)
    })

    it('yields nothing for an empty source', async () => {
      assert.deepEqual(await summary(chunkAndHash(inPieces(new Uint8Array(0), 1, 1), PROFILES.media)), [])
    })

    it('reads ahead at most its buffers while the consumer is slow', async () => {
      let pulled = 0
      const options = { workerThresholdBytes: 0, bufferBytes: 4 * MiB, readBytes: 256 * 1024 }
      const piece = 256 * 1024
      const chunks = chunkAndHash(inPieces(data, 7, piece, n => { pulled += n }), PROFILES.small, options)
      await chunks.next()
      await delay(200)
      assert.ok(pulled <= options.bufferBytes + piece, `pulled ${pulled} > ${options.bufferBytes + piece}`)
      await chunks.return(undefined)
    })

    it('stops reading while held chunks fill its buffers, and goes on once they are released', async () => {
      let pulled = 0
      const options = { bufferBytes: 4 * MiB, readBytes: 256 * 1024 }
      const chunks = chunkAndHash(inPieces(data, 8, MiB, n => { pulled += n }), PROFILES.small, options)
      const releases: Array<() => void> = []
      const timeout = Symbol('timeout')
      let pending = chunks.next()
      for (;;) {
        const next = await Promise.race([pending, delay(200, timeout)])
        if (next === timeout) break
        assert.ok(next.done !== true)
        releases.push(next.value.hold())
        pending = chunks.next()
      }
      assert.ok(pulled <= options.bufferBytes + MiB, `pulled ${pulled}`)
      for (const release of releases) release()
      let rest = 0
      for (let next = await pending; next.done !== true; next = await chunks.next()) rest++
      assert.ok(rest > 0)
    })

    it('refuses hold() once the next chunk has been pulled', async () => {
      const chunks = chunkAndHash(inPieces(data.subarray(0, 4 * MiB), 9, MiB), PROFILES.small)
      const first = await chunks.next()
      await chunks.next()
      assert.ok(first.done !== true)
      assert.throws(() => first.value.hold(), /before the next chunk is pulled/)
      await chunks.return(undefined)
    })

    it('stops the worker when the consumer stops early', async () => {
      const { workers } = await withWorkers(async () => {
        for await (const chunk of chunkAndHash(reader(data, 8, MiB, { at: 0, ms: 300 }), PROFILES.small, { workerThresholdBytes: 0 })) {
          if (chunk.bytes.length > 0) break
        }
      })
      assert.equal(workers.length, 1)
    })

    it('throws the abort reason and stops the worker when aborted', async () => {
      const controller = new AbortController()
      const { workers } = await withWorkers(async () => {
        const chunks = chunkAndHash(reader(data, 9, MiB, { at: 0, ms: 300 }), PROFILES.small, { signal: controller.signal, workerThresholdBytes: 0 })
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
      await assert.rejects(summary(chunkAndHash(inPieces(data, 1, MiB), PROFILES.small, { signal: AbortSignal.abort() })), { name: 'AbortError' })
    })

    it('passes on a source error and stops the worker', async () => {
      async function * failing (): AsyncGenerator<Uint8Array> {
        yield * inPieces(data.subarray(0, 10 * MiB), 10, MiB)
        throw new Error('disk on fire')
      }
      const { workers } = await withWorkers(async () => {
        await assert.rejects(summary(chunkAndHash(failing(), PROFILES.small, { workerThresholdBytes: 0 })), /disk on fire/)
      })
      assert.equal(workers.length, 1)
    })

    it('rejects an invalid profile, and buffers too small for it', async () => {
      await assert.rejects(summary(chunkAndHash(inPieces(data, 1, MiB), { name: 'bad', min: 1, avg: 2, max: 3, normalization: 1 })), { name: 'InvalidChunkerError' })
      await assert.rejects(summary(chunkAndHash(inPieces(data, 1, MiB), PROFILES.media, { bufferBytes: 8 * MiB })), RangeError)
    })
  })
})
