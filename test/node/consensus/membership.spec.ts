import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { RAFT_PROTOCOL } from '../../../protocol/ids.ts'
import { encodeCommand } from '../../../src/state/index.ts'
import { createNetwork } from '../../../node/net/index.ts'
import { encodeRaftMessage, frameAll } from '../../../node/consensus/wire.ts'
import { MemoryBlockstore } from '../net/helpers.ts'
import { VoterCluster } from './cluster.ts'
import { CID_A, CID_B, sleep } from './helpers.ts'
import type { DitsNetwork } from '../../../node/net/index.ts'
import type { ClusterStatus, LockInfo } from '../../../node/consensus/index.ts'
import type { LockLsReply, RefRecord } from '../../../src/state/index.ts'
import type { Entry, Message } from '../../../src/raft/index.ts'

const YEAR_MS = 365 * 24 * 3600_000
const TEN_MINUTES_MS = 10 * 60_000

/**
 * Issue 14, "Consensus that only its members drive": a real libp2p peer on loopback that is not in the
 * configuration speaks `/dits/raft/1.0.0` to three real voter processes — an append of a higher term carrying
 * a `ref.set`, an append carrying a `lock.expire` with a clock a year ahead, vote requests that would bump the
 * term, and an append that claims to come from the leader. Nothing may be applied, the term may not move, and
 * the 10-minute lease must stay.
 */
describe('consensus: only the voters drive Raft (a hostile libp2p peer on loopback)', function () {
  this.timeout(120_000)
  let work: string
  let group: VoterCluster
  let hostile: DitsNetwork

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-members-'))
    group = new VoterCluster(work, 3)
    await group.create()
    await group.startAll()
    await group.leader(0)
    hostile = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), blockstore: new MemoryBlockstore(), role: 'peer', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false })
    await hostile.start()
  })

  after(async () => {
    await hostile?.stop()
    await group?.stopAll()
    await rm(work, { recursive: true, force: true })
  })

  /** Open a raft stream to voter `i` and write `messages` on it, then close it. */
  const speak = async (i: number, messages: Message[]): Promise<void> => {
    const stream = await hostile.libp2p.dialProtocol(multiaddr(group.addrs[i]), RAFT_PROTOCOL, { signal: AbortSignal.timeout(5_000) })
    stream.send(frameAll(messages.map(encodeRaftMessage)))
    await stream.close({ signal: AbortSignal.timeout(5_000) }).catch(() => {})
  }

  it('a non-voter\'s appends (term + 1, a ref.set, a lock.expire a year ahead) and vote requests change nothing', async () => {
    const leader = await group.leader(0)
    const api = await group.api(leader)
    const lock = await api.call<LockInfo>('lockAcquire', { path: 'reels/', ttlMs: TEN_MINUTES_MS })
    await api.call('refSet', { name: 'reels/r1', cid: CID_A })
    const before = await api.call<ClusterStatus>('clusterStatus', {})
    const T = before.term
    const last = before.commitIndex
    const me = hostile.peerId
    const entry = (index: number, term: number, data: Uint8Array): Entry => ({ index, term, type: 'normal', data })
    const refSet = encodeCommand({ type: 'ref.set', name: 'reels/r1', cid: CID_B, client: 'intruder', seq: 1, owner: me, now: Date.now() })
    const expire = encodeCommand({ type: 'lock.expire', now: Date.now() + YEAR_MS })

    for (let i = 0; i < group.size; i++) {
      const to = group.peerIds[i]
      await speak(i, [
        { type: 'App', from: me, to, term: T + 1, index: last, logTerm: T, commit: last + 1, entries: [entry(last + 1, T + 1, refSet)] },
        { type: 'App', from: me, to, term: T + 1, index: last + 1, logTerm: T + 1, commit: last + 2, entries: [entry(last + 2, T + 1, expire)] },
        { type: 'Heartbeat', from: me, to, term: T + 1, commit: last + 2 },
        { type: 'PreVote', from: me, to, term: T + 50, index: last + 100, logTerm: T + 50 },
        { type: 'Vote', from: me, to, term: T + 100, index: last + 100, logTerm: T + 100 }
      ])
      // the same append claiming to come from the leader: a forged sender
      await speak(i, [{ type: 'App', from: group.peerIds[leader], to, term: T, index: last, logTerm: T, commit: last + 1, entries: [entry(last + 1, T, refSet)] }])
    }
    // long enough for a bumped term to depose the leader and for a forged commit to be applied (2 election timeouts)
    await sleep(2_500)

    for (let i = 0; i < group.size; i++) {
      const voter = await group.api(i)
      const status = await voter.call<ClusterStatus>('clusterStatus', {})
      assert.equal(status.term, T, `voter ${i}: the term moved from ${T} to ${status.term}`)
      assert.equal(status.leader, group.peerIds[leader], `voter ${i}: the leader changed`)
      const ref = await voter.call<RefRecord>('refGet', { name: 'reels/r1' })
      assert.equal(ref.cid, CID_A, `voter ${i}: the intruder's ref.set was applied`)
      const { locks } = await voter.call<LockLsReply>('lockLs', {})
      const held = locks.find(g => g.path === 'reels/')
      assert.ok(held !== undefined, `voter ${i}: the 10-minute lease was ended`)
      assert.equal(held.token, lock.token)
      assert.ok(held.expires > Date.now() + TEN_MINUTES_MS / 2)
    }
  })
})
