/**
 * The WebAssembly backend of BLAKE3-256 (hash-wasm, ~650 MB/s here): what blake3.ts uses where the native
 * binary is missing, and what the tests cross-check it against. hash-wasm only creates hashers asynchronously,
 * so this module creates its two instances once, at load, and everything after that is synchronous.
 */
import { createBLAKE3 } from 'hash-wasm'
import type { IHasher } from 'hash-wasm'

export interface Blake3Hasher {
  update(bytes: Uint8Array): this
  /** the digest of everything so far; the hasher may go on being updated */
  digest(): Uint8Array
}

/** Serves blake3(): init, update and digest in one synchronous call, so no caller can interleave. */
const oneShot = await createBLAKE3()
/**
 * Serves every Blake3Hasher. Each hasher keeps its own state and moves it in and out of this instance
 * (hash-wasm save/load) only when another hasher used it in between, so any number of hashers can be
 * interleaved and a lone hasher pays nothing.
 */
const shared = await createBLAKE3()
let owner: StreamingBlake3 | null = null

/** blake3() in WebAssembly. */
export function blake3Wasm (bytes: Uint8Array): Uint8Array {
  return oneShot.init().update(bytes).digest('binary')
}

/** createBlake3() in WebAssembly. */
export function createBlake3Wasm (): Blake3Hasher {
  return new StreamingBlake3()
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
