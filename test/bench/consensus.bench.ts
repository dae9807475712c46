/**
 * Consensus benchmarks (issue 4): three dits voters against a three-member etcd cluster that the bench
 * starts itself (Debian `etcd-server`), same machine, same run, same load shape, alternating sides:
 *
 * - `consensus-lock`: one client, lock acquire + release in a loop; p50 and p99 latency (goal: p50 <= etcd's).
 *   etcd: `/v3/lock/lock` + `/v3/lock/unlock` on a lease granted once (its lock = two writes, as ours).
 * - `consensus-cas-64`: 64 concurrent clients, each compare-and-swapping its own key back and forth;
 *   committed CAS per second (goal >= etcd's). etcd: `/v3/kv/txn` comparing the value.
 * - `consensus-failover`: SIGKILL the leader, then write through a survivor until one succeeds; time from the
 *   kill to that success (goal <= 2 s).
 *
 * Both sides are driven over HTTP on loopback: etcd through its v3 HTTP gateway on the member, dits through
 * the voter's local API (the daemon then talks `/dits/consensus` to the leader, or serves itself) — no
 * process per operation. Requests go to the leader's member unless it is the one killed.
 */
import { spawn, execFileSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, open, readFile } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { median, percentile, result } from './harness.ts'
import type { Bench, BenchContext, BenchResult } from './harness.ts'
import { VoterCluster, freePorts } from '../node/consensus/cluster.ts'
import { API_FILE, API_TOKEN_FILE } from '../../node/repo.ts'

const LOCK_BATCHES = 10
const LOCK_BATCH_OPS = 30
/**
 * Each run starts with this much load on each side, unmeasured: the voters are long-running daemons, and V8
 * compiles their hot paths only after a few hundred operations (a fresh voter's first ~600 lock cycles took
 * ~1.5 ms longer each). That holds after every failover too: the killed leader comes back as a fresh process and
 * the new leader has never run a leader's code hot. With 20 cycles of warm-up after a failover, the next run's
 * lock p50 was up to ~1 ms slower than the first run's, and took ~1,600 cycles to come back (voter user CPU per cycle
 * 2.5 → 1.4 ms on the new leader). etcd, compiled ahead, gets the same load.
 */
