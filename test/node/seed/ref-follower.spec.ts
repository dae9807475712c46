import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RefFollower } from '../../../node/seed/index.ts'
import { Pins } from '../../../node/repo.ts'
import { chunkCid } from '../../../src/cid.ts'
import { waitFor } from '../net/helpers.ts'
import type { CID } from 'multiformats/cid'
import type { RefFollowerComponents } from '../../../node/seed/index.ts'
import type { FetchOptions, FetchReport } from '../../../node/net/fetcher.ts'
import type { RefLogEntry, RefRecord } from '../../../src/state/index.ts'

/** Targets are raw chunks here: a fetch "stores" one, and the walk after it reads no manifest. */
const target = (n: number): CID => chunkCid(new TextEncoder().encode(`target ${n}`))

/** The group's refs as a follower reads them: set with `set`, failing while `down`. */
class Group {
  down = false
  reads = 0
  private index = 0
  private readonly refs = new Map<string, RefRecord>()
  private readonly logs = new Map<string, RefLogEntry[]>()

  set (name: string, cid: CID | null): void {
    const index = ++this.index
    const old = this.refs.get(name)?.cid ?? null
    if (cid === null) this.refs.delete(name)
    else this.refs.set(name, { name, cid: cid.toString(), index, when: 0, who: 'w', token: null })
    this.logs.set(name, [...(this.logs.get(name) ?? []), { old, new: cid?.toString() ?? null, who: 'w', when: 0, token: null, index }])
  }

  readonly api: RefFollowerComponents['refs'] = {
    ls: async () => {
      this.reads++
      if (this.down) throw new Error('no quorum: 0 of 1 voters reachable')
      return [...this.refs.values()]
    },
    log: async (name) => {
      if (this.down) throw new Error('no quorum: 0 of 1 voters reachable')
      return { name, entries: this.logs.get(name) ?? [], dropped: 0 }
    }
  }
}

