/**
 * Crash consistency under kill -9 (issue 15): real `dits-node` processes killed at random points of `add`, `get`,
 * `ref set` and `lock acquire`, and after every kill the same questions: does the repo open, is `verify` clean, is
 * everything that was acknowledged (a command that exited 0) still there?
 *
 * - add: the CLI adding a changing tree is killed; acknowledged roots stay pinned, verify clean, no manifest links a
 *   missing block, and at the end every acknowledged root reads back byte-exact.
 * - get: the fetching daemon is killed mid-get and restarted; it opens, verifies clean, the output path is either
 *   absent or complete and byte-exact (never a torn file under the final name), earlier gets' files are intact.
 * - ref: a voter of a 3-voter group (the leader, mostly) is killed while a compare-and-swap chain runs through
 *   the group, then restarted; every voter converges on a value no older than the last acknowledged one.
 * - lock: the same with `lock acquire` of a new path each time: every acknowledged grant is still held, with its
 *   token, on every voter, and tokens only grow.
 *
 * Each scenario draws its kill delays from a seeded PRNG over the measured length of one uninterrupted operation.
 * `npm run kill -- --runs 100` runs it at length; test/kill/kill.spec.ts runs a small sample in `npm test`.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, readFile, readdir, rm, open } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, dits, ok, startDaemon } from '../helpers/cli.ts'
import { danglingLinks } from '../helpers/blocks.ts'
import { randomFile } from '../bench/harness.ts'
import { VoterCluster } from '../node/consensus/cluster.ts'
import { chunkCid } from '../../src/cid.ts'
import { seededRandom } from '../../src/raft/random.ts'
import type { RunningDaemon } from '../helpers/cli.ts'

export type Scenario = 'add' | 'get' | 'ref' | 'lock'
export const SCENARIOS: Scenario[] = ['add', 'get', 'ref', 'lock']

export interface KillOptions {
  /** kills per scenario */
  runs: number
  seed: number
  /** a scratch directory the scenario owns (and removes nothing outside of) */
  dir: string
  log?: (line: string) => void
}

export interface KillReport {
  scenario: Scenario
  runs: number
  /** operations that finished (exit 0) before their kill landed: acknowledged */
  acknowledged: number
  /** operations cut by the kill */
  killed: number
  durationMs: number
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Run the CLI; `killAfterMs` kills it (SIGKILL) if it is still running then. */
async function cli (args: string[], killAfterMs?: number): Promise<{ code: number | null, stdout: string, stderr: string, killed: boolean }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  let killed = false
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => { killed = child.exitCode === null; child.kill('SIGKILL') }, killAfterMs)
  const [code] = await once(child, 'close') as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr, killed: killed && code !== 0 }
}

async function timed (fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

/** verify --json through whatever runs the repo; asserts nothing bad and nothing missing. */
async function assertVerifyClean (repo: string, context: string): Promise<void> {
  const r = await dits(['--repo', repo, '--json', 'verify'])
  assert.equal(r.code, 0, `${context}: verify exited ${r.code}: ${r.stderr}`)
  const v = JSON.parse(r.stdout) as { bad?: unknown[], missing?: unknown[] }
  assert.deepEqual(v.bad ?? [], [], `${context}: verify found bad blocks`)
  assert.deepEqual(v.missing ?? [], [], `${context}: verify found missing blocks`)
}

async function sha256File (path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex')
}

/** Overwrite `bytes` random bytes at a random offset: the next add writes new chunks. */
async function scribble (path: string, rand: () => number, bytes: number): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    const { size } = await fh.stat()
    const buf = Buffer.alloc(bytes)
    for (let i = 0; i < bytes; i++) buf[i] = Math.floor(rand() * 256)
    await fh.write(buf, 0, bytes, Math.floor(rand() * Math.max(1, size - bytes)))
  } finally {
    await fh.close()
  }
}

// ------------------------------------------------------------------------------------------------ add

