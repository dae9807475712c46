/**
 * instant-push (issue 18): a seed daemon (the consensus group's one voter) and a workstation daemon that watches a
 * folder, on loopback. A 2 GiB file is written into the folder in pieces, as an editor's export writes it; the bench
 * waits until the watcher is idle (the file chunked and uploaded to the seed as speculative chunks), notes how long
 * that took after the last write and what share of the file the seed then holds (`speculative coverage`), and times
 * `add` + `push` + `ref set` of it, the three CLI calls back to back (goal < 3 s). Baseline, in the same run and
 * alternating: the same three calls for another 2 GiB file written outside the watched folder (a cold push).
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { randomFillSync } from 'node:crypto'
import { loadavg } from 'node:os'
import { median, result, settle, timeCommand, MiB } from './harness.ts'
import { BIN, startDaemon } from '../helpers/cli.ts'
import { freePorts } from '../node/consensus/cluster.ts'
import { ApiClient } from '../../node/api.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import type { Bench } from './harness.ts'
import type { SpeculativeStatus, CoverageReport } from '../../node/watch/index.ts'

const GiB = 1024 * MiB
const FILE_BYTES = 2 * GiB
/** the editor's writes, and a breath between stretches of them (an export renders, then writes) */
const WRITE_BYTES = 8 * MiB
const STRETCH_BYTES = 256 * MiB
const STRETCH_PAUSE_MS = 100
const IDLE_TIMEOUT_MS = 20 * 60_000
const ENV = { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' }

async function cli (repo: string, args: string[]): Promise<{ ms: number, stdout: string }> {
  const r = await timeCommand(process.execPath, [BIN, '--repo', repo, ...args], ENV)
  return { ms: r.ms, stdout: r.stdout }
}

async function writeInPieces (path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'w')
  const piece = Buffer.alloc(WRITE_BYTES)
  try {
    for (let at = 0; at < bytes; at += WRITE_BYTES) {
      randomFillSync(piece)
      await fh.write(piece, 0, Math.min(WRITE_BYTES, bytes - at))
      if ((at + WRITE_BYTES) % STRETCH_BYTES === 0) await new Promise(resolve => setTimeout(resolve, STRETCH_PAUSE_MS))
    }
  } finally {
    await fh.close()
  }
}

/** add + push + ref set of `file`, back to back; the wall time of the three and what the push sent. */
async function addPushRef (ws: string, file: string, ref: string): Promise<{ ms: number, steps: string, sent: number, reused: number }> {
  const add = await cli(ws, ['--json', 'add', file])
  const added = JSON.parse(add.stdout) as { root: string, bytes_reused: number }
  const push = await cli(ws, ['--json', 'push', added.root])
  const pushed = JSON.parse(push.stdout) as { bytes_sent: number }
  const refSet = await cli(ws, ['ref', 'set', ref, added.root, '--expect-none'])
  return { ms: add.ms + push.ms + refSet.ms, steps: `add ${(add.ms / 1000).toFixed(2)} s, push ${(push.ms / 1000).toFixed(2)} s, ref set ${(refSet.ms / 1000).toFixed(2)} s`, sent: pushed.bytes_sent, reused: added.bytes_reused }
}

