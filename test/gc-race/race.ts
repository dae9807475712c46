/**
 * GC racing everything else (issue 18): rounds of adds (pinned and not, re-adding content whose pin was withdrawn,
 * so the adder finds its blocks present and unpinned), gets from a peer over real libp2p (some of content partly
 * held, so the fetch skips what it holds), `get --pin`, pin withdrawals, speculates (a seed's SeedKeeper pulling a
 * file's chunks from the peer and recording them as speculative, some with a ttl that runs out within the run; a
 * later `get --pin` of the file promotes them), and several gcs at random moments among them, all at once on one
 * repo. After every round each pinned root must be whole in the store, every chunk whose speculative record has not
 * expired must be there, and every get's output byte-exact: nothing live is ever deleted. At the end, with nothing in
 * flight, a last gc must have reclaimed every expired speculative chunk that no pin reaches. The first violation
 * throws, naming the round, the root or chunk and the block.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { RepoOps } from '../../node/ops.ts'
import { Repo, initRepo } from '../../node/repo.ts'
import { verifyBlocks } from '../../node/maintenance.ts'
import { GC_CLOCK_SLACK_MS } from '../../node/blockstore.ts'
import { SeedKeeper, SpeculativeRecord } from '../../node/seed/index.ts'
import { SPECULATIVE_DIR } from '../../node/repo.ts'
import { peerIdFromString } from '@libp2p/peer-id'
import { PROFILES } from '../../src/fastcdc/index.ts'
import { walkBlocks } from '../../src/manifest/index.ts'
import { seededRandom } from '../../src/raft/random.ts'
import { makeFile, startNode, stopAll } from '../node/net/helpers.ts'
import type { TestNode, TestFile } from '../node/net/helpers.ts'

export interface RaceOptions {
  seed: number
  rounds: number
  /** a scratch folder, emptied by the caller */
  dir: string
  log?: (line: string) => void
}

export interface RaceReport {
  rounds: number
  adds: number
  gets: number
  gcs: number
  /** speculates, and the expired speculative chunks the last gc reclaimed */
  speculates: number
  reclaimed: number
  /** blocks the gcs removed, and kept for work in flight */
  removed: number
  keptInFlight: number
  /** pinned roots checked whole after the rounds, in all */
  pinsChecked: number
  durationMs: number
}

const KiB = 1024

