/**
 * The extensions of Ongaro's thesis that the paper leaves out, plus the core's own contract: pre-vote (§9.6),
 * check-quorum and the leader lease (§6.2, §4.2.3), ReadIndex (§6.4), snapshots (Raft §7), single-server
 * membership changes (§4.1-§4.2), leadership transfer (§3.10), flow control (§10.2.2) and the Ready loop.
 */

import assert from 'node:assert/strict'
import { CAMPAIGN_TRANSFER, MemoryStorage, RaftNode, decodeConfChange } from '../../../src/raft/index.ts'
import { drain, ents, logOf, makeLeader, newRaft, ofType, storedLog } from './helpers.ts'
import { Network, bytes, text } from './network.ts'

const ABC = ['a', 'b', 'c']
const ET = 10

function names (err: unknown): string {
  return (err as Error).name
}

describe('raft: thesis extensions and the core contract', () => {
  describe('pre-vote (thesis §9.6)', () => {
    it('thesis §9.6 a pre-candidate keeps its term and vote and asks for pre-votes for term + 1', () => {
      const t = newRaft('a', { voters: ABC, term: 3, vote: 'b', log: ents(1, 3) })
      drain(t)
      t.raft.tick()
      for (let i = 1; i < ET; i++) {
        t.raft.tick()
      }
      const st = t.raft.status()
      assert.deepEqual([st.role, st.term, st.vote], ['pre-candidate', 3, 'b'])
      const pre = ofType(drain(t).messages, 'PreVote')
      assert.deepEqual(pre.map(m => [m.to, m.term, m.index, m.logTerm]), [['b', 4, 2, 3], ['c', 4, 2, 3]])
    })

    it('thesis §9.6 a pre-candidate that gathers a majority starts the real election', () => {
      const t = newRaft('a', { voters: ABC, term: 3 })
      t.raft.campaign()
      drain(t)
      t.raft.step({ type: 'PreVoteResp', from: 'b', to: 'a', term: 4 })
      const st = t.raft.status()
      assert.deepEqual([st.role, st.term, st.vote], ['candidate', 4, 'a'])
      assert.equal(ofType(drain(t).messages, 'Vote').length, 2)
    })

    it('thesis §9.6 a pre-candidate rejected by a majority falls back to follower in its term', () => {
      const t = newRaft('a', { voters: ABC, term: 3 })
      t.raft.campaign()
      t.raft.step({ type: 'PreVoteResp', from: 'b', to: 'a', term: 3, reject: true })
      t.raft.step({ type: 'PreVoteResp', from: 'c', to: 'a', term: 3, reject: true })
      assert.deepEqual([t.raft.status().role, t.raft.status().term], ['follower', 3])
    })

    it('thesis §9.6 granting a pre-vote records no vote and changes no term', () => {
      const t = newRaft('a', { voters: ABC, term: 3, vote: 'c' })
      drain(t)
      t.raft.step({ type: 'PreVote', from: 'b', to: 'a', term: 4, index: 0, logTerm: 0 })
      const [resp] = drain(t).messages
      assert.deepEqual(resp, { type: 'PreVoteResp', from: 'a', to: 'b', term: 4 })
      assert.deepEqual([t.raft.status().term, t.raft.status().vote], [3, 'c'])
    })

    it('thesis §9.6 a pre-vote from a candidate with a stale log is refused (§5.4.1 applies to pre-votes)', () => {
      const t = newRaft('a', { voters: ABC, term: 3, log: ents(1, 3) })
      drain(t)
      t.raft.step({ type: 'PreVote', from: 'b', to: 'a', term: 4, index: 5, logTerm: 2 })
      assert.equal(drain(t).messages[0].reject, true)
    })

    it('thesis §9.6 a node partitioned away does not inflate its term, and rejoining does not depose the leader', () => {
      const net = new Network({ ids: ABC, seed: 11 })
      net.elect('a')
      const { term } = net.raft('a').status()
      net.isolate('c')
      net.tickAll(10 * ET)
      assert.equal(net.raft('c').status().term, term)
      net.heal()
      net.tickAll(3 * ET)
      assert.equal(net.leader(), 'a')
      assert.equal(net.raft('a').status().term, term)
    })

    it('without pre-vote the same partition makes the rejoining node depose the leader (why pre-vote exists)', () => {
      const net = new Network({ ids: ABC, seed: 11, raft: { preVote: false } })
      net.elect('a')
      const { term } = net.raft('a').status()
      net.isolate('c')
      net.tickAll(10 * ET)
      assert.ok(net.raft('c').status().term > term)
      net.heal()
      net.tickAll(3 * ET)
      assert.ok(net.raft(net.leader() ?? 'a').status().term > term)
      assert.deepEqual(net.violations, [])
    })
  })

  describe('check-quorum and the leader lease (thesis §6.2, §4.2.3)', () => {
    it('thesis §6.2 a leader that hears from no majority within an election timeout steps down', () => {
      const net = new Network({ ids: ABC, seed: 5 })
      net.elect('a')
      net.isolate('a')
      net.tick('a', ET - 1)
      assert.equal(net.raft('a').status().role, 'leader')
      net.tick('a', 1 + ET)
      assert.equal(net.raft('a').status().role, 'follower')
      assert.throws(() => net.propose('a', 'x'), (err: any) => err.name === 'NotLeaderError' && err.exitCode === 4)
    })

    it('thesis §6.2 a leader that keeps hearing from a majority stays leader (one follower down is fine)', () => {
      const net = new Network({ ids: ABC, seed: 5 })
      net.elect('a')
      net.isolate('c')
      net.tickAll(5 * ET)
      assert.equal(net.leader(), 'a')
      assert.equal(net.raft('a').status().role, 'leader')
    })

    it('thesis §4.2.3 a follower that heard from its leader within the election timeout ignores higher-term votes', () => {
      const t = newRaft('a', { voters: ABC, term: 2 })
      t.raft.step({ type: 'Heartbeat', from: 'b', to: 'a', term: 2, commit: 0 })
      drain(t)
      t.raft.step({ type: 'Vote', from: 'c', to: 'a', term: 3, index: 9, logTerm: 9 })
      t.raft.step({ type: 'PreVote', from: 'c', to: 'a', term: 3, index: 9, logTerm: 9 })
      assert.deepEqual(drain(t).messages, [])
      assert.deepEqual([t.raft.status().term, t.raft.status().vote], [2, ''])
    })

    it('thesis §4.2.3 once the lease has run out the vote is considered', () => {
      const t = newRaft('a', { voters: ABC, term: 2 }, { random: () => 0.99 })
      t.raft.step({ type: 'Heartbeat', from: 'b', to: 'a', term: 2, commit: 0 })
      for (let i = 0; i < ET; i++) {
        t.raft.tick()
      }
      drain(t)
      t.raft.step({ type: 'Vote', from: 'c', to: 'a', term: 3, index: 9, logTerm: 9 })
      assert.deepEqual(drain(t).messages, [{ type: 'VoteResp', from: 'a', to: 'c', term: 3 }])
    })
  })

  describe('ReadIndex (thesis §6.4)', () => {
    function leader (): ReturnType<typeof newRaft> {
      const t = newRaft('a', { voters: ABC, term: 1 })
      makeLeader(t, ABC)
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 1 })
      drain(t)
      return t
    }

    it('thesis §6.4 the leader releases a read only after a majority acknowledges a heartbeat carrying its context', () => {
      const t = leader()
      t.raft.readIndex(bytes('r1'))
      const out = drain(t)
      assert.deepEqual(out.readStates, [])
      const beats = ofType(out.messages, 'Heartbeat')
      assert.deepEqual(beats.map(m => [m.to, text(m.context ?? new Uint8Array())]), [['b', 'r1'], ['c', 'r1']])
      // an ack for another context does not count
      t.raft.step({ type: 'HeartbeatResp', from: 'b', to: 'a', term: 2, context: bytes('other') })
      assert.deepEqual(drain(t).readStates, [])
      t.raft.step({ type: 'HeartbeatResp', from: 'b', to: 'a', term: 2, context: bytes('r1') })
      assert.deepEqual(drain(t).readStates.map(rs => [rs.index, text(rs.ctx)]), [[1, 'r1']])
    })

    it('thesis §6.4 one round of acks releases every read queued before it', () => {
      const t = leader()
      t.raft.readIndex(bytes('r1'))
      t.raft.readIndex(bytes('r2'))
      drain(t)
      t.raft.step({ type: 'HeartbeatResp', from: 'c', to: 'a', term: 2, context: bytes('r2') })
      assert.deepEqual(drain(t).readStates.map(rs => text(rs.ctx)), ['r1', 'r2'])
    })

    it('thesis §6.4 a new leader defers reads until it has committed an entry of its term', () => {
      const t = newRaft('a', { voters: ABC, term: 1 })
      makeLeader(t, ABC)
      t.raft.readIndex(bytes('r1'))
      const out = drain(t)
      assert.deepEqual(ofType(out.messages, 'Heartbeat'), [])
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 1 })
      const after = drain(t)
      assert.equal(ofType(after.messages, 'Heartbeat').length, 2)
      t.raft.step({ type: 'HeartbeatResp', from: 'c', to: 'a', term: 2, context: bytes('r1') })
      assert.deepEqual(drain(t).readStates.map(rs => [rs.index, text(rs.ctx)]), [[1, 'r1']])
    })

    it('thesis §6.4 a single voter answers at once', () => {
      const t = newRaft('a', { voters: ['a'] })
      t.raft.campaign()
      drain(t)
      t.raft.readIndex(bytes('r'))
      assert.deepEqual(drain(t).readStates.map(rs => rs.index), [1])
    })

    it('thesis §6.4 a follower forwards the read to the leader and gets the read index back', () => {
      const net = new Network({ ids: ABC, seed: 2 })
      net.elect('a')
      net.propose('a', 'x')
      net.stabilize()
      net.read('b', 'rb')
      net.stabilize()
      assert.deepEqual(net.node('b').readStates.map(rs => [rs.index, text(rs.ctx)]), [[net.raft('a').status().commit, 'rb']])
      assert.deepEqual(net.violations, [])
    })

    it('thesis §6.4 a leader cut off from the majority never answers, while the new leader serves fresh reads', () => {
      const net = new Network({ ids: ABC, seed: 2 })
      net.elect('a')
      net.isolate('a')
      net.read('a', 'stale?')
      net.tickAll(3 * ET)
      assert.notEqual(net.leader(), 'a')
      net.propose(net.leader() ?? '', 'y')
      net.stabilize()
      net.read(net.leader() ?? '', 'fresh')
      net.stabilize()
      assert.deepEqual(net.node('a').readStates, [])
      assert.equal(net.node(net.leader() ?? '').readStates.length, 1)
      assert.deepEqual(net.violations, [])
    })

    it('a follower that knows no leader refuses a read with NotLeaderError', () => {
      const t = newRaft('a', { voters: ABC, term: 1 })
      assert.throws(() => t.raft.readIndex(bytes('r')), (err: any) => err.name === 'NotLeaderError' && err.leader === undefined)
    })
  })

  describe('snapshots and log compaction (Raft §7)', () => {
    it('Raft §7 createSnapshot captures index, term and the voters at that index; storage compaction drops the log', () => {
      const net = new Network({ ids: ABC, seed: 3 })
      net.elect('a')
      for (const v of ['x', 'y', 'z']) {
        net.propose('a', v)
      }
      net.stabilize()
      const n = net.node('a')
      const snap = n.raft.createSnapshot(n.appliedIndex, bytes(JSON.stringify(n.values)))
      assert.deepEqual([snap.index, snap.term, snap.voters], [n.appliedIndex, n.raft.status().term, ABC])
      n.storage.createSnapshot(snap)
      n.storage.compact(snap.index)
      assert.equal(n.raft.status().firstIndex, snap.index + 1)
      assert.throws(() => n.raft.createSnapshot(snap.index, bytes('')), (err: any) => err.name === 'SnapshotOutOfDateError')
      assert.throws(() => n.raft.createSnapshot(snap.index + 5, bytes('')), (err: any) => err.name === 'RaftStateError')
    })

    it('Raft §7 a follower that needs compacted entries is sent a snapshot, restores it and catches up from the log', () => {
      const net = new Network({ ids: ABC, seed: 3 })
      net.elect('a')
      net.isolate('c')
      for (let i = 0; i < 20; i++) {
        net.propose('a', `v${i}`)
      }
      net.stabilize()
      net.compact('a')
      net.heal()
      net.propose('a', 'after')
      net.tickAll(3)
      const snaps = ofType(net.sent, 'Snapshot')
      assert.equal(snaps.length, 1)
      assert.equal(snaps[0].to, 'c')
      assert.deepEqual(net.valuesOf('c'), net.valuesOf('a'))
      assert.equal(net.valuesOf('c').at(-1), 'after')
      assert.equal(net.node('c').storage.snapshot().index, snaps[0].snapshot?.index)
      assert.equal(net.raft('a').status().progress?.c.state, 'replicate')
      assert.deepEqual(net.violations, [])
    })

    it('Raft §7 a snapshot lost in transit is sent again after snapshotRetryTicks', () => {
      const net = new Network({ ids: ABC, seed: 3, raft: { snapshotRetryTicks: 5 } })
      net.elect('a')
      net.isolate('c')
      net.propose('a', 'x')
      net.stabilize()
      net.compact('a')
      net.heal()
      let dropped = 0
      net.dropIf = m => m.type === 'Snapshot' && dropped++ === 0
      net.tickAll(8)
      assert.equal(ofType(net.sent, 'Snapshot').length, 2)
      assert.deepEqual(net.valuesOf('c'), ['x'])
    })

    it('Raft §7 a follower ignores a snapshot that its commit index already covers', () => {
      const t = newRaft('a', { voters: ABC, term: 2, log: ents(1, 2, 2), commit: 3 })
      drain(t)
      t.raft.step({ type: 'Snapshot', from: 'b', to: 'a', term: 2, snapshot: { index: 2, term: 2, voters: ABC, data: bytes('[]') } })
      const out = drain(t)
      assert.deepEqual(ofType(out.messages, 'AppResp').map(m => m.index), [3])
      assert.equal(t.storage.snapshot().index, 0)
    })

    it('Raft §7 a snapshot whose last entry the log already has only advances commit, keeping later entries', () => {
      const t = newRaft('a', { voters: ABC, term: 2, log: ents(1, 2, 2, 2) })
      drain(t)
      t.raft.step({ type: 'Snapshot', from: 'b', to: 'a', term: 2, snapshot: { index: 2, term: 2, voters: ABC, data: bytes('[]') } })
      drain(t)
      assert.deepEqual([t.raft.status().commit, t.raft.status().lastIndex], [2, 4])
      assert.equal(t.storage.snapshot().index, 0)
    })

    it('Raft §7 a restarted node resumes from its snapshot and replays the entries after it', () => {
      const net = new Network({ ids: ABC, seed: 8 })
      net.elect('a')
      net.propose('a', 'x')
      net.stabilize()
      net.compact('b')
      net.propose('a', 'y')
      net.stabilize()
      net.tickAll(1)
      net.restart('b')
      assert.deepEqual(net.valuesOf('b'), ['x', 'y'])
      assert.deepEqual(net.violations, [])
    })
  })

  describe('membership changes, one server at a time (thesis §4.1-§4.2)', () => {
    it('thesis §4.1 a new voter learns the founding configuration and the change from the log, then counts in quorums', () => {
      const net = new Network({ ids: ABC, joiners: ['d'], seed: 4 })
      net.elect('a')
      net.raft('a').proposeConfChange({ type: 'add', node: 'd' })
      net.process('a')
      net.stabilize()
      net.tickAll(2)
      assert.deepEqual(net.raft('d').status().voters, ['a', 'b', 'c', 'd'])
      assert.deepEqual(net.raft('a').status().voters, ['a', 'b', 'c', 'd'])
      // with 4 voters a majority is 3: without b, a and c need d's ack, and a and d alone cannot commit
      net.isolate('b')
      net.propose('a', 'needs-d')
      net.stabilize()
      assert.equal(net.valuesOf('a').includes('needs-d'), true)
      net.isolate('c')
      net.propose('a', 'cannot-commit')
      net.stabilize()
      assert.equal(net.valuesOf('a').includes('cannot-commit'), false)
    })

    it('thesis §4.1 the new configuration takes effect when the entry is appended, before it commits', () => {
      const t = newRaft('a', { voters: ABC, term: 1 })
      makeLeader(t, ABC)
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 1 })
      t.raft.step({ type: 'AppResp', from: 'c', to: 'a', term: 2, index: 1 })
      drain(t)
      t.raft.proposeConfChange({ type: 'add', node: 'd' })
      assert.deepEqual(t.raft.status().voters, ['a', 'b', 'c', 'd'])
      assert.ok(t.raft.status().progress?.d !== undefined)
      const apps = ofType(drain(t).messages, 'App')
      assert.deepEqual(apps.map(m => m.to).sort(), ['b', 'c', 'd'])
      // with 4 voters, a and b are not a majority any more
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 2 })
      assert.equal(t.raft.status().commit, 1)
      t.raft.step({ type: 'AppResp', from: 'c', to: 'a', term: 2, index: 2 })
      assert.equal(t.raft.status().commit, 2)
    })

    it('thesis §4.1 only one change at a time: another is refused until the first commits', () => {
      const t = newRaft('a', { voters: ABC, term: 1 })
      makeLeader(t, ABC)
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 1 })
      t.raft.proposeConfChange({ type: 'add', node: 'd' })
      assert.throws(() => t.raft.proposeConfChange({ type: 'remove', node: 'c' }), (err: any) => err.name === 'ConfChangePendingError' && err.exitCode === 3)
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 2 })
      t.raft.step({ type: 'AppResp', from: 'c', to: 'a', term: 2, index: 2 })
      t.raft.proposeConfChange({ type: 'remove', node: 'c' })
      assert.deepEqual(t.raft.status().voters, ['a', 'b', 'd'])
    })

    it('thesis §4.1 a new leader accepts no change before it has committed an entry of its term', () => {
      const t = newRaft('a', { voters: ABC, term: 1 })
      makeLeader(t, ABC)
      assert.throws(() => t.raft.proposeConfChange({ type: 'add', node: 'd' }), (err: any) => names(err) === 'ConfChangePendingError')
    })

    it('thesis §4.1 a follower drops the configuration of a conf change entry that a new leader overwrites', () => {
      const t = newRaft('a', { voters: ABC, term: 1 })
      const cc = { term: 2, index: 1, type: 'confchange' as const, data: bytes(JSON.stringify({ type: 'add', node: 'd' })) }
      t.raft.step({ type: 'App', from: 'b', to: 'a', term: 2, index: 0, logTerm: 0, entries: [cc], commit: 0 })
      assert.deepEqual(t.raft.status().voters, ['a', 'b', 'c', 'd'])
      t.raft.step({ type: 'App', from: 'c', to: 'a', term: 3, index: 0, logTerm: 0, entries: ents(3), commit: 0 })
      assert.deepEqual(t.raft.status().voters, ABC)
    })

    it('thesis §4.2.2 a leader that removes itself leads until the change commits, then steps down and hands over', () => {
      const net = new Network({ ids: ABC, seed: 6 })
      net.elect('a')
      net.raft('a').proposeConfChange({ type: 'remove', node: 'a' })
      net.process('a')
      assert.deepEqual(net.raft('a').status().voters, ['b', 'c'])
      assert.throws(() => net.propose('a', 'x'), (err: any) => err.name === 'ProposalDroppedError')
      net.stabilize()
      assert.equal(net.raft('a').status().role, 'follower')
      const successor = net.leader()
      assert.ok(successor === 'b' || successor === 'c', `leader is ${String(successor)}`)
      assert.equal(ofType(net.sent, 'TimeoutNow').length, 1)
      net.tickAll(5 * ET)
      assert.equal(net.leader(), successor)
      assert.equal(net.raft('a').status().role, 'follower')
      net.propose(successor ?? '', 'y')
      net.stabilize()
      assert.deepEqual(net.valuesOf(successor ?? ''), ['y'])
      assert.deepEqual(net.violations, [])
    })

    it('thesis §4.2.3 a removed server that never learned of its removal cannot disrupt the group', () => {
      const net = new Network({ ids: ['a', 'b', 'c', 'd'], seed: 9 })
      net.elect('a')
      net.isolate('d')
      net.raft('a').proposeConfChange({ type: 'remove', node: 'd' })
      net.process('a')
      net.stabilize()
      const { term } = net.raft('a').status()
      net.tickAll(10 * ET)
      net.heal()
      net.tickAll(10 * ET)
      assert.equal(net.leader(), 'a')
      assert.equal(net.raft('a').status().term, term)
      assert.deepEqual(net.raft('d').status().voters, ['a', 'b', 'c', 'd'])
    })

    it('changes that do not fit the voters are refused with InvalidConfChangeError', () => {
      const t = newRaft('a', { voters: ['a'] })
      t.raft.campaign()
      drain(t)
      assert.throws(() => t.raft.proposeConfChange({ type: 'add', node: 'a' }), (err: any) => names(err) === 'InvalidConfChangeError')
      assert.throws(() => t.raft.proposeConfChange({ type: 'remove', node: 'z' }), (err: any) => names(err) === 'InvalidConfChangeError')
      assert.throws(() => t.raft.proposeConfChange({ type: 'remove', node: 'a' }), (err: any) => names(err) === 'InvalidConfChangeError')
      assert.throws(() => t.raft.proposeConfChange({ type: 'add', node: '' }), (err: any) => names(err) === 'InvalidConfChangeError')
    })

    it('conf change entries carry readable JSON', () => {
      const t = newRaft('a', { voters: ['a'] })
      t.raft.campaign()
      t.raft.proposeConfChange({ type: 'add', node: 'b' })
      const cc = logOf(t).find(e => e.type === 'confchange')
      assert.deepEqual(decodeConfChange(cc?.data ?? new Uint8Array()), { type: 'add', node: 'b' })
      assert.throws(() => decodeConfChange(bytes('{"type":"promote"}')), (err: any) => names(err) === 'InvalidConfChangeError')
    })
  })

  describe('leadership transfer (thesis §3.10)', () => {
    it('thesis §3.10 the leader sends TimeoutNow to an up-to-date target, which wins at once despite the lease', () => {
      const net = new Network({ ids: ABC, seed: 7 })
      net.elect('a')
      const { term } = net.raft('a').status()
      net.raft('a').transferLeadership('b')
      net.process('a')
      net.stabilize()
      assert.equal(net.leader(), 'b')
      assert.equal(net.raft('b').status().term, term + 1)
      const votes = ofType(net.sent, 'Vote').filter(m => m.from === 'b')
      assert.ok(votes.length > 0 && votes.every(m => text(m.context ?? new Uint8Array()) === text(CAMPAIGN_TRANSFER)))
      assert.equal(ofType(net.sent, 'PreVote').filter(m => m.from === 'b').length, 0)
    })

    it('thesis §3.10 a lagging target is first brought up to date', () => {
      const net = new Network({ ids: ABC, seed: 7 })
      net.elect('a')
      net.isolate('c')
      net.propose('a', 'x')
      net.stabilize()
      net.heal()
      net.raft('a').transferLeadership('c')
      net.process('a')
      assert.equal(ofType(net.inFlight, 'TimeoutNow').length, 0)
      net.stabilize()
      assert.equal(net.leader(), 'c')
      assert.deepEqual(net.valuesOf('c'), ['x'])
    })

    it('thesis §3.10 proposals are refused while a transfer is under way; it is abandoned after an election timeout', () => {
      const net = new Network({ ids: ABC, seed: 7 })
      net.elect('a')
      net.isolate('c')
      net.raft('a').transferLeadership('c')
      assert.equal(net.raft('a').status().leadTransferee, 'c')
      assert.throws(() => net.propose('a', 'x'), (err: any) => err.name === 'ProposalDroppedError' && /transferred to c/.test(err.message))
      net.tick('a', ET)
      assert.equal(net.raft('a').status().leadTransferee, undefined)
      net.propose('a', 'x')
    })

    it('transfers to a non-voter or from a non-leader are refused', () => {
      const net = new Network({ ids: ABC, seed: 7 })
      net.elect('a')
      assert.throws(() => net.raft('a').transferLeadership('z'), (err: any) => names(err) === 'InvalidTransferError')
      assert.throws(() => net.raft('b').transferLeadership('c'), (err: any) => err.name === 'NotLeaderError' && err.leader === 'a')
    })
  })

  describe('flow control (thesis §10.2.2)', () => {
    function replicatingLeader (options = {}): ReturnType<typeof newRaft> {
      const t = newRaft('a', { voters: ABC, term: 1 }, options)
      makeLeader(t, ABC)
      for (const from of ['b', 'c']) {
        t.raft.step({ type: 'AppResp', from, to: 'a', term: 2, index: 1 })
      }
      drain(t)
      return t
    }

    it('a follower in replicate state gets at most maxInflightMsgs unacknowledged appends; an ack reopens the window', () => {
      const t = replicatingLeader({ maxInflightMsgs: 3 })
      for (let i = 0; i < 5; i++) {
        t.raft.propose(bytes(`p${i}`))
      }
      const toB = ofType(drain(t).messages, 'App').filter(m => m.to === 'b')
      assert.equal(toB.length, 3)
      assert.deepEqual(toB.map(m => m.entries?.map(e => e.index)), [[2], [3], [4]])
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 3 })
      const more = ofType(drain(t).messages, 'App').filter(m => m.to === 'b')
      assert.deepEqual(more.map(m => m.entries?.map(e => e.index)), [[5, 6]])
    })

    it('appends are batched up to maxSizePerMsg bytes (at least one entry each)', () => {
      const t = newRaft('a', { voters: ABC, term: 1 }, { maxSizePerMsg: 100 })
      makeLeader(t, ABC)
      // b is still being probed, so these queue up; 30 payload bytes + ENTRY_OVERHEAD_BYTES = 46 per entry
      for (let i = 0; i < 5; i++) {
        t.raft.propose(new Uint8Array(30))
      }
      drain(t)
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 1 })
      const batches = ofType(drain(t).messages, 'App').filter(m => m.to === 'b')
      assert.deepEqual(batches.map(m => m.entries?.map(e => e.index)), [[2, 3], [4, 5], [6]])
      const huge = newRaft('a', { voters: ABC, term: 1 }, { maxSizePerMsg: 1 })
      makeLeader(huge, ABC)
      huge.raft.propose(new Uint8Array(1000))
      huge.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 1 })
      assert.deepEqual(ofType(drain(huge).messages, 'App').filter(m => m.to === 'b').map(m => m.entries?.length), [1])
    })

    it('a follower in probe state gets one append at a time, and another only after a response', () => {
      const t = newRaft('a', { voters: ABC, term: 1 })
      makeLeader(t, ABC)
      t.raft.propose(bytes('x'))
      t.raft.propose(bytes('y'))
      assert.deepEqual(ofType(drain(t).messages, 'App'), [])
      t.raft.tick()
      const out = drain(t)
      assert.equal(ofType(out.messages, 'App').length, 0)
      t.raft.step({ type: 'HeartbeatResp', from: 'b', to: 'a', term: 2 })
      assert.deepEqual(ofType(drain(t).messages, 'App').map(m => [m.to, m.index]), [['b', 0]])
    })

    it('fast backtracking repairs a long divergent follower in one round trip per term, not per entry', () => {
      const leaderLog = [1, 1, 1, ...Array(30).fill(5)]
      const followerLog = [1, 1, 1, ...Array(40).fill(4)]
      const voters = ['f', 'l', 'x']
      const net = new Network({
        ids: voters,
        raft: { preVote: false, checkQuorum: false },
        storages: {
          l: prepared(voters, leaderLog, 5),
          f: prepared(voters, followerLog, 5),
          x: prepared(voters, [], 5)
        }
      })
      net.isolate('x')
      net.elect('l')
      net.raft('l').step({ type: 'VoteResp', from: 'x', to: 'l', term: 6 })
      net.process('l')
      net.stabilize()
      const rejects = ofType(net.sent, 'AppResp').filter(m => m.from === 'f' && m.reject === true)
      assert.ok(rejects.length <= 2, `${rejects.length} rejections`)
      assert.deepEqual(storedLog(net.node('f').storage).map(e => e.term), [...leaderLog, 6])
    })
  })

  describe('the Ready loop and the API contract', () => {
    it('founders bootstrap identical logs: one add entry per voter at term 1, committed', () => {
      const logs = ['c', 'a', 'b'].map(id => {
        const storage = new MemoryStorage()
        const raft = new RaftNode({ id, storage, voters: ['c', 'b', 'a'] })
        const out = drain({ raft, storage })
        assert.deepEqual(out.committed.map(e => decodeConfChange(e.data).node), ABC)
        return storedLog(storage).map(e => [e.index, e.term, text(e.data)])
      })
      assert.deepEqual(logs[0], logs[1])
      assert.deepEqual(logs[1], logs[2])
    })

    it('a restart restores term, vote, commit and the configuration from storage', () => {
      const net = new Network({ ids: ABC, seed: 1 })
      net.elect('b')
      net.propose('b', 'x')
      net.stabilize()
      net.tickAll(1)
      const before = net.raft('a').status()
      net.restart('a')
      const after = net.raft('a').status()
      assert.deepEqual([after.term, after.vote, after.commit, after.voters], [before.term, before.vote, before.commit, before.voters])
      assert.deepEqual(net.valuesOf('a'), ['x'])
    })

    it('ready() twice without advance(), or advance() without ready(), is a RaftStateError; hasReady() is false meanwhile', () => {
      const t = newRaft('a', { voters: ['a'] })
      t.raft.campaign()
      t.raft.ready()
      assert.equal(t.raft.hasReady(), false)
      assert.throws(() => t.raft.ready(), (err: any) => names(err) === 'RaftStateError')
      t.raft.advance()
      assert.throws(() => t.raft.advance(), (err: any) => names(err) === 'RaftStateError')
    })

    it('hardState is reported only when it changes; softState when leader or role changes', () => {
      const t = newRaft('a', { voters: ['a'] })
      t.raft.campaign()
      const rd = t.raft.ready()
      assert.deepEqual(rd.hardState, { term: 1, vote: 'a', commit: 1 })
      assert.deepEqual(rd.softState, { leader: 'a', role: 'leader' })
      t.storage.append(rd.entries)
      t.raft.advance()
      t.raft.propose(bytes('x'))
      const rd2 = t.raft.ready()
      assert.deepEqual(rd2.hardState, { term: 1, vote: 'a', commit: 2 })
      assert.equal(rd2.softState, undefined)
      t.raft.advance()
      assert.equal(t.raft.hasReady(), false)
    })

    it('proposals on a follower fail with NotLeaderError naming the leader to forward to', () => {
      const net = new Network({ ids: ABC, seed: 1 })
      net.elect('a')
      assert.throws(() => net.raft('b').propose(bytes('x')), (err: any) =>
        err.name === 'NotLeaderError' && err.leader === 'a' && /forward to a/.test(err.message))
      const lone = newRaft('z', { voters: ABC })
      assert.throws(() => lone.raft.propose(bytes('x')), (err: any) => err.name === 'NotLeaderError' && err.leader === undefined)
    })

    it('a proposal that a new leader overwrote is recognisable by its (index, term)', () => {
      const net = new Network({ ids: ABC, seed: 12 })
      net.elect('a')
      net.isolate('a')
      const lost = net.raft('a').propose(bytes('lost'))
      net.tickAll(3 * ET)
      const leader = net.leader() ?? ''
      net.propose(leader, 'kept')
      net.stabilize()
      net.heal()
      net.tickAll(3 * ET)
      const at = storedLog(net.node('a').storage).find(e => e.index === lost.index)
      assert.notEqual(at?.term, lost.term)
      assert.equal(net.valuesOf('a').includes('lost'), false)
      assert.deepEqual(net.violations, [])
    })

    it('step() refuses messages for another node and unknown types', () => {
      const t = newRaft('a', { voters: ABC })
      assert.throws(() => t.raft.step({ type: 'Heartbeat', from: 'b', to: 'c', term: 1 }), (err: any) => names(err) === 'InvalidMessageError')
      assert.throws(() => t.raft.step({ type: 'Hup' as any, from: 'b', to: 'a', term: 1 }), (err: any) => names(err) === 'InvalidMessageError')
    })

    it('invalid config values are refused with InvalidRaftConfigError naming the field', () => {
      const storage = new MemoryStorage()
      assert.throws(() => new RaftNode({ id: 'a', storage, electionTicks: 0 }), /electionTicks is 0/)
      assert.throws(() => new RaftNode({ id: 'a', storage, electionTicks: 2, heartbeatTicks: 2 }), /must be greater than heartbeatTicks/)
      assert.throws(() => new RaftNode({ id: '', storage }), (err: any) => names(err) === 'InvalidRaftConfigError')
    })
  })
})

function prepared (voters: string[], terms: number[], term: number): MemoryStorage {
  const storage = new MemoryStorage()
  storage.applySnapshot({ index: 0, term: 0, voters, data: new Uint8Array(0) })
  storage.append(ents(...terms))
  storage.setHardState({ term, vote: '', commit: Math.min(3, terms.length) })
  return storage
}
