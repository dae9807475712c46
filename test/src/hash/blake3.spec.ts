import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js'
import { BLAKE3_DIGEST_BYTES, BLAKE3_BACKEND, blake3 as defaultBlake3, createBlake3 as defaultCreateBlake3 } from '../../../src/hash/blake3.ts'
import { blake3Wasm, createBlake3Wasm } from '../../../src/hash/blake3-wasm.ts'
import type { Blake3Hasher } from '../../../src/hash/blake3.ts'

/** test/vectors/ in the repo (sources in its README), found from dist/test/src/hash/. */
const TESTDATA = new URL('test/vectors/', new URL('../../../../', import.meta.url))

interface Blake3Vectors {
  cases: Array<{ input_len: number, hash: string }>
}

const vectors = JSON.parse(readFileSync(fileURLToPath(new URL('blake3/test_vectors.json', TESTDATA)), 'utf8')) as Blake3Vectors

/** The official vectors' input: bytes 0, 1, …, 250, 0, 1, … */
function vectorInput (length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => i % 251)
}

function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

/** Deterministic xorshift32 stream, so a failure replays from its seed. */
function prng (seed: number): (n: number) => number {
  let x = seed
  return n => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
}

function randomBytes (length: number, next: (n: number) => number): Uint8Array {
  return Uint8Array.from({ length }, () => next(256))
}

/** Feeds `bytes` to a streaming hasher in random pieces (empty ones included). */
function hashInPieces (createBlake3: () => Blake3Hasher, bytes: Uint8Array, next: (n: number) => number): Uint8Array {
  const hasher = createBlake3()
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, next(5000))
    hasher.update(bytes.subarray(at, at + n))
    at += n
  }
  return hasher.digest()
}

const BACKENDS = [
  { name: `default (${BLAKE3_BACKEND})`, blake3: defaultBlake3, createBlake3: defaultCreateBlake3 },
  { name: 'wasm', blake3: blake3Wasm, createBlake3: createBlake3Wasm }
]

describe('hash', () => {
  it('uses the native backend where its binary is installed', () => {
    assert.equal(BLAKE3_BACKEND, 'native')
  })

  for (const { name, blake3, createBlake3 } of BACKENDS) describe(`blake3 — ${name} backend`, () => {
    it('has the official vector file', () => {
      assert.equal(vectors.cases.length, 35)
    })

    describe('official test vectors (first 32 bytes of the extended output)', () => {
      for (const { input_len: length, hash } of vectors.cases) {
        it(`input length ${length}`, () => {
          const input = vectorInput(length)
          const expected = hash.slice(0, 2 * BLAKE3_DIGEST_BYTES)
          assert.equal(toHex(blake3(input)), expected, 'blake3()')
          assert.equal(toHex(hashInPieces(createBlake3, input, prng(length + 1))), expected, 'createBlake3() in pieces')
        })
      }
    })

    it('matches @noble/hashes on random inputs of random sizes', () => {
      const next = prng(0x5eed)
      const sizes = [0, 1, 1023, 1024, 1025, 16383, 16384, 16385, 65536, 1024 * 1024 + 7]
      for (let i = 0; i < 40; i++) sizes.push(next(200_000))
      for (const size of sizes) {
        const input = randomBytes(size, next)
        const expected = toHex(nobleBlake3(input))
        assert.equal(toHex(blake3(input)), expected, `blake3() of ${size} bytes`)
        assert.equal(toHex(hashInPieces(createBlake3, input, next)), expected, `createBlake3() of ${size} bytes`)
      }
    })

    it('returns a 32-byte digest that is the caller\'s to keep', () => {
      const a = blake3(vectorInput(10))
      const b = blake3(vectorInput(11))
      assert.equal(a.length, BLAKE3_DIGEST_BYTES)
      assert.notEqual(toHex(a), toHex(b))
      assert.equal(toHex(a), toHex(nobleBlake3(vectorInput(10))))
    })

    it('keeps interleaved streaming hashers and blake3() calls independent', () => {
      const next = prng(7)
      const inputs = [randomBytes(300_000, next), randomBytes(70_001, next), randomBytes(5, next)]
      const hashers = inputs.map(() => createBlake3())
      const offsets = inputs.map(() => 0)
      while (offsets.some((at, i) => at < inputs[i].length)) {
        const i = next(inputs.length)
        const n = Math.min(inputs[i].length - offsets[i], next(20_000))
        hashers[i].update(inputs[i].subarray(offsets[i], offsets[i] + n))
        offsets[i] += n
        // one-shot hashing in between must not disturb the streaming states
        assert.equal(toHex(blake3(inputs[2])), toHex(nobleBlake3(inputs[2])))
      }
      hashers.forEach((h, i) => { assert.equal(toHex(h.digest()), toHex(nobleBlake3(inputs[i])), `hasher ${i}`) })
    })

    it('lets a hasher go on after digest()', () => {
      const input = vectorInput(5000)
      const hasher = createBlake3().update(input.subarray(0, 1000))
      assert.equal(toHex(hasher.digest()), toHex(nobleBlake3(input.subarray(0, 1000))))
      assert.equal(toHex(hasher.digest()), toHex(nobleBlake3(input.subarray(0, 1000))), 'digest() twice')
      createBlake3().update(input).digest()
      hasher.update(input.subarray(1000))
      assert.equal(toHex(hasher.digest()), toHex(nobleBlake3(input)))
    })

    it('digests the empty input', () => {
      assert.equal(toHex(createBlake3().digest()), toHex(nobleBlake3(new Uint8Array(0))))
    })
  })
})
