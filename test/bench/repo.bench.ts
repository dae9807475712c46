/**
 * repo-1m-blocks (issue 19, "nothing grows with the data"): a repo of 1,000,000 blocks — small chunks under a few
 * pinned roots, and unpinned ones written an hour ago for gc to find — built through the repo's own blockstore, then
 * the whole CLI call of `status`, `verify`, `gc --dry-run` (each without a daemon, so the process does the work) and
 * a daemon start to its ready document (its API answers), each timed with its peak RSS. Also `status` after an unclean stop (no saved
 * counts: the recount that kept counts avoid) as the baseline of `status`.
 *
 * This file is also its own child process: `node repo.bench.js build DIR BLOCKS` builds the repo alone (to look at it
 * outside a bench run).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile, unlink, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { Repo, initRepo } from '../../node/repo.ts'
import { chunkCid } from '../../src/cid.ts'
import { FileManifestBuilder } from '../../src/manifest/index.ts'
import { PROFILES } from '../../src/fastcdc/index.ts'
import { median, result, timeCommand } from './harness.ts'
import type { Bench, BenchResult } from './harness.ts'
import { BIN } from '../helpers/cli.ts'
import type { CID } from 'multiformats/cid'

const BLOCKS = 1_000_000
/** pinned roots the live chunks are spread over */
const ROOTS = 4
/** of the blocks, the share under no pin (garbage to gc, written an hour ago) */
const GARBAGE_SHARE = 0.1
/** bytes of each chunk (small: the bench is about counts, not bytes) */
const CHUNK_BYTES = 256
/** puts in flight at once while building */
const BUILD_CONCURRENCY = 64
/** how long a daemon start may take before the bench gives up */
const START_TIMEOUT_MS = 300_000

const ENV = { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false', DITS_CONFIG_ADDRESSES__LISTEN: '["/ip4/127.0.0.1/tcp/0"]' }

/** Put `n` chunks of CHUNK_BYTES, each handed to `each` once stored. */
async function putChunks (repo: Repo, n: number, each: (cid: CID) => Promise<void>): Promise<void> {
  const pending: Array<Promise<void>> = []
  const pool = randomBytes(CHUNK_BYTES * 4096)
  for (let i = 0; i < n; i++) {
    if (i % 4096 === 0 && i > 0) pool.set(randomBytes(pool.byteLength))
    const bytes = pool.subarray((i % 4096) * CHUNK_BYTES, (i % 4096 + 1) * CHUNK_BYTES)
    const cid = chunkCid(bytes)
    pending.push(repo.blocks.put(cid, bytes, { trusted: true, inline: true }).then(async () => { await each(cid) }))
    if (pending.length >= BUILD_CONCURRENCY) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
}

/** A repo of about `blocks` blocks: ROOTS pinned file manifests over their chunks, and unpinned chunks. */
export async function buildRepo (dir: string, blocks: number, log: (m: string) => void = () => {}): Promise<{ roots: CID[] }> {
  await initRepo(dir)
  const repo = await Repo.open(dir, { write: true })
  const roots: CID[] = []
  const started = performance.now()
  try {
    const garbage = Math.round(blocks * GARBAGE_SHARE)
    const perRoot = Math.floor((blocks - garbage) / ROOTS)
    for (let r = 0; r < ROOTS; r++) {
      const builder = new FileManifestBuilder(PROFILES.small)
      const parts: Array<{ cid: CID, bytes: Uint8Array }> = []
      // the part nodes a root needs count among its blocks: fewer chunks leave room for them
      await putChunks(repo, perRoot - Math.ceil(perRoot / 8192), async cid => { parts.push(...builder.addChunk(cid, CHUNK_BYTES)) })
      const size = (perRoot - Math.ceil(perRoot / 8192)) * CHUNK_BYTES
      const { blocks: rest, root } = builder.finish(size, new Uint8Array(32))
      for (const b of [...parts, ...rest, root]) await repo.blocks.put(b.cid, b.bytes, { trusted: true })
      await repo.pins.add(root.cid, 'user')
      roots.push(root.cid)
      log(`built root ${r + 1} of ${ROOTS}: ${repo.blocks.usageReport().blocks} blocks, ${((performance.now() - started) / 1000).toFixed(0)} s`)
    }
    const past = new Date(Date.now() - 3600_000)
    await putChunks(repo, blocks - repo.blocks.usageReport().blocks, async cid => { await utimes(repo.blocks.path(cid), past, past) })
    log(`built ${repo.blocks.usageReport().blocks} blocks in ${((performance.now() - started) / 1000).toFixed(0)} s`)
  } finally {
    await repo.close()
  }
  return { roots }
}

interface Measured {
  ms: number
  rssMiB: number
  json: Record<string, unknown>
}

async function cli (repo: string, args: string[]): Promise<Measured> {
  const run = await timeCommand(process.execPath, [BIN, '--repo', repo, '--json', ...args], ENV)
  return { ms: run.ms, rssMiB: run.maxRssKiB / 1024, json: JSON.parse(run.stdout) as Record<string, unknown> }
}

/** `dits-node start` until its ready document (the API answers), with the process's peak RSS then; it is stopped after. */
async function daemonStart (repo: string): Promise<Measured> {
  const started = performance.now()
  const child = spawn(process.execPath, [BIN, '--repo', repo, '--json', 'start'], { env: ENV, stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const json = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`the daemon did not start in ${START_TIMEOUT_MS} ms`)) }, START_TIMEOUT_MS)
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        try {
          const parsed = JSON.parse(out) as Record<string, unknown>
          clearTimeout(timer)
          resolve(parsed)
        } catch {}
      })
      child.on('exit', code => { clearTimeout(timer); reject(new Error(`the daemon exited ${String(code)} before it was ready`)) })
    })
    const ms = performance.now() - started
    const hwm = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))
    return { ms, rssMiB: hwm == null ? NaN : Number(hwm[1]) / 1024, json }
  } finally {
    if (child.exitCode == null) {
      child.kill('SIGINT')
      await once(child, 'exit')
    }
  }
}

