/**
 * Hashing: BLAKE3-256, synchronous once this module has loaded.
 *
 * @example
 * ```ts
 * import { blake3, createBlake3 } from './src/hash/index.ts'
 *
 * const digest = blake3(new TextEncoder().encode('hello'))     // 32 bytes
 * const file = createBlake3().update(piece1).update(piece2).digest()
 * ```
 */
export { BLAKE3_DIGEST_BYTES, blake3, createBlake3 } from './blake3.ts'
export type { Blake3Hasher } from './blake3.ts'
