/**
 * The project's own conformance data (test/vectors/, sources in its README), found from this file's place in
 * dist/test/src/fastcdc/ so that the specs run from any working directory and from a clone with nothing beside it.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = new URL('../../../../', import.meta.url)
const TESTDATA = new URL('test/vectors/', REPO_ROOT)

export function readTestdata (path: string): Buffer {
  return readFileSync(fileURLToPath(new URL(path, TESTDATA)))
}

export interface VectorChunk {
  hash: string
  length: number
  offset?: number
  blake3?: string
}

export interface VectorCase {
  min: number
  avg: number
  max: number
  normalization: number
  seed: number
  chunks: VectorChunk[]
}

export interface FastCdcVectors {
  file: string
  cases: VectorCase[]
}

export function fastcdcVectors (): { vectors: FastCdcVectors, file: Uint8Array } {
  const vectors = JSON.parse(readTestdata('fastcdc/vectors.json').toString('utf8')) as FastCdcVectors
  return { vectors, file: new Uint8Array(readTestdata(`fastcdc/${vectors.file}`)) }
}

/** Deterministic pseudo-random bytes (xorshift32), so that a failing case can be replayed from its seed. */
export function pseudoRandomBytes (length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** A deterministic generator of integers in [0, n), for random piece sizes. */
export function pseudoRandomInts (seed: number): (n: number) => number {
  let x = seed >>> 0 || 1
  return n => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
}
