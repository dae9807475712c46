import assert from 'node:assert/strict'
import { ChunkSplitter, PROFILES, chunkStream, cutPoints } from '../../../src/fastcdc/index.ts'
import type { ChunkerProfile, GearEngineName } from '../../../src/fastcdc/index.ts'
import { fastcdcVectors, pseudoRandomBytes, pseudoRandomInts } from './testdata.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** Yields `data` in pieces of random sizes in [0, maxPiece), empty pieces included. */
async function * inPieces (data: Uint8Array, seed: number, maxPiece: number): AsyncGenerator<Uint8Array> {
  const next = pseudoRandomInts(seed)
  for (let at = 0; at < data.length;) {
    const n = Math.min(data.length - at, next(maxPiece))
    yield data.slice(at, at + n)
    at += n
  }
}

async function collect (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const chunk of chunks) out.push(chunk)
  return out
}

function lengths (chunks: Uint8Array[]): number[] {
  return chunks.map(c => c.length)
}

describe('fastcdc', () => {
  describe('chunkStream', () => {
    const cases: Array<{ profile: ChunkerProfile, bytes: number }> = [
      { profile: PROFILES.small, bytes: 3 * MiB + 17 },
      { profile: PROFILES.media, bytes: 20 * MiB },
      { profile: { name: 'tiny', min: 64, avg: 256, max: 1024, normalization: 2, seed: 9 }, bytes: 64 * KiB }
    ]

    for (const { profile, bytes } of cases) {
      for (const engine of ['wasm', 'reference'] satisfies GearEngineName[]) {
        it(`${profile.name}, ${engine} engine: the same chunks however the source is split`, async () => {
          const data = pseudoRandomBytes(bytes, bytes)
          const expected = cutPoints(data, profile)
          // from pieces far smaller than a chunk to pieces larger than the working memory
          const maxPieces = [1000, 70_000, 3 * profile.max, 9 * profile.max]
          for (const [seed, maxPiece] of maxPieces.entries()) {
            const chunks = await collect(chunkStream(inPieces(data, seed + 1, maxPiece + 1), profile, { engine }))
            assert.deepEqual(lengths(chunks), expected.map(c => c.length), `pieces < ${maxPiece + 1}`)
            for (const [i, { offset, length }] of expected.entries()) {
              assert.ok(Buffer.from(chunks[i]).equals(data.subarray(offset, offset + length)), `bytes of chunk ${i}`)
            }
          }
        })
      }
    }

    it('gives the same chunks when fed a few bytes at a time', async () => {
      for (const profile of [{ name: 'mid', min: 4096, avg: 16384, max: 65536, normalization: 1 }, { name: 'tiny', min: 64, avg: 256, max: 1024, normalization: 1 }]) {
        const data = pseudoRandomBytes(4 * profile.max + 5, 21)
        const expected = cutPoints(data, profile).map(c => c.length)
        for (const maxPiece of [2, 4]) {
          assert.deepEqual(lengths(await collect(chunkStream(inPieces(data, maxPiece, maxPiece), profile))), expected)
        }
      }
    })

    it('reproduces the vectors from a stream', async () => {
      const { vectors, file } = fastcdcVectors()
      for (const c of vectors.cases) {
        const profile: ChunkerProfile = { name: 'vector', min: c.min, avg: c.avg, max: c.max, normalization: c.normalization, seed: c.seed }
        const chunks = await collect(chunkStream(inPieces(file, c.min, 5000), profile))
        assert.deepEqual(lengths(chunks), c.chunks.map(e => e.length))
      }
    })

    it('yields chunks in buffers of their own, safe to keep', async () => {
      const data = pseudoRandomBytes(2 * MiB, 5)
      const chunks = await collect(chunkStream(inPieces(data, 3, 100_000), PROFILES.small))
      for (const chunk of chunks) {
        assert.equal(chunk.byteOffset, 0)
        assert.equal(chunk.buffer.byteLength, chunk.length)
      }
      assert.ok(Buffer.concat(chunks).equals(data))
    })

    it('yields nothing for an empty source', async () => {
      assert.deepEqual(await collect(chunkStream(inPieces(new Uint8Array(0), 1, 10), PROFILES.media)), [])
    })

    it('reads ahead no more than it can hold (2 × max besides the current piece)', async () => {
      const profile = PROFILES.small
      const piece = 10_000
      let pulled = 0
      async function * source (): AsyncGenerator<Uint8Array> {
        const data = pseudoRandomBytes(8 * MiB, 11)
        for (let at = 0; at < data.length; at += piece) {
          pulled += piece
          yield data.subarray(at, at + piece)
        }
      }
      let yielded = 0
      for await (const chunk of chunkStream(source(), profile)) {
        yielded += chunk.length
        assert.ok(pulled - yielded <= 2 * profile.max + piece, `${pulled - yielded} bytes held`)
      }
      assert.equal(yielded, 8 * MiB)
    })

    it('rejects an invalid profile', async () => {
      await assert.rejects(collect(chunkStream(inPieces(new Uint8Array(10), 1, 5), { name: 'bad', min: 10, avg: 256, max: 1024, normalization: 1 })), { name: 'InvalidChunkerError' })
    })
  })

  describe('ChunkSplitter', () => {
    it('holds at most 2 × max', () => {
      assert.equal(new ChunkSplitter(PROFILES.media).capacityBytes, 8 * MiB)
      assert.equal(new ChunkSplitter(PROFILES.small, { engine: 'reference' }).capacityBytes, 512 * KiB)
    })

    it('can be reused after finish()', () => {
      const data = pseudoRandomBytes(300_000, 8)
      const splitter = new ChunkSplitter(PROFILES.small)
      const run = (): number[] => [...splitter.push(data), ...splitter.finish()].map(c => c.offset)
      assert.deepEqual(run(), run())
    })

    it('gives its working memory to the next splitter of its profile at release, and is not used after', () => {
      const first = new ChunkSplitter(PROFILES.small)
      const a = pseudoRandomBytes(300_000, 9)
      assert.deepEqual([...first.push(a), ...first.finish()].map(c => c.offset), cutPoints(a, PROFILES.small, { engine: 'reference' }).map(c => c.offset))
      first.release()
      assert.throws(() => [...first.push(a)], /released/)
      // the next splitter works in the memory the first one held, and cuts exactly as a fresh one
      const b = pseudoRandomBytes(500_000, 10)
      const second = new ChunkSplitter(PROFILES.small)
      assert.deepEqual([...second.push(b), ...second.finish()].map(c => [c.offset, c.length, c.hash]), cutPoints(b, PROFILES.small, { engine: 'reference' }).map(c => [c.offset, c.length, c.hash]))
      second.release()
    })
  })
})
