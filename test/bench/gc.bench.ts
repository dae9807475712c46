/**
 * gc-under-load (issue 18): gc of a repo of 100,000 blocks (half of them garbage) while 1 MiB adds run beside it,
 * in one process as a daemon runs them: gc's wall time, and the adds' p99 latency beside it vs without it (the
 * same adds, just before, in the same run). Goal: <= 1.5x.
 */
import { utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { RepoOps } from '../../node/ops.ts'
import { Repo, initRepo } from '../../node/repo.ts'
import { chunkCid } from '../../src/cid.ts'
import { FileManifestBuilder } from '../../src/manifest/index.ts'
import type { CID } from 'multiformats/cid'
import { PROFILES } from '../../src/fastcdc/index.ts'
import { median, percentile, result } from './harness.ts'
import type { Bench } from './harness.ts'

const BLOCKS = 100_000
const MiB = 1024 * 1024
/** adds measured without gc; beside it, as many as fit in its run (at least this many) */
const ADDS = 40

/** Put `n` blocks of 1-4 KiB, running 64 puts at once; each goes through `each` once stored. */
async function putBlocks (repo: Repo, n: number, each: (cid: CID, length: number) => Promise<void>): Promise<void> {
  const pending: Array<Promise<void>> = []
  for (let i = 0; i < n; i++) {
    const bytes = randomBytes(1024 + Math.floor(Math.random() * 3072))
    const cid = chunkCid(bytes)
    pending.push(repo.blocks.put(cid, bytes).then(async () => { await each(cid, bytes.byteLength) }))
    if (pending.length >= 64) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
}

/** The live half: one pinned file manifest over BLOCKS / 2 chunks (gc reads its part nodes, not the chunks). */
async function pinnedHalf (repo: Repo): Promise<void> {
  const builder = new FileManifestBuilder(PROFILES.small)
  const links: Array<[CID, number]> = []
  await putBlocks(repo, BLOCKS / 2, async (cid, length) => { links.push([cid, length]) })
  let size = 0
  for (const [cid, length] of links) {
    for (const b of builder.addChunk(cid, length)) await repo.blocks.put(b.cid, b.bytes)
    size += length
  }
  const { blocks, root } = builder.finish(size, new Uint8Array(32))
  for (const b of [...blocks, root]) await repo.blocks.put(b.cid, b.bytes)
  await repo.pins.add(root.cid, 'user')
}

/** Garbage up to BLOCKS in all, looking written an hour ago (before any work in flight). */
async function garbage (repo: Repo): Promise<void> {
  const past = new Date(Date.now() - 3600_000)
  await putBlocks(repo, BLOCKS - repo.blocks.usageReport().blocks, async (cid) => { await utimes(repo.blocks.path(cid), past, past) })
}

async function timedAdd (ops: RepoOps, file: string): Promise<number> {
  await writeFile(file, randomBytes(MiB))
  const t0 = performance.now()
  await ops.add({ paths: [file], profile: PROFILES.small, pin: true })
  return performance.now() - t0
}

const gcUnderLoad: Bench = {
  name: 'gc-under-load',
  description: `gc of a repo of ${BLOCKS.toLocaleString('en')} blocks (half garbage) with pinned 1 MiB adds running beside it: gc wall time, and the adds' p99 latency beside gc vs without it`,
  async run (ctx) {
    const dir = join(ctx.tmpDir, 'repo')
    await initRepo(dir)
    const repo = await Repo.open(dir, { write: true })
    const ops = new RepoOps(repo)
    const without: number[] = []
    const beside: number[] = []
    const gcMs: number[] = []
    const removed: number[] = []
    try {
      for (let run = 0; run < ctx.runs; run++) {
        if (run === 0) await pinnedHalf(repo)
        await garbage(repo)
        ctx.log(`run ${run + 1}: ${repo.blocks.usageReport().blocks} blocks`)
        for (let i = 0; i < ADDS; i++) without.push(await timedAdd(ops, join(ctx.tmpDir, `a${i}.bin`)))
        const t0 = performance.now()
        let done = false
        const collecting = ops.gc({}).then(r => { done = true; gcMs.push(performance.now() - t0); removed.push(r.removedCount); return r })
        let i = 0
        while (!done || i < ADDS) beside.push(await timedAdd(ops, join(ctx.tmpDir, `b${i++}.bin`)))
        await collecting
        ctx.log(`run ${run + 1}: gc ${(gcMs.at(-1) ?? 0) / 1000} s removed ${removed.at(-1)}; adds p99 ${percentile(without, 99).toFixed(0)} ms without, ${percentile(beside, 99).toFixed(0)} ms beside (${i} adds)`)
      }
    } finally {
      await repo.close()
    }
    return [
      // ratio as for every latency here: baseline / value (>= 1/1.5 meets the goal); slowdown is value / baseline
      result('gc-under-load', 'ms p99 add', percentile(beside, 99), 'no gc', percentile(without, 99), false, {
        slowdown: Math.round(100 * percentile(beside, 99) / percentile(without, 99)) / 100,
        gc_s: Math.round(median(gcMs)) / 1000,
        blocks: BLOCKS,
        removed: median(removed),
        add_p50_ms_beside: Math.round(percentile(beside, 50)),
        add_p50_ms_without: Math.round(percentile(without, 50)),
        adds_beside: beside.length
      })
    ]
  }
}

export const benches: Bench[] = [gcUnderLoad]
