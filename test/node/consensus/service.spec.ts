import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { ConsensusService } from '../../../node/consensus/service.ts'
import { RAFT_PROTOCOL, CONSENSUS_PROTOCOL } from '../../../protocol/ids.ts'
import { writeFrame } from '../../../node/net/framing.ts'
import { encodeRaftMessage } from '../../../node/consensus/wire.ts'
import { startNode, stopAll } from '../net/helpers.ts'
import { eventually, CID_A, CID_B } from './helpers.ts'
import type { TestNode } from '../net/helpers.ts'

const REQUEST_TIMEOUT_MS = 2000

describe('node/consensus/service (in-process nodes over libp2p on loopback)', function () {
  this.timeout(60_000)
  let dir: string
  let nodes: TestNode[] = []
  let services: ConsensusService[] = []

  /** Three voters and one plain peer (index 3). */
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-consensus-svc-'))
    nodes = await Promise.all([0, 1, 2, 3].map(async () => await startNode()))
    const voters = nodes.slice(0, 3).map(n => n.addr)
    services = nodes.map((n, i) => new ConsensusService(n.net.libp2p, {
      peerId: n.net.peerId,
      voter: i < 3,
      voters,
      heartbeatMs: 50,
      electionMs: 500,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      datastoreDir: join(dir, `n${i}`),
      penalize: (peer, reason, disconnect) => { n.net.penalize(peer, reason, disconnect) }
    }))
    await Promise.all(services.map(async s => { await s.start() }))
    // The first command waits for an election and the new leader's first read point: on a loaded 2-core machine
    // that alone can take longer than REQUEST_TIMEOUT_MS, which the cases below hold each command to.
    // (a missing ref is an answer too)
    await eventually(async () => await services[3].refGet({ name: 'warm-up' }).then(() => true, (e: Error) => e.name === 'NotFoundError'), 30_000, 'the group answering')
  })

  afterEach(async () => {
    await Promise.all(services.map(async s => { await s.stop() }))
    await stopAll(nodes)
    await rm(dir, { recursive: true, force: true })
  })

  it('a plain peer commits through the group, and every node reads what it wrote', async () => {
    const set = await services[3].refSet({ name: 'reel3/cut', cid: CID_A, expectNone: true })
    assert.equal(set.old, null)
    for (const s of services) assert.equal((await s.refGet({ name: 'reel3/cut' })).cid, CID_A)
    await assert.rejects(services[1].refSet({ name: 'reel3/cut', cid: CID_B, expectNone: true }), (e: Error & { exitCode?: number }) => e.name === 'RefConflictError' && e.exitCode === 3 && e.message.includes(CID_A))
    const lock = await services[3].lockAcquire({ path: 'reel3/', ttlMs: 10_000 })
    assert.equal(lock.owner, nodes[3].net.peerId)
    assert.deepEqual(services[3].leases().map(l => l.path), ['reel3/'])
    await assert.rejects(services[0].refSet({ name: 'reel3/cut', cid: CID_B }), { name: 'RefLockedError' })
    const status = await services[3].clusterStatus()
    assert.ok(status.leader !== null)
    assert.equal(status.voters.filter(v => v.state === 'leader').length, 1)
    assert.ok(status.voters.every(v => v.lag !== null && v.lag >= 0))
  })

  it('a raft message that claims to come from another voter is a violation: dropped, and the connection closed', async () => {
    await services[0].refSet({ name: 'x', cid: CID_A })
    const before = (await services[0].clusterStatus()).term
    const target = nodes[0].net.libp2p.getMultiaddrs()[0]
    const stream = await nodes[3].net.libp2p.dialProtocol(target, RAFT_PROTOCOL)
    const forged = encodeRaftMessage({ type: 'Vote', from: nodes[1].net.peerId, to: nodes[0].net.peerId, term: before + 1000, index: 1_000_000, logTerm: before + 999 })
    await writeFrame(stream, forged).catch(() => {})
    await eventually(() => nodes[0].net.libp2p.getConnections(nodes[3].net.libp2p.peerId).length === 0, 5000, 'the forger disconnected')
    assert.ok((await services[0].clusterStatus()).term < before + 1000)
    assert.equal((await services[2].refGet({ name: 'x' })).cid, CID_A)
  })

  it('a malformed raft frame or consensus request closes the connection; the voter goes on serving, the offender too until banned', async () => {
    const apart = (): boolean => nodes[1].net.libp2p.getConnections(nodes[3].net.libp2p.peerId).length === 0 && nodes[3].net.libp2p.getConnections(nodes[1].net.libp2p.peerId).length === 0
    const raft = await nodes[3].net.libp2p.dialProtocol(multiaddr(nodes[1].addr), RAFT_PROTOCOL)
    await writeFrame(raft, Uint8Array.from([0xff, 0xff, 0xff])).catch(() => {})
    await eventually(apart, 5000, 'disconnected after a malformed raft frame')
    const consensus = await nodes[3].net.libp2p.dialProtocol(multiaddr(nodes[1].addr), CONSENSUS_PROTOCOL)
    await writeFrame(consensus, Uint8Array.from([0xff, 0xff, 0xff])).catch(() => {})
    await eventually(apart, 5000, 'disconnected after a malformed consensus request')
    // two points, each counted once (not once per stream the hang-up closed): it may come back (its client
    // redials), and everyone else is served throughout
    await services[3].refSet({ name: 'still', cid: CID_B })
    assert.equal((await services[1].refGet({ name: 'still' })).cid, CID_B)
    const third = await nodes[3].net.libp2p.dialProtocol(multiaddr(nodes[1].addr), CONSENSUS_PROTOCOL)
    await writeFrame(third, Uint8Array.from([0xff, 0xff, 0xff])).catch(() => {})
    await eventually(apart, 5000, 'disconnected after the third violation')
    await assert.rejects(nodes[3].net.libp2p.dialProtocol(multiaddr(nodes[1].addr), CONSENSUS_PROTOCOL, { signal: AbortSignal.timeout(5000) }))
    assert.equal((await services[2].refGet({ name: 'still' })).cid, CID_B)
  })

  it('without a majority a command fails with "no quorum" (exit 4) within the request timeout', async () => {
    await services[3].refSet({ name: 'before', cid: CID_A })
    for (const i of [0, 1]) {
      await services[i].stop()
      await nodes[i].net.stop()
    }
    const t0 = Date.now()
    await assert.rejects(services[3].refSet({ name: 'after', cid: CID_B }), (e: Error & { exitCode?: number }) =>
      e.name === 'NoQuorumError' && e.exitCode === 4 && /no quorum: [01] of 3 voters reachable/.test(e.message))
    assert.ok(Date.now() - t0 < REQUEST_TIMEOUT_MS + 500, `${Date.now() - t0} ms`)
    await assert.rejects(services[2].refSet({ name: 'after', cid: CID_B }), /no quorum: 1 of 3 voters reachable/)
    await assert.rejects(services[2].refGet({ name: 'before' }), { name: 'NoQuorumError' })
  })

  it('adds a voter that catches up, then removes it (cluster add / remove)', async () => {
    await services[3].refSet({ name: 'before-join', cid: CID_A })
    const joiner = await startNode()
    nodes.push(joiner)
    // a voter that is not in consensus.voters waits, with an empty log, to be added
    const svc = new ConsensusService(joiner.net.libp2p, {
      peerId: joiner.net.peerId, voter: true, voters: nodes.slice(0, 3).map(n => n.addr), heartbeatMs: 50, electionMs: 500, requestTimeoutMs: REQUEST_TIMEOUT_MS, datastoreDir: join(dir, 'joiner')
    })
    services.push(svc)
    await svc.start()
    // membership needs the admin role: the voters hold it while no admin is named (a plain peer is refused)
    await assert.rejects(services[3].clusterAdd({ peer: joiner.addr }), (e: Error & { exitCode?: number }) => e.name === 'AccessDeniedError' && e.exitCode === 3)
    const added = await services[0].clusterAdd({ peer: joiner.addr })
    assert.equal(added.voters.length, 4)
    assert.ok(added.voters.includes(joiner.net.peerId))
    assert.equal((await svc.refGet({ name: 'before-join' })).cid, CID_A)
    await eventually(async () => (await services[0].clusterStatus()).voters.find(v => v.id === joiner.net.peerId)?.lag === 0, 10_000, 'the new voter catches up')
    await assert.rejects(services[1].clusterAdd({ peer: joiner.net.peerId }), (e: Error & { exitCode?: number }) => e.name === 'InvalidConfChangeError' && e.exitCode === 2)
    const removed = await services[1].clusterRemove({ peer: joiner.net.peerId })
    assert.deepEqual(removed.voters.sort(), nodes.slice(0, 3).map(n => n.net.peerId).sort())
    await services[3].refSet({ name: 'after-leave', cid: CID_B })
    await assert.rejects(services[3].clusterAdd({ peer: '/ip4/127.0.0.1/tcp/1' }), { name: 'UsageError' })
  })

  it('a node without configured voters says how to configure them (exit 2)', async () => {
    const lonely = new ConsensusService(nodes[3].net.libp2p, { peerId: nodes[3].net.peerId, voter: false, voters: [], heartbeatMs: 100, electionMs: 1000, requestTimeoutMs: 1000, datastoreDir: join(dir, 'lonely') })
    await lonely.start()
    await assert.rejects(lonely.refGet({ name: 'x' }), (e: Error & { exitCode?: number }) => e.name === 'NoVotersError' && e.exitCode === 2 && e.message.includes('consensus.voters'))
    await lonely.stop()
  })
})
