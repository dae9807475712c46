/**
 * One spec per rule of the Raft paper (§5), in the style of etcd-io/raft's raft_paper_test.go. Most run the
 * paper's plain algorithm (no pre-vote, no check-quorum) on one node and play its peers by hand.
 */

import assert from 'node:assert/strict'
import { seededRandom } from '../../../src/raft/index.ts'
import { drain, ents, logOf, makeLeader, newRaft, ofType, prepareStorage, storedLog } from './helpers.ts'
import { Network, bytes, text } from './network.ts'
import type { Entry } from '../../../src/raft/index.ts'
import type { NodeOptions } from './network.ts'

const ABC = ['a', 'b', 'c']
/** the paper's algorithm without the thesis extensions */
const PLAIN = { preVote: false, checkQuorum: false }
const ET = 10

function terms (log: Entry[]): number[] {
  return log.map(e => e.term)
}

describe('raft: the paper (Raft §5)', () => {
  describe('§5.1 terms', () => {
    it('§5.1 a server starts as a follower in its persisted term', () => {
      const t = newRaft('a', { voters: ABC, term: 4, vote: 'b' })
      const st = t.raft.status()
      assert.equal(st.role, 'follower')
      assert.equal(st.term, 4)
      assert.equal(st.vote, 'b')
      assert.equal(st.leader, undefined)
    })

    for (const role of ['follower', 'candidate', 'leader'] as const) {
      it(`§5.1 a ${role} that sees a higher term adopts it and becomes a follower`, () => {
        const t = newRaft('a', { voters: ABC, term: 1 }, PLAIN)
        if (role === 'candidate') {
          t.raft.campaign()
        } else if (role === 'leader') {
          makeLeader(t, ABC)
        }
        drain(t)
        assert.equal(t.raft.status().role, role)
        t.raft.step({ type: 'Heartbeat', from: 'b', to: 'a', term: 9, commit: 0 })
        const st = t.raft.status()
        assert.equal(st.term, 9)
        assert.equal(st.role, 'follower')
        assert.equal(st.leader, 'b')
        assert.equal(st.vote, '')
      })
    }

    it('§5.1 a server ignores a request with a stale term', () => {
      const t = newRaft('a', { voters: ABC, term: 3 }, PLAIN)
      drain(t)
      t.raft.step({ type: 'App', from: 'b', to: 'a', term: 2, index: 0, logTerm: 0, entries: ents(2), commit: 1 })
      const out = drain(t)
      assert.deepEqual(out.messages, [])
      assert.equal(t.raft.status().lastIndex, 0)
      assert.equal(t.raft.status().term, 3)
    })

    it('§5.1 a stale leader is told the newer term (so it steps down even when votes are ignored under a lease)', () => {
      const t = newRaft('a', { voters: ABC, term: 3 })
      drain(t)
      t.raft.step({ type: 'Heartbeat', from: 'b', to: 'a', term: 2, commit: 0 })
      assert.deepEqual(drain(t).messages, [{ type: 'AppResp', from: 'a', to: 'b', term: 3 }])
    })
  })

  describe('§5.2 leader election', () => {
    it('§5.2 a follower starts an election after the election timeout: new term, votes for itself, asks everyone', () => {
      const t = newRaft('a', { voters: ABC, term: 1, log: ents(1) }, PLAIN)
      drain(t)
      for (let i = 0; i < ET - 1; i++) {
        t.raft.tick()
      }
      assert.equal(t.raft.status().role, 'follower')
      t.raft.tick()
      const st = t.raft.status()
      assert.equal(st.role, 'candidate')
      assert.equal(st.term, 2)
      assert.equal(st.vote, 'a')
      const votes = ofType(drain(t).messages, 'Vote')
      assert.deepEqual(votes.map(m => [m.to, m.term, m.index, m.logTerm]), [['b', 2, 1, 1], ['c', 2, 1, 1]])
    })

    it('§5.2 a candidate whose election times out starts a new one in the next term', () => {
      const t = newRaft('a', { voters: ABC, term: 1 }, PLAIN)
      t.raft.campaign()
      assert.equal(t.raft.status().term, 2)
      for (let i = 0; i < 2 * ET; i++) {
        t.raft.tick()
      }
      assert.equal(t.raft.status().role, 'candidate')
      assert.ok(t.raft.status().term > 2)
    })

    it('§5.2 election timeouts are drawn from [electionTicks, 2 × electionTicks)', () => {
      const seen = new Set<number>()
      const rng = seededRandom(7)
      for (let run = 0; run < 200; run++) {
        const t = newRaft('a', { voters: ABC, term: 1 }, { ...PLAIN, random: rng })
        let ticks = 0
        while (t.raft.status().role === 'follower') {
          t.raft.tick()
          ticks++
        }
        seen.add(ticks)
      }
      assert.ok([...seen].every(n => n >= ET && n < 2 * ET), `timeouts ${[...seen].join(',')}`)
      assert.ok(seen.size >= ET / 2, `timeouts should spread out, saw ${[...seen].join(',')}`)
    })

    const tallies: Array<{ voters: string[], grants: Record<string, boolean>, role: string }> = [
      { voters: ['a'], grants: {}, role: 'leader' },
      { voters: ABC, grants: { b: true }, role: 'leader' },
      { voters: ABC, grants: { b: true, c: true }, role: 'leader' },
      { voters: ABC, grants: {}, role: 'candidate' },
      { voters: ABC, grants: { b: false }, role: 'candidate' },
      { voters: ABC, grants: { b: false, c: false }, role: 'follower' },
      { voters: ['a', 'b', 'c', 'd', 'e'], grants: { b: true }, role: 'candidate' },
      { voters: ['a', 'b', 'c', 'd', 'e'], grants: { b: true, c: true }, role: 'leader' },
      { voters: ['a', 'b', 'c', 'd', 'e'], grants: { b: true, c: false, d: false, e: false }, role: 'follower' },
      { voters: ['a', 'b', 'c', 'd'], grants: { b: true }, role: 'candidate' },
      { voters: ['a', 'b', 'c', 'd'], grants: { b: true, c: true }, role: 'leader' }
    ]
    for (const { voters, grants, role } of tallies) {
      it(`§5.2 a candidate of ${voters.length} with ballots ${JSON.stringify(grants)} ends up ${role}`, () => {
        const t = newRaft('a', { voters, term: 1 }, PLAIN)
        t.raft.campaign()
        for (const [from, granted] of Object.entries(grants)) {
          t.raft.step({ type: 'VoteResp', from, to: 'a', term: 2, reject: !granted })
        }
        assert.equal(t.raft.status().role, role)
      })
    }

    it('§5.2 a voter grants at most one vote per term, first come first served (repeats are re-granted)', () => {
      const t = newRaft('a', { voters: ABC, term: 1 }, PLAIN)
      drain(t)
      const ask = (from: string): boolean => {
        t.raft.step({ type: 'Vote', from, to: 'a', term: 2, index: 0, logTerm: 0 })
        const [resp] = ofType(drain(t).messages, 'VoteResp')
        return resp.reject !== true
      }
      assert.equal(ask('b'), true)
      assert.equal(ask('c'), false)
      assert.equal(ask('b'), true)
      assert.equal(t.raft.status().vote, 'b')
    })

    it('§5.2 a candidate that hears from a leader of its own term becomes its follower', () => {
      const t = newRaft('a', { voters: ABC, term: 1 }, PLAIN)
      t.raft.campaign()
      t.raft.step({ type: 'App', from: 'b', to: 'a', term: 2, index: 0, logTerm: 0, entries: [], commit: 0 })
      assert.equal(t.raft.status().role, 'follower')
      assert.equal(t.raft.status().leader, 'b')
      assert.equal(t.raft.status().term, 2)
    })

    it('§5.2 a leader sends heartbeats to every follower each heartbeat interval', () => {
      const t = newRaft('a', { voters: ABC, term: 1 }, PLAIN)
      makeLeader(t, ABC)
      drain(t)
      t.raft.tick()
      const beats = ofType(drain(t).messages, 'Heartbeat')
      assert.deepEqual(beats.map(m => [m.to, m.term, m.commit]), [['b', 2, 0], ['c', 2, 0]])
    })

    for (const size of [3, 5]) {
      it(`§5.2 randomized timeouts resolve split votes: ${size} nodes elect exactly one leader (20 seeds)`, () => {
        const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, size)
        for (let seed = 1; seed <= 20; seed++) {
          const net = new Network({ ids, seed, raft: PLAIN })
          let ticks = 0
          while (net.leader() === undefined && ticks < 50 * ET) {
            net.tickAll()
            ticks++
          }
          const leader = net.leader()
          assert.ok(leader !== undefined, `seed ${seed}: no leader after ${ticks} ticks`)
          for (const id of ids) {
            assert.equal(net.raft(id).status().leader, leader, `seed ${seed}: ${id} follows ${net.raft(id).status().leader}`)
          }
          assert.deepEqual(net.violations, [])
        }
      })
    }
  })

  describe('§5.3 log replication', () => {
    function leaderWithAckedNoop (): ReturnType<typeof newRaft> {
      const t = newRaft('a', { voters: ABC, term: 1 }, PLAIN)
      makeLeader(t, ABC)
      for (const from of ['b', 'c']) {
        t.raft.step({ type: 'AppResp', from, to: 'a', term: 2, index: 1 })
      }
      drain(t)
      return t
    }

    it('§5.3 the leader appends a proposal to its log and sends it to every follower', () => {
      const t = leaderWithAckedNoop()
      const id = t.raft.propose(bytes('x'))
      assert.deepEqual(id, { index: 2, term: 2 })
      const out = drain(t)
      const apps = ofType(out.messages, 'App')
      assert.deepEqual(apps.map(m => [m.to, m.index, m.logTerm, m.entries?.map(e => [e.index, e.term, text(e.data)])]),
        [['b', 1, 2, [[2, 2, 'x']]], ['c', 1, 2, [[2, 2, 'x']]]])
      assert.deepEqual(logOf(t).map(e => e.index), [1, 2])
    })

    it('§5.3 an entry is committed once a majority holds it; the leader applies it and tells followers', () => {
      const t = leaderWithAckedNoop()
      t.raft.propose(bytes('x'))
      drain(t)
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 2 })
      const out = drain(t)
      assert.equal(t.raft.status().commit, 2)
      assert.deepEqual(out.committed.map(e => text(e.data)), ['x'])
      // the next message to a follower carries the new commit index
      const toC = ofType(out.messages, 'App').find(m => m.to === 'c')
      assert.equal(toC?.commit, 2)
    })

    it('§5.3 committing an entry commits all preceding entries, including those of earlier leaders', () => {
      const t = newRaft('a', { voters: ABC, term: 1, log: ents(1, 1) }, PLAIN)
      makeLeader(t, ABC)
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 2, index: 3 })
      const out = drain(t)
      assert.deepEqual(out.committed.map(e => [e.index, e.term]), [[1, 1], [2, 1], [3, 2]])
    })

    it('§5.3 a follower applies entries up to the leader\'s commit index', () => {
      const t = newRaft('a', { voters: ABC, term: 1 }, PLAIN)
      t.raft.step({ type: 'App', from: 'b', to: 'a', term: 1, index: 0, logTerm: 0, entries: ents(1, 1, 1), commit: 2 })
      const out = drain(t)
      assert.deepEqual(out.committed.map(e => e.index), [1, 2])
      assert.deepEqual(ofType(out.messages, 'AppResp').map(m => [m.index, m.reject]), [[3, undefined]])
    })

    const rejects: Array<{ log: number[], index: number, logTerm: number, hint: number, hintTerm: number }> = [
      { log: [1, 2], index: 2, logTerm: 3, hint: 2, hintTerm: 2 },
      { log: [1, 2], index: 3, logTerm: 3, hint: 2, hintTerm: 2 },
      { log: [1, 1, 1], index: 3, logTerm: 2, hint: 3, hintTerm: 1 },
      { log: [1, 3, 3, 3], index: 4, logTerm: 2, hint: 1, hintTerm: 1 }
    ]
    for (const r of rejects) {
      it(`§5.3 a follower with terms [${r.log.join(',')}] rejects an append after (${r.index}, term ${r.logTerm}) and hints ${r.hint}`, () => {
        const t = newRaft('a', { voters: ABC, term: 3, log: ents(...r.log) }, PLAIN)
        t.raft.step({ type: 'App', from: 'b', to: 'a', term: 3, index: r.index, logTerm: r.logTerm, entries: [], commit: 0 })
        const [resp] = ofType(drain(t).messages, 'AppResp')
        assert.deepEqual([resp.reject, resp.index, resp.rejectHint, resp.logTerm], [true, r.index, r.hint, r.hintTerm])
        assert.deepEqual(terms(logOf(t)), r.log)
      })
    }

    const appends: Array<{ index: number, logTerm: number, entries: number[], want: number[] }> = [
      { index: 2, logTerm: 2, entries: [3], want: [1, 2, 3] },
      { index: 1, logTerm: 1, entries: [3, 4], want: [1, 3, 4] },
      { index: 0, logTerm: 0, entries: [1], want: [1, 2] },
      { index: 0, logTerm: 0, entries: [3], want: [3] }
    ]
    for (const a of appends) {
      it(`§5.3 a follower with [1,2] given [${a.entries.join(',')}] after ${a.index} keeps matching entries and replaces conflicts -> [${a.want.join(',')}]`, () => {
        const t = newRaft('a', { voters: ABC, term: 2, log: ents(1, 2) }, PLAIN)
        const entries = a.entries.map((term, i) => ({ term, index: a.index + 1 + i, type: 'normal' as const, data: bytes(`e${a.index + 1 + i}`) }))
        t.raft.step({ type: 'App', from: 'b', to: 'a', term: 4, index: a.index, logTerm: a.logTerm, entries, commit: 0 })
        assert.deepEqual(terms(logOf(t)), a.want)
      })
    }

    // Figure 7 of the paper: possible follower logs when a leader of term 8 comes to power.
    const figure7: Record<string, number[]> = {
      a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      b: [1, 1, 1, 4],
      c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      e: [1, 1, 1, 4, 4, 4, 4],
      f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]
    }
    for (const [name, follower] of Object.entries(figure7)) {
      it(`§5.3 Figure 7 (${name}): the leader backtracks to the point of agreement and repairs the follower's log`, () => {
        const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
        const voters = ['f', 'l', 'x']
        const net = new Network({
          ids: voters,
          raft: PLAIN,
          storages: {
            l: prepareStorage({ voters, log: ents(...leaderLog), term: 7, commit: 3 }),
            f: prepareStorage({ voters, log: ents(...follower), term: 6 }),
            x: prepareStorage({ voters, term: 6 })
          }
        })
        net.isolate('x')
        net.elect('l')
        // x is cut off; its grant lets l win whatever f thinks of l's log
        net.raft('l').step({ type: 'VoteResp', from: 'x', to: 'l', term: 8 })
        net.process('l')
        assert.equal(net.raft('l').status().role, 'leader')
        net.stabilize()
        net.propose('l', 'y')
        net.stabilize()
        const want = storedLog(net.node('l').storage)
        assert.deepEqual(terms(want), [...leaderLog, 8, 8])
        assert.deepEqual(storedLog(net.node('f').storage).map(e => [e.index, e.term, text(e.data)]), want.map(e => [e.index, e.term, text(e.data)]))
      })
    }
  })

  describe('§5.4 safety', () => {
    // a voter whose last entry is (index 2, term 2)
    const ballots: Array<{ index: number, logTerm: number, granted: boolean }> = [
      { index: 1, logTerm: 1, granted: false },
      { index: 3, logTerm: 1, granted: false },
      { index: 1, logTerm: 2, granted: false },
      { index: 2, logTerm: 2, granted: true },
      { index: 3, logTerm: 2, granted: true },
      { index: 1, logTerm: 3, granted: true }
    ]
    for (const b of ballots) {
      it(`§5.4.1 a voter with last entry (2, term 2) ${b.granted ? 'grants' : 'rejects'} a candidate whose last entry is (${b.index}, term ${b.logTerm})`, () => {
        const t = newRaft('a', { voters: ABC, term: 2, log: ents(1, 2) }, PLAIN)
        t.raft.step({ type: 'Vote', from: 'b', to: 'a', term: 3, index: b.index, logTerm: b.logTerm })
        const [resp] = ofType(drain(t).messages, 'VoteResp')
        assert.equal(resp.reject !== true, b.granted)
        assert.equal(t.raft.status().vote, b.granted ? 'b' : '')
      })
    }

    it('§5.4.2 a leader does not commit an entry of an earlier term by counting replicas', () => {
      const t = newRaft('a', { voters: ABC, term: 2, log: ents(1, 2) }, PLAIN)
      makeLeader(t, ABC)
      // entry 2 (term 2) is now on a majority, but it is not of the current term 3
      for (const from of ['b', 'c']) {
        t.raft.step({ type: 'AppResp', from, to: 'a', term: 3, index: 2 })
      }
      assert.equal(t.raft.status().commit, 0)
      assert.deepEqual(drain(t).committed, [])
      // once the leader's own no-op (index 3, term 3) is on a majority, everything up to it commits
      t.raft.step({ type: 'AppResp', from: 'b', to: 'a', term: 3, index: 3 })
      assert.equal(t.raft.status().commit, 3)
      assert.deepEqual(drain(t).committed.map(e => [e.index, e.term]), [[1, 1], [2, 2], [3, 3]])
    })

    it('§5.4.2 Figure 8: an earlier-term entry held by a majority is not committed, and a later leader may overwrite it', () => {
      const net = figure8(PLAIN)
      // s1 (term 4) replicated its term-2 entries to s3: s1, s2 and s3 hold them. They must not be committed.
      assert.equal(net.raft('s1').status().commit, 1)
      assert.equal(storedLog(net.node('s3').storage)[1].term, 2)
      assert.deepEqual(net.violations, [])
      // (d) s1 crashes; s5 (last term 3) wins with votes of s2, s3, s4 and overwrites index 2 everywhere
      finishFigure8(net)
      assert.equal(net.raft('s5').status().role, 'leader')
      assert.deepEqual(net.violations, [])
      for (const id of ['s2', 's3', 's4']) {
        assert.equal(storedLog(net.node(id).storage)[1].term, 3)
      }
    })
  })

  describe('§5.5 follower and candidate crashes', () => {
    it('§5.5 the leader retries an append that got no answer (the next heartbeat response triggers it)', () => {
      const net = new Network({ ids: ABC, seed: 3, raft: PLAIN })
      net.elect('a')
      net.dropIf = m => m.type === 'App' && m.to === 'c'
      net.propose('a', 'x')
      net.stabilize()
      net.dropIf = undefined
      assert.deepEqual(net.valuesOf('c'), [])
      net.tickAll(2)
      assert.deepEqual(net.valuesOf('c'), ['x'])
    })

    it('§5.5 a restarted follower keeps its log, term and vote and catches up', () => {
      const net = new Network({ ids: ABC, seed: 4, raft: PLAIN })
      net.elect('a')
      net.propose('a', 'x')
      net.stabilize()
      const before = net.raft('b').status()
      net.restart('b')
      const after = net.raft('b').status()
      assert.deepEqual([after.term, after.vote, after.lastIndex, after.commit], [before.term, before.vote, before.lastIndex, before.commit])
      net.propose('a', 'y')
      net.stabilize()
      net.tickAll(2)
      assert.deepEqual(net.valuesOf('b'), ['x', 'y'])
    })
  })
})

