/** How the page writes numbers for people: sizes and rates in SI units (as the CLI does), times in words. */

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']

/** 1234567 → "1.23 MB" */
export function bytes (n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—'
  let i = 0
  let v = n
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000
    i++
  }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${UNITS[i]}`
}

/** bytes per second → "12.3 MB/s" */
export function rate (n: number): string {
  return n <= 0 ? '0 B/s' : `${bytes(Math.round(n))}/s`
}

/** seconds → "45 s", "3 min 05 s", "2 h 07 min" */
export function duration (sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '—'
  const s = Math.round(sec)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}

/** a time → "12 s ago" */
export function ago (at: number, now: number): string {
  return now - at < 1000 ? 'just now' : `${duration((now - at) / 1000)} ago`
}

/** a time of day, local: "14:03:27" */
export function clock (at: number): string {
  return new Date(at).toLocaleTimeString([], { hour12: false })
}

export function percent (part: number, whole: number): string {
  if (whole <= 0) return '—'
  const p = 100 * part / whole
  return `${p >= 99.95 && part < whole ? '99.9' : p.toFixed(p < 10 && p > 0 ? 1 : 0)} %`
}

/** "12D3Ko…x7Qa": enough of a peer id to tell peers apart */
export function shortId (id: string): string {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-4)}` : id
}

export function shortCid (cid: string): string {
  return cid.length > 20 ? `${cid.slice(0, 10)}…${cid.slice(-6)}` : cid
}
