/**
 * BLAKE3-256 (DESIGN §2: the hash of every chunk, manifest and whole file).
 *
 * Two backends, both tested against the official vectors and @noble/hashes (the reference):
 * - `native`: the Rust `blake3` crate with its SIMD kernels through @napi-rs/blake-hash, whose prebuilt
 *   binary ships inside a registry package (~4.3 GB/s here, 1 thread);
 * - `wasm`: hash-wasm's WebAssembly build (~650 MB/s here), used where no native binary exists for the
 *   platform. hash-wasm only creates hashers asynchronously, so this module creates its two instances once,
 *   at load, and everything after that is synchronous.
 */
import { createBLAKE3 } from 'hash-wasm'
import type { IHasher } from 'hash-wasm'

export const BLAKE3_DIGEST_BYTES = 32

interface NativeBlake3 {
  blake3(input: Uint8Array): Uint8Array
  Blake3Hasher: new () => { update(input: Uint8Array): unknown, digestBuffer(): Uint8Array }
}

const native = await import('@napi-rs/blake-hash').then(m => m as unknown as NativeBlake3, () => undefined)

/** Which implementation blake3() and createBlake3() use. */
export const BLAKE3_BACKEND: 'native' | 'wasm' = native !== undefined ? 'native' : 'wasm'

/** Serves blake3(): init, update and digest in one synchronous call, so no caller can interleave. */
const oneShot = await createBLAKE3()
/**
 * Serves every Blake3Hasher. Each hasher keeps its own state and moves it in and out of this instance
 * (hash-wasm save/load) only when another hasher used it in between, so any number of hashers can be
 * interleaved and a lone hasher pays nothing.
 */
const shared = await createBLAKE3()
let owner: StreamingBlake3 | null = null

/** The BLAKE3-256 digest of `bytes`. */
export const blake3: (bytes: Uint8Array) => Uint8Array = native !== undefined ? native.blake3 : blake3Wasm

/** The WebAssembly backend of blake3(), always available. */
export function blake3Wasm (bytes: Uint8Array): Uint8Array {
  return oneShot.init().update(bytes).digest('binary')
}

export interface Blake3Hasher {
  update(bytes: Uint8Array): this
  /** the digest of everything so far; the hasher may go on being updated */
  digest(): Uint8Array
}

/** An incremental BLAKE3-256, e.g. for a whole file; independent of blake3() and of other hashers. */
export function createBlake3 (): Blake3Hasher {
  return native !== undefined ? new NativeStreamingBlake3(native) : new StreamingBlake3()
}

/** The WebAssembly backend of createBlake3(), always available. */
export function createBlake3Wasm (): Blake3Hasher {
  return new StreamingBlake3()
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

class StreamingBlake3 implements Blake3Hasher {
  /** this hasher's state while another one holds `shared`; null before the first byte */
  private saved: Uint8Array | null = null

  update (bytes: Uint8Array): this {
    this.acquire().update(bytes)
    return this
  }

  digest (): Uint8Array {
    const hasher = this.acquire()
    // hash-wasm's digest ends its state; keep ours so that update() may continue afterwards.
    this.saved = hasher.save()
    owner = null
    return hasher.digest('binary')
  }

  private acquire (): IHasher {
    if (owner !== this) {
      if (owner !== null) owner.saved = shared.save()
      if (this.saved === null) shared.init()
      else shared.load(this.saved)
      owner = this
    }
    return shared
  }
}