const WARMUP_LOCK_CYCLES = 1000
const WARMUP_CAS_MS = 2_000
const LOCK_WARMUP = 20
const CAS_CLIENTS = 64
const CAS_WINDOWS = 4
const CAS_WINDOW_MS = 1_000
const FAILOVER_GOAL_MS = 2_000
const WRITE_RETRY_MS = 20
const CIDS = ['bafyr4ibik57z44jtoay5bsfmvtn7ofkoudmxyc7vmfsca6qp6j7bf3d72q', 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi']

/** The operations a side of the comparison offers, all against member `i`. */
interface Side {
  name: string
  leader(): Promise<number>
  lockCycle(i: number, path: string): Promise<void>
  /** a CAS from `from` to `to` (null: create) on `key` */
  cas(i: number, key: string, from: string | null, to: string): Promise<void>
  /** one write attempt that fails fast if the group cannot commit */
  put(i: number, key: string, value: string): Promise<void>
  kill(i: number): Promise<void>
  restart(i: number): Promise<void>
  stop(): Promise<void>
}

/**
 * One keep-alive HTTP/1.1 JSON POST, for both sides: the same client cost per request, and lighter than
 * fetch, so the machine's two cores go to the systems under test.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 256 })

async function post (url: string, body: unknown, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<{ status: number, text: string }> {
  const payload = JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers }, signal: AbortSignal.timeout(timeoutMs) }, res => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

// ---- etcd ---------------------------------------------------------------------------------------------------

const b64 = (s: string): string => Buffer.from(s).toString('base64')

class Etcd implements Side {
  readonly name = 'etcd'
  private readonly dir: string
  private readonly clientPorts: number[]
  private readonly peerPorts: number[]
  private readonly procs = new Map<number, ChildProcess>()
  private lease = new Map<number, string>()

  private constructor (dir: string, clientPorts: number[], peerPorts: number[]) {
    this.dir = dir
    this.clientPorts = clientPorts
    this.peerPorts = peerPorts
  }

  static async start (dir: string): Promise<Etcd> {
    try {
      execFileSync('etcd', ['--version'], { stdio: 'ignore' })
    } catch {
      throw new Error('etcd is not installed: the consensus bench compares against a local etcd cluster — run `apt-get update && apt-get install -y etcd-server` (Debian) and retry')
    }
    const ports = await freePorts(6)
    const e = new Etcd(dir, ports.slice(0, 3), ports.slice(3))
    for (let i = 0; i < 3; i++) await e.spawn(i, 'new')
    await e.waitHealthy()
    return e
  }

  async leader (): Promise<number> {
    for (let attempt = 0; attempt < 200; attempt++) {
      for (const i of this.procs.keys()) {
        const s = await this.post(i, '/v3/maintenance/status', {}).catch(() => undefined) as { leader?: string, header?: { member_id?: string } } | undefined
        if (s?.leader !== undefined && s.leader !== '0' && s.leader === s.header?.member_id) return i
      }
      await sleep(50)
    }
    throw new Error('etcd elected no leader')
  }

  async lockCycle (i: number, path: string): Promise<void> {
    let lease = this.lease.get(i)
    if (lease === undefined) {
      lease = (await this.post(i, '/v3/lease/grant', { TTL: 60 }) as { ID: string }).ID
      this.lease.set(i, lease)
    }
    const { key } = await this.post(i, '/v3/lock/lock', { name: b64(path), lease }) as { key: string }
    await this.post(i, '/v3/lock/unlock', { key })
  }

  async cas (i: number, key: string, from: string | null, to: string): Promise<void> {
    const compare = from === null
      ? [{ key: b64(key), target: 'CREATE', result: 'EQUAL', create_revision: '0' }]
      : [{ key: b64(key), target: 'VALUE', result: 'EQUAL', value: b64(from) }]
    const r = await this.post(i, '/v3/kv/txn', { compare, success: [{ request_put: { key: b64(key), value: b64(to) } }] }) as { succeeded?: boolean }
    if (r.succeeded !== true) throw new Error(`etcd CAS on ${key} failed`)
  }

  async put (i: number, key: string, value: string): Promise<void> {
    await this.post(i, '/v3/kv/put', { key: b64(key), value: b64(value) }, 1_000)
  }

  async kill (i: number): Promise<void> {
    const p = this.procs.get(i)
    this.procs.delete(i)
    this.lease.delete(i)
    if (p === undefined || p.exitCode !== null) return
    p.kill('SIGKILL')
    await once(p, 'exit')
  }

  async restart (i: number): Promise<void> {
    await this.spawn(i, 'existing')
    await this.waitHealthy()
  }

  async stop (): Promise<void> {
    for (const i of [...this.procs.keys()]) await this.kill(i)
  }

  private async spawn (i: number, state: 'new' | 'existing'): Promise<void> {
    const name = `m${i}`
    const cluster = this.peerPorts.map((p, j) => `m${j}=http://127.0.0.1:${p}`).join(',')
    await mkdir(join(this.dir, name), { recursive: true })
    const log = await open(join(this.dir, `${name}.log`), 'a')
    const p = spawn('etcd', [
      '--name', name,
      '--data-dir', join(this.dir, name, 'data'),
      '--listen-client-urls', `http://127.0.0.1:${this.clientPorts[i]}`,
      '--advertise-client-urls', `http://127.0.0.1:${this.clientPorts[i]}`,
      '--listen-peer-urls', `http://127.0.0.1:${this.peerPorts[i]}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${this.peerPorts[i]}`,
      '--initial-cluster', cluster,
      '--initial-cluster-state', state,
      '--initial-cluster-token', 'dits-bench'
    ], { stdio: ['ignore', log.fd, log.fd] })
    p.once('exit', () => { log.close().catch(() => {}) })
    this.procs.set(i, p)
  }

  private async waitHealthy (): Promise<void> {
    for (let attempt = 0; attempt < 300; attempt++) {
      const ok = await Promise.all([...this.procs.keys()].map(async i => await this.post(i, '/v3/kv/range', { key: b64('health') }, 500).then(() => true, () => false)))
      if (ok.every(Boolean)) return
      await sleep(50)
    }
    throw new Error(`etcd did not become healthy; see the logs in ${this.dir}`)
  }

  private async post (i: number, path: string, body: unknown, timeoutMs = 10_000): Promise<unknown> {
    const res = await post(`http://127.0.0.1:${this.clientPorts[i]}${path}`, body, {}, timeoutMs)
    const json = JSON.parse(res.text) as { error?: string, message?: string }
    if (res.status !== 200) throw new Error(`etcd ${path}: HTTP ${res.status} ${json.message ?? json.error ?? ''}`)
    return json
  }
}

// ---- dits ---------------------------------------------------------------------------------------------------

class Dits implements Side {
  readonly name = 'dits'
  private readonly cluster: VoterCluster
  private readonly apis = new Map<number, { url: string, token: string }>()

  private constructor (cluster: VoterCluster) {
    this.cluster = cluster
  }

  static async start (dir: string): Promise<Dits> {
    const cluster = new VoterCluster(dir, 3)
    await cluster.create()
    await cluster.startAll()
    const d = new Dits(cluster)
    await d.leader()
    return d
  }

  async leader (): Promise<number> {
    const via = [0, 1, 2].find(i => this.cluster.running(i)) as number
    return await this.cluster.leader(via)
  }

  async lockCycle (i: number, path: string): Promise<void> {
    await this.call(i, 'lockAcquire', { path, ttlMs: 60_000 })
    await this.call(i, 'lockRelease', { path })
  }

  async cas (i: number, key: string, from: string | null, to: string): Promise<void> {
    await this.call(i, 'refSet', { name: key, cid: to, ...(from === null ? { expectNone: true } : { expect: from }) })
  }

  async put (i: number, key: string, value: string): Promise<void> {
    await this.call(i, 'refSet', { name: key, cid: value })
  }

  async kill (i: number): Promise<void> {
    this.apis.delete(i)
    await this.cluster.kill(i)
  }

  async restart (i: number): Promise<void> {
    await this.cluster.start(i)
    await this.leader()
  }

  async stop (): Promise<void> {
    await this.cluster.stopAll()
  }

  /** Call an operation of node `i`'s local API (POST /rpc/<op>, NDJSON answer: the last line holds the result). */
  private async call (i: number, op: string, args: unknown): Promise<unknown> {
    let api = this.apis.get(i)
    if (api === undefined) {
      const repo = this.cluster.repos[i]
      api = { url: (await readFile(join(repo, API_FILE), 'utf8')).trim(), token: (await readFile(join(repo, API_TOKEN_FILE), 'utf8')).trim() }
      this.apis.set(i, api)
    }
    const res = await post(`${api.url}/rpc/${op}`, args, { authorization: `Bearer ${api.token}` }, 30_000)
    const lines = res.text.trim().split('\n')
    const last = JSON.parse(lines[lines.length - 1]) as { result?: unknown, error?: { message: string } }
    if (last.error !== undefined) throw new Error(`dits ${op}: ${last.error.message}`)
    return last.result
  }
}

