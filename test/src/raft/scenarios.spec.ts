/**
 * Scripted multi-node scenarios on the test Network, for groups of 3 and 5 voters: partitions, crashes,
 * restarts, splits without a majority, a bridge node, a flapping link and member replacement. Every scenario
 * ends with the Network's safety checkers clean.
 */

import assert from 'node:assert/strict'
import { storedLog } from './helpers.ts'
import { Network, text } from './network.ts'

const ET = 10

function ids (size: number): string[] {
  return ['a', 'b', 'c', 'd', 'e'].slice(0, size)
}

function clean (net: Network): void {
  net.checkLogMatching()
  assert.deepEqual(net.violations, [])
}

describe('raft: multi-node scenarios', () => {
  for (const size of [3, 5]) {
    describe(`${size} voters`, () => {
      const all = ids(size)
      // the leader, plus one follower when there are 5, is a minority
      const minority = size === 3 ? ['a'] : ['a', 'b']
      const majority = all.filter(id => !minority.includes(id))

      it('a leader partitioned into a minority steps down (check-quorum) while the majority elects a leader and commits', () => {
        const net = new Network({ ids: all, seed: size })
        net.elect('a')
        net.propose('a', 'before')
        net.stabilize()
        net.partition(minority, majority)
        net.propose('a', 'lost-1')
        net.propose('a', 'lost-2')
        net.tickAll(3 * ET)
        assert.notEqual(net.raft('a').status().role, 'leader')
        assert.throws(() => net.propose('a', 'refused'), (err: any) => err.name === 'NotLeaderError')
        const leader = net.leader()
        assert.ok(leader !== undefined && majority.includes(leader), `leader ${String(leader)}`)
        net.propose(leader, 'after')
        net.stabilize()
        for (const id of majority) {
          assert.deepEqual(net.valuesOf(id), ['before', 'after'])
        }
        for (const id of minority) {
          assert.deepEqual(net.valuesOf(id), ['before'], 'a minority never applies its writes')
        }
        clean(net)
      })

      it('after the partition heals, the old leader\'s uncommitted entries are overwritten by the new leader\'s log', () => {
        const net = new Network({ ids: all, seed: size })
        net.elect('a')
        net.partition(minority, majority)
        net.propose('a', 'lost-1')
        net.propose('a', 'lost-2')
        net.tickAll(3 * ET)
        const leader = net.leader() ?? ''
        net.propose(leader, 'after')
        net.stabilize()
        net.heal()
        net.tickAll(3 * ET)
        assert.equal(net.leader(), leader)
        for (const id of all) {
          assert.deepEqual(net.valuesOf(id), ['after'])
          const log = storedLog(net.node(id).storage).map(e => text(e.data))
          assert.ok(!log.some(d => d.startsWith('lost-')), `${id} still holds ${log.join(',')}`)
        }
        clean(net)
      })

      it('the leader crashes: the others elect a new leader; the restarted node catches up', () => {
        const net = new Network({ ids: all, seed: 10 + size })
        net.elect('a')
        net.propose('a', 'x')
        net.stabilize()
        net.isolate('a')
        net.tickAll(3 * ET)
        const leader = net.leader()
        assert.ok(leader !== undefined && leader !== 'a')
        net.propose(leader, 'y')
        net.stabilize()
        net.restart('a')
        net.heal()
        net.tickAll(2 * ET)
        assert.deepEqual(net.valuesOf('a'), ['x', 'y'])
        clean(net)
      })

      it('every node restarts: committed commands survive and the group commits again', () => {
        const net = new Network({ ids: all, seed: 20 + size })
        net.elect('a')
        net.propose('a', 'x')
        net.stabilize()
        net.tickAll(1)
        for (const id of all) {
          net.restart(id)
        }
        net.dropAll()
        net.tickAll(4 * ET)
        const leader = net.leader()
        assert.ok(leader !== undefined)
        net.propose(leader, 'y')
        net.stabilize()
        net.tickAll(1)
        for (const id of all) {
          assert.deepEqual(net.valuesOf(id), ['x', 'y'])
        }
        clean(net)
      })

      it('a split with no majority anywhere leaves no leader; after the heal one is elected and commits', () => {
        const net = new Network({ ids: all, seed: 30 + size })
        net.elect('a')
        const groups = size === 3 ? [['a'], ['b'], ['c']] : [['a', 'b'], ['c', 'd'], ['e']]
        net.partition(...groups)
        net.tickAll(4 * ET)
        assert.deepEqual(net.leadersNow(), [])
        net.heal()
        net.tickAll(4 * ET)
        const leader = net.leader()
        assert.ok(leader !== undefined)
        net.propose(leader, 'z')
        net.stabilize()
        for (const id of all) {
          assert.deepEqual(net.valuesOf(id), ['z'])
        }
        clean(net)
      })
    })
  }

  it('a bridge node (a and c cannot talk, both talk to b): the leader stays, commits continue, no term churn', () => {
    const net = new Network({ ids: ['a', 'b', 'c'], seed: 40 })
    net.elect('a')
    net.cut('a', 'c')
    const { term } = net.raft('a').status()
    for (let i = 0; i < 10; i++) {
      net.propose('a', `v${i}`)
      net.tickAll(ET)
    }
    assert.equal(net.leader(), 'a')
    assert.equal(net.raft('a').status().term, term)
    assert.equal(net.valuesOf('b').length, 10)
    clean(net)
  })

  it('a flapping link between the leader and a follower loses nothing', () => {
    const net = new Network({ ids: ['a', 'b', 'c', 'd', 'e'], seed: 41 })
    net.elect('a')
    for (let i = 0; i < 30; i++) {
      if (i % 2 === 0) {
        net.cut('a', 'b')
      } else {
        net.heal()
      }
      const leader = net.leader()
      if (leader !== undefined) {
        net.propose(leader, `v${i}`)
      }
      net.tickAll(3)
    }
    net.heal()
    net.tickAll(3 * ET)
    const want = net.valuesOf(net.leader() ?? 'a')
    assert.equal(want.length, 30)
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      assert.deepEqual(net.valuesOf(id), want)
    }
    clean(net)
  })

  it('5 voters: replace two members one change at a time; the new group survives losing two of the originals', () => {
    const net = new Network({ ids: ['a', 'b', 'c', 'd', 'e'], joiners: ['f', 'g'], seed: 42 })
    net.elect('a')
    for (const cc of [{ type: 'remove', node: 'e' }, { type: 'add', node: 'f' }, { type: 'remove', node: 'd' }, { type: 'add', node: 'g' }] as const) {
      net.raft('a').proposeConfChange(cc)
      net.process('a')
      net.stabilize()
      net.tickAll(2)
    }
    assert.deepEqual(net.raft('a').status().voters, ['a', 'b', 'c', 'f', 'g'])
    assert.deepEqual(net.raft('g').status().voters, ['a', 'b', 'c', 'f', 'g'])
    net.isolate('b')
    net.isolate('c')
    net.isolate('d')
    net.isolate('e')
    net.propose('a', 'new-majority')
    net.stabilize()
    for (const id of ['a', 'f', 'g']) {
      assert.deepEqual(net.valuesOf(id), ['new-majority'])
    }
    clean(net)
  })
})
