import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConsensusService } from '../../../node/consensus/service.ts'
import { ConsensusClient } from '../../../node/consensus/client.ts'
import { defaultAccessTable } from '../../../src/state/index.ts'
import { startNode, stopAll } from '../net/helpers.ts'
import { CID_A, CID_B, eventually } from './helpers.ts'
import type { TestNode } from '../net/helpers.ts'
import type { AccessTable, CommandResult } from '../../../src/state/index.ts'

const REQUEST_TIMEOUT_MS = 4000

/**
 * Issue 14, "Consensus that only its members drive" and "Roles enforced where the data is", against a real
 * group: three voters and a workstation (ConsensusServices over libp2p on loopback), and a hostile peer — a
 * plain libp2p node that speaks /dits/consensus/1.0.0 with its own client and fills in whatever it likes.
 */
describe('node/consensus access: identity from the connection, roles enforced by the voters', function () {
  this.timeout(60_000)
  let dir: string
  let nodes: TestNode[] = []
  let services: ConsensusService[] = []
  let hostile: ConsensusClient
  let ids: string[]

  async function startGroup (access?: AccessTable): Promise<void> {
    services = nodes.slice(0, 4).map((n, i) => new ConsensusService(n.net.libp2p, {
      peerId: n.net.peerId,
      voter: i < 3,
      voters: nodes.slice(0, 3).map(n => n.addr),
      heartbeatMs: 50,
      electionMs: 500,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      datastoreDir: join(dir, `n${i}`),
      access,
      user: i === 3 ? 'ana' : undefined,
      accessRefreshMs: 200
    }))
    await Promise.all(services.map(async s => { await s.start() }))
  }

  async function stopGroup (): Promise<void> {
    await Promise.all(services.map(async s => { await s.stop() }))
    services = []
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-consensus-access-'))
    nodes = await Promise.all([0, 1, 2, 3, 4].map(async () => await startNode()))
    ids = nodes.map(n => n.net.peerId)
    hostile = new ConsensusClient(nodes[4].net.libp2p, {
      self: ids[4],
      voters: new Map(nodes.slice(0, 3).map(n => [n.net.peerId, [n.addr]]))
    })
  })

  afterEach(async () => {
    hostile.close()
    await stopGroup()
    await stopAll(nodes)
    await rm(dir, { recursive: true, force: true })
  })

  /** A command as the hostile peer sends it: any fields it likes, a session of its own. */
  let seq = 0
  async function send (command: Record<string, unknown>): Promise<CommandResult> {
    return await hostile.call({ kind: 'command', command: { client: 'mallory', seq: ++seq, ...command } as never }, { timeoutMs: REQUEST_TIMEOUT_MS }) as CommandResult
  }

  it('a client that claims the lock holder\'s peer id is refused, and the ref log credits only real submitters', async () => {
    await startGroup()
    const holder = services[3]
    const lock = await holder.lockAcquire({ path: 'reel3/', ttlMs: 30_000 })
    assert.equal(lock.owner, ids[3])
    await holder.refSet({ name: 'reel3/cut', cid: CID_A, expectNone: true, token: lock.token })
    // the holder's peer id is public (lock ls): the hostile peer names it as the owner, without a token
    const { locks } = await services[0].lockLs({})
    assert.equal(locks[0].owner, ids[3])
    const claimed = await send({ type: 'ref.set', name: 'reel3/cut', cid: CID_B, owner: locks[0].owner })
    assert.equal(claimed.ok, false)
    assert.ok(!claimed.ok && claimed.error.name === 'InvalidCommandError' && claimed.error.exitCode === 2, JSON.stringify(claimed))
    assert.match(!claimed.ok ? claimed.error.message : '', new RegExp(`field 'owner': set by the voter .*${ids[4]}`))
    // without the claim it acts as itself, and the holder's exclusive lock stops it
    const plain = await send({ type: 'ref.set', name: 'reel3/cut', cid: CID_B })
    assert.ok(!plain.ok && plain.error.name === 'RefLockedError' && plain.error.exitCode === 3, JSON.stringify(plain))
    // nor can it stamp a leader's fields
    const stamped = await send({ type: 'ref.set', name: 'elsewhere', cid: CID_B, now: 1 })
    assert.ok(!stamped.ok && stamped.error.name === 'InvalidCommandError' && /field 'now'/.test(stamped.error.message))
    // where it may write, the log credits its own peer id, with its user label kept as a label
    const own = await send({ type: 'ref.set', name: 'mallory/notes', cid: CID_B, user: 'ana' })
    assert.ok(own.ok && own.type === 'ref.set' && own.ref.who === ids[4], JSON.stringify(own))
    const ref = await holder.refGet({ name: 'reel3/cut' })
    assert.equal(ref.cid, CID_A)
    const log = await holder.refLog({ name: 'reel3/cut' })
    assert.deepEqual(log.entries.map(e => [e.who, e.user, e.new]), [[ids[3], 'ana', CID_A]])
    assert.deepEqual((await holder.refLog({ name: 'mallory/notes' })).entries.map(e => [e.who, e.user]), [[ids[4], 'ana']])
  })

  it('cluster add, cluster remove and lock break from a peer that is not admin are refused (exit 3); the group stays up, also after a restart', async () => {
    await startGroup()
    await services[3].lockAcquire({ path: 'reel3/', ttlMs: 30_000 })
    await assert.rejects(hostile.call({ kind: 'add-voter', peer: ids[4], addrs: [nodes[4].addr] }, { timeoutMs: REQUEST_TIMEOUT_MS }),
      (e: Error & { exitCode?: number }) => e.name === 'AccessDeniedError' && e.exitCode === 3 && e.message.includes(`peer ${ids[4]} lacks the admin role`))
    await assert.rejects(hostile.call({ kind: 'remove-voter', peer: ids[1] }, { timeoutMs: REQUEST_TIMEOUT_MS }), { name: 'AccessDeniedError' })
    // a workstation is not admin either while the voters are the admins
    await assert.rejects(services[3].clusterAdd({ peer: nodes[4].addr }), { name: 'AccessDeniedError' })
    const broke = await send({ type: 'lock.break', path: 'reel3/', reason: 'mine now' })
    assert.ok(!broke.ok && broke.error.name === 'AccessDeniedError' && broke.error.exitCode === 3 && /lacks the admin role/.test(broke.error.message), JSON.stringify(broke))
    assert.equal((await services[0].lockLs({})).locks[0].owner, ids[3])
    const check = async (): Promise<void> => {
      const status = await services[3].clusterStatus()
      assert.deepEqual(status.voters.map(v => v.id).sort(), ids.slice(0, 3).sort())
      await services[3].refSet({ name: `alive/${Date.now()}`, cid: CID_A })
    }
    await check()
    await stopGroup()
    await startGroup()
    await check()
    // a voter is admin: it may break the lock (audited)
    assert.equal((await services[1].lockBreak({ path: 'reel3/', reason: 'holder left' })).broken.length, 1)
  })

  it('config access decides until the first change; grant and revoke replicate it, audited, and every role is enforced', async () => {
    const config: AccessTable = { ...defaultAccessTable(), write: [ids[3]], names: { [ids[3]]: 'ana-ws', [ids[4]]: 'mallory-ws' } }
    await startGroup(config)
    const refused = await send({ type: 'ref.set', name: 'a', cid: CID_A })
    assert.ok(!refused.ok && refused.error.name === 'AccessDeniedError', JSON.stringify(refused))
    assert.match(!refused.ok ? refused.error.message : '', new RegExp(`^peer ${ids[4]} \\(mallory-ws\\) lacks the write role`))
    await services[3].refSet({ name: 'a', cid: CID_A })
    const before = await services[3].accessLs()
    assert.equal(before.source, 'config')
    assert.deepEqual(before.table.write, [ids[3]])
    // only an admin changes access: the workstation is not one
    await assert.rejects(services[3].accessGrant({ role: 'write', peer: ids[4] }), (e: Error & { exitCode?: number }) => e.name === 'AccessDeniedError' && e.exitCode === 3 && /ana-ws\) lacks the admin role/.test(e.message))
    const granted = await services[0].accessGrant({ role: 'write', peer: ids[4], name: 'mallory' })
    assert.deepEqual(granted.table.write, [ids[3], ids[4]])
    assert.ok((await send({ type: 'ref.set', name: 'b', cid: CID_B })).ok)
    const after = await services[3].accessLs()
    assert.equal(after.source, 'replicated')
    assert.deepEqual(after.audit.map(e => [e.change, e.role, e.peer, e.by]), [['grant', 'write', ids[4], ids[0]]])
    assert.equal(after.table.names[ids[4]], 'mallory')
    await services[1].accessRevoke({ role: 'write', peer: ids[4] })
    assert.ok(!(await send({ type: 'ref.set', name: 'c', cid: CID_B })).ok)
    // revoking from a role that is open to everyone cannot be said with an allow-list
    await assert.rejects(services[0].accessRevoke({ role: 'lock', peer: ids[4] }), (e: Error & { exitCode?: number }) => e.name === 'InvalidCommandError' && /open to every member/.test(e.message))
    // the read role: without it, no ref or lock reads either
    await services[0].accessGrant({ role: 'read', peer: ids[3] })
    await assert.rejects(hostile.call({ kind: 'read', query: { type: 'ref.ls', prefix: '' } }, { timeoutMs: REQUEST_TIMEOUT_MS }),
      (e: Error & { exitCode?: number }) => e.name === 'AccessDeniedError' && e.exitCode === 3 && /lacks the read role/.test(e.message))
    assert.equal((await services[3].refLs({})).length, 2)
    // what chunk serving asks: a voter looks at its applied table (once it has applied the grant: a follower may
    // trail the leader that answered), the workstation at the group's, refreshed
    await eventually(() => services[0].refusal(ids[4], 'read', 'chunks') !== undefined, 5000, 'voter 0 applies the read grant')
    assert.match(services[0].refusal(ids[4], 'read', 'chunks') ?? '', /lacks the read role \(chunks/)
    assert.equal(services[0].refusal(ids[3], 'read', 'chunks'), undefined)
    await eventually(() => services[3].refusal(ids[4], 'read', 'chunks') !== undefined, 5000, 'the workstation learns the replicated read role')
    assert.equal(services[3].refusal(ids[3], 'read', 'chunks'), undefined)
    // the replicated table survives a restart of the whole group
    await stopGroup()
    await startGroup(config)
    const restarted = await services[3].accessLs()
    assert.equal(restarted.source, 'replicated')
    assert.deepEqual(restarted.table.read, [ids[3]])
    assert.equal(restarted.audit.length, 3)
  })
})
