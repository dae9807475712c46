import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dits } from '../helpers/cli.ts'
import { VoterCluster } from '../node/consensus/cluster.ts'
import { waitFor } from '../node/net/helpers.ts'
import type { SeedStatus } from '../../node/seed/index.ts'

/** A manifest CID that no node holds (the consensus spec's CID_A). */
const NOBODY_HAS = 'bafyr4ibik57z44jtoay5bsfmvtn7ofkoudmxyc7vmfsca6qp6j7bf3d72q'
const KEEP_VERSIONS = 2
const CONVERGE_MS = 30_000

/**
 * The seed follows refs (issue 17), with real processes on loopback: node 0 is the group's one voter and the
 * workstation that adds content; node 1 is a seed (role `seed`, not a voter: a client of the group) that reads
 * the committed refs and keeps their targets. The scenarios share the nodes and run in order.
 */
describe('seed: follows the committed refs and keeps their targets (CLI)', function () {
  this.timeout(180_000)
  let work: string
  let group: VoterCluster
  const WS = 0
  const SEED = 1

  const ok = async (node: number, args: string[]): Promise<string> => {
    const r = await dits(['--repo', group.repos[node], ...args])
    assert.equal(r.code, 0, `dits-node ${args.join(' ')} on node ${node} exited ${r.code}: ${r.stderr}`)
    return r.stdout
  }
  const json = async <T>(node: number, args: string[]): Promise<T> => JSON.parse(await ok(node, ['--json', ...args])) as T
  const seedStatus = async (): Promise<SeedStatus> => {
    const s = await json<{ seed?: SeedStatus }>(SEED, ['status'])
    assert.ok(s.seed !== undefined, 'a seed with a consensus group has a seed section in status --json')
    return s.seed
  }
  const reasons = async (cid: string): Promise<string[]> => {
    const pins = await json<Array<{ cid: string, reasons: Record<string, string> }>>(SEED, ['pin', 'ls'])
    return Object.keys(pins.find(p => p.cid === cid)?.reasons ?? {}).sort()
  }
  const keptBySeed = async (cid: string): Promise<void> => {
    await waitFor(async () => (await reasons(cid)).includes('ref'), CONVERGE_MS, `the seed to pin ${cid} for ref`)
  }
  /** add a file of `bytes` random bytes on the workstation (several chunks); its root */
  let files = 0
  const addContent = async (bytes = 3 * 1024 * 1024): Promise<string> => {
    const file = join(work, `content-${files++}.bin`)
    await writeFile(file, randomBytes(bytes))
    return (await json<{ root: string }>(WS, ['add', file])).root
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-seed-'))
    group = new VoterCluster(work, 1)
    await group.create(1)
    const path = join(group.repos[SEED], 'config.json')
    const config = JSON.parse(await readFile(path, 'utf8'))
    config.role = 'seed'
    config.bootstrap = [group.addrs[WS]]
    config.seed = { keepVersions: KEEP_VERSIONS, followIntervalMs: 200 }
    await writeFile(path, JSON.stringify(config, null, 2))
    await group.startAll()
    await group.leader(WS)
  })

  after(async () => {
    await group?.stopAll()
    await rm(work, { recursive: true, force: true })
  })

  it('a ref set without --require-seed: the seed fetches its target, fsyncs and pins it with reason ref', async () => {
    const root = await addContent()
    await ok(WS, ['ref', 'set', 'projects/a/cut', root])
    await keptBySeed(root)
    assert.deepEqual(await reasons(root), ['ref'])
    // every block is there: the seed's own verify of the root finds none missing
    const v = await json<{ missing: string[], bad: unknown[] }>(SEED, ['verify', root])
    assert.deepEqual([v.missing, v.bad], [[], []])
    const s = await seedStatus()
    assert.equal(s.following, true)
    assert.equal(s.refs, 1)
    assert.equal(s.targets_kept, 1)
    assert.equal(s.pending_count, 0)
    assert.match(await ok(SEED, ['status']), /^seed {7}following 1 ref\(s\): 1 of 1 target\(s\) kept \(newest 2 of each ref\)$/m)
  })

  it('a ref set while the seed was down converges once it starts; what it kept before stays kept', async () => {
    const before = (await json<Array<{ cid: string }>>(SEED, ['ref', 'ls']))[0].cid
    await group.kill(SEED, 'SIGINT')
    const root = await addContent()
    await ok(WS, ['ref', 'set', 'projects/b/cut', root])
    await group.start(SEED)
    await keptBySeed(root)
    assert.deepEqual(await reasons(before), ['ref'])
    assert.equal((await seedStatus()).targets_kept, 2)
  })

  it('keeps the newest seed.keepVersions targets of a ref: the one before them loses its ref reason, other reasons stay', async () => {
    const v1 = await addContent()
    const v2 = await addContent()
    const v3 = await addContent()
    const v4 = await addContent()
    await ok(WS, ['ref', 'set', 'projects/c/cut', v1])
    await keptBySeed(v1)
    // pinned for the user as well: the release of its ref reason must leave it pinned
    await ok(SEED, ['pin', 'add', v1])
    await ok(WS, ['ref', 'set', 'projects/c/cut', v2])
    await keptBySeed(v2)
    await ok(WS, ['ref', 'set', 'projects/c/cut', v3])
    await keptBySeed(v3)
    await waitFor(async () => !(await reasons(v1)).includes('ref'), CONVERGE_MS, `the seed to release ${v1}`)
    assert.deepEqual(await reasons(v1), ['user'])
    assert.deepEqual(await reasons(v2), ['ref'])
    // a target that another ref keeps stays kept when this ref moves on
    await ok(WS, ['ref', 'set', 'projects/d/cut', v2])
    await ok(WS, ['ref', 'set', 'projects/c/cut', v4])
    await keptBySeed(v4)
    await ok(WS, ['ref', 'set', 'projects/c/cut', v3])
    // kept: a's and b's targets, c's two newest (v3, v4), d's v2
    await waitFor(async () => (await seedStatus()).targets_wanted === 5, CONVERGE_MS, 'the seed to see the last ref set')
    assert.deepEqual(await reasons(v2), ['ref'])
    // a deleted ref keeps nothing: v2 is no ref's now, and had no other reason
    await ok(WS, ['ref', 'rm', 'projects/d/cut', '--expect', v2])
    await waitFor(async () => (await reasons(v2)).length === 0, CONVERGE_MS, `the seed to release ${v2}`)
    assert.deepEqual(await reasons(v4), ['ref'])
  })

  it('a target nobody can serve stays pending and never holds up the other refs', async () => {
    await ok(WS, ['ref', 'set', 'projects/e/cut', NOBODY_HAS])
    const root = await addContent()
    await ok(WS, ['ref', 'set', 'projects/f/cut', root])
    await keptBySeed(root)
    const s = await seedStatus()
    const pending = s.pending.find(p => p.root === NOBODY_HAS)
    assert.ok(pending !== undefined, `status lists ${NOBODY_HAS} as pending: ${JSON.stringify(s.pending)}`)
    assert.deepEqual(pending.refs, ['projects/e/cut'])
    assert.ok(!(await reasons(NOBODY_HAS)).includes('ref'))
  })

  it('survives the group having no leader: reads fail (status says so), and it catches up once the group is back', async () => {
    await group.kill(WS, 'SIGINT')
    await waitFor(async () => /reading the refs/.test((await seedStatus()).last_error?.message ?? ''), CONVERGE_MS, 'the seed to report that it cannot read the refs')
    await group.start(WS)
    await group.leader(WS)
    const root = await addContent()
    await ok(WS, ['ref', 'set', 'projects/g/cut', root])
    await keptBySeed(root)
  })
})