export async function runGcRace (options: RaceOptions): Promise<RaceReport> {
  const random = seededRandom(options.seed)
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]
  const started = Date.now()
  await initRepo(join(options.dir, 'repo'))
  const repo = await Repo.open(join(options.dir, 'repo'), { write: true })
  const ops = new RepoOps(repo)
  const nodes: TestNode[] = []
  const report: RaceReport = { rounds: 0, adds: 0, gets: 0, gcs: 0, speculates: 0, reclaimed: 0, removed: 0, keptInFlight: 0, pinsChecked: 0, durationMs: 0 }
  try {
    // the workstation's network runs over its repo's blockstore; the source holds what the gets fetch
    const source = await startNode()
    const local = await startNode({ blockstore: repo.blocks })
    nodes.push(source, local)
    await local.net.connect(source.addr)
    ops.network = {
      fetch: async (root, o) => await local.net.fetch(root, o),
      provide: async () => {},
      addresses: () => local.net.addresses(),
      swarm: () => local.net.swarm
    }
    // this repo is also a seed taking speculative chunks from the source (as node/daemon.ts sets one up)
    const record = new SpeculativeRecord(join(options.dir, 'repo', SPECULATIVE_DIR))
    await record.open()
    ops.speculative = record
    const keeper = new SeedKeeper({
      blocks: repo.blocks,
      pins: repo.pins,
      fetch: async (root, o) => await local.net.fetch(root, o),
      speculative: { record, pull: async (peer, chunks, o) => await local.net.pull(peer, chunks, o), ttlMs: 3_600_000, quotaBytes: 2 ** 40 }
    })
    const sourcePeer = peerIdFromString(source.net.peerId)
    const inputs = join(options.dir, 'in')
    const outputs = join(options.dir, 'out')
    await mkdir(inputs)
    await mkdir(outputs)
    /** contents added so far (re-added after their pin goes), and the roots pinned now with their bytes */
    const contents: Array<{ path: string, bytes: Uint8Array }> = []
    const pinned = new Map<string, Uint8Array | undefined>()
    const remote: TestFile[] = []
    /**
     * every chunk speculated, with the latest expiry asked for it. A file pinned since (get --pin) is left out: its
     * chunks were promoted, their records dropped, and once the pin goes they are garbage like any other
     */
    const speculated = new Map<string, number>()
    const promoted = new Set<string>()
    let n = 0

    const newContent = async (): Promise<{ path: string, bytes: Uint8Array }> => {
      const size = 64 * KiB + 4 * Math.floor(random() * 240 * KiB)
      const bytes = new Uint8Array(size)
      for (let i = 0; i < size; i += 4) new DataView(bytes.buffer).setUint32(i, Math.floor(random() * 2 ** 32), true)
      const path = join(inputs, `f${n++}.bin`)
      await writeFile(path, bytes)
      const c = { path, bytes }
      contents.push(c)
      return c
    }

    const add = async (): Promise<void> => {
      // half the time content added before, whose blocks may be here unpinned
      const c = contents.length > 0 && random() < 0.5 ? pick(contents) : await newContent()
      const pin = random() < 0.8
      const r = await ops.add({ paths: [c.path], profile: PROFILES.small, pin })
      report.adds++
      if (pin) pinned.set(r.root, c.bytes)
    }

    const get = async (): Promise<void> => {
      // a file the source holds; sometimes one fetched before (its chunks held here, maybe unpinned)
      const file = remote.length > 0 && random() < 0.4 ? pick(remote) : makeFile(128 * KiB + Math.floor(random() * 896 * KiB), 64 * KiB, 8)
      if (!remote.includes(file)) {
        source.store.putAll(file.blocks)
        remote.push(file)
      }
      const out = join(outputs, `g${n++}.bin`)
      const pin = random() < 0.5
      await ops.get({ cid: file.root.toString(), out, pin, force: false })
      report.gets++
      const got = new Uint8Array(await readFile(out))
      if (Buffer.compare(got, file.data) !== 0) throw new Error(`round ${report.rounds}: the get of ${file.root} wrote other bytes than its content`)
      await rm(out)
      if (pin) {
        pinned.set(file.root.toString(), file.data)
        for (const c of file.chunks) {
          promoted.add(c.toString())
          speculated.delete(c.toString())
        }
      }
    }

    const speculate = async (): Promise<void> => {
      // a file the source holds, new or one fetched before; a third of the time with a ttl that runs out in the run
      const file = remote.length > 0 && random() < 0.3 ? pick(remote) : makeFile(128 * KiB + Math.floor(random() * 896 * KiB), 64 * KiB, 8)
      if (!remote.includes(file)) {
        source.store.putAll(file.blocks)
        remote.push(file)
      }
      const ttlMs = random() < 0.33 ? 200 + Math.floor(random() * 800) : 3_600_000
      const chunks = file.blocks.filter(b => file.chunks.some(c => c.equals(b.cid))).map(b => ({ cid: b.cid, bytes: b.bytes.byteLength }))
      const r = await keeper.speculate(chunks, sourcePeer, { signal: AbortSignal.timeout(60_000), ttlMs, onProgress: () => {} })
      report.speculates++
      for (const c of chunks) if (!promoted.has(c.cid.toString())) speculated.set(c.cid.toString(), Math.max(speculated.get(c.cid.toString()) ?? 0, r.expires_at))
    }

    const unpin = async (): Promise<void> => {
      const roots = [...pinned.keys()]
      if (roots.length < 3) return
      const root = pick(roots)
      pinned.delete(root)
      await ops.pinRm({ cid: root, all: true }).catch(() => {})
    }

    const collect = async (): Promise<void> => {
      const r = await ops.gc({ dryRun: random() < 0.2 })
      report.gcs++
      if (!r.dryRun) report.removed += r.removedCount
      report.keptInFlight += r.keptInFlight
    }

    const later = async (work: () => Promise<void>): Promise<void> => {
      await new Promise(resolve => setTimeout(resolve, Math.floor(random() * 60)))
      await work()
    }

    for (let round = 1; round <= options.rounds; round++) {
      report.rounds = round
      const work: Array<() => Promise<void>> = []
      const adds = 1 + Math.floor(random() * 3)
      for (let i = 0; i < adds; i++) work.push(add)
      work.push(get)
      if (random() < 0.5) work.push(get)
      if (random() < 0.5) work.push(speculate)
      work.push(unpin, collect, collect)
      if (random() < 0.5) work.push(collect)
      await Promise.all(work.map(async w => { await later(w) }))
      // the repo's pins are what gc must keep: a withdrawal that ran after an add of the same content pinned it again
      // leaves the root unpinned, though the add finished last here
      const pins = new Set((await repo.pins.ls()).map(c => c.toString()))
      for (const root of [...pinned.keys()]) if (!pins.has(root)) pinned.delete(root)
      // everything pinned is whole, whatever ran beside the gcs
      for (const root of pins) {
        const check = await verifyBlocks(repo.blocks, [CID.parse(root)])
        report.pinsChecked++
        if (check.missing.length > 0 || check.bad.length > 0) {
          throw new Error(`round ${round} (seed ${options.seed}): pinned root ${root} lost ${check.missing.length} block(s) (first ${check.missing[0] ?? check.bad[0]?.cid}) while gc ran`)
        }
      }
      // and every chunk whose speculative record runs past now (a gc removes one only once its expiry has passed)
      const now = Date.now()
      for (const [cid, expires] of speculated) {
        if (expires > now && !(await repo.blocks.has(CID.parse(cid)))) {
          throw new Error(`round ${round} (seed ${options.seed}): speculative chunk ${cid}, kept until ${new Date(expires).toISOString()}, was deleted while gc ran`)
        }
      }
      options.log?.(`round ${round}: ${report.adds} adds, ${report.gets} gets, ${report.speculates} speculates, ${report.gcs} gcs, ${report.removed} blocks removed, ${pinned.size} pins whole`)
    }
    // and with nothing in flight, a last gc keeps what the pins reach and the unexpired speculative chunks: it
    // reclaims the expired ones (once past gc's clock slack, which keeps blocks just written)
    await new Promise(resolve => setTimeout(resolve, GC_CLOCK_SLACK_MS + 100))
    await ops.gc({})
    const reached = new Set<string>()
    for (const root of pinned.keys()) for await (const c of walkBlocks(async c => await repo.blocks.get(c), CID.parse(root))) reached.add(c.toString())
    const now = Date.now()
    for (const [cid, expires] of speculated) {
      const held = await repo.blocks.has(CID.parse(cid))
      if (expires > now && !held) throw new Error(`speculative chunk ${cid}, kept until ${new Date(expires).toISOString()}, is gone after the last gc`)
      if (expires <= now && !reached.has(cid)) {
        if (held) throw new Error(`speculative chunk ${cid} expired at ${new Date(expires).toISOString()}, no pin reaches it, and the last gc kept it`)
        report.reclaimed++
      }
    }
    for (const [root, bytes] of pinned) {
      const out = join(outputs, `final${n++}.bin`)
      await ops.get({ cid: root, out, force: false })
      if (bytes !== undefined && Buffer.compare(new Uint8Array(await readFile(out)), bytes) !== 0) throw new Error(`pinned root ${root} reads back other bytes after the last gc`)
      await rm(out)
    }
  } finally {
    await stopAll(nodes)
    await repo.close()
  }
  report.durationMs = Date.now() - started
  return report
}