const instantPush: Bench = {
  name: 'instant-push',
  description: 'a 2 GiB file written in pieces into a watched folder: time until the watcher is idle, coverage on the seed, then add + push + ref set (goal < 3 s) vs the same for an unwatched file (cold)',
  async run (ctx) {
    const dirs = { seed: join(ctx.tmpDir, 'seed'), ws: join(ctx.tmpDir, 'ws'), watched: join(ctx.tmpDir, 'footage'), cold: join(ctx.tmpDir, 'cold') }
    await mkdir(dirs.watched)
    await mkdir(dirs.cold)
    const [port] = await freePorts(1)
    await cli(dirs.seed, ['init', '--role', 'seed', '--voter'])
    await cli(dirs.seed, ['config', 'set', 'addresses.listen', JSON.stringify([`/ip4/127.0.0.1/tcp/${port}`])])
    const seedId = (JSON.parse((await cli(dirs.seed, ['--json', 'id'])).stdout) as { peerId: string }).peerId
    const seedAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${seedId}`
    await cli(dirs.seed, ['config', 'set', 'consensus.voters', JSON.stringify([seedAddr])])
    await cli(dirs.ws, ['init'])
    for (const [key, value] of [['addresses.listen', ['/ip4/127.0.0.1/tcp/0']], ['seeds', [seedAddr]], ['consensus.voters', [seedAddr]], ['watch.dirs', [dirs.watched]]] as const) {
      await cli(dirs.ws, ['config', 'set', key, JSON.stringify(value)])
    }
    let seed: RunningDaemon | undefined
    let ws: RunningDaemon | undefined
    const instant: number[] = []
    const cold: number[] = []
    const idle: number[] = []
    const coverage: number[] = []
    try {
      seed = await startDaemon(dirs.seed)
      ws = await startDaemon(dirs.ws)
      const api = new ApiClient(ws.info.api, (await readFile(join(dirs.ws, 'api.token'), 'utf8')).trim())
      const status = async (): Promise<SpeculativeStatus> => await api.call<SpeculativeStatus>('speculativeStatus', {})
      for (let i = 0; i < ctx.runs; i++) {
        // the watched file
        const file = join(dirs.watched, `export-${i}.mov`)
        const uploadedBefore = (await status()).files_uploaded
        await writeInPieces(file, FILE_BYTES)
        const written = performance.now()
        for (;;) {
          const s = await status()
          if (s.files_uploaded > uploadedBefore && s.idle) break
          if (s.last_error !== undefined) ctx.log(`watcher: ${s.last_error.message}`)
          if (performance.now() - written > IDLE_TIMEOUT_MS) throw new Error(`the watcher was not idle ${IDLE_TIMEOUT_MS / 1000} s after the write: ${JSON.stringify(s)}`)
          await new Promise(resolve => setTimeout(resolve, 100))
        }
        idle.push((performance.now() - written) / 1000)
        const cov = JSON.parse((await cli(dirs.ws, ['--json', 'speculative', 'coverage', file])).stdout) as CoverageReport
        coverage.push(cov.percent)
        await settle()
        const hot = await addPushRef(dirs.ws, file, `bench/instant-${i}`)
        if (hot.reused !== FILE_BYTES) throw new Error(`add reused ${hot.reused} bytes of the watcher's work, not ${FILE_BYTES}`)
        instant.push(hot.ms / 1000)
        // the baseline: an unwatched file of the same size
        const other = join(dirs.cold, `export-${i}.mov`)
        await writeInPieces(other, FILE_BYTES)
        await settle()
        const c = await addPushRef(dirs.ws, other, `bench/cold-${i}`)
        cold.push(c.ms / 1000)
        ctx.log(`run ${i + 1}: watcher idle ${idle.at(-1)?.toFixed(1)} s after the last write, coverage ${cov.percent}% (${cov.chunks_on_seed}/${cov.chunks} chunks); add+push+ref set ${instant.at(-1)?.toFixed(2)} s (${hot.steps}; push sent ${hot.sent} B) vs cold ${cold.at(-1)?.toFixed(2)} s (${c.steps}; push sent ${c.sent} B); load ${loadavg().map(l => l.toFixed(1)).join(' ')}`)
        await rm(file)
        await rm(other)
      }
    } finally {
      await ws?.stop()
      await seed?.stop()
    }
    return [result('instant-push', 's', median(instant), 'cold-add-push-ref', median(cold), false, {
      goal: '< 3 s',
      watcher_idle_s: Math.round(median(idle) * 10) / 10,
      coverage_percent: median(coverage),
      coverage_goal: '>= 95',
      file_bytes: FILE_BYTES,
      loadavg: loadavg().map(l => Math.round(l * 10) / 10)
    })]
  }
}

export const benches: Bench[] = [instantPush]
