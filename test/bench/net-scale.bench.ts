/**
 * net-50 (issue 19, "nothing grows with the data"): a network of a seed and 50 peers, all in this process on one
 * event loop (TCP on 127.0.0.1, noise, yamux, each node with its own in-memory blockstore; the machine has 2 cores,
 * and 51 processes would measure the scheduler more than the network). Each peer dials three others (the first
 * peers, half its index and the one before it) and names the seed in `seeds`, as a workstation's config does.
 * - findProviders of a root the seed announced, from every peer: the time to the first provider (p50, p95), and the
 *   DHT hops it took: a peer the lookup starts from is one hop away, a peer another one named in its answer is one
 *   hop further; the hops of a lookup are those of the peer whose answer held the provider (0: the peer held the
 *   record itself). Also the queries sent until then, and the lookups that found no provider (counted apart, not
 *   in the times).
 * - all 50 peers fetch a 64 MiB root (1 MiB chunks) from the seed at once: the time until the last is done (and the
 *   first, and the median), and the share of the bytes the seed sent. A fetch that fails is started again, as a user
 *   runs `get` again (what it stored stays), at most FETCH_ATTEMPTS times; the failures are counted.
 */
import { provideKey } from '../../protocol/provide-key.ts'
import { startNode, stopAll, makeFile, MemoryBlockstore, MiB } from '../node/net/helpers.ts'
import { median, percentile, result } from './harness.ts'
import type { Bench, BenchContext, BenchResult } from './harness.ts'
import type { TestNode } from '../node/net/helpers.ts'
import type { CID } from 'multiformats/cid'
import type { FetchReport } from '../../node/net/index.ts'

const PEERS = 50
const ROOT_BYTES = 64 * MiB
const CHUNK_BYTES = MiB
/** how long one lookup may take before it counts as failed */
const LOOKUP_TIMEOUT_MS = 10_000
/** how long the 50 fetches may take together */
const FETCH_TIMEOUT_MS = 600_000
/** a peer whose fetch fails starts it again (resuming), at most this many times in all */
const FETCH_ATTEMPTS = 3
/** time for the routing tables to fill after the dials (kad-dht adds identified peers asynchronously) */
const SETTLE_MS = 3000

interface Lookup {
  ms: number
  hops: number
  queries: number
  /** the lookup ended (or timed out) without a provider */
  failed?: true
}

/** findProviders of `root` from `node` until the first provider, with the hops it took and the queries sent. */
async function lookup (node: TestNode, root: CID): Promise<Lookup> {
  const key = await provideKey(root)
  const self = node.net.peerId
  const depth = new Map<string, number>()
  let queries = 0
  const started = performance.now()
  const events = node.net.libp2p.services.dht.findProviders(key, { signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS) })
  for await (const event of (async function * () { try { yield * events } catch {} })()) {
    if (event.name === 'SEND_QUERY') {
      queries++
      if (!depth.has(event.to.toString())) depth.set(event.to.toString(), 1)
    } else if (event.name === 'PEER_RESPONSE') {
      const d = depth.get(event.from.toString()) ?? 1
      for (const p of event.closer) if (!depth.has(p.id.toString())) depth.set(p.id.toString(), d + 1)
    } else if (event.name === 'PROVIDER' && event.providers.length > 0) {
      const from = event.from.toString()
      return { ms: performance.now() - started, hops: from === self ? 0 : depth.get(from) ?? 1, queries }
    }
  }
  return { ms: performance.now() - started, hops: Math.max(0, ...depth.values()), queries, failed: true }
}

/**
 * Every node dials from 127.0.0.1: libp2p's per-host limits on inbound connections (5 a second, 10 pending) would
 * refuse most of the 50 as they connect at once, as 50 workstations on a LAN, each its own host, are not.
 */
const INBOUND_LIMITS = { inboundConnectionThreshold: 10 * PEERS, maxIncomingPendingConnections: 2 * PEERS }

/** The seed and PEERS peers, dialled as the file's comment says. */
async function network (seedStore: MemoryBlockstore): Promise<{ seed: TestNode, peers: TestNode[] }> {
  const seed = await startNode({ role: 'seed', store: seedStore, inboundLimits: INBOUND_LIMITS })
  const seedAddr = seed.net.addresses().find(a => a.includes('/tcp/')) as string
  const peers: TestNode[] = []
  for (let i = 0; i < PEERS; i++) peers.push(await startNode({ seeds: [seedAddr], inboundLimits: INBOUND_LIMITS }))
  await peers[0].net.connect(seedAddr)
  for (let i = 1; i < PEERS; i++) {
    for (const j of new Set([0, Math.floor(i / 2), i - 1])) await peers[i].net.connect(peers[j].addr).catch(() => {})
  }
  await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
  return { seed, peers }
}

