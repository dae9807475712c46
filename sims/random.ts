/**
 * The simulator's only source of randomness (STYLE habit 9): one seed, split into independent streams per
 * subsystem (network, disk, clients, faults, Raft jitter) so that a change in how one subsystem draws numbers
 * does not reshuffle every other one — the same reason TigerBeetle's VOPR derives its PRNGs from one seed.
 */

import { seededRandom } from '../src/raft/index.ts'

/** A deterministic generator built on the Raft core's mulberry32 (src/raft/random.ts). */
export class Prng {
  private readonly next: () => number

  constructor (seed: number) {
    this.next = seededRandom(seed)
  }

  /** A number in [0, 1). */
  float (): number {
    return this.next()
  }

  /** An integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  /** An integer in [lo, hi]. */
  range (lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  /** A number in [lo, hi). */
  between (lo: number, hi: number): number {
    return lo + this.next() * (hi - lo)
  }

  chance (p: number): boolean {
    return this.next() < p
  }

  pick<T> (xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]
  }

  /** Pick a key of `weights` with probability proportional to its weight. */
  weighted<K extends string> (weights: Readonly<Record<K, number>>): K {
    const keys = Object.keys(weights) as K[]
    const total = keys.reduce((sum, k) => sum + weights[k], 0)
    let r = this.next() * total
    for (const k of keys) {
      r -= weights[k]
      if (r < 0) {
        return k
      }
    }
    return keys[keys.length - 1]
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffled<T> (xs: readonly T[]): T[] {
    const out = [...xs]
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const tmp = out[i]
      out[i] = out[j]
      out[j] = tmp
    }
    return out
  }

  /** A 32-bit seed for a sub-generator (or for the Raft core's injected `random`). */
  seed32 (): number {
    return Math.floor(this.next() * 2 ** 32) >>> 0
  }

  /** An independent stream derived from this one. */
  fork (): Prng {
    return new Prng(this.seed32())
  }
}
