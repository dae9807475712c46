// FastCDC 2020 gear-hash cut search, compiled to WebAssembly by scripts/build-wasm.mjs.
//
// The host (src/fastcdc/wasm.ts) owns everything but the inner loop: it writes the (seeded) gear tables,
// the sizes and masks, and the bytes to cut into this module's memory, so the table and the seed rules
// exist once, in TypeScript. This file only mirrors `cut` of src/fastcdc/reference.ts with native u64
// arithmetic and unchecked loads, which is what makes it several times faster than the JS reference.

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
  const sLs = maskS << 1
  const s = maskS
  const lLs = maskL << 1
  const l = maskL
  let hash: u64 = 0
  let p = source + ((minSize >> 1) << 1)
  // Below the expected size the stricter mask makes cuts rarer (normalized chunking, FastCDC 2020 §3.5).
  let stop = source + ((center >> 1) << 1)
  while (p < stop) {
    hash = (hash << 2) + load<u64>(<usize>load<u8>(p) << 3, GEAR_LS)
    if ((hash & sLs) == 0) {
      hashAtCut = hash
      return p - source
    }
    hash += load<u64>(<usize>load<u8>(p, 1) << 3, GEAR)
    if ((hash & s) == 0) {
      hashAtCut = hash
      return p - source + 1
    }
    p += 2
  }
  stop = source + ((remaining >> 1) << 1)
  while (p < stop) {
    hash = (hash << 2) + load<u64>(<usize>load<u8>(p) << 3, GEAR_LS)
    if ((hash & lLs) == 0) {
      hashAtCut = hash
      return p - source
    }
    hash += load<u64>(<usize>load<u8>(p, 1) << 3, GEAR)
    if ((hash & l) == 0) {
      hashAtCut = hash
      return p - source + 1
    }
    p += 2
  }
  hashAtCut = hash
  return remaining
}
