// FastCDC 2020 gear-hash cut search, compiled to WebAssembly by scripts/build-wasm.mjs.
//
// The host (src/fastcdc/wasm.ts) owns everything but the inner loop: it writes the (seeded) gear tables,
// the sizes and masks, and the bytes to cut into this module's memory, so the table and the seed rules
// exist once, in TypeScript. This file only mirrors `cut` of src/fastcdc/reference.ts with native u64
// arithmetic, unchecked loads and an unrolled loop (see `scan`), which is what makes it several times
// faster than the JS reference.

const GEAR_BYTES: i32 = 256 * 8

/** GEAR[b] for each byte value b (FastCDC 2020 §3.2). */
const GEAR: usize = memory.data(GEAR_BYTES, 16)
/** GEAR[b] << 1, for the even byte of each "rolling two bytes" step (FastCDC 2020 §3.7). */
const GEAR_LS: usize = memory.data(GEAR_BYTES, 16)
/** The working buffer starts after all static data and grows with the memory. */
const BUFFER: usize = (__heap_base + 15) & ~15

const WASM_PAGE_BYTES: usize = 65536

let minSize: usize = 0
let avgSize: usize = 0
let maxSize: usize = 0
let maskS: u64 = 0
let maskL: u64 = 0
let hashAtCut: u64 = 0

export function gearTable (): usize {
  return GEAR
}

export function gearLsTable (): usize {
  return GEAR_LS
}

export function buffer (): usize {
  return BUFFER
}

/** Grows the memory so that `bytes` fit in the working buffer; false when the host refuses. */
export function reserve (bytes: usize): bool {
  const pages = <i32>((BUFFER + bytes + WASM_PAGE_BYTES - 1) / WASM_PAGE_BYTES)
  const missing = pages - memory.size()
  return missing <= 0 || memory.grow(missing) >= 0
}

export function configure (min: usize, avg: usize, max: usize, maskSmall: u64, maskLarge: u64): void {
  minSize = min
  avgSize = avg
  maxSize = max
  maskS = maskSmall
  maskL = maskLarge
}

/** The gear hash at the last cut; 0 when the last cut was a tail no longer than the minimum. */
export function lastHash (): u64 {
  return hashAtCut
}

/** The hash where the last `scan` stopped, at a cut or at the end of its range. */
let rolled: u64 = 0

/** What `scan` returns when its range holds no cut. */
const NO_CUT: usize = <usize>-1

/** GEAR[b] << 1, for the even byte of a pair. */
// @ts-ignore: decorator
@inline function gearLs (b: u8): u64 {
  return load<u64>(<usize>b << 3, GEAR_LS)
}

/** GEAR[b] for the odd byte of a pair. */
// @ts-ignore: decorator
@inline function gear (b: u8): u64 {
  return load<u64>(<usize>b << 3, GEAR)
}

// @ts-ignore: decorator
@inline function cutAt (hash: u64, length: usize): usize {
  rolled = hash
  return length
}

/**
 * Rolls `hash` over the byte pairs of [p, stop) and returns the length from `source` of the first cut
 * (`maskLs` tested after the even byte of a pair, `mask` after the odd one), or NO_CUT.
 *
 * The step per pair is the crate's, unchanged: `hash = (hash << 2) + GEAR_LS[b0]`, test, `hash += GEAR[b1]`,
 * test. The loop is unrolled by 16 bytes because it behaves as bound by instruction throughput rather
 * than by the hash's dependency chain: dropping the pointer bump, compare and back branch of 7 of every 8
 * pairs took the in-process chunk measurement from ~2150 to ~2800 MB/s (unrolled by 8: ~2700; by 32: no
 * better). Measured and not kept, all slower: taking `GEAR_LS[b0] + GEAR[b1]` off the chain
 * (`hash = (hash << 2) + (GEAR_LS[b0] + GEAR[b1])`: one more add per pair, -7 to -10%), and loading 2, 4
 * or 8 bytes at once and extracting them with shifts and masks (-10 to -18% against byte loads, whose
 * constant offsets fold into the load instruction).
 */
