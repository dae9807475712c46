/**
 * swarm-8 (issue 19): eight peers fetch one 256 MiB root at once from a seed whose serving rate is capped
 * (`SWARM_SEED_RATE` bytes/s, default 12.5 MB/s; the links between peers are not capped, as on a LAN), against one
 * peer fetching it alone from the same seed. Nine processes (the seed and each peer in its own, like daemons), each
 * peer connected to the seed and to the others, storing into a blockstore-fs (`net.fetch`, what `get --pin` fetches;
 * no output file, whose writing is the same with or without a swarm).
 *
 * The JSON line's `value` is seed bytes sent during the 8-peer run / the root's size (goal <= 1.3), `ratio` the same
 * (DESIGN §10: "ratio = seed bytes / root size"); `last_done_s` / `alone_s` (goal <= 1.5) and the worst peer's
 * duplicate bytes received (goal <= 2 %) beside it, with the CPU the nine processes used and the load average.
 *
 * This file is also its own child process: `node swarm.bench.js seed REPO FILE RATE` | `peer DEST`, each driven by
 * lines on stdin (`stats`, `connect ADDR…`, `fetch ROOT`) and answering one JSON line each.
 */
import { spawn } from 'node:child_process'
import { rm, mkdir } from 'node:fs/promises'
import { once } from 'node:events'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createInterface } from 'node:readline'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { CID } from 'multiformats/cid'
import { median, randomFile, result, MiB, MB } from './harness.ts'
import { addFile } from './net.bench.ts'
import { DitsBlockstore } from '../../node/blockstore.ts'
import { createNetwork } from '../../node/net/index.ts'
import type { Bench } from './harness.ts'
import type { DitsNetwork, NetworkObserver } from '../../node/net/index.ts'

const SELF = fileURLToPath(import.meta.url)
const ROOT_BYTES = 256 * MiB
const PEERS = 8
/** The seed's serving cap: one peer alone needs ~21 s for the root. */
const SEED_RATE_BYTES_PER_SEC = Number(process.env.SWARM_SEED_RATE ?? 12.5e6)

interface Child {
  ask(line: string): Promise<any>
  stop(): Promise<void>
  cpuMs(): Promise<number>
}