async function killAdd (o: KillOptions): Promise<KillReport> {
  const rand = seededRandom(o.seed)
  const repo = join(o.dir, 'repo')
  const src = join(o.dir, 'src')
  await ok(['--repo', repo, 'init'])
  await mkdir(src, { recursive: true })
  for (let i = 0; i < 4; i++) await randomFile(join(src, `clip${i}.bin`), 6 * 1024 * 1024)
  const full = await timed(async () => await ok(['--repo', repo, '--json', 'add', '--profile', 'small', src]))
  const acked: Array<{ root: string, files: Map<string, string> }> = []
  let killed = 0
  for (let run = 0; run < o.runs; run++) {
    await scribble(join(src, `clip${Math.floor(rand() * 4)}.bin`), rand, 64 * 1024)
    const delay = Math.floor(rand() * full * 1.2)
    const snapshot = new Map<string, string>()
    for (const f of await readdir(src)) snapshot.set(f, await sha256File(join(src, f)))
    const r = await cli(['--repo', repo, '--json', 'add', '--profile', 'small', src], delay)
    if (r.code === 0) acked.push({ root: (JSON.parse(r.stdout) as { root: string }).root, files: snapshot })
    else if (r.killed) killed++
    else throw new Error(`add ${run} failed on its own (exit ${r.code}): ${r.stderr}`)
    const context = `add run ${run} (seed ${o.seed}, kill at ${delay} ms${r.killed ? '' : ', finished first'})`
    const pins = JSON.parse(await ok(['--repo', repo, '--json', 'pin', 'ls'])) as Array<string | { root?: string, cid?: string }>
    const pinned = new Set(pins.map(p => typeof p === 'string' ? p : (p.root ?? p.cid)))
    for (const a of acked) assert.ok(pinned.has(a.root), `${context}: acknowledged root ${a.root} is no longer pinned`)
    assert.deepEqual(await danglingLinks(repo), [], `${context}: a manifest links a missing block`)
    await assertVerifyClean(repo, context)
    o.log?.(`add ${run}: ${r.killed ? `killed at ${delay} ms` : 'finished'}; ${acked.length} acknowledged`)
  }
  // every acknowledged root reads back byte-exact
  for (const [i, a] of acked.entries()) {
    const out = join(o.dir, `out-${i}`)
    await ok(['--repo', repo, 'get', a.root, '-o', out])
    for (const [f, hash] of a.files) assert.equal(await sha256File(join(out, f)), hash, `acknowledged root ${a.root}: ${f} differs`)
    await rm(out, { recursive: true })
  }
  return { scenario: 'add', runs: o.runs, acknowledged: acked.length, killed, durationMs: 0 }
}

// ------------------------------------------------------------------------------------------------ get

