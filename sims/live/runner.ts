/**
 * The live run (issue 5): real `dits-node` processes — 3 voters, plain peers and a seed — each in its own network
 * namespace on one bridge; a client workload on every non-seed node; a partition that puts the current leader
 * alone on the minority side (it still reaches the seed, as a studio's WAN link would), then a heal. Checks:
 *
 * - the minority refuses writes with exit 4 within a bounded time (DESIGN §7: never a silent hang);
 * - the majority elects a leader and keeps serving;
 * - a lock held by the minority stays fenced: the majority cannot take it while its lease runs, takes it after
 *   with a larger token, and the old holder's token is refused (exit 4 during the split, exit 3 after);
 * - a chunk fetch on the cut-off node falls back to the seed (DESIGN §6);
 * - after the heal everything converges: one leader and term everywhere, the same refs on every node, and the
 *   write the minority was refused never appears;
 * - the workload's ref history is linearizable (the simulator's checker, sims/checkers/linearizability.ts).
 */

import { randomBytes } from 'node:crypto'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { checkRefHistories } from '../checkers/linearizability.ts'
import { LiveRunnerError } from '../errors.ts'
import { simCid } from '../history.ts'
import { Prng } from '../random.ts'
import { LiveCluster } from './cluster.ts'
import { NamespaceNetwork, checkNamespaceSupport } from './netns.ts'
import { Timeline, renderReport } from './timeline.ts'
import type { HistoryRecord, RefOutput } from '../history.ts'
import type { AgentReply, LiveNodeSpec, LiveTiming } from './cluster.ts'
import type { Outcome } from './timeline.ts'

/** etcd's defaults for the Raft timers, and a short request timeout so that exit 4 comes quickly. */
export const DEFAULT_LIVE_TIMING: Readonly<LiveTiming> = { heartbeatMs: 100, electionMs: 1000, requestTimeoutMs: 3000 }
/** Lease of the lock the minority holds across the split: long enough to outlive the election. */
export const SPLIT_LOCK_TTL_MS = 15_000
/** Bytes of the file the fallback check fetches. */
export const CONTENT_BYTES = 3 * 1024 * 1024
/** Bound for "within a bounded time" waits: a leader, a heal, convergence. */
export const DEFAULT_CONVERGE_MS = 30_000
/** Baseline, before the split, and steady state during it, ms. */
const BASELINE_MS = 3_000
const REFS = ['live/w1', 'live/w2', 'live/w3']

export interface LiveOptions {
  /** at least 5: 3 voters, nodes - 4 plain peers, 1 seed */
  nodes: number
  /** where the report and summary go */
  outDir: string
  /** drives the workload's choices (not its timing, which is real) */
  seed: number
  /** keep the repos and daemon logs */
  keep: boolean
  timing?: LiveTiming
  log?: (line: string) => void
}

export interface LiveCheck {
  name: string
  ok: boolean
  detail: string
  /** ms since the start */
  at: number
}

export interface LiveSummary {
  ok: boolean
  checks: LiveCheck[]
  nodes: Array<{ name: string, role: string, voter: boolean, peerId: string }>
  ops: Record<Outcome, number>
  leaders: string[]
  durationMs: number
  report: string
  summary: string
  /** where the repos and logs are, when kept */
  dir: string | null
}