// @ts-ignore: decorator
@inline function scan (source: usize, p: usize, stop: usize, hash: u64, maskLs: u64, mask: u64): usize {
  while (p + 16 <= stop) {
    hash = (hash << 2) + gearLs(load<u8>(p, 0)); if ((hash & maskLs) == 0) return cutAt(hash, p - source)
    hash += gear(load<u8>(p, 1)); if ((hash & mask) == 0) return cutAt(hash, p - source + 1)
    hash = (hash << 2) + gearLs(load<u8>(p, 2)); if ((hash & maskLs) == 0) return cutAt(hash, p - source + 2)
    hash += gear(load<u8>(p, 3)); if ((hash & mask) == 0) return cutAt(hash, p - source + 3)
    hash = (hash << 2) + gearLs(load<u8>(p, 4)); if ((hash & maskLs) == 0) return cutAt(hash, p - source + 4)
    hash += gear(load<u8>(p, 5)); if ((hash & mask) == 0) return cutAt(hash, p - source + 5)
    hash = (hash << 2) + gearLs(load<u8>(p, 6)); if ((hash & maskLs) == 0) return cutAt(hash, p - source + 6)
    hash += gear(load<u8>(p, 7)); if ((hash & mask) == 0) return cutAt(hash, p - source + 7)
    hash = (hash << 2) + gearLs(load<u8>(p, 8)); if ((hash & maskLs) == 0) return cutAt(hash, p - source + 8)
    hash += gear(load<u8>(p, 9)); if ((hash & mask) == 0) return cutAt(hash, p - source + 9)
    hash = (hash << 2) + gearLs(load<u8>(p, 10)); if ((hash & maskLs) == 0) return cutAt(hash, p - source + 10)
    hash += gear(load<u8>(p, 11)); if ((hash & mask) == 0) return cutAt(hash, p - source + 11)
    hash = (hash << 2) + gearLs(load<u8>(p, 12)); if ((hash & maskLs) == 0) return cutAt(hash, p - source + 12)
    hash += gear(load<u8>(p, 13)); if ((hash & mask) == 0) return cutAt(hash, p - source + 13)
    hash = (hash << 2) + gearLs(load<u8>(p, 14)); if ((hash & maskLs) == 0) return cutAt(hash, p - source + 14)
    hash += gear(load<u8>(p, 15)); if ((hash & mask) == 0) return cutAt(hash, p - source + 15)
    p += 16
  }
  // The 0 to 7 pairs left over, one at a time.
  while (p < stop) {
    hash = (hash << 2) + gearLs(load<u8>(p, 0)); if ((hash & maskLs) == 0) return cutAt(hash, p - source)
    hash += gear(load<u8>(p, 1)); if ((hash & mask) == 0) return cutAt(hash, p - source + 1)
    p += 2
  }
  rolled = hash
  return NO_CUT
}

/**
 * Length of the next chunk of buffer[start, end): the crate's `v2020::cut`, step for step. A match at the
 * even byte of a pair cuts before that byte, a match at the odd byte cuts after it (as the crate does).
 */
export function cut (start: usize, end: usize): usize {
  const source = BUFFER + start
  let remaining = end - start
  if (remaining <= minSize) {
    hashAtCut = 0
    return remaining
  }
  let center = avgSize
  if (remaining > maxSize) {
    remaining = maxSize
  } else if (remaining < center) {
    center = remaining
  }
  const from = source + ((minSize >> 1) << 1)
  const middle = source + ((center >> 1) << 1)
  // Below the expected size the stricter mask makes cuts rarer (normalized chunking, FastCDC 2020 §3.5).
  let length = scan(source, from, middle, 0, maskS << 1, maskS)
  if (length == NO_CUT) length = scan(source, middle, source + ((remaining >> 1) << 1), rolled, maskL << 1, maskL)
  if (length == NO_CUT) length = remaining
  hashAtCut = rolled
  return length
}