// ---- the measurements ---------------------------------------------------------------------------------------
// The two sides take turns in short slices (a batch of lock cycles, a one-second CAS window), so that both see
// the same machine: on shared hardware the load of the moment moves latencies more than anything measured here.

async function lockBatch (side: Side, leader: number, path: string, n: number): Promise<number[]> {
  const samples: number[] = []
  for (let k = 0; k < n; k++) {
    const t0 = performance.now()
    await side.lockCycle(leader, path)
    samples.push(performance.now() - t0)
  }
  return samples
}

/** 64 clients, each compare-and-swapping its own key between two values; `state` keeps each key's value. */
class CasLoad {
  private readonly keys: string[]
  private readonly current = new Map<string, number>()

  constructor (private readonly side: Side, private readonly leader: number, run: number | string) {
    this.keys = Array.from({ length: CAS_CLIENTS }, (_v, c) => `bench/cas-${run}/k${c}`)
  }

  async setup (): Promise<void> {
    await Promise.all(this.keys.map(async key => {
      await this.side.cas(this.leader, key, null, CIDS[0])
      this.current.set(key, 0)
    }))
  }

  /** Committed CAS per second over a window of `ms`. */
  async window (ms: number): Promise<number> {
    let done = 0
    const start = performance.now()
    const until = start + ms
    await Promise.all(this.keys.map(async key => {
      while (performance.now() < until) {
        const cur = this.current.get(key) as number
        await this.side.cas(this.leader, key, CIDS[cur], CIDS[1 - cur])
        this.current.set(key, 1 - cur)
        done++
      }
    }))
    return done / ((performance.now() - start) / 1000)
  }
}

