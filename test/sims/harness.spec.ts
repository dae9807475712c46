import assert from 'node:assert/strict'
import { SimDisk } from '../../sims/disk.ts'
import { EventQueue } from '../../sims/event-queue.ts'
import { CALM_NETWORK, SimNetwork } from '../../sims/network.ts'
import { Prng } from '../../sims/random.ts'
import type { Entry } from '../../src/raft/index.ts'

function entry (index: number, term = 1): Entry {
  return { index, term, type: 'normal', data: new Uint8Array([index]) }
}

describe('sims: harness pieces', () => {
  describe('EventQueue', () => {
    it('runs events in virtual-time order, ties in the order they were scheduled', () => {
      const q = new EventQueue()
      const seen: string[] = []
      q.at(20, () => seen.push('b'))
      q.at(10, () => seen.push('a'))
      q.at(20, () => seen.push('c'))
      q.at(10, () => q.after(5, () => seen.push(`d@${q.now}`)))
      q.runUntil(100)
      assert.deepEqual(seen, ['a', 'd@15', 'b', 'c'])
      assert.equal(q.now, 100)
    })

    it('stops when asked, leaving later events queued', () => {
      const q = new EventQueue()
      let n = 0
      for (let t = 1; t <= 10; t++) {
        q.at(t, () => n++)
      }
      q.runUntil(100, () => n === 3)
      assert.equal(n, 3)
      assert.equal(q.size, 7)
    })
  })

  describe('Prng', () => {
    it('is a pure function of its seed', () => {
      const a = new Prng(7)
      const b = new Prng(7)
      assert.deepEqual(Array.from({ length: 5 }, () => a.int(1000)), Array.from({ length: 5 }, () => b.int(1000)))
      assert.notDeepEqual(new Prng(7).shuffled([1, 2, 3, 4, 5, 6, 7, 8]), new Prng(8).shuffled([1, 2, 3, 4, 5, 6, 7, 8]))
    })
  })

  describe('SimNetwork', () => {
    function net (faults = CALM_NETWORK): { q: EventQueue, n: SimNetwork, got: string[] } {
      const q = new EventQueue()
      const got: string[] = []
      return { q, n: new SimNetwork(q, new Prng(1), ['a', 'b', 'c'], faults), got }
    }

    it('cuts links one way, both ways, and between groups', () => {
      const { n } = net()
      n.cutOneWay('a', 'b')
      assert.equal(n.reaches('a', 'b'), false)
      assert.equal(n.reaches('b', 'a'), true)
      n.heal()
      n.partition([['a'], ['b', 'c']])
      assert.deepEqual(n.cuts().sort(), ['a>b', 'a>c', 'b>a', 'c>a'])
      assert.equal(n.send('a', 'b', () => {}), false)
    })

    it('loses packets in flight when their link is cut before they arrive', () => {
      const { q, n, got } = net()
      n.send('a', 'b', () => got.push('first'))
      n.cut('a', 'b')
      q.runUntil(1_000)
      assert.deepEqual(got, [])
      assert.equal(n.stats.cut, 1)
    })

    it('drops and duplicates at the configured rates', () => {
      const lossy = net({ ...CALM_NETWORK, dropRate: 1 })
      lossy.n.send('a', 'b', () => lossy.got.push('x'))
      lossy.q.runUntil(1_000)
      assert.deepEqual(lossy.got, [])
      const doubled = net({ ...CALM_NETWORK, duplicateRate: 1 })
      doubled.n.send('a', 'b', () => doubled.got.push('x'))
      doubled.q.runUntil(1_000)
      assert.deepEqual(doubled.got, ['x', 'x'])
    })
  })

  describe('SimDisk', () => {
    it('shows the core only what was fsynced', () => {
      const disk = new SimDisk()
      disk.write([{ kind: 'entry', entry: entry(1) }, { kind: 'hard-state', hardState: { term: 1, vote: 'a', commit: 0 } }])
      assert.equal(disk.storage.lastIndex(), 0)
      disk.fsync()
      assert.equal(disk.storage.lastIndex(), 1)
      assert.deepEqual(disk.storage.initialState(), { term: 1, vote: 'a', commit: 0 })
    })

    it('keeps a prefix of the unsynced records on a crash, so a hard state never outlives the entries before it', () => {
      const outcomes = new Set<string>()
      for (let seed = 1; seed <= 200; seed++) {
        const disk = new SimDisk()
        disk.write([{ kind: 'entry', entry: entry(1) }])
        disk.fsync()
        disk.write([2, 3, 4].map(i => ({ kind: 'entry' as const, entry: entry(i) })))
        disk.write([{ kind: 'hard-state', hardState: { term: 1, vote: 'a', commit: 4 } }])
        const loss = disk.crash(new Prng(seed))
        const last = disk.storage.lastIndex()
        const hs = disk.storage.initialState()
        assert.equal(last, 1 + Math.min(loss.kept, 3))
        assert.ok(hs.commit === 0 || last === 4, `commit ${hs.commit} survived with the log ending at ${last}`)
        outcomes.add(`${last}/${hs.commit}/${String(loss.torn)}`)
      }
      assert.ok(outcomes.size >= 6, `crashes should lose different amounts (saw ${[...outcomes].join(' ')})`)
    })
  })
})
