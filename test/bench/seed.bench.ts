/**
 * Benchmarks of the seed (issue 17):
 * - seed-converge: after a `ref set` without --require-seed, the time until the seed holds 100% of a 1 GiB target
 *   (fetched, verified, fsynced, pinned `ref`), vs the goal size / link rate + 2 s, the link rate measured in the
 *   same run as get-1g's baseline does (a raw libp2p stream, tcp + noise + yamux, moving the same bytes into a file).
 *   Real daemons: a workstation that is the group's one voter and holds the target, and a seed (a client of the
 *   group) started afresh, with an empty repo, for each run; the runs alternate with the raw stream.
 */
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { median, randomFile, result, settle, MiB } from './harness.ts'
import { startChild, runChild } from './net.bench.ts'
import { dits, startDaemon } from '../helpers/cli.ts'
import { VoterCluster, freePorts } from '../node/consensus/cluster.ts'
import { ApiClient } from '../../node/api.ts'
import { initRepo, API_FILE, API_TOKEN_FILE } from '../../node/repo.ts'
import type { Bench } from './harness.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import type { SeedStatus } from '../../node/seed/index.ts'

const GiB = 1024 * MiB
/** The allowance over the transfer time. */
const GOAL_SLACK_MS = 2_000
/** How often the bench reads the seed's status while it converges. */
const POLL_MS = 50
const CONVERGE_TIMEOUT_MS = 300_000

async function api (repo: string): Promise<ApiClient> {
  const url = (await readFile(join(repo, API_FILE), 'utf8')).trim()
  const token = (await readFile(join(repo, API_TOKEN_FILE), 'utf8')).trim()
  return new ApiClient(url, token)
}

async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

/** A seed with an empty repo, following `group` (not a voter), dialling the workstation at start. */
async function startSeed (dir: string, group: VoterCluster): Promise<RunningDaemon> {
  await initRepo(dir, { role: 'seed' })
  const [port] = await freePorts(1)
  const path = join(dir, 'config.json')
  const config = JSON.parse(await readFile(path, 'utf8'))
  config.addresses = { listen: [`/ip4/127.0.0.1/tcp/${port}`] }
  config.discovery = { mdns: false }
  config.bootstrap = [group.addrs[0]]
  config.consensus = { ...config.consensus, voters: group.addrs }
  await writeFile(path, JSON.stringify(config, null, 2))
  return await startDaemon(dir)
}

const seedConverge: Bench = {
  name: 'seed-converge',
  description: 'after a ref set (no --require-seed), time until a fresh seed holds 100% of a 1 GiB target (fetched, fsynced, pinned) vs 1 GiB / raw libp2p stream rate + 2 s, real daemons',
  async run (ctx) {
    const file = join(ctx.tmpDir, 'random-1g.bin')
    await randomFile(file, GiB)
    const group = new VoterCluster(ctx.tmpDir, 1)
    await group.create()
    await group.startAll()
    const { child: rawServer, first } = await startChild(['raw-serve', file])
    const { raw } = first as { raw: string }
    const converged: number[] = []
    const goals: number[] = []
    const rates: number[] = []
    const reactions: number[] = []
    try {
      await group.leader(0)
      const added = await dits(['--repo', group.repos[0], '--json', 'add', file], { timeoutMs: 600_000 })
      if (added.code !== 0) throw new Error(`add exited ${added.code}: ${added.stderr}`)
      const root = (JSON.parse(added.stdout) as { root: string }).root
      const ws = await group.api(0)
      for (let i = 0; i < ctx.runs; i++) {
        // the link: the same bytes over a raw libp2p stream into a file
        const out = join(ctx.tmpDir, 'raw-out.bin')
        await settle()
        const moved = await runChild(['raw', raw, out])
        await rm(out, { force: true })
        const rate = GiB / moved.ms
        rates.push(rate * 1000 / 1e6)
        // the seed: started empty, following before the ref is set
        const seedDir = join(ctx.tmpDir, `seed-${i}`)
        await settle()
        const seed = await startSeed(seedDir, group)
        try {
          const seedApi = await api(seedDir)
          const status = async (): Promise<SeedStatus | undefined> => (await seedApi.call<{ seed?: SeedStatus }>('status', {})).seed
          await until('the seed to follow the refs', 30_000, async () => (await status())?.following === true ? true : undefined)
          const started = performance.now()
          await ws.call('refSet', { name: `bench/converge-${i}`, cid: root })
          let reacted: number | undefined
          const kept = await until('the seed to keep the target', CONVERGE_TIMEOUT_MS, async () => {
            const s = await status()
            if (reacted === undefined && s !== undefined && s.pending.length + s.targets_kept > 0) reacted = performance.now() - started
            return s !== undefined && s.targets_kept === 1 && s.pending_count === 0 ? s : undefined
          })
          const ms = performance.now() - started
          reactions.push(reacted ?? ms)
          const pins = await seedApi.call<Array<{ cid: string, reasons: Record<string, string> }>>('pinLs', {})
          if (pins.find(p => p.cid === root)?.reasons.ref === undefined) throw new Error(`the seed does not pin ${root} for ref`)
          converged.push(ms / 1000)
          goals.push((moved.ms + GOAL_SLACK_MS) / 1000)
          ctx.log(`run ${i + 1}: seed converged in ${(ms / 1000).toFixed(2)} s (saw the ref after ${((reacted ?? ms) / 1000).toFixed(2)} s; fetch ${kept.last_kept?.fetch_ms} ms, fsync+pin ${kept.last_kept?.sync_ms} ms); raw stream ${(moved.ms / 1000).toFixed(2)} s (${rates.at(-1)?.toFixed(0)} MB/s) → goal ${goals.at(-1)?.toFixed(2)} s`)
        } finally {
          await seed.stop()
          await rm(seedDir, { recursive: true, force: true })
        }
      }
    } finally {
      await rawServer.stop()
      await group.stopAll()
    }
    return [
      result('seed-converge', 's', median(converged), 'raw-stream-time+2s', median(goals), false, { link_MBps: Math.round(median(rates)), reaction_ms: Math.round(median(reactions)) })
    ]
  }
}

export const benches: Bench[] = [seedConverge]