export async function runLive (options: LiveOptions): Promise<LiveSummary> {
  if (!Number.isSafeInteger(options.nodes) || options.nodes < 5) {
    throw new LiveRunnerError(`--nodes ${options.nodes}: at least 5 (3 voters, a plain peer, a seed)`)
  }
  await checkNamespaceSupport()
  const log = options.log ?? (() => {})
  const timing = options.timing ?? DEFAULT_LIVE_TIMING
  const prng = new Prng(options.seed)
  const specs: LiveNodeSpec[] = [
    ...['v1', 'v2', 'v3'].map(name => ({ name, role: 'peer' as const, voter: true })),
    ...Array.from({ length: options.nodes - 4 }, (_, i) => ({ name: `p${i + 1}`, role: 'peer' as const, voter: false })),
    { name: 's1', role: 'seed', voter: false }
  ]
  const tag = randomBytes(2).toString('hex')
  const dir = await mkdtemp(join(tmpdir(), `dits-live-${tag}-`))
  const timeline = new Timeline()
  const checks: LiveCheck[] = []
  const history: HistoryRecord[] = []
  const ops: Record<Outcome, number> = { ok: 0, refused: 0, unavailable: 0, unknown: 0, error: 0 }
  const check = (name: string, ok: boolean, detail: string): void => {
    checks.push({ name, ok, detail, at: timeline.now() })
    timeline.add({ lane: 'checks', kind: 'check', label: `${name}: ${detail}`, outcome: ok ? 'ok' : 'error' })
    log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`)
  }
  log(`live run in ${dir}`)
  const net = await NamespaceNetwork.create(`dl${tag}`, `10.231.${parseInt(tag, 16) % 250}`, specs.map(s => s.name))
  const cluster = new LiveCluster(dir, net, timing)
  const nameOf = (peerId: string | null | undefined): string => cluster.nodes.find(n => n.peerId === peerId)?.name ?? (peerId == null ? 'none' : peerId.slice(-6))
  const voters = specs.filter(s => s.voter).map(s => s.name)
  const clients = specs.filter(s => s.role !== 'seed').map(s => s.name)
  const seedName = 's1'
  let stopped = false
  const interrupt = (): void => {
    stopped = true
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)

  // what each voter reports as leader, polled in the background
  const views = new Map<string, { leader: string, term: number, applied: number, commit: number }>()
  const pollLeaders = async (): Promise<void> => {
    while (!stopped) {
      await Promise.all(voters.map(async v => {
        const r = await cluster.call(v, 'clusterStatus', {}, 1_500)
        const view = r.ok ? r.value as { leader: string | null, term: number, appliedIndex: number, commitIndex: number } : undefined
        const leader = view === undefined ? 'none' : nameOf(view.leader)
        if (views.get(v)?.leader !== leader) {
          timeline.add({ lane: v, kind: 'leader', label: leader })
        }
        views.set(v, { leader, term: view?.term ?? -1, applied: view?.appliedIndex ?? -1, commit: view?.commitIndex ?? -1 })
      }))
      await sleep(300)
    }
  }
  const leaderSeenBy = (group: readonly string[]): string | undefined => {
    const seen = group.map(v => views.get(v)?.leader)
    return seen.every(l => l !== undefined && l !== 'none' && l === seen[0]) ? seen[0] : undefined
  }
  const waitFor = async (what: () => boolean, ms: number): Promise<boolean> => {
    const until = Date.now() + ms
    while (!what()) {
      if (Date.now() > until || stopped) {
        return false
      }
      await sleep(100)
    }
    return true
  }

  // the workload: reads and compare-and-swap writes on a few refs from every non-seed node
  let cids = 1_000_000
  const beliefs = new Map<string, string | null>()
  let workloadOn = true
  const workload = async (node: string, p: Prng): Promise<void> => {
    while (workloadOn && !stopped) {
      const name = p.pick(REFS)
      const call = timeline.now()
      let record: HistoryRecord
      let outcome: Outcome
      if (p.chance(0.4)) {
        const r = await cluster.call(node, 'refGet', { name }, timing.requestTimeoutMs + 3_000)
        const value = r.ok ? (r.value as { cid: string }).cid : r.name === 'NotFoundError' ? null : undefined
        outcome = classify(r)
        record = { client: node, op: 'ref.get', key: name, input: {}, output: value === undefined ? null : { ok: true, value }, call, return: value === undefined ? null : timeline.now() }
      } else {
        const cid = simCid(cids++)
        const belief = beliefs.get(name)
        const input: Record<string, unknown> = { cid }
        if (belief !== undefined && p.chance(0.7)) {
          input.expect = belief
        } else if (p.chance(0.5)) {
          input.expect = null
        }
        const args = { name, cid, expect: typeof input.expect === 'string' ? input.expect : undefined, expectNone: input.expect === null ? true : undefined }
        const r = await cluster.call(node, 'refSet', args, timing.requestTimeoutMs + 3_000)
        outcome = classify(r)
        let output: RefOutput | null = null
        if (r.ok) {
          output = { ok: true, old: (r.value as { old: string | null }).old }
          beliefs.set(name, cid)
        } else if (r.name === 'RefConflictError') {
          output = { ok: false, error: r.name }
          beliefs.delete(name)
        }
        record = { client: node, op: 'ref.set', key: name, input, output, call, return: output === null ? null : timeline.now() }
      }
      history.push(record)
      ops[outcome]++
      timeline.add({ lane: node, kind: 'op', label: `${record.op} ${record.key} ${JSON.stringify(record.input)} -> ${JSON.stringify(record.output)}`, outcome })
      await sleep(p.range(100, 300))
    }
  }

  let leaders: string[] = []
  let poller: Promise<void> | undefined
  let workers: Array<Promise<void>> = []
  try {
    log(`namespaces ${net.tag}; starting ${specs.length} daemons`)
    await cluster.create(specs)
    await cluster.startAll()
    poller = pollLeaders()
    const first = await waitFor(() => leaderSeenBy(voters) !== undefined, DEFAULT_CONVERGE_MS)
    const leader = leaderSeenBy(voters)
    check('cluster-up', first, first ? `${specs.length} daemons up; every voter sees ${String(leader)} as leader` : 'no leader agreed on by every voter')
    if (leader === undefined) {
      throw new LiveRunnerError('no leader: cannot go on')
    }

    // content on a plain peer, fetched by the seed: later the cut-off node must get it from the seed
    const peer = clients.find(n => !voters.includes(n)) as string
    const file = join(dir, 'footage.bin')
    await writeFile(file, Uint8Array.from({ length: CONTENT_BYTES }, () => prng.int(256)))
    const added = await cluster.cli(peer, ['--json', 'add', file], 60_000)
    const root = added.code === 0 ? (JSON.parse(added.stdout) as { root: string }).root : undefined
    const seeded = root === undefined ? undefined : await cluster.cli(seedName, ['--json', 'get', root, '-o', join(dir, 'seed-copy.bin')], 60_000)
    timeline.add({ lane: peer, kind: 'note', label: `added ${String(root)}; the seed fetched it (exit ${String(seeded?.code)})` })

    // the leader takes a lock and keeps it (its node renews the lease) until the split cuts it off
    const minority = leader
    const majority = clients.filter(n => n !== minority)
    const majorityVoters = voters.filter(v => v !== minority)
    const locked = await cluster.cli(minority, ['--json', 'lock', 'acquire', 'live/locked/', '--ttl', `${SPLIT_LOCK_TTL_MS}ms`], 20_000)
    const t1 = locked.code === 0 ? (JSON.parse(locked.stdout) as { token: number }).token : undefined
    timeline.add({ lane: minority, kind: 'note', label: `lock live/locked/ token ${String(t1)}` })

    workers = clients.map(n => workload(n, prng.fork()))
    await sleep(BASELINE_MS)

    // the split: the leader alone; it still reaches the seed
    await net.partition([minority], majority)
    timeline.add({ lane: 'network', kind: 'partition', label: `${minority} cut off from ${majority.join(', ')} (the seed still reachable)` })
    log(`split: ${minority} | ${majority.join(' ')}`)

    // the minority's refusal takes up to the request timeout; meanwhile the majority elects and serves
    const refusal = cluster.cli(minority, ['--json', 'ref', 'set', 'live/split', simCid(1), '--expect-none'], timing.requestTimeoutMs + 20_000)
    const elected = await waitFor(() => { const l = leaderSeenBy(majorityVoters); return l !== undefined && l !== minority }, DEFAULT_CONVERGE_MS)
    const taker = majorityVoters[0]
    const early = await cluster.cli(taker, ['--json', 'lock', 'acquire', 'live/locked/'], 20_000)
    check('lock-fenced-while-held', t1 !== undefined && early.code === 3,
      `${taker} asked for live/locked/ while ${minority}'s lease (token ${String(t1)}) ran: exit ${early.code} ${firstLine(early.stderr)}`)
    const served = await cluster.cli(majorityVoters[0], ['--json', 'ref', 'set', 'live/split', simCid(2), '--expect-none'], 20_000)
    const readBack = await cluster.cli(peer, ['--json', 'ref', 'get', 'live/split'], 20_000)
    const readCid = readBack.code === 0 ? (JSON.parse(readBack.stdout) as { cid: string }).cid : undefined
    check('majority-keeps-serving', elected && served.code === 0 && readCid === simCid(2),
      `majority leader ${String(leaderSeenBy(majorityVoters))}; ref set on ${majorityVoters[0]} exit ${served.code} in ${served.ms} ms ${firstLine(served.stderr)}; ref get on ${peer} exit ${readBack.code} in ${readBack.ms} ms ${readCid === simCid(2) ? '(sees it)' : `(does not see it) ${firstLine(readBack.stderr)}`}`)
    const refused = await refusal
    check('minority-refuses-writes', refused.code === 4 && refused.ms <= timing.requestTimeoutMs + 5_000,
      `ref set on ${minority}: exit ${refused.code} after ${refused.ms} ms (bound ${timing.requestTimeoutMs + 5_000} ms) ${firstLine(refused.stderr)}`)

    let t2: number | undefined
    const takeoverBy = Date.now() + SPLIT_LOCK_TTL_MS + DEFAULT_CONVERGE_MS
    while (t2 === undefined && Date.now() < takeoverBy && !stopped) {
      const r = await cluster.cli(taker, ['--json', 'lock', 'acquire', 'live/locked/'], 20_000)
      if (r.code === 0) {
        t2 = (JSON.parse(r.stdout) as { token: number }).token
      } else {
        await sleep(1_000)
      }
    }
    check('lock-taken-over-after-lease', t1 !== undefined && t2 !== undefined && t2 > t1,
      `after the lease ran out ${taker} holds live/locked/ with token ${String(t2)} (the minority's was ${String(t1)})`)
    const staleDuringSplit = await cluster.cli(minority, ['--json', 'ref', 'set', 'live/locked/x', simCid(3), '--token', String(t1 ?? 1)], timing.requestTimeoutMs + 20_000)
    const fenced = t2 === undefined ? undefined : await cluster.cli(taker, ['--json', 'ref', 'set', 'live/locked/x', simCid(4), '--token', String(t2)], 20_000)
    await cluster.cli(taker, ['--json', 'lock', 'release', 'live/locked/'], 20_000)

    const fetched = root === undefined ? undefined : await cluster.cli(minority, ['--json', 'get', root, '-o', join(dir, 'minority-copy.bin')], 120_000)
    const got = fetched?.code === 0 ? JSON.parse(fetched.stdout) as { bytes_total: number, bytes_fetched: number, sources: Record<string, number> } : undefined
    const seedId = cluster.node(seedName).peerId
    const fromSeed = got !== undefined && got.bytes_fetched > 0 && Object.keys(got.sources).every(id => id === seedId)
    check('fetch-falls-back-to-seed', fromSeed,
      got === undefined ? `get on ${minority}: exit ${String(fetched?.code)} ${firstLine(fetched?.stderr ?? 'no content was added')}` : `get on ${minority} while cut off from the peers: ${got.bytes_fetched} of ${got.bytes_total} bytes fetched, from ${Object.entries(got.sources).map(([id, b]) => `${nameOf(id)} ${b} B`).join(', ')}`)

    await sleep(BASELINE_MS)
    await net.heal()
    timeline.add({ lane: 'network', kind: 'heal', label: 'healed' })
    log('healed')

    const staleAfter = await cluster.cli(minority, ['--json', 'ref', 'set', 'live/locked/x', simCid(5), '--token', String(t1 ?? 1)], timing.requestTimeoutMs + 20_000)
    check('stale-token-refused', staleDuringSplit.code === 4 && staleAfter.code === 3 && fenced?.code === 0,
      `${minority}'s write with its old token ${String(t1)}: exit ${staleDuringSplit.code} during the split, exit ${staleAfter.code} after the heal ${firstLine(staleAfter.stderr)}; ${taker}'s write with token ${String(t2)}: exit ${String(fenced?.code)}`)

    workloadOn = false
    await Promise.all(workers)
    const agreed = await waitFor(() => {
      const l = leaderSeenBy(voters)
      const terms = new Set(voters.map(v => views.get(v)?.term))
      return l !== undefined && terms.size === 1
    }, DEFAULT_CONVERGE_MS)
    const values = await Promise.all(clients.map(async n => await Promise.all([...REFS, 'live/split', 'live/locked/x'].map(async name => {
      const r = await cluster.call(n, 'refGet', { name }, 10_000)
      return r.ok ? (r.value as { cid: string }).cid : r.name === 'NotFoundError' ? 'none' : `error ${r.name}`
    }))))
    const same = values.every(v => v.join() === values[0].join())
    check('converged-after-heal', agreed && same,
      `voters agree on leader ${String(leaderSeenBy(voters))} (terms ${voters.map(v => views.get(v)?.term).join('/')}); refs ${same ? 'identical' : 'DIFFER'} on ${clients.join(', ')}`)
    const split = values[0][REFS.length]
    check('minority-write-not-applied', split === simCid(2), `live/split is ${split === simCid(2) ? "the majority's value" : split === simCid(1) ? "the minority's refused value" : split}`)

    const lin = checkRefHistories(history)
    check('history-linearizable', lin.length === 0, lin.length === 0 ? `${history.length} calls on ${REFS.length} refs, linearizable` : lin.map(f => f.ok === false || f.ok === 'inconclusive' ? f.message : '').join('; '))
    leaders = [...new Set(timeline.events.filter(e => e.kind === 'leader' && e.label !== 'none').map(e => e.label))]
  } catch (err) {
    check('run', false, `${(err as Error).name}: ${(err as Error).message}`)
  } finally {
    workloadOn = false
    stopped = true
    await Promise.allSettled(workers)
    await poller
    await cluster.stopAll().catch(() => {})
    await net.destroy()
    process.removeListener('SIGINT', interrupt)
    process.removeListener('SIGTERM', interrupt)
  }

  await mkdir(options.outDir, { recursive: true })
  const report = join(options.outDir, 'live-report.html')
  const summaryFile = join(options.outDir, 'live-summary.json')
  const summary: LiveSummary = {
    ok: checks.length > 0 && checks.every(c => c.ok),
    checks,
    nodes: cluster.nodes.map(n => ({ name: n.name, role: n.spec.role, voter: n.spec.voter, peerId: n.peerId })),
    ops,
    leaders,
    durationMs: timeline.now(),
    report,
    summary: summaryFile,
    dir: options.keep ? dir : null
  }
  await writeFile(report, renderReport(`dits-node live run (${specs.length} nodes)`, specs.map(s => s.name), timeline.events, { ...summary }))
  await writeFile(summaryFile, JSON.stringify({ ...summary, history }, null, 2))
  if (!options.keep) {
    await rm(dir, { recursive: true, force: true })
  }
  return summary
}

function classify (r: AgentReply): Outcome {
  if (r.ok) {
    return 'ok'
  }
  if (r.name === 'NotFoundError') {
    return 'ok'
  }
  return r.exitCode === 3 ? 'refused' : r.exitCode === 4 ? 'unavailable' : r.name === 'TimeoutError' || r.name === 'AbortError' ? 'unknown' : 'error'
}

function firstLine (s: string): string {
  const line = s.trim().split('\n')[0] ?? ''
  return line === '' ? '' : `(${line.slice(0, 200)})`
}
