import assert from 'node:assert/strict'
import { PROFILES, cutPoints } from '../../../src/fastcdc/index.ts'
import type { ChunkPosition, ChunkerProfile } from '../../../src/fastcdc/index.ts'
import { pseudoRandomBytes } from './testdata.ts'

const KiB = 1024
const MiB = 1024 * KiB

/** Profiles that exercise odd sizes, every normalization level and seeds, besides the two named ones. */
const CASES: Array<{ profile: ChunkerProfile, bytes: number }> = [
  { profile: PROFILES.small, bytes: 6 * MiB },
  { profile: PROFILES.media, bytes: 24 * MiB },
  { profile: { name: 'tiny', min: 64, avg: 256, max: 1024, normalization: 1 }, bytes: 256 * KiB },
  { profile: { name: 'odd', min: 1001, avg: 3000, max: 7001, normalization: 2, seed: 12345 }, bytes: 1 * MiB },
  { profile: { name: 'nc0', min: 4096, avg: 16384, max: 65535, normalization: 0 }, bytes: 2 * MiB },
  { profile: { name: 'nc3', min: 8192, avg: 16384, max: 32768, normalization: 3, seed: 666 }, bytes: 2 * MiB },
  { profile: { name: 'flat', min: 1 * MiB, avg: 1 * MiB, max: 1 * MiB, normalization: 0 }, bytes: 5 * MiB + 3 },
  { profile: { name: 'big-seed', min: 2048, avg: 8192, max: 32768, normalization: 1, seed: Number.MAX_SAFE_INTEGER }, bytes: 1 * MiB }
]

function assertTiles (chunks: ChunkPosition[], length: number, profile: ChunkerProfile): void {
  let offset = 0
  chunks.forEach((c, i) => {
    assert.equal(c.offset, offset)
    assert.ok(c.length <= profile.max, `chunk ${i} longer than max`)
    if (i < chunks.length - 1) assert.ok(c.length >= profile.min, `chunk ${i} shorter than min`)
    offset += c.length
  })
  assert.equal(offset, length)
}

describe('fastcdc', () => {
  describe('wasm engine against the reference engine', () => {
    for (const [i, { profile, bytes }] of CASES.entries()) {
      it(`${profile.name} (${profile.min}/${profile.avg}/${profile.max}, normalization ${profile.normalization}, seed ${profile.seed ?? 0}) on ${bytes} random bytes`, () => {
        const data = pseudoRandomBytes(bytes, i + 1)
        const wasm = cutPoints(data, profile, { engine: 'wasm' })
        const reference = cutPoints(data, profile, { engine: 'reference' })
        assert.deepEqual(wasm, reference)
        assertTiles(wasm, bytes, profile)
        assert.ok(wasm.length > 2, 'the data spans several chunks')
      })
    }

    it('agrees on low-entropy data (zeros, a short repeating pattern)', () => {
      const profile: ChunkerProfile = { name: 'low', min: 1024, avg: 4096, max: 16384, normalization: 1 }
      const pattern = Uint8Array.from({ length: 200_000 }, (_, i) => (i % 7) * 31)
      for (const data of [new Uint8Array(100_000), pattern]) {
        const wasm = cutPoints(data, profile, { engine: 'wasm' })
        assert.deepEqual(wasm, cutPoints(data, profile, { engine: 'reference' }))
        assertTiles(wasm, data.length, profile)
      }
    })

    it('agrees on inputs around min and max, including empty', () => {
      const profile: ChunkerProfile = { name: 'edges', min: 4096, avg: 8192, max: 16384, normalization: 1 }
      const data = pseudoRandomBytes(40_000, 99)
      for (const length of [0, 1, 2, 4095, 4096, 4097, 8191, 8192, 8193, 16383, 16384, 16385, 32768, 32769]) {
        const input = data.subarray(0, length)
        const wasm = cutPoints(input, profile, { engine: 'wasm' })
        assert.deepEqual(wasm, cutPoints(input, profile, { engine: 'reference' }), `length ${length}`)
        assertTiles(wasm, length, profile)
      }
      assert.deepEqual(cutPoints(new Uint8Array(0), profile), [])
      assert.deepEqual(cutPoints(data.subarray(0, 100), profile), [{ offset: 0, length: 100, hash: 0n }], 'a tail no longer than min has hash 0')
    })
  })
})
