/**
 * `availability-10k` (issue 17): `dits-node availability` of a 10,000-chunk root whose chunks five peers hold in
 * different shares (test/helpers/availability.ts: a daemon process, five libp2p nodes in this process on loopback
 * with blockstores on disk), against the goal of 2 s. The first call also fetches the root's manifests; the
 * median is over the calls after it. Each call is the whole CLI command: process start, the daemon's work, exit.
 */
import { AvailabilityScene } from '../helpers/availability.ts'
import { median, result } from './harness.ts'
import type { Bench } from './harness.ts'
import type { AvailabilityReport } from '../../node/availability.ts'

/** The bound for a 10,000-chunk root with 5 peers. */
const GOAL_MS = 2000

const availability10k: Bench = {
  name: 'availability-10k',
  description: 'availability of a 10,000-chunk root held in different shares by a seed and four peers, vs the 2 s goal',
  async run (ctx) {
    const scene = await AvailabilityScene.create(ctx.tmpDir)
    const cli: number[] = []
    const daemon: number[] = []
    let first = 0
    try {
      for (let i = 0; i <= ctx.runs; i++) {
        const started = performance.now()
        const r = await scene.dits(['--json', 'availability', scene.tree.root.toString()])
        const ms = performance.now() - started
        if (r.code !== 0) throw new Error(`availability exited ${r.code}: ${r.stderr}`)
        const report = JSON.parse(r.stdout) as AvailabilityReport
        if (report.chunks !== 10_000 || report.missing_chunks !== 0) throw new Error(`availability reported ${report.chunks} chunks, ${report.missing_chunks} missing`)
        if (i === 0) {
          first = ms
          ctx.log(`first call (fetches the manifests): ${ms.toFixed(0)} ms, ${report.duration_ms} ms in the daemon, of which ${report.manifests_ms} ms the manifests`)
          continue
        }
        cli.push(ms)
        daemon.push(report.duration_ms)
        ctx.log(`run ${i}: ${ms.toFixed(0)} ms, ${report.duration_ms} ms in the daemon`)
      }
    } finally {
      await scene.stop()
    }
    return [result('availability-10k', 'ms', median(cli), 'goal', GOAL_MS, false, { first_ms: Math.round(first), daemon_ms: median(daemon) })]
  }
}

export const benches: Bench[] = [availability10k]