const repo1m: Bench = {
  name: 'repo-1m-blocks',
  description: `status, verify, gc --dry-run and a daemon start on a repo of ${BLOCKS.toLocaleString('en')} blocks (${ROOTS} pinned roots, ${GARBAGE_SHARE * 100}% unpinned): time and peak RSS of each whole command`,
  async run (ctx) {
    const repo = join(ctx.tmpDir, 'repo')
    await buildRepo(repo, BLOCKS, ctx.log)
    const runs: Record<string, Measured[]> = { status: [], 'status-recount': [], verify: [], 'gc-dry-run': [], start: [] }
    const take = (name: string, m: Measured): void => {
      runs[name].push(m)
      ctx.log(`${name}: ${(m.ms / 1000).toFixed(2)} s, peak RSS ${m.rssMiB.toFixed(0)} MiB`)
    }
    for (let run = 0; run < ctx.runs; run++) {
      take('status', await cli(repo, ['status']))
      take('start', await daemonStart(repo))
      take('gc-dry-run', await cli(repo, ['gc', '--dry-run']))
      // a killed writer leaves no saved counts: status then recounts the store (what the kept counts spare it)
      await unlink(join(repo, 'usage.json'))
      take('status-recount', await cli(repo, ['status']))
    }
    // verify reads every block: once is long enough
    take('verify', await cli(repo, ['verify']))
    const verified = runs.verify[0].json
    if (verified.checked !== undefined && (verified.checked as number) < BLOCKS) throw new Error(`verify checked ${String(verified.checked)} blocks, fewer than ${BLOCKS}`)
    const gcJson = runs['gc-dry-run'][0].json
    const m = (name: string, what: 'ms' | 'rssMiB'): number => median(runs[name].map(r => r[what]))
    const seconds = (name: string): number => Math.round(m(name, 'ms')) / 1000
    const out: BenchResult[] = [
      result('repo-1m-status', 'ms', m('status', 'ms'), 'status-recount', m('status-recount', 'ms'), false, { rss_mib: Math.round(m('status', 'rssMiB')), recount_rss_mib: Math.round(m('status-recount', 'rssMiB')), blocks: (runs.status[0].json.repo as { blocks?: number } | undefined)?.blocks }),
      result('repo-1m-start', 'ms', m('start', 'ms'), 'status', m('status', 'ms'), false, { rss_mib: Math.round(m('start', 'rssMiB')) }),
      result('repo-1m-gc-dry-run', 's', seconds('gc-dry-run'), 'status', seconds('status'), false, { rss_mib: Math.round(m('gc-dry-run', 'rssMiB')), kept: gcJson.kept, would_remove: gcJson.removedCount }),
      result('repo-1m-verify', 's', seconds('verify'), 'status', seconds('status'), false, { rss_mib: Math.round(m('verify', 'rssMiB')), checked: verified.checked, blocks_per_s: Math.round((verified.checked as number) / (m('verify', 'ms') / 1000)) })
    ]
    return out
  }
}

export const benches: Bench[] = [repo1m]

if (process.argv[1] != null && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const [mode, dir, blocks] = process.argv.slice(2)
  if (mode !== 'build' || dir === undefined) throw new Error('usage: repo.bench.js build DIR [BLOCKS]')
  buildRepo(dir, Number(blocks ?? BLOCKS), m => { process.stderr.write(`${m}\n`) }).then(() => process.exit(0), (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  })
}