/**
 * Figure 8 (a)-(c) with five nodes s1..s5 and one entry per append message: s1 leads term 2, gets its
 * entries to s2 only and crashes; s5 leads term 3, appends its own entries and crashes; s1 leads term 4 and replicates its
 * term-2 entries to s3, so that it knows a majority holds them, but none of its term-4 entries.
 */
export function figure8 (options: NodeOptions): Network {
  const ids = ['s1', 's2', 's3', 's4', 's5']
  const net = new Network({
    ids,
    raft: { ...options, maxSizePerMsg: 1 },
    storages: Object.fromEntries(ids.map(id => [id, prepareStorage({ voters: ids, log: ents(1), term: 1, commit: 1 })]))
  })
  const only = (allowed: string[]): void => {
    net.heal()
    for (const a of ids) {
      for (const b of ids) {
        if (a !== b && !(allowed.includes(a) && allowed.includes(b))) {
          net.cut(a, b)
        }
      }
    }
  }
  // (a) s1 leads term 2 (votes of s2, s3); its entries reach s2 only
  only(['s1', 's2', 's3'])
  net.dropIf = m => m.type === 'App' && m.to !== 's2'
  campaignUntilLeader(net, 's1')
  net.propose('s1', 'a-term2')
  net.stabilize()
  // (b) s1 crashes; s5 leads term 3 (votes of s3, s4), appends its own entries, replicates nothing and crashes
  net.restart('s1')
  only(['s3', 's4', 's5'])
  net.dropIf = m => m.type === 'App'
  campaignUntilLeader(net, 's5')
  net.propose('s5', 'x-term3')
  net.stabilize()
  net.restart('s5')
  // (c) s1 leads term 4 (votes of s2, s3, s4) and gets its term-2 entries, only those, to s3 (and hears that s2
  // holds them); appends that would deliver a term-4 entry are lost (probes that get rejected pass: they reveal
  // where a log ends)
  only(['s1', 's2', 's3', 's4'])
  net.dropIf = m => m.type === 'App' && (m.to === 's4' ||
    ((m.entries ?? []).some(e => e.term > 2) && net.raft(m.to).status().lastIndex >= (m.index ?? 0)))
  campaignUntilLeader(net, 's1')
  net.tickAll(3)
  net.dropIf = undefined
  net.dropAll()
  return net
}

/** Figure 8 (d): s1 crashes; s5 wins with votes of s2, s3, s4 (its last term 3 beats their 2) and replicates. */
export function finishFigure8 (net: Network): void {
  net.heal()
  net.isolate('s1')
  campaignUntilLeader(net, 's5')
  net.tickAll(3)
}

function campaignUntilLeader (net: Network, id: string): void {
  for (let i = 0; i < 4 && net.raft(id).status().role !== 'leader'; i++) {
    net.raft(id).campaign()
    net.process(id)
    net.stabilize()
  }
  assert.equal(net.raft(id).status().role, 'leader', `${id} should have won an election`)
}
