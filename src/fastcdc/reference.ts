/**
 * The plain-JavaScript FastCDC 2020 engine: the readable statement of the algorithm that the WASM engine
 * (assembly/gear.ts) is tested against, and the baseline of the `chunk` benchmark.
 *
 * JavaScript has no fast u64 (BigInt arithmetic per byte would be far slower), so the 64-bit gear hash is
 * kept as two 32-bit halves, hi and lo, and each step is done modulo 2^64 by hand. The halves are held as
 * int32 (`| 0`), which V8 keeps in registers; only comparisons read them as unsigned (`>>> 0`).
 */
import type { GearEngine, GearParams } from './gear.ts'

/** A u64 as its high and low 32 bits (each as an int32). */
interface Halves {
  hi: number
  lo: number
}

function halves (value: bigint): Halves {
  return { hi: Number(BigInt.asIntN(32, value >> 32n)), lo: Number(BigInt.asIntN(32, value)) }
}

function splitTable (table: BigUint64Array): { hi: Int32Array, lo: Int32Array } {
  const hi = new Int32Array(table.length)
  const lo = new Int32Array(table.length)
  table.forEach((v, i) => {
    ({ hi: hi[i], lo: lo[i] } = halves(v))
  })
  return { hi, lo }
}

export class ReferenceEngine implements GearEngine {
  readonly memory: Uint8Array
  private readonly minSize: number
  private readonly avgSize: number
  private readonly maxSize: number
  private readonly gearHi: Int32Array
  private readonly gearLo: Int32Array
  private readonly gearLsHi: Int32Array
  private readonly gearLsLo: Int32Array
  private readonly maskS: Halves
  private readonly maskL: Halves
  private hashAtCut = 0n

  constructor (params: GearParams, capacityBytes: number) {
    this.memory = new Uint8Array(capacityBytes)
    this.minSize = params.minSize
    this.avgSize = params.avgSize
    this.maxSize = params.maxSize
    ;({ hi: this.gearHi, lo: this.gearLo } = splitTable(params.gear))
    ;({ hi: this.gearLsHi, lo: this.gearLsLo } = splitTable(params.gearLs))
    this.maskS = halves(params.maskS)
    this.maskL = halves(params.maskL)
  }

  lastHash (): bigint {
    return this.hashAtCut
  }

  /**
   * The crate's `v2020::cut`: skip the first minSize bytes (sub-minimum cut-point skipping), look for a
   * cut with the stricter mask up to avgSize and with the looser one up to maxSize (normalized chunking,
   * FastCDC 2020 §3.5), two bytes per step: `hash = (hash << 2) + GEAR_LS[even byte]`, test against
   * mask << 1, then `hash += GEAR[odd byte]`, test against mask (FastCDC 2020 §3.7). A match at the even
   * byte cuts before it, as in the crate.
   */
  cut (start: number, end: number): number {
    const source = this.memory
    let remaining = end - start
    if (remaining <= this.minSize) {
      this.hashAtCut = 0n
      return remaining
    }
    let center = this.avgSize
    if (remaining > this.maxSize) {
      remaining = this.maxSize
    } else if (remaining < center) {
      center = remaining
    }
    const { gearHi, gearLo, gearLsHi, gearLsLo } = this
    let hi = 0
    let lo = 0
    let index = this.minSize >>> 1
    for (const [stopIndex, mask] of [[center >>> 1, this.maskS], [remaining >>> 1, this.maskL]] as const) {
      const maskHi = mask.hi
      const maskLo = mask.lo
      const maskLsHi = (mask.hi << 1) | (mask.lo >>> 31)
      const maskLsLo = mask.lo << 1
      for (; index < stopIndex; index++) {
        const a = start + index * 2
        // hash = (hash << 2) + GEAR_LS[source[a]]: the low half wraps, and carries when the sum is
        // (unsigned) below the addend.
        const even = source[a]
        let add = gearLsLo[even]
        let sum = ((lo << 2) + add) | 0
        hi = (((hi << 2) | (lo >>> 30)) + gearLsHi[even] + ((sum >>> 0) < (add >>> 0) ? 1 : 0)) | 0
        lo = sum
        if ((hi & maskLsHi) === 0 && (lo & maskLsLo) === 0) {
          return this.cutAt(a - start, hi, lo)
        }
        // hash += GEAR[source[a + 1]]
        const odd = source[a + 1]
        add = gearLo[odd]
        sum = (lo + add) | 0
        hi = (hi + gearHi[odd] + ((sum >>> 0) < (add >>> 0) ? 1 : 0)) | 0
        lo = sum
        if ((hi & maskHi) === 0 && (lo & maskLo) === 0) {
          return this.cutAt(a - start + 1, hi, lo)
        }
      }
    }
    // No cut point before maxSize (e.g. long runs of one byte value): the chunk is as long as allowed.
    return this.cutAt(remaining, hi, lo)
  }

  private cutAt (length: number, hi: number, lo: number): number {
    this.hashAtCut = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
    return length
  }
}
