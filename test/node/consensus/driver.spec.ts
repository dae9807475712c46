import assert from 'node:assert/strict'
import { NotLeaderError } from '../../../src/raft/index.ts'
import { TestGroup, eventually, sleep, CID_A, CID_B, ELECTION_MS } from './helpers.ts'
import type { CommandResult, LockGrantedOk } from '../../../src/state/index.ts'

const IDS = ['v1', 'v2', 'v3']

describe('node/consensus/driver (three drivers on disk, in-memory network)', function () {
  this.timeout(30_000)
  let group: TestGroup

  afterEach(async () => { await group.stop() })

  it('elects a leader that commits commands; every voter then reads them (ReadIndex)', async () => {
    group = new TestGroup(IDS)
    await group.start()
    const leader = await group.leader()
    const r = await leader.submit({ type: 'ref.set', client: 'c1', seq: 1, owner: 'alice', name: 'reel3/cut', cid: CID_A, expect: null })
    assert.equal(r.ok, true)
    for (const id of IDS) {
      const reply = await group.get(id).read({ type: 'ref.get', name: 'reel3/cut' })
      assert.equal(reply.ref?.cid, CID_A, `read on ${id}`)
    }
    const conflict = await leader.submit({ type: 'ref.set', client: 'c1', seq: 2, owner: 'alice', name: 'reel3/cut', cid: CID_B, expect: null })
    assert.equal(conflict.ok, false)
    assert.equal(!conflict.ok && conflict.error.name, 'RefConflictError')
  })

  it('a follower refuses proposals and names the leader', async () => {
    group = new TestGroup(IDS)
    await group.start()
    const leader = await group.leader()
    const follower = group.get(IDS.find(id => id !== leader.id) as string)
    await eventually(() => follower.leader === leader.id)
    await assert.rejects(follower.submit({ type: 'lock.release', client: 'c', seq: 1, owner: 'o', path: 'x' }), (e: Error) => e instanceof NotLeaderError && e.leader === leader.id)
  })

  it('a retried (client, seq) is applied once and answers with the first result', async () => {
    group = new TestGroup(IDS)
    await group.start()
    const leader = await group.leader()
    const cmd = { type: 'ref.set', client: 'c1', seq: 7, owner: 'alice', name: 'a', cid: CID_A, expect: null } as const
    const first = await leader.submit(cmd)
    const again = await leader.submit(cmd)
    assert.deepEqual(again, first)
    const log = await leader.read({ type: 'ref.log', name: 'a' })
    assert.equal(log.entries.length, 1)
  })

  it('a queued lock.acquire answers with its grant once the holder releases', async () => {
    group = new TestGroup(IDS)
    await group.start()
    const leader = await group.leader()
    const held = await leader.submit({ type: 'lock.acquire', client: 'a', seq: 1, owner: 'alice', path: 'reel3/', mode: 'exclusive', ttlMs: 60_000 }) as LockGrantedOk
    const waiting = leader.submit({ type: 'lock.acquire', client: 'b', seq: 1, owner: 'bob', path: 'reel3/cut', mode: 'exclusive', ttlMs: 60_000, waitMs: 10_000 }, { waitOutcome: true })
    await sleep(100)
    await leader.submit({ type: 'lock.release', client: 'a', seq: 2, owner: 'alice', path: 'reel3/' })
    const granted = await waiting as LockGrantedOk
    assert.equal(granted.status, 'granted')
    assert.ok(granted.grant.token > held.grant.token, 'fencing tokens increase')
  })

  it('the leader expires an unrenewed lease through the log, on every replica, and tells the holder', async () => {
    group = new TestGroup(IDS)
    await group.start()
    const leader = await group.leader()
    await leader.submit({ type: 'lock.acquire', client: 'a', seq: 1, owner: 'alice', path: 'reel3/', mode: 'exclusive', ttlMs: 300 })
    await eventually(async () => {
      for (const id of IDS) if ((await group.get(id).read({ type: 'lock.ls' })).locks.length > 0) return false
      return true
    }, 5000, 'lease expiry on every replica')
    await eventually(() => group.lost.some(e => e.type === 'expired' && e.grant.owner === 'alice'))
    const audit = await leader.read({ type: 'lock.audit' })
    assert.equal(audit.entries[0].kind, 'expire')
  })

  it('an isolated leader commits nothing; the majority elects another and goes on', async () => {
    group = new TestGroup(IDS)
    await group.start()
    const old = await group.leader()
    group.isolate(old.id)
    const stuck = old.submit({ type: 'ref.set', client: 'minority', seq: 1, owner: 'm', name: 'split', cid: CID_A }, { signal: AbortSignal.timeout(ELECTION_MS * 4) })
    const leader = await group.leader()
    assert.notEqual(leader.id, old.id)
    const r = await leader.submit({ type: 'ref.set', client: 'majority', seq: 1, owner: 'M', name: 'split', cid: CID_B })
    assert.equal(r.ok, true)
    await assert.rejects(stuck)
    // check-quorum: the old leader stepped down on its own
    await eventually(() => old.role !== 'leader', 3000, 'the isolated leader steps down')
    group.heal(old.id)
    await eventually(async () => (await old.read({ type: 'ref.get', name: 'split' }).catch(() => ({ ref: null }))).ref?.cid === CID_B, 5000, 'the healed voter converges')
  })

  it('a voter that missed compacted entries catches up by snapshot', async () => {
    group = new TestGroup(IDS, { snapshotEntries: 20 })
    await group.start()
    const leader = await group.leader()
    const lagging = IDS.find(id => id !== leader.id) as string
    group.isolate(lagging)
    for (let i = 1; i <= 80; i++) {
      const r: CommandResult = await leader.submit({ type: 'ref.set', client: 'w', seq: i, owner: 'w', name: `r/${i}`, cid: i % 2 === 0 ? CID_A : CID_B })
      assert.equal(r.ok, true)
    }
    assert.ok(leader.status().firstIndex > 10, 'the leader compacted its log')
    group.heal(lagging)
    const lag = group.get(lagging)
    await eventually(() => lag.status().snapshotIndex > 0 && lag.status().appliedIndex >= leader.status().commitIndex, 10_000, 'catch-up by snapshot')
    const refs = await lag.read({ type: 'ref.ls' })
    assert.equal(refs.refs.length, 80)
  })

  it('restarts from disk with its state, and catches up from the log', async () => {
    group = new TestGroup(IDS)
    await group.start()
    let leader = await group.leader()
    await leader.submit({ type: 'ref.set', client: 'w', seq: 1, owner: 'w', name: 'kept', cid: CID_A })
    const victim = IDS.find(id => id !== leader.id) as string
    await group.stopOne(victim)
    await leader.submit({ type: 'ref.set', client: 'w', seq: 2, owner: 'w', name: 'later', cid: CID_B })
    const back = await group.startOne(victim)
    await eventually(async () => (await back.read({ type: 'ref.get', name: 'later' }).catch(() => ({ ref: null }))).ref?.cid === CID_B, 5000, 'catch-up by log')
    // a whole-group restart keeps everything committed
    for (const id of IDS) await group.stopOne(id)
    for (const id of IDS) await group.startOne(id)
    leader = await group.leader()
    assert.equal((await leader.read({ type: 'ref.get', name: 'kept' })).ref?.cid, CID_A)
    assert.equal((await leader.read({ type: 'ref.get', name: 'later' })).ref?.cid, CID_B)
  })
})
