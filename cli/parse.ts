/**
 * Parsers for option values, with errors that name the option, the value and what is allowed.
 */
import { UsageError } from '../src/errors.ts'

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3 }

/** `50MB/s`, `10MiB`, `1g` → bytes (per second). */
export function parseRate (option: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*(?:\/s)?\s*$/i.exec(text)
  const unit = m == null ? undefined : BYTE_UNITS[m[2].toLowerCase()]
  if (m == null || unit === undefined || Number(m[1]) <= 0) {
    throw new UsageError(`invalid ${option} "${text}": expected a positive amount with an optional unit (B, KB, MB, GB, KiB, MiB, GiB) and optional "/s", e.g. 50MB/s`)
  }
  return Math.round(Number(m[1]) * unit)
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** `30s`, `500ms`, `2m`, `1h` → milliseconds. */
export function parseDuration (option: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(text)
  if (m == null) throw new UsageError(`invalid ${option} "${text}": expected a duration such as 500ms, 30s, 5m or 1h`)
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]])
}

export function parseCount (option: string, text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`invalid ${option} "${text}": expected a whole number >= 0`)
  return n
}
