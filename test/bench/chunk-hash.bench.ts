/**
 * The chunking and hashing fast path (DESIGN §1): WASM FastCDC against the plain-JS reference, BLAKE3
 * against `b3sum` on one thread, and chunk+hash of a file (`add`'s pipeline) against merely reading it.
 */
import { spawnSync } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { chunkAndHash, chunkAndHashSequential } from '../../node/chunk-pipeline.ts'
import { PROFILES, cutPoints } from '../../src/fastcdc/index.ts'
import { createBlake3 } from '../../src/hash/index.ts'
import { MB, MiB, median, randomFile, result, timeCommand } from './harness.ts'
import type { Bench, BenchContext, BenchResult } from './harness.ts'
import type { HashedChunk } from '../../node/chunk-pipeline.ts'
import type { GearEngineName } from '../../src/fastcdc/index.ts'

const CHUNK_BENCH_BYTES = 256 * MiB
const FILE_BENCH_BYTES = 1024 * MiB
/** `add` reads files in pieces of this size too (node/adder.ts). */
const READ_PIECE_BYTES = 4 * MiB
/** randomFillSync fills at most 2^31 - 1 bytes per call; stay well below. */
const RANDOM_FILL_BYTES = 64 * MiB

function mbPerSecond (bytes: number, ms: number): number {
  return bytes / MB / (ms / 1000)
}

function timed<T> (fn: () => T): { value: T, ms: number } {
  const started = performance.now()
  const value = fn()
  return { value, ms: performance.now() - started }
}

async function timedAsync<T> (fn: () => Promise<T>): Promise<{ value: T, ms: number }> {
  const started = performance.now()
  const value = await fn()
  return { value, ms: performance.now() - started }
}

const chunk: Bench = {
  name: 'chunk',
  description: `FastCDC media profile over ${CHUNK_BENCH_BYTES / MiB} MiB in memory: WASM engine vs the plain-JS reference`,
  async run (ctx: BenchContext): Promise<BenchResult[]> {
    const data = new Uint8Array(CHUNK_BENCH_BYTES)
    for (let at = 0; at < data.length; at += RANDOM_FILL_BYTES) randomFillSync(data, at, Math.min(RANDOM_FILL_BYTES, data.length - at))
    const run = (engine: GearEngineName): number => {
      const { value: chunks, ms } = timed(() => cutPoints(data, PROFILES.media, { engine }))
      ctx.log(`chunk ${engine}: ${chunks.length} chunks, ${mbPerSecond(data.length, ms).toFixed(0)} MB/s`)
      return mbPerSecond(data.length, ms)
    }
    const wasm: number[] = []
    const reference: number[] = []
    for (let i = 0; i < ctx.runs; i++) {
      wasm.push(run('wasm'))
      reference.push(run('reference'))
    }
    return [result('chunk', 'MB/s', median(wasm), 'fastcdc-js-reference', median(reference))]
  }
}

/** Hashes a file in READ_PIECE_BYTES pieces through one reused buffer. */
async function blake3File (path: string): Promise<string> {
  const file = await open(path)
  try {
    const hasher = createBlake3()
    const piece = new Uint8Array(READ_PIECE_BYTES)
    for (let n = (await file.read(piece, 0, piece.length, null)).bytesRead; n > 0; n = (await file.read(piece, 0, piece.length, null)).bytesRead) {
      hasher.update(piece.subarray(0, n))
    }
    return Buffer.from(hasher.digest()).toString('hex')
  } finally {
    await file.close()
  }
}

function hasB3sum (): boolean {
  return spawnSync('b3sum', ['--version']).error === undefined
}

const hash: Bench = {
  name: 'hash',
  description: `BLAKE3 of a ${FILE_BENCH_BYTES / MiB} MiB file read in ${READ_PIECE_BYTES / MiB} MiB pieces vs b3sum --num-threads 1`,
  async run (ctx: BenchContext): Promise<BenchResult[]> {
    const path = join(ctx.tmpDir, 'hash.bin')
    await randomFile(path, FILE_BENCH_BYTES)
    const b3sum = hasB3sum()
    if (!b3sum) ctx.log('hash: b3sum is not installed (apt-get install b3sum); measuring without its baseline')
    const ours: number[] = []
    const theirs: number[] = []
    for (let i = 0; i < ctx.runs; i++) {
      const { value: digest, ms } = await timedAsync(async () => await blake3File(path))
      ours.push(mbPerSecond(FILE_BENCH_BYTES, ms))
      ctx.log(`hash dits: ${ours[i].toFixed(0)} MB/s`)
      if (!b3sum) continue
      const run = await timeCommand('b3sum', ['--num-threads', '1', path])
      theirs.push(mbPerSecond(FILE_BENCH_BYTES, run.ms))
      ctx.log(`hash b3sum: ${theirs[i].toFixed(0)} MB/s`)
      const expected = run.stdout.split(' ')[0]
      if (digest !== expected) throw new Error(`BLAKE3 of ${path}: ours ${digest}, b3sum ${expected}`)
    }
    if (!b3sum) {
      return [{ bench: 'hash', metric: 'MB/s', value: Math.round(median(ours)), baseline: 'b3sum (not installed)', baseline_value: NaN, ratio: NaN }]
    }
    return [result('hash', 'MB/s', median(ours), 'b3sum --num-threads 1', median(theirs))]
  }
}

async function drain (chunks: AsyncIterable<HashedChunk>): Promise<number> {
  let count = 0
  for await (const _ of chunks) count++
  return count
}

const chunkHash: Bench = {
  name: 'chunk-hash',
  description: `chunkAndHash (media profile) of a ${FILE_BENCH_BYTES / MiB} MiB file vs cat file > /dev/null`,
  async run (ctx: BenchContext): Promise<BenchResult[]> {
    const path = join(ctx.tmpDir, 'chunk-hash.bin')
    await randomFile(path, FILE_BENCH_BYTES)
    const read = (): AsyncIterable<Uint8Array> => createReadStream(path, { highWaterMark: READ_PIECE_BYTES })
    const pipeline: number[] = []
    const sequential: number[] = []
    const cat: number[] = []
    for (let i = 0; i < ctx.runs; i++) {
      const parallel = await timedAsync(async () => await drain(chunkAndHash(read(), PROFILES.media)))
      pipeline.push(mbPerSecond(FILE_BENCH_BYTES, parallel.ms))
      const { ms } = await timeCommand('sh', ['-c', 'cat "$1" > /dev/null', 'sh', path])
      cat.push(mbPerSecond(FILE_BENCH_BYTES, ms))
      const alone = await timedAsync(async () => await drain(chunkAndHashSequential(read(), PROFILES.media)))
      sequential.push(mbPerSecond(FILE_BENCH_BYTES, alone.ms))
      ctx.log(`chunk-hash: pipeline ${pipeline[i].toFixed(0)} MB/s (${parallel.value} chunks), cat ${cat[i].toFixed(0)} MB/s, one thread ${sequential[i].toFixed(0)} MB/s`)
    }
    return [result('chunk-hash', 'MB/s', median(pipeline), 'cat', median(cat), true, { one_thread_MBps: Math.round(median(sequential)) })]
  }
}

export const benches: Bench[] = [chunk, hash, chunkHash]
