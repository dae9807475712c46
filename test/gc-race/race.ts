/**
 * GC racing everything else (issue 18): rounds of adds (pinned and not, re-adding content whose pin was withdrawn,
 * so the adder finds its blocks present and unpinned), gets from a peer over real libp2p (some of content partly
 * held, so the fetch skips what it holds), `get --pin`, pin withdrawals, and several gcs at random moments among
 * them, all at once on one repo. After every round each pinned root must be whole in the store, and every get's
 * output byte-exact: nothing live is ever deleted. The first violation throws, naming the round, the root and the
 * block.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { RepoOps } from '../../node/ops.ts'
import { Repo, initRepo } from '../../node/repo.ts'
import { verifyBlocks } from '../../node/maintenance.ts'
import { PROFILES } from '../../src/fastcdc/index.ts'
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
  const report: RaceReport = { rounds: 0, adds: 0, gets: 0, gcs: 0, removed: 0, keptInFlight: 0, pinsChecked: 0, durationMs: 0 }
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
    const inputs = join(options.dir, 'in')
    const outputs = join(options.dir, 'out')
    await mkdir(inputs)
    await mkdir(outputs)
    /** contents added so far (re-added after their pin goes), and the roots pinned now with their bytes */
    const contents: Array<{ path: string, bytes: Uint8Array }> = []
    const pinned = new Map<string, Uint8Array | undefined>()
    const remote: TestFile[] = []
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
      if (pin) pinned.set(file.root.toString(), file.data)
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
      work.push(unpin, collect, collect)
      if (random() < 0.5) work.push(collect)
      await Promise.all(work.map(async w => { await later(w) }))
      // everything pinned is whole, whatever ran beside the gcs
      for (const root of pinned.keys()) {
        const check = await verifyBlocks(repo.blocks, [CID.parse(root)])
        report.pinsChecked++
        if (check.missing.length > 0 || check.bad.length > 0) {
          throw new Error(`round ${round} (seed ${options.seed}): pinned root ${root} lost ${check.missing.length} block(s) (first ${check.missing[0] ?? check.bad[0]?.cid}) while gc ran`)
        }
      }
      options.log?.(`round ${round}: ${report.adds} adds, ${report.gets} gets, ${report.gcs} gcs, ${report.removed} blocks removed, ${pinned.size} pins whole`)
    }
    // and with nothing in flight, a last gc keeps exactly what the pins reach
    await ops.gc({})
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
