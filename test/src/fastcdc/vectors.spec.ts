import assert from 'node:assert/strict'
import { blake3 } from '../../../src/hash/index.ts'
import { cutPoints } from '../../../src/fastcdc/index.ts'
import type { ChunkerProfile, GearEngineName } from '../../../src/fastcdc/index.ts'
import { fastcdcVectors } from './testdata.ts'

const ENGINES: GearEngineName[] = ['reference', 'wasm']

function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

describe('fastcdc', () => {
  describe('reference crate vectors (fastcdc v2020, SekienAkashita.jpg)', () => {
    const { vectors, file } = fastcdcVectors()

    it('has the expected fixture', () => {
      assert.equal(file.length, 109466)
      assert.equal(vectors.cases.length, 6)
    })

    for (const engine of ENGINES) {
      describe(`${engine} engine`, () => {
        for (const c of vectors.cases) {
          it(`min ${c.min} avg ${c.avg} max ${c.max} normalization ${c.normalization} seed ${c.seed}`, () => {
            const profile: ChunkerProfile = { name: 'vector', min: c.min, avg: c.avg, max: c.max, normalization: c.normalization, seed: c.seed }
            const chunks = cutPoints(file, profile, { engine })
            let offset = 0
            const expected = c.chunks.map(e => {
              const position = { offset, length: e.length, hash: BigInt(e.hash) }
              if (e.offset !== undefined) assert.equal(e.offset, offset, 'vector offsets are consecutive')
              offset += e.length
              return position
            })
            assert.deepEqual(chunks, expected)
            c.chunks.forEach((e, i) => {
              if (e.blake3 === undefined) return
              const { offset, length } = chunks[i]
              assert.equal(toHex(blake3(file.subarray(offset, offset + length))), e.blake3, `blake3 of chunk ${i}`)
            })
          })
        }

        it('cuts all-zero input at max with the crate\'s hash (crate test_cut_all_zeros)', () => {
          const chunks = cutPoints(new Uint8Array(10240), { name: 'zeros', min: 64, avg: 256, max: 1024, normalization: 1 }, { engine })
          assert.equal(chunks.length, 10)
          for (const chunk of chunks) {
            assert.equal(chunk.length, 1024)
            assert.equal(chunk.hash, 14169102344523991076n)
          }
        })
      })
    }
  })
})
