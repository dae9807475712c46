/**
 * The mutants of src/raft/mutants.ts must be catchable (issue 5): each is shown breaking a checker in a
 * scripted scenario (with the correct core as the control), and random fault schedules catch each one within a
 * few dozen seeds. commit-old-term and forget-vote are caught there mostly by the Network's durable-state rules
 * (commit rule, vote never changes within a term): the overwrite of Figure 8 itself, or a double vote across a
 * restart, is rare under random faults.
 */

import assert from 'node:assert/strict'
import { RAFT_MUTANTS, RAFT_MUTANT_DESCRIPTIONS } from '../../../src/raft/index.ts'
import { runChaos } from './chaos.ts'
import { drain, ents, newRaft, ofType } from './helpers.ts'
import { Network, bytes } from './network.ts'
import { figure8, finishFigure8 } from './paper.spec.ts'
import type { RaftMutant } from '../../../src/raft/index.ts'

const ET = 10
const PLAIN = { preVote: false, checkQuorum: false }

/** Each scenario returns the violations the checkers saw, for a given mutant (or none). */
const scenarios: Record<RaftMutant, (mutant: RaftMutant | undefined) => string[]> = {
  'vote-twice': mutant => {
    const net = new Network({ ids: ['a', 'b', 'c'], seed: 1, raft: { ...PLAIN, mutant } })
    net.cut('a', 'c')
    // a wins term 2 with b's vote; its appends are lost, so b's log stays as up to date as c's
    net.dropIf = m => m.type === 'App'
    net.elect('a')
    // c campaigns in the same term 2: b already voted for a
    net.raft('c').campaign()
    net.process('c')
    net.stabilize()
    return net.violations
  },
  'forget-vote': mutant => {
    const net = new Network({ ids: ['a', 'b', 'c'], seed: 1, raft: { ...PLAIN, mutant } })
    net.cut('a', 'c')
    net.dropIf = m => m.type === 'App'
    net.elect('a')
    // b voted for a in term 2, then crashes and restarts; c then campaigns in term 2
    net.restart('b')
    net.raft('c').campaign()
    net.process('c')
    net.stabilize()
    return net.violations
  },
  'stale-log-vote': mutant => {
    const net = new Network({ ids: ['a', 'b', 'c'], seed: 2, raft: { mutant } })
    net.elect('a')
    net.isolate('c')
    net.propose('a', 'committed')
    net.stabilize()
    // a goes away; c, which never got the committed entry, campaigns
    net.heal()
    net.isolate('a')
    net.tickAll(3 * ET)
    net.raft('c').campaign()
    net.process('c')
    net.stabilize()
    net.tickAll(2)
    return net.violations
  },
  'commit-old-term': mutant => {
    const net = figure8({ ...PLAIN, mutant })
    finishFigure8(net)
    return net.violations
  },
  'read-without-quorum': mutant => {
    const net = new Network({ ids: ['a', 'b', 'c'], seed: 3, raft: { mutant } })
    net.elect('a')
    net.isolate('a')
    // time passes for b and c only: a has not yet noticed that it was deposed
    for (let i = 0; i < 3 * ET; i++) {
      net.tick('b')
      net.tick('c')
      net.stabilize()
    }
    net.propose(net.leader() ?? '', 'newer')
    net.stabilize()
    net.read('a', 'stale')
    return net.violations
  },
  'no-check-quorum': mutant => {
    const net = new Network({ ids: ['a', 'b', 'c'], seed: 4, raft: { mutant } })
    net.elect('a')
    net.isolate('a')
    net.tickAll(3 * ET)
    return net.raft('a').status().role === 'leader' ? ['stale leader: a cut off for 3 election timeouts'] : []
  },
  'skip-log-match': mutant => {
    const t = newRaft('a', { voters: ['a', 'b', 'c'], term: 3, log: ents(1, 2) }, { mutant })
    t.raft.step({ type: 'App', from: 'b', to: 'a', term: 3, index: 2, logTerm: 3, entries: [{ term: 3, index: 3, type: 'normal', data: new Uint8Array(1) }], commit: 0 })
    const [resp] = ofType(drain(t).messages, 'AppResp')
    // a now holds (3, term 3) after (2, term 2), while the leader holds (2, term 3) before it
    return resp.reject === true ? [] : ['log matching: appended after a mismatching previous entry']
  },
  'admit-non-member': mutant => {
    const net = new Network({ ids: ['a', 'b', 'c'], seed: 5, raft: { mutant } })
    net.elect('a')
    net.propose('a', 'real')
    net.stabilize()
    const { term, lastIndex } = net.raft('b').status()
    // x is in no configuration: its append of a higher term would make b its follower and apply its entry
    net.inject({ type: 'App', from: 'x', to: 'b', term: term + 1, index: lastIndex, logTerm: term, commit: lastIndex + 1, entries: [{ term: term + 1, index: lastIndex + 1, type: 'normal', data: bytes('forged') }] }, 'x')
    net.inject({ type: 'Vote', from: 'x', to: 'c', term: term + 5, index: lastIndex + 10, logTerm: term + 5 }, 'x')
    return nonMemberEffects(net, term)
  },
  'trust-claimed-sender': mutant => {
    const net = new Network({ ids: ['a', 'b', 'c'], seed: 6, raft: { mutant } })
    net.elect('a')
    net.propose('a', 'real')
    net.stabilize()
    const { term, lastIndex } = net.raft('b').status()
    // x speaks as the leader a, in a's own term
    net.inject({ type: 'App', from: 'a', to: 'b', term, index: lastIndex, logTerm: term, commit: lastIndex + 1, entries: [{ term, index: lastIndex + 1, type: 'normal', data: bytes('forged') }] }, 'x')
    return nonMemberEffects(net, term)
  }
}

/** What a message from outside the group changed: a member's term, or an entry it applied. */
function nonMemberEffects (net: Network, term: number): string[] {
  const out: string[] = []
  for (const id of ['a', 'b', 'c']) {
    const n = net.node(id)
    if (n.status().term !== term) out.push(`${id} moved from term ${term} to ${n.status().term} on a non-member's message`)
    if (n.values.includes('forged')) out.push(`${id} applied an entry forged by a non-member`)
  }
  return out
}

/** Mutants of the admission check: random fault schedules have no peer outside the group to exercise them (test/sims/mutants.spec.ts has). */
const ADMISSION_MUTANTS: readonly RaftMutant[] = ['admit-non-member', 'trust-claimed-sender']


describe('raft: mutants', function () {
  this.timeout(60_000)

  it('every mutant is listed with a description', () => {
    assert.deepEqual([...RAFT_MUTANTS].sort(), Object.keys(RAFT_MUTANT_DESCRIPTIONS).sort())
    assert.ok(RAFT_MUTANTS.length >= 4)
    assert.deepEqual(Object.keys(scenarios).sort(), [...RAFT_MUTANTS].sort())
  })

  for (const mutant of RAFT_MUTANTS) {
    it(`${mutant}: the scripted scenario is clean with the correct core and caught with the mutant`, () => {
      assert.deepEqual(scenarios[mutant](undefined), [])
      assert.ok(scenarios[mutant](mutant).length > 0, `${mutant} was not caught`)
    })
  }

  for (const mutant of RAFT_MUTANTS.filter(m => !ADMISSION_MUTANTS.includes(m))) {
    it(`${mutant}: random fault schedules catch it within 60 seeds`, () => {
      for (let seed = 1; seed <= 60; seed++) {
        if (runChaos(seed, { size: 3, mutant }).violations.length > 0) {
          return
        }
      }
      assert.fail(`${mutant} survived 60 seeds`)
    })
  }
})
