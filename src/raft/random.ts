/**
 * A small seeded PRNG (mulberry32) so that the core's only source of randomness, the election timeout
 * jitter (Raft §5.2), is reproducible. The shell may inject any `() => number` in [0, 1) instead.
 */

/** A deterministic generator of numbers in [0, 1) from a 32-bit seed. */
export function seededRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A 32-bit FNV-1a hash of a string, to derive a per-node seed from its id. */
export function hashString (s: string): number {
  let h = 0x811C9DC5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
