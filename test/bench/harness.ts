/**
 * Shared pieces of `npm run bench` (DESIGN §9): each `*.bench.ts` exports `benches: Bench[]`; a bench
 * measures the project and its baseline in the same run, alternating, and reports medians and the ratio.
 */
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes, randomFillSync } from 'node:crypto'
import { once } from 'node:events'

export interface BenchResult {
  bench: string
  metric: string
  value: number
  baseline: string
  baseline_value: number
  ratio: number
  [extra: string]: unknown
}

export interface BenchContext {
  /** a scratch directory on the disk under test, removed after the run */
  tmpDir: string
  /** how many measured runs of each side make a median */
  runs: number
  log(message: string): void
}

export interface Bench {
  name: string
  description: string
  run(ctx: BenchContext): Promise<BenchResult[]>
}

export function median (xs: number[]): number {
  if (xs.length === 0) throw new Error('median of no samples')
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

export function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))]
}

/** Build a result; `higherIsBetter` says whether the ratio is value/baseline (throughput) or baseline/value (latency). */
export function result (bench: string, metric: string, value: number, baseline: string, baselineValue: number, higherIsBetter = true, extra: Record<string, unknown> = {}): BenchResult {
  const ratio = higherIsBetter ? value / baselineValue : baselineValue / value
  return { bench, metric, value: round(value), baseline, baseline_value: round(baselineValue), ratio: round(ratio), ...extra }
}

function round (x: number): number {
  return Math.round(x * 100) / 100
}

const PIECE_BYTES = 4 * 1024 * 1024

/** Write `bytes` of random data to `path`, streaming (never the whole file in memory). */
export async function randomFile (path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path)
  const piece = Buffer.alloc(PIECE_BYTES)
  for (let left = bytes; left > 0; left -= PIECE_BYTES) {
    const n = Math.min(left, PIECE_BYTES)
    randomFillSync(piece, 0, n)
    if (!out.write(Buffer.from(piece.subarray(0, n)))) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

/** The small-file benches' tree: a project's sidecars, proxies' metadata, an image sequence's small frames. */
export const SMALL_TREE = { files: 3000, folders: 30 }

/** SMALL_TREE's files of random data, sizes spread evenly over 1-64 KiB, in its folders. Returns the bytes written. */
export async function randomTree (dir: string, { files, folders } = SMALL_TREE): Promise<number> {
  let total = 0
  for (let f = 0; f < folders; f++) await mkdir(join(dir, `folder-${f}`), { recursive: true })
  for (let i = 0; i < files; i++) {
    const size = 1024 + Math.floor(Math.random() * 63 * 1024)
    await writeFile(join(dir, `folder-${i % folders}`, `file-${i}.bin`), randomBytes(size))
    total += size
  }
  return total
}

/**
 * sync(1), untimed, before each timed command of a comparison: cp and Helia never fsync, so without it the kernel
 * writes back their ~1 GiB of dirty pages (and the deletes of the previous run) while the next command is timed —
 * dits' add comes right after Helia's — and one side pays for the other's writes. Each starts from a clean page cache.
 */
export async function settle (): Promise<void> {
  await timeCommand('sync', [])
}

export interface TimedRun {
  ms: number
  /** peak resident set of the command, from /usr/bin/time */
  maxRssKiB: number
  stdout: string
}

/** Run a command to completion, timing it and reading its peak RSS with GNU time. */
export async function timeCommand (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<TimedRun> {
  const started = performance.now()
  const child = spawn('/usr/bin/time', ['-f', '__MAXRSS__%M', cmd, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const [code] = await once(child, 'close') as [number]
  const ms = performance.now() - started
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`)
  const m = /__MAXRSS__(\d+)/.exec(stderr)
  return { ms, maxRssKiB: m == null ? NaN : Number(m[1]), stdout }
}

export const MB = 1e6
export const MiB = 1024 * 1024