/** Start `node swarm.bench.js ...args`; its first line is its address. */
async function startChild (args: string[]): Promise<{ child: Child, addr: string }> {
  const proc = spawn(process.execPath, [SELF, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<any> => {
    const line = await lines.next()
    if (line.done === true) throw new Error(`child ${args[0]} exited (${String(proc.exitCode)})`)
    return JSON.parse(line.value)
  }
  const first = await next() as { addr: string }
  // answers come in the order asked
  let tail: Promise<unknown> = Promise.resolve()
  const child: Child = {
    async ask (line) {
      const answer = tail.then(async () => {
        proc.stdin.write(line + '\n')
        return await next()
      })
      tail = answer.catch(() => {})
      return await answer
    },
    async cpuMs () {
      return (await child.ask('cpu') as { ms: number }).ms
    },
    async stop () {
      proc.stdin.end()
      if (proc.exitCode == null) await once(proc, 'exit')
    }
  }
  return { child, addr: first.addr }
}

interface FetchAnswer { ms: number, bytes_fetched: number, received_chunk_bytes: number, from_seed: number }

const swarm8: Bench = {
  name: 'swarm-8',
  description: `${PEERS} peers fetch one 256 MiB root at once from a seed capped at ${SEED_RATE_BYTES_PER_SEC / MB} MB/s (links between peers uncapped) vs one peer alone`,
  async run (ctx) {
    const file = join(ctx.tmpDir, 'random-256m.bin')
    await randomFile(file, ROOT_BYTES)
    const seedRepo = join(ctx.tmpDir, 'seed')
    const root = await addFile(file, seedRepo)
    await rm(file)
    const copies: number[] = []
    const lastDone: number[] = []
    const alone: number[] = []
    const dupWorst: number[] = []
    const cpu: number[] = []
    for (let run = 0; run < ctx.runs; run++) {
      const { child: seed, addr: seedAddr } = await startChild(['seed', seedRepo, String(SEED_RATE_BYTES_PER_SEC)])
      const peers: Array<{ child: Child, addr: string }> = []
      try {
        // one peer alone
        const solo = await startChild(['peer', join(ctx.tmpDir, `solo-${run}`)])
        peers.push(solo)
        await solo.child.ask(`connect ${seedAddr}`)
        const one = await solo.child.ask(`fetch ${root.toString()}`) as FetchAnswer
        alone.push(one.ms / 1000)
        await solo.child.stop()
        peers.length = 0
        await rm(join(ctx.tmpDir, `solo-${run}`), { recursive: true, force: true })

        // eight at once, each connected to the seed and to the others (a LAN's mDNS does that)
        for (let i = 0; i < PEERS; i++) peers.push(await startChild(['peer', join(ctx.tmpDir, `peer-${run}-${i}`)]))
        for (const [i, p] of peers.entries()) await p.child.ask(`connect ${[seedAddr, ...peers.slice(0, i).map(q => q.addr)].join(' ')}`)
        const servedBefore = (await seed.ask('stats') as { bytesServed: number }).bytesServed
        const cpuBefore = [await seed.cpuMs(), ...await Promise.all(peers.map(async p => await p.child.cpuMs()))].reduce((a, b) => a + b, 0)
        const started = performance.now()
        const answers = await Promise.all(peers.map(async p => {
          const a = await p.child.ask(`fetch ${root.toString()}`) as FetchAnswer
          return { ...a, doneAt: performance.now() - started }
        }))
        const wallS = (performance.now() - started) / 1000
        const stats = await seed.ask('stats') as { bytesServed: number, deferred: number }
        const cpuAfter = [await seed.cpuMs(), ...await Promise.all(peers.map(async p => await p.child.cpuMs()))].reduce((a, b) => a + b, 0)
        const seedCopies = (stats.bytesServed - servedBefore) / ROOT_BYTES
        const dups = answers.map(a => (a.received_chunk_bytes - a.bytes_fetched) / ROOT_BYTES)
        copies.push(seedCopies)
        lastDone.push(Math.max(...answers.map(a => a.doneAt)) / 1000)
        dupWorst.push(Math.max(...dups))
        cpu.push((cpuAfter - cpuBefore) / 1000 / wallS)
        ctx.log(`run ${run + 1}: alone ${alone.at(-1)?.toFixed(1)} s; 8 peers: last done ${lastDone.at(-1)?.toFixed(1)} s (each ${answers.map(a => (a.doneAt / 1000).toFixed(1)).join(' ')}), seed sent ${seedCopies.toFixed(2)} copies (${stats.deferred} deferrals), duplicates ${dups.map(d => (d * 100).toFixed(1) + '%').join(' ')}, from the seed ${answers.map(a => (a.from_seed / MB).toFixed(0)).join(' ')} MB, CPU ${cpu.at(-1)?.toFixed(2)} cores of 2, load ${loadavg().map(l => l.toFixed(1)).join(' ')}`)
      } finally {
        await Promise.all(peers.map(async p => { await p.child.stop() }))
        await seed.stop()
        for (let i = 0; i < PEERS; i++) await rm(join(ctx.tmpDir, `peer-${run}-${i}`), { recursive: true, force: true })
      }
    }
    const c = median(copies)
    return [result('swarm-8', 'seed copies', c, 'root', 1, false, {
      ratio: Math.round(c * 100) / 100,
      last_done_s: Math.round(median(lastDone) * 10) / 10,
      alone_s: Math.round(median(alone) * 10) / 10,
      time_ratio: Math.round(median(lastDone) / median(alone) * 100) / 100,
      duplicate_worst_peer: Math.round(median(dupWorst) * 1000) / 1000,
      seed_rate_mb_s: SEED_RATE_BYTES_PER_SEC / MB,
      cpu_cores: Math.round(median(cpu) * 100) / 100,
      load: loadavg().map(l => Math.round(l * 10) / 10)
    })]
  }
}

export const benches: Bench[] = [swarm8]

// ---- child processes ----

/** Answer each stdin line with one JSON line; `cpu` is common to both kinds of child. */
async function serveLines (net: DitsNetwork, handle: (words: string[]) => Promise<unknown>): Promise<void> {
  process.stdout.write(JSON.stringify({ addr: net.addresses()[0] }) + '\n')
  for await (const line of createInterface({ input: process.stdin })) {
    const words = line.trim().split(/\s+/)
    const usage = process.cpuUsage()
    const answer = words[0] === 'cpu' ? { ms: (usage.user + usage.system) / 1000 } : await handle(words)
    process.stdout.write(JSON.stringify(answer) + '\n')
  }
  await net.stop()
}

async function openStore (dir: string): Promise<DitsBlockstore> {
  await mkdir(dir, { recursive: true })
  const store = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
  await store.open()
  return store
}

async function seedChild (repo: string, rate: number): Promise<void> {
  const store = await openStore(repo)
  const net = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), blockstore: store, role: 'seed', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, maxServeRateBytesPerSec: rate })
  await net.start()
  await serveLines(net, async () => {
    const { bytesServed, deferred } = net.status().served
    return { bytesServed, deferred }
  })
}

async function peerChild (dest: string): Promise<void> {
  const store = await openStore(dest)
  await store.createShards()
  let receivedChunkBytes = 0
  const observer: NetworkObserver = {
    blockVerified: (_peer, bytes, kind) => { if (kind === 'chunk') receivedChunkBytes += bytes },
    verificationFailed: () => {},
    heldAtStart: () => {},
    served: () => {},
    banned: () => {},
    provided: () => {},
    lookedUp: () => {}
  }
  const net = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), blockstore: store, role: 'peer', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, observer })
  await net.start()
  const seeds = new Set<string>()
  await serveLines(net, async ([verb, ...args]) => {
    if (verb === 'connect') {
      for (const a of args) {
        // already connected (the DHT dials the peers it learns of): a second connection would only race the first
        const id = a.split('/p2p/')[1]
        const known = net.peers().find(p => p.id === id && p.hello === 'ok')
        if (known != null) {
          if (known.roles.includes('seed')) seeds.add(known.id)
          continue
        }
        // a dial racing the DHT's own connection to the same peer may lose its hello stream: dial again
        let info
        for (let attempt = 1; info == null; attempt++) {
          info = await net.connect(a).catch(async (err: Error) => {
            if (attempt >= 3) throw err
            await new Promise(resolve => setTimeout(resolve, 200))
            return undefined
          })
        }
        if (info.roles.includes('seed')) seeds.add(info.id)
      }
      return { ok: true }
    }
    const started = performance.now()
    const report = await net.fetch(CID.parse(args[0]))
    const fromSeed = Object.entries(report.sources).filter(([id]) => seeds.has(id)).reduce((n, [, b]) => n + b, 0)
    return { ms: performance.now() - started, bytes_fetched: report.bytes_fetched, received_chunk_bytes: receivedChunkBytes, from_seed: fromSeed }
  })
}

if (process.argv[1] != null && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const [mode, ...args] = process.argv.slice(2)
  const run = mode === 'seed' ? seedChild(args[0], Number(args[1])) : mode === 'peer' ? peerChild(args[0]) : Promise.reject(new Error(`unknown child mode ${mode}`))
  run.then(() => process.exit(0), (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  })
}