async function failover (side: Side, run: number): Promise<number> {
  const leader = await side.leader()
  const via = [0, 1, 2].find(i => i !== leader) as number
  await side.put(via, `bench/failover-${run}/warm`, CIDS[0])
  const t0 = performance.now()
  await side.kill(leader)
  for (;;) {
    try {
      await side.put(via, `bench/failover-${run}/after`, CIDS[1])
      break
    } catch {
      if (performance.now() - t0 > 60_000) throw new Error(`${side.name}: no write succeeded within 60 s of the leader's death`)
      await sleep(WRITE_RETRY_MS)
    }
  }
  const ms = performance.now() - t0
  await side.restart(leader)
  return ms
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

const consensus: Bench = {
  name: 'consensus',
  description: '3 dits voters vs a 3-member etcd cluster: lock acquire+release latency, CAS throughput with 64 clients, leader-kill failover',
  async run (ctx: BenchContext): Promise<BenchResult[]> {
    const etcd = await Etcd.start(join(ctx.tmpDir, 'etcd'))
    let dits: Dits | undefined
    try {
      dits = await Dits.start(join(ctx.tmpDir, 'dits'))
      const sides: Side[] = [etcd, dits]
      const lock = new Map<string, number[]>(sides.map(s => [s.name, []]))
      const cas = new Map<string, number[]>(sides.map(s => [s.name, []]))
      const fo = new Map<string, number[]>(sides.map(s => [s.name, []]))
      for (let run = 0; run < ctx.runs; run++) {
        const leaders = new Map<string, number>()
        for (const s of sides) leaders.set(s.name, await s.leader())
        const at = (s: Side): number => leaders.get(s.name) as number
        for (const s of sides) {
          await lockBatch(s, at(s), `bench/warmup-${run}/clip.prproj`, WARMUP_LOCK_CYCLES)
          const load = new CasLoad(s, at(s), `warmup-${run}`)
          await load.setup()
          await load.window(WARMUP_CAS_MS)
        }
        const path = `bench/lock-${run}/clip.prproj`
        for (const s of sides) await lockBatch(s, at(s), path, LOCK_WARMUP)
        for (let b = 0; b < LOCK_BATCHES; b++) {
          for (const s of b % 2 === 0 ? sides : [...sides].reverse()) lock.get(s.name)?.push(...await lockBatch(s, at(s), path, LOCK_BATCH_OPS))
        }
        const loads = sides.map(s => new CasLoad(s, at(s), run))
        for (const l of loads) await l.setup()
        const perRun = new Map<string, number[]>(sides.map(s => [s.name, []]))
        for (let w = 0; w < CAS_WINDOWS; w++) {
          for (const k of w % 2 === 0 ? [0, 1] : [1, 0]) perRun.get(sides[k].name)?.push(await loads[k].window(CAS_WINDOW_MS))
        }
        for (const s of sides) cas.get(s.name)?.push(median(perRun.get(s.name) as number[]))
        for (const s of run % 2 === 0 ? sides : [...sides].reverse()) fo.get(s.name)?.push(await failover(s, run))
        ctx.log(`run ${run + 1}: ` + sides.map(s => `${s.name} lock p50 ${median(lock.get(s.name) as number[]).toFixed(2)} ms, cas ${(cas.get(s.name)?.at(-1) ?? 0).toFixed(0)}/s, failover ${(fo.get(s.name)?.at(-1) ?? 0).toFixed(0)} ms`).join(' | '))
      }
      const d = (m: Map<string, number[]>): number[] => m.get('dits') as number[]
      const e = (m: Map<string, number[]>): number[] => m.get('etcd') as number[]
      return [
        result('consensus-lock-p50', 'ms', median(d(lock)), 'etcd', median(e(lock)), false),
        result('consensus-lock-p99', 'ms', percentile(d(lock), 99), 'etcd', percentile(e(lock), 99), false),
        result('consensus-cas-64', 'ops/s', median(d(cas)), 'etcd', median(e(cas)), true),
        result('consensus-failover', 'ms', median(d(fo)), 'etcd', median(e(fo)), false, { goal_ms: FAILOVER_GOAL_MS, dits_max_ms: Math.round(Math.max(...d(fo))) })
      ]
    } finally {
      await dits?.stop()
      await etcd.stop()
    }
  }
}

export const benches: Bench[] = [consensus]