describe('seed: the ref follower (node/seed)', function () {
  this.timeout(20_000)
  let dir: string
  let pins: Pins
  let group: Group
  let fetched: string[]
  /** roots whose fetch fails, as nobody serves them */
  let unserved: Set<string>
  /** fetches of unserved roots under way, and the most at once */
  let failing = { now: 0, peak: 0 }
  /** writers in flight (DitsBlockstore.beginWrite), and how many there were at each pin for ref */
  let writers = 0
  let writersAtPin: number[]
  const followers: RefFollower[] = []

  const follower = (init: ConstructorParameters<typeof RefFollower>[1] = {}): RefFollower => {
    const f = new RefFollower({
      refs: group.api,
      fetch: async (root: CID, options: FetchOptions): Promise<FetchReport> => {
        fetched.push(root.toString())
        if (unserved.has(root.toString())) {
          failing.peak = Math.max(failing.peak, ++failing.now)
          await new Promise(resolve => setTimeout(resolve, 50))
          failing.now--
          throw new Error(`no source has ${root}`)
        }
        await options.onChunk?.(root, new Uint8Array(10))
        return { root: root.toString(), bytes_total: 10, bytes_fetched: 10, bytes_local: 0, blocks_fetched: 1, blocks_local: 0, manifest_bytes_fetched: 0, duration_ms: 1, sources: {}, excluded: {} }
      },
      blocks: {
        get: async () => { throw new Error('no manifest is read for a raw target') },
        syncData: async () => new Set<string>(),
        syncDirs: async () => {},
        beginWrite: () => {
          writers++
          return { end: () => { writers-- } }
        }
      },
      pins
    }, { followIntervalMs: 20, retryMinMs: 50, retryMaxMs: 200, ...init })
    followers.push(f)
    f.start()
    return f
  }
  const reasons = async (cid: CID): Promise<string[]> => Object.keys(await pins.reasons(cid)).sort()

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-follower-'))
    pins = new Pins(dir)
    writers = 0
    writersAtPin = []
    const add = pins.add.bind(pins)
    pins.add = async (cid, reason) => {
      if (reason === 'ref') writersAtPin.push(writers)
      await add(cid, reason)
    }
    group = new Group()
    fetched = []
    unserved = new Set()
    failing = { now: 0, peak: 0 }
  })

  afterEach(async () => {
    await Promise.all(followers.splice(0).map(async f => { await f.stop() }))
    await rm(dir, { recursive: true, force: true })
  })

  it('pins each ref target for ref, and releases the version past keepVersions', async () => {
    const f = follower({ keepVersions: 2 })
    group.set('a', target(1))
    await waitFor(async () => (await reasons(target(1))).includes('ref'), 5000, 'target 1 kept')
    group.set('a', target(2))
    group.set('a', target(3))
    await waitFor(() => f.status().targets_kept === 2 && f.status().pending_count === 0, 5000, 'targets 2 and 3 kept')
    await waitFor(async () => (await reasons(target(1))).length === 0, 5000, 'target 1 released')
    assert.deepEqual(await reasons(target(2)), ['ref'])
    assert.deepEqual(await reasons(target(3)), ['ref'])
  })

  it('keeps what it fetched safe from a gc until the pin names it (a write in flight from the fetch to the pin)', async () => {
    const f = follower()
    group.set('a', target(1))
    group.set('b', target(2))
    await waitFor(() => f.status().targets_kept === 2, 5000, 'both targets kept')
    assert.deepEqual(writersAtPin.map(n => n >= 1), [true, true])
    await waitFor(() => writers === 0, 5000, 'the writes to end')
  })

  it('after a restart, fetches nothing it keeps already, and releases what no ref keeps any more', async () => {
    await pins.add(target(1), 'ref')
    await pins.add(target(9), 'ref')
    await pins.add(target(9), 'user')
    group.set('a', target(1))
    const f = follower()
    await waitFor(() => f.status().following && f.status().pending_count === 0, 5000, 'the follower to catch up')
    await waitFor(async () => (await reasons(target(9))).length === 1, 5000, 'target 9 released')
    assert.deepEqual(fetched, [])
    assert.deepEqual(await reasons(target(9)), ['user'])
    assert.deepEqual(await reasons(target(1)), ['ref'])
  })

  it('a release that fails is said, does not hold up the fetches, and is tried again', async () => {
    await pins.add(target(9), 'ref')
    const rm = pins.rm.bind(pins)
    let refusals = 1
    pins.rm = async (cid, reason) => {
      if (refusals-- > 0) throw new Error('EIO: the pin file could not be rewritten')
      return await rm(cid, reason)
    }
    group.set('a', target(1))
    const f = follower()
    await waitFor(() => f.status().targets_kept === 1, 5000, 'target 1 kept')
    await waitFor(async () => (await reasons(target(9))).length === 0, 5000, 'target 9 released at a later round')
    assert.match(f.status().last_error?.message ?? '', /^releasing .*: EIO/)
  })

  it('without a leader it releases nothing, backs off, says why, and goes on once the group answers', async () => {
    await pins.add(target(1), 'ref')
    group.down = true
    const f = follower({ retryMinMs: 100, retryMaxMs: 400 })
    await new Promise(resolve => setTimeout(resolve, 1000))
    // 20 ms polls would make ~50 reads: the pauses double (100, 200, 400, 400 ms) instead
    assert.ok(group.reads <= 6, `read ${group.reads} times in 1 s`)
    assert.match(f.status().last_error?.message ?? '', /reading the refs: no quorum/)
    assert.deepEqual(await reasons(target(1)), ['ref'])
    group.down = false
    group.set('b', target(2))
    await waitFor(async () => (await reasons(target(2))).includes('ref'), 5000, 'target 2 kept')
    await waitFor(async () => (await reasons(target(1))).length === 0, 5000, 'target 1 (no ref) released')
  })

  it('a target nobody serves is retried, one retry slot at a time, and never holds up the others', async () => {
    for (let i = 1; i <= 4; i++) unserved.add(target(i).toString())
    for (let i = 1; i <= 4; i++) group.set(`dead${i}`, target(i))
    const f = follower({ maxFetches: 2, maxRetryFetches: 1 })
    await waitFor(() => fetched.length >= 4, 5000, 'the four dead targets tried')
    group.set('live', target(5))
    await waitFor(() => f.status().targets_kept === 1, 5000, 'the live target kept while the dead ones fail')
    assert.deepEqual(await reasons(target(5)), ['ref'])
    const s = f.status()
    assert.equal(s.pending_count, 4)
    for (const p of s.pending) {
      assert.ok(p.attempts >= 1, JSON.stringify(p))
      assert.match(p.error ?? '', /no source has/)
    }
    // once all four failed, they are retries: one at a time (maxRetryFetches), each again and again
    failing.peak = 0
    const before = fetched.length
    await new Promise(resolve => setTimeout(resolve, 1000))
    assert.equal(failing.peak, 1)
    assert.ok(fetched.length - before >= 4, `${fetched.length - before} retries in 1 s`)
  })
})