async function killGet (o: KillOptions): Promise<KillReport> {
  const rand = seededRandom(o.seed)
  const src = join(o.dir, 'src-repo')
  const dst = join(o.dir, 'dst-repo')
  await ok(['--repo', src, 'init'])
  await ok(['--repo', dst, 'init'])
  for (const repo of [src, dst]) await ok(['--repo', repo, 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
  const source = await startDaemon(src)
  let fetcher: RunningDaemon | undefined
  const acked: Array<{ out: string, hash: string }> = []
  let killed = 0
  try {
    const sourceAddr = source.info.addresses.find(a => a.includes('/tcp/')) as string
    const start = async (): Promise<RunningDaemon> => {
      const d = await startDaemon(dst)
      await ok(['--repo', dst, 'connect', sourceAddr])
      return d
    }
    fetcher = await start()
    let full = 0
    for (let run = 0; run < o.runs; run++) {
      // new content each time, so that every get has most of its chunks to fetch
      const file = join(o.dir, 'clip.bin')
      await randomFile(file, 24 * 1024 * 1024)
      const hash = await sha256File(file)
      const root = (JSON.parse(await ok(['--repo', src, '--json', 'add', file])) as { root: string }).root
      const out = join(o.dir, `out-${run}.bin`)
      if (full === 0) {
        full = await timed(async () => await ok(['--repo', dst, 'get', root, '-o', out]))
        acked.push({ out, hash })
        continue
      }
      const delay = Math.floor(rand() * full * 1.2)
      const get = cli(['--repo', dst, 'get', root, '-o', out])
      await sleep(delay)
      const wasRunning = fetcher.child.exitCode === null
      await fetcher.stop('SIGKILL')
      const r = await get
      const context = `get run ${run} (seed ${o.seed}, daemon killed at ${delay} ms)`
      if (r.code === 0) acked.push({ out, hash })
      else killed++
      assert.ok(wasRunning, `${context}: the fetcher had died on its own`)
      // the output is absent or whole: never a torn file under its final name
      const present = await readFile(out).then(b => createHash('sha256').update(b).digest('hex'), () => undefined)
      if (present !== undefined) assert.equal(present, hash, `${context}: ${out} exists but is not the whole file`)
      fetcher = await start()
      await assertVerifyClean(dst, context)
      for (const a of acked) assert.equal(await sha256File(a.out), a.hash, `${context}: ${a.out} changed`)
      o.log?.(`get ${run}: ${r.code === 0 ? 'finished first' : `killed at ${delay} ms`}; ${acked.length} acknowledged`)
      await rm(file)
    }
  } finally {
    await fetcher?.stop('SIGKILL')
    await source.stop('SIGINT')
  }
  return { scenario: 'get', runs: o.runs, acknowledged: acked.length, killed, durationMs: 0 }
}

// ------------------------------------------------------------------------------------------------ ref and lock

/** A running voter other than `not`, to send commands through. */
function otherVoter (cluster: VoterCluster, not: number, rand: () => number): number {
  const up = [...Array(cluster.size).keys()].filter(i => i !== not && cluster.running(i))
  return up[Math.floor(rand() * up.length)]
}

async function withCluster<T> (o: KillOptions, fn: (c: VoterCluster) => Promise<T>): Promise<T> {
  const cluster = new VoterCluster(o.dir, 3)
  await cluster.create()
  await cluster.startAll()
  try {
    await cluster.leader(0, 30_000)
    return await fn(cluster)
  } finally {
    await cluster.stopAll()
  }
}

/** Wait until `read` gives the same non-undefined answer on every voter. */
async function converged<T> (cluster: VoterCluster, read: (i: number) => Promise<T>, context: string): Promise<T> {
  const until = Date.now() + 30_000
  let last: unknown[] = []
  while (Date.now() < until) {
    last = await Promise.all([...Array(cluster.size).keys()].map(async i => await read(i).catch(() => undefined)))
    if (last.every(v => v !== undefined && JSON.stringify(v) === JSON.stringify(last[0]))) return last[0] as T
    await sleep(200)
  }
  throw new Error(`${context}: the voters did not converge within 30 s: ${JSON.stringify(last)}`)
}

async function killRef (o: KillOptions): Promise<KillReport> {
  const rand = seededRandom(o.seed)
  return await withCluster(o, async cluster => {
    // the chain's values v0, v1, …: a ref may name content no voter holds
    const values = Array.from({ length: o.runs + 1 }, (_, k) => chunkCid(new TextEncoder().encode(`v${k}`)).toString())
    const value = (k: number): string => values[k]
    const index = (cid: string): number => values.indexOf(cid)
    let lastAcked = -1
    let current = 0
    let killed = 0
    let acknowledged = 0
    const full = await timed(async () => await ok(['--repo', cluster.repos[0], 'ref', 'set', 'kill/ref', value(0), '--expect-none']))
    lastAcked = 0
    current = 0
    acknowledged++
    for (let run = 1; run <= o.runs; run++) {
      const leader = await cluster.leader(0, 30_000).catch(async () => await cluster.leader(1, 30_000))
      const victim = rand() < 0.7 ? leader : Math.floor(rand() * cluster.size)
      const via = otherVoter(cluster, victim, rand)
      const delay = Math.floor(rand() * full * 1.5)
      const next = run
      const set = cli(['--repo', cluster.repos[via], 'ref', 'set', 'kill/ref', value(next), '--expect', value(current)])
      await sleep(delay)
      await cluster.kill(victim, 'SIGKILL')
      const r = await set
      if (r.code === 0) { lastAcked = next; acknowledged++ } else killed++
      await cluster.start(victim)
      const context = `ref run ${run} (seed ${o.seed}, voter ${victim} killed at ${delay} ms)`
      const read = async (i: number): Promise<string> => (await ok(['--repo', cluster.repos[i], 'ref', 'get', 'kill/ref'])).trim()
      const now = index(await converged(cluster, read, context))
      assert.ok(now >= lastAcked, `${context}: the ref went back from acknowledged v${lastAcked} to v${now}`)
      assert.ok(now === lastAcked || now === next, `${context}: the ref is v${now}, neither acknowledged v${lastAcked} nor attempted v${next}`)
      current = now
      o.log?.(`ref ${run}: ${r.code === 0 ? 'acknowledged' : `cut (exit ${r.code})`}, voter ${victim} killed at ${delay} ms; value v${now}`)
    }
    return { scenario: 'ref', runs: o.runs, acknowledged, killed, durationMs: 0 } satisfies KillReport
  })
}

async function killLock (o: KillOptions): Promise<KillReport> {
  const rand = seededRandom(o.seed)
  return await withCluster(o, async cluster => {
    const acked = new Map<string, number>()
    let killed = 0
    const acquire = (via: number, path: string): string[] => ['--repo', cluster.repos[via], '--json', 'lock', 'acquire', path, '--ttl', '10m']
    const full = await timed(async () => {
      const g = JSON.parse(await ok(acquire(0, 'kill/lock-0'))) as { token: number }
      acked.set('kill/lock-0', g.token)
    })
    for (let run = 1; run <= o.runs; run++) {
      const leader = await cluster.leader(0, 30_000).catch(async () => await cluster.leader(1, 30_000))
      const victim = rand() < 0.7 ? leader : Math.floor(rand() * cluster.size)
      const via = otherVoter(cluster, victim, rand)
      const delay = Math.floor(rand() * full * 1.5)
      const path = `kill/lock-${run}`
      const acq = cli(acquire(via, path))
      await sleep(delay)
      await cluster.kill(victim, 'SIGKILL')
      const r = await acq
      if (r.code === 0) {
        const token = (JSON.parse(r.stdout) as { token: number }).token
        assert.ok([...acked.values()].every(t => t < token), `lock run ${run}: token ${token} is not above every earlier one`)
        acked.set(path, token)
      } else killed++
      await cluster.start(victim)
      const context = `lock run ${run} (seed ${o.seed}, voter ${victim} killed at ${delay} ms)`
      const read = async (i: number): Promise<Array<[string, number]>> => {
        const ls = JSON.parse(await ok(['--repo', cluster.repos[i], '--json', 'lock', 'ls', 'kill/'])) as { locks: Array<{ path: string, token: number }> } | Array<{ path: string, token: number }>
        const locks = Array.isArray(ls) ? ls : ls.locks
        return locks.map(l => [l.path, l.token] as [string, number]).sort()
      }
      const held = new Map(await converged(cluster, read, context))
      for (const [p, token] of acked) assert.equal(held.get(p), token, `${context}: acknowledged ${p} (token ${token}) is no longer held with that token`)
      o.log?.(`lock ${run}: ${r.code === 0 ? 'acknowledged' : `cut (exit ${r.code})`}, voter ${victim} killed at ${delay} ms; ${acked.size} held`)
    }
    return { scenario: 'lock', runs: o.runs, acknowledged: acked.size, killed, durationMs: 0 } satisfies KillReport
  })
}

const RUNNERS: Record<Scenario, (o: KillOptions) => Promise<KillReport>> = { add: killAdd, get: killGet, ref: killRef, lock: killLock }

/** Run one scenario in `o.dir` (created, and removed after). */
export async function runKill (scenario: Scenario, o: KillOptions): Promise<KillReport> {
  await mkdir(o.dir, { recursive: true })
  const t0 = performance.now()
  try {
    const report = await RUNNERS[scenario](o)
    return { ...report, durationMs: Math.round(performance.now() - t0) }
  } finally {
    await rm(o.dir, { recursive: true, force: true })
  }
}
