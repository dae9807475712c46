/**
 * BLAKE3-256 (DESIGN §2: the hash of every chunk, manifest and whole file).
 *
 * Two backends, both tested against the official vectors and @noble/hashes (the reference):
 * - `native`: the Rust `blake3` crate with its SIMD kernels through @napi-rs/blake-hash, whose prebuilt
 *   binary ships inside a registry package (~4.3 GB/s here, 1 thread);
 * - `wasm`: hash-wasm's WebAssembly build (~650 MB/s here, blake3-wasm.ts), used where no native binary exists
 *   for the platform. It is loaded only then: importing it and creating its instances took ~25 ms of every
 *   process's start (and of the chunk worker's).
 */
import type { Blake3Hasher } from './blake3-wasm.ts'

export type { Blake3Hasher } from './blake3-wasm.ts'

export const BLAKE3_DIGEST_BYTES = 32

interface NativeBlake3 {
  blake3(input: Uint8Array): Uint8Array
  Blake3Hasher: new () => { update(input: Uint8Array): unknown, digestBuffer(): Uint8Array }
}

const native = await import('@napi-rs/blake-hash').then(m => m as unknown as NativeBlake3, () => undefined)
const wasm = native === undefined ? await import('./blake3-wasm.ts') : undefined

/** Which implementation blake3() and createBlake3() use. */
export const BLAKE3_BACKEND: 'native' | 'wasm' = native !== undefined ? 'native' : 'wasm'

/** The BLAKE3-256 digest of `bytes`. */
export const blake3: (bytes: Uint8Array) => Uint8Array = native !== undefined ? native.blake3 : (wasm as typeof import('./blake3-wasm.ts')).blake3Wasm

/** An incremental BLAKE3-256, e.g. for a whole file; independent of blake3() and of other hashers. */
export function createBlake3 (): Blake3Hasher {
  return native !== undefined ? new NativeStreamingBlake3(native) : (wasm as typeof import('./blake3-wasm.ts')).createBlake3Wasm()
}

class NativeStreamingBlake3 implements Blake3Hasher {
  private readonly hasher: InstanceType<NativeBlake3['Blake3Hasher']>

  constructor (n: NativeBlake3) {
    this.hasher = new n.Blake3Hasher()
  }

  update (bytes: Uint8Array): this {
    this.hasher.update(bytes)
    return this
  }

  /** The crate's finalize() does not consume the hasher, so update() may continue. */
  digest (): Uint8Array {
    return new Uint8Array(this.hasher.digestBuffer())
  }
}