const net50: Bench = {
  name: 'net-50',
  description: `a seed and ${PEERS} peers in one process (TCP on loopback): findProviders p50/p95 and DHT hops, and the time for all ${PEERS} to fetch a ${ROOT_BYTES / MiB} MiB root from the seed`,
  async run (ctx: BenchContext): Promise<BenchResult[]> {
    const lookups: Lookup[] = []
    const lastDone: number[] = []
    const firstDone: number[] = []
    const medianDone: number[] = []
    const seedShare: number[] = []
    const failedFetches: number[] = []
    for (let run = 0; run < ctx.runs; run++) {
      const file = makeFile(ROOT_BYTES, CHUNK_BYTES)
      const seedStore = new MemoryBlockstore()
      seedStore.putAll(file.blocks)
      const { seed, peers } = await network(seedStore)
      try {
        const t0 = performance.now()
        await seed.net.provide(file.root)
        ctx.log(`run ${run + 1}: ${PEERS + 1} nodes up; the seed's provide took ${(performance.now() - t0).toFixed(0)} ms`)
        const these: Lookup[] = []
        for (const peer of peers) these.push(await lookup(peer, file.root))
        lookups.push(...these)
        const failed = these.filter(l => l.failed === true)
        if (failed.length > 0) ctx.log(`run ${run + 1}: ${failed.length} of ${PEERS} lookups found no provider (${failed.map(l => `${l.queries} queries, ${(l.ms / 1000).toFixed(1)} s`).join('; ')})`)
        ctx.log(`run ${run + 1}: findProviders p50 ${percentile(these.map(l => l.ms), 50).toFixed(1)} ms, p95 ${percentile(these.map(l => l.ms), 95).toFixed(1)} ms; hops p50 ${percentile(these.map(l => l.hops), 50)}, max ${Math.max(...these.map(l => l.hops))}; queries p50 ${percentile(these.map(l => l.queries), 50)}`)
        const started = performance.now()
        const done: number[] = []
        const signal = AbortSignal.timeout(FETCH_TIMEOUT_MS)
        let fetchFailures = 0
        const reports = await Promise.all(peers.map(async (peer): Promise<FetchReport[]> => {
          const tries: FetchReport[] = []
          for (let attempt = 1; ; attempt++) {
            try {
              tries.push(await peer.net.fetch(file.root, { signal }))
              break
            } catch (err) {
              // as a user runs `get` again: what the failed one stored is not fetched again
              fetchFailures++
              ctx.log(`run ${run + 1}: a fetch failed (attempt ${attempt}): ${(err as Error).message.slice(0, 300)}`)
              if (attempt === FETCH_ATTEMPTS) throw err
            }
          }
          done.push(performance.now() - started)
          return tries
        }))
        const last = reports.map(tries => tries[tries.length - 1])
        for (const r of last) {
          if (r.bytes_fetched + r.bytes_local !== ROOT_BYTES) throw new Error(`a peer got ${r.bytes_fetched + r.bytes_local} of ${ROOT_BYTES} bytes`)
        }
        failedFetches.push(fetchFailures)
        const fromSeed = last.reduce((sum, r) => sum + (r.sources[seed.net.peerId] ?? 0), 0)
        lastDone.push(Math.max(...done))
        firstDone.push(Math.min(...done))
        medianDone.push(median(done))
        seedShare.push(fromSeed / (PEERS * ROOT_BYTES))
        ctx.log(`run ${run + 1}: all ${PEERS} fetched in ${(Math.max(...done) / 1000).toFixed(1)} s (first ${(Math.min(...done) / 1000).toFixed(1)} s, median ${(median(done) / 1000).toFixed(1)} s); the seed sent ${(fromSeed / ROOT_BYTES).toFixed(1)} copies`)
      } finally {
        await stopAll([seed, ...peers])
      }
    }
    const found = lookups.filter(l => l.failed !== true)
    const ms = found.map(l => l.ms)
    const hops = found.map(l => l.hops)
    const queries = found.map(l => l.queries)
    const round = (x: number): number => Math.round(x * 100) / 100
    return [
      result('net-50-findProviders-p50', 'ms', percentile(ms, 50), 'goal', 1000, false, { hops_p50: percentile(hops, 50), hops_p95: percentile(hops, 95), hops_max: Math.max(...hops), queries_p50: percentile(queries, 50), queries_p95: percentile(queries, 95), lookups: lookups.length, lookups_failed: lookups.length - found.length }),
      result('net-50-findProviders-p95', 'ms', percentile(ms, 95), 'goal', 1000, false),
      // the baseline: one copy per peer at the pace of the first peer done (what a seed with a big enough uplink gives)
      result('net-50-fetch-64m-all', 's', median(lastDone) / 1000, 'first peer done', median(firstDone) / 1000, false, {
        median_peer_s: round(median(medianDone) / 1000),
        seed_copies: round(median(seedShare) * PEERS),
        seed_share: round(median(seedShare)),
        fetches_failed: failedFetches.reduce((a, b) => a + b, 0),
        peers: PEERS,
        root_mib: ROOT_BYTES / MiB
      })
    ]
  }
}

export const benches: Bench[] = [net50]
