import assert from 'node:assert/strict'
import { Scheduler, compareOrder } from '../../../src/exchange/scheduler.ts'
import type { PeerInit, SchedulerAction, ItemInit } from '../../../src/exchange/scheduler.ts'

const MiB = 1024 * 1024
const LAN: PeerInit = { lan: true, seed: false, maxOutstandingWants: 1024, maxInFlightBytes: 64 * MiB }
const WAN: PeerInit = { ...LAN, lan: false }
const SEED: PeerInit = { ...LAN, seed: true }

function items (n: number, bytes = MiB): ItemInit[] {
  return Array.from({ length: n }, (_, i) => ({ key: `c${i}`, bytes, order: [i] }))
}

function wants (actions: SchedulerAction[], peer?: string): string[] {
  return actions.flatMap(a => a.type === 'want' && (peer == null || a.peer === peer) ? a.keys : [])
}

function cancels (actions: SchedulerAction[], peer?: string): string[] {
  return actions.flatMap(a => a.type === 'cancel' && (peer == null || a.peer === peer) ? a.keys : [])
}

/** Deliver every want of `peer` at `bytesPerMs`, one after another from `start`; returns the end time. */
function deliverAll (s: Scheduler, peer: string, keys: string[], start: number, bytesPerMs: number, bytes = MiB): number {
  let t = start
  for (const k of keys) {
    t += bytes / bytesPerMs
    s.received(peer, k, bytes, t)
  }
  return t
}

describe('src/exchange', () => {
  describe('Scheduler', () => {
    it('orders items lexicographically by path', () => {
      assert.ok(compareOrder([0], [1]) < 0)
      assert.ok(compareOrder([0], [0, 5]) < 0)
      assert.ok(compareOrder([1], [0, 5]) > 0)
      assert.equal(compareOrder([2, 3], [2, 3]), 0)
    })

    it('asks in file order, within the initial window, and completes', () => {
      const s = new Scheduler({ initialWindowBytes: 4 * MiB })
      s.add(items(10).reverse())
      s.setAllKnown(true)
      s.addPeer('a', LAN, 0)
      const first = wants(s.poll(0), 'a')
      assert.deepEqual(first, ['c0', 'c1', 'c2', 'c3'])
      let t = deliverAll(s, 'a', first, 0, 100_000)
      while (!s.done) {
        const next = wants(s.poll(t), 'a')
        assert.ok(next.length > 0)
        t = deliverAll(s, 'a', next, t, 100_000)
      }
      assert.equal(s.stats().done, 10)
    })

    it('a window without room for the next item waits for a delivery: smaller items behind it are not asked first', () => {
      const s = new Scheduler({ initialWindowBytes: 100_000 })
      // 60 KB, 60 KB, then many of 1 KB: the second does not fit beside the first
      s.add([{ key: 'big0', bytes: 60_000, order: [0] }, { key: 'big1', bytes: 60_000, order: [1] }, ...Array.from({ length: 5000 }, (_, i) => ({ key: `small${i}`, bytes: 1000, order: [2 + i] }))])
      s.setAllKnown(true)
      s.addPeer('a', LAN, 0)
      // skipping ahead to the small ones took a pass over all 5,000 on every poll
      assert.deepEqual(wants(s.poll(0), 'a'), ['big0'])
      assert.deepEqual(wants(s.poll(1), 'a'), [])
      s.received('a', 'big0', 60_000, 2)
      assert.deepEqual(wants(s.poll(2), 'a').slice(0, 2), ['big1', 'small0'])
    })

    it('learns throughput and gives a faster peer a larger window', () => {
      const s = new Scheduler({ initialWindowBytes: 2 * MiB, minWindowBytes: MiB / 4, windowTargetMs: 100, sampleMs: 1 })
      s.add(items(400))
      s.addPeer('fast', LAN, 0)
      s.addPeer('slow', LAN, 0)
      let t = 0
      for (let round = 0; round < 6; round++) {
        const actions = s.poll(t)
        const tf = deliverAll(s, 'fast', wants(actions, 'fast'), t, 50_000) // 50 MB/s
        const ts = deliverAll(s, 'slow', wants(actions, 'slow'), t, 5_000) // 5 MB/s
        t = Math.max(tf, ts)
      }
      const stats = Object.fromEntries(s.stats().peers.map(p => [p.id, p]))
      assert.ok((stats.fast.bytesPerSec ?? 0) > 5 * (stats.slow.bytesPerSec ?? 0), JSON.stringify(stats))
      assert.ok(stats.fast.windowBytes > 5 * stats.slow.windowBytes)
      assert.ok(stats.fast.receivedBytes > 3 * stats.slow.receivedBytes)
    })

    it('a sample taken while a peer was short of work does not lower its rate: a slow lone manifest leaves it in use', () => {
      const s = new Scheduler()
      s.add([{ key: 'root', bytes: 1000, order: [] }])
      for (const id of ['a', 'b', 'c']) s.addPeer(id, LAN, 0)
      const [holder] = s.poll(0).flatMap(a => a.type === 'want' ? [a.peer] : [])
      // a busy machine: the one small block takes 200 ms, which read as 5 KB/s
      s.received(holder, 'root', 1000, 200)
      s.add(items(96, MiB / 4).map(i => ({ ...i, order: [0, ...i.order] })))
      s.setAllKnown(true)
      const actions = s.poll(200)
      for (const id of ['a', 'b', 'c']) assert.ok(wants(actions, id).length >= 30, `${id}: ${wants(actions, id).length} wants`)
      assert.equal(s.stats().peers.find(p => p.id === holder)?.bytesPerSec, undefined)
    })

    it('a sample taken while a peer was short of work may raise its rate', () => {
      const s = new Scheduler({ sampleMs: 1 })
      s.add([{ key: 'root', bytes: MiB, order: [] }])
      s.addPeer('a', LAN, 0)
      s.poll(0)
      s.received('a', 'root', MiB, 10)
      assert.equal(s.stats().peers[0].bytesPerSec, MiB * 100)
    })

    it('prefers a LAN peer over an equally fast WAN peer', () => {
      const s = new Scheduler({ initialWindowBytes: 8 * MiB })
      s.add(items(3))
      s.addPeer('wan', WAN, 0)
      s.addPeer('lan', LAN, 0)
      const actions = s.poll(0)
      assert.deepEqual(wants(actions, 'lan'), ['c0', 'c1'])
      assert.deepEqual(wants(actions, 'wan'), ['c2'])
    })

    it('uses the seed only when no other peer can serve', () => {
      const s = new Scheduler({ initialWindowBytes: 2 * MiB })
      s.add(items(4))
      s.addPeer('seed', SEED, 0)
      s.addPeer('peer', LAN, 0)
      const actions = s.poll(0)
      assert.deepEqual(wants(actions, 'seed'), [])
      assert.deepEqual(wants(actions, 'peer'), ['c0', 'c1'])
      s.dontHave('peer', 'c0')
      s.removePeer('peer')
      assert.deepEqual(wants(s.poll(1), 'seed'), ['c0', 'c1'])
    })

    it('moves the wants of a peer that disconnects to the others', () => {
      const s = new Scheduler({ initialWindowBytes: 2 * MiB })
      s.add(items(2))
      s.addPeer('a', LAN, 0)
      assert.deepEqual(wants(s.poll(0), 'a'), ['c0', 'c1'])
      s.addPeer('b', LAN, 1)
      s.removePeer('a')
      assert.deepEqual(wants(s.poll(2), 'b'), ['c0', 'c1'])
    })

    it('moves work off a stalled peer, backs it off, and drops it after repeated stalls', () => {
      const s = new Scheduler({ initialWindowBytes: MiB, stallTimeoutMs: 1000, backoffMs: 500, maxStrikes: 2 })
      s.add(items(2))
      s.addPeer('a', LAN, 0)
      s.addPeer('b', LAN, 0)
      const first = s.poll(0)
      assert.deepEqual(wants(first, 'a'), ['c0'])
      assert.deepEqual(wants(first, 'b'), ['c1'])
      assert.equal(s.nextDeadline(0), 1000)
      s.received('b', 'c1', MiB, 10)
      // a delivers nothing: at its deadline c0 is cancelled on a and asked of b
      const second = s.poll(1000)
      assert.deepEqual(cancels(second, 'a'), ['c0'])
      assert.deepEqual(wants(second, 'b'), ['c0'])
      // b stalls too; a is backing off until 1500 and b has its first strike
      s.add([{ key: 'c2', bytes: MiB, order: [2] }])
      const third = s.poll(2000)
      assert.deepEqual(cancels(third, 'b'), ['c0'])
      assert.deepEqual(wants(third, 'a'), ['c0'])
      const fourth = s.poll(3000)
      assert.ok(fourth.some(x => x.type === 'drop' && x.peer === 'a' && x.stalledMs === 1000))
      assert.ok(!s.usablePeers().includes('a'))
    })

    it('a straggler among peers that deliver stalls at max(1 s, 4x its next item at their median pace), not at the stall timeout', () => {
      const s = new Scheduler({ sampleMs: 1 })
      s.add(items(30))
      s.setAllKnown(true)
      for (const p of ['a', 'b', 'c']) s.addPeer(p, LAN, 0)
      const first = s.poll(0)
      const ofA = wants(first, 'a')
      assert.ok(ofA.length > 0)
      // b and c deliver a MiB every 100 ms (4 x 100 ms is under the 1 s floor); a delivers nothing
      const queues = { b: wants(first, 'b'), c: wants(first, 'c') }
      for (let t = 100; t <= 900; t += 100) {
        for (const [p, queue] of Object.entries(queues)) s.received(p, queue.shift() as string, MiB, t)
        assert.deepEqual(cancels(s.poll(t), 'a'), [])
      }
      assert.equal(s.nextDeadline(900), 1000)
      const moved = s.poll(1000)
      assert.deepEqual(cancels(moved, 'a'), ofA)
      assert.deepEqual(wants(moved).sort(), [...ofA].sort())
      assert.equal(s.stats().peers.find(p => p.id === 'a')?.strikes, 1)
    })

    it('peers that all go quiet at once (our own disk or CPU) are no stragglers before the stall timeout', () => {
      const s = new Scheduler({ sampleMs: 1 })
      s.add(items(30))
      s.setAllKnown(true)
      s.addPeer('a', LAN, 0)
      s.addPeer('b', LAN, 0)
      const first = s.poll(0)
      s.received('a', wants(first, 'a')[0], MiB, 100)
      s.received('b', wants(first, 'b')[0], MiB, 105)
      // nobody has delivered for over a second: no peer's pace says anyone is late
      assert.deepEqual(cancels(s.poll(1200)), [])
      assert.equal(s.nextDeadline(1200), 100 + 10_000)
      assert.deepEqual(cancels(s.poll(10_100), 'a').length > 0, true)
    })

    it('a lone item held by a silent peer moves to an idle peer within 1 s, before any pace is measured', () => {
      const s = new Scheduler()
      s.add([{ key: 'root', bytes: 64 * 1024, order: [] }])
      s.addPeer('silent', LAN, 0)
      s.addPeer('idle', LAN, 0)
      assert.deepEqual(wants(s.poll(0), 'silent'), ['root'])
      assert.equal(s.nextDeadline(0), 1000)
      assert.deepEqual(cancels(s.poll(999)), [])
      const moved = s.poll(1000)
      assert.deepEqual(cancels(moved, 'silent'), ['root'])
      assert.deepEqual(wants(moved, 'idle'), ['root'])
    })

    it('excludes a peer that sent bad bytes and never asks it again', () => {
      const s = new Scheduler({ initialWindowBytes: 2 * MiB })
      s.add(items(2))
      s.addPeer('bad', LAN, 0)
      s.poll(0)
      s.invalid('bad', 'bad bytes')
      s.addPeer('good', WAN, 1)
      const actions = s.poll(1)
      assert.deepEqual(wants(actions, 'good'), ['c0', 'c1'])
      assert.equal(s.addPeer('bad', LAN, 2), false)
      assert.deepEqual(wants(s.poll(3), 'bad'), [])
    })

    it('reports items no peer has as stuck, and retries them when a peer joins', () => {
      const s = new Scheduler()
      s.add(items(1))
      s.setAllKnown(true)
      s.addPeer('a', LAN, 0)
      s.poll(0)
      s.dontHave('a', 'c0')
      s.poll(1)
      assert.deepEqual(s.stuck(), ['c0'])
      s.addPeer('b', LAN, 2)
      assert.deepEqual(wants(s.poll(2), 'b'), ['c0'])
      assert.deepEqual(s.stuck(), [])
    })

    it('hedges a straggler in the endgame and cancels the loser', () => {
      const s = new Scheduler({ initialWindowBytes: 8 * MiB, sampleMs: 1 })
      s.add(items(6))
      s.setAllKnown(true)
      s.addPeer('slow', LAN, 0)
      const first = wants(s.poll(0), 'slow')
      assert.equal(first.length, 6)
      // a fast peer joins: nothing is pending, so it steals the tail of slow's queue
      s.addPeer('fast', LAN, 1)
      const hedged = wants(s.poll(1), 'fast')
      assert.deepEqual(hedged, ['c5', 'c4'])
      assert.ok(s.received('fast', 'c5', MiB, 20))
      const after = s.poll(20)
      assert.deepEqual(cancels(after, 'slow'), ['c5'])
      // the loser's copy, arriving late, is a duplicate
      assert.equal(s.received('slow', 'c5', MiB, 30), false)
    })

    it('does not hedge before every item is known', () => {
      const s = new Scheduler({ initialWindowBytes: 8 * MiB })
      s.add(items(1))
      s.addPeer('a', LAN, 0)
      s.poll(0)
      s.addPeer('b', LAN, 1)
      assert.deepEqual(wants(s.poll(5), 'b'), [])
    })

    it('respects a peer\'s outstanding-want limit', () => {
      const s = new Scheduler()
      s.add(items(10, 1000))
      s.addPeer('a', { ...LAN, maxOutstandingWants: 3 }, 0)
      assert.equal(wants(s.poll(0), 'a').length, 3)
    })

    describe('swarm (issue 19)', () => {
      const PARTIAL: PeerInit = { ...LAN, partial: true }
      /** a seeded draw (mulberry32), as the fetcher's Math.random would be */
      const draws = (seed: number) => () => {
        seed = (seed + 0x6d2b79f5) | 0
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296
      }

      it('peers fetching together start at different random places, and the rarest items go first', () => {
        const first = (seed: number): string[] => {
          const s = new Scheduler({ initialWindowBytes: 4 * MiB, random: draws(seed) })
          s.add(items(64))
          s.addPeer('seed', SEED, 0)
          return wants(s.poll(0), 'seed')
        }
        const a = first(1)
        const b = first(2)
        assert.equal(a.length, 4)
        assert.notDeepEqual(a, ['c0', 'c1', 'c2', 'c3'])
        assert.ok(a.filter(k => b.includes(k)).length < 4, `${a.join()} vs ${b.join()}`)
        // c5 is held by two partial peers, c6 by one: rarer first (here the seed takes the items no peer holds)
        const s = new Scheduler({ initialWindowBytes: 1 * MiB })
        s.add(items(8))
        s.addPeer('p', PARTIAL, 0)
        s.addPeer('q', PARTIAL, 0)
        s.have('p', ['c5', 'c6'])
        s.have('q', ['c5'])
        const actions = s.poll(0)
        assert.deepEqual(wants(actions, 'p'), ['c6'])
        assert.deepEqual(wants(actions, 'q'), ['c5'])
      })

      it('asks a partial peer only for what it announced, beside a seed whose window is full', () => {
        const s = new Scheduler({ initialWindowBytes: 2 * MiB })
        s.add(items(8))
        s.addPeer('seed', SEED, 0)
        s.addPeer('p', PARTIAL, 0)
        const before = s.poll(0)
        assert.deepEqual(wants(before, 'p'), [])
        assert.deepEqual(wants(before, 'seed'), ['c0', 'c1'])
        // the seed is full and c2..c5 wait for it, yet c6 and c7 go to the peer that holds them
        s.have('p', ['c6', 'c7', 'c1', 'unknown'])
        // (c1, asked of the seed, is withdrawn there and asked of the holder)
        const after = s.poll(1)
        assert.deepEqual(wants(after, 'p'), ['c1', 'c6'])
        assert.deepEqual(cancels(after, 'seed'), ['c1'])
        assert.equal(s.stats().peers.find(p => p.id === 'p')?.partial, true)
        // an announcement clears an earlier DONT_HAVE
        s.dontHave('p', 'c6')
        s.have('p', ['c6'])
        assert.deepEqual(wants(s.poll(2), 'p'), ['c6'])
      })

      it('an item a seed deferred goes to a peer that announces it, else back to the seed after deferMs', () => {
        const s = new Scheduler({ initialWindowBytes: 2 * MiB, deferMs: 1000 })
        s.add(items(2))
        s.setAllKnown(true)
        s.addPeer('seed', SEED, 0)
        s.addPeer('p', PARTIAL, 0)
        assert.deepEqual(wants(s.poll(0), 'seed'), ['c0', 'c1'])
        s.defer('seed', 'c0', 10)
        s.defer('seed', 'c1', 10)
        assert.deepEqual(wants(s.poll(10)), [])
        assert.equal(s.nextDeadline(10), 1010)
        s.have('p', ['c0'])
        assert.deepEqual(wants(s.poll(20), 'p'), ['c0'])
        // nobody announced c1: the seed is asked again once the deferral is over, and is never dropped for it
        assert.deepEqual(wants(s.poll(1010), 'seed'), ['c1'])
        s.received('p', 'c0', MiB, 1020)
        s.received('seed', 'c1', MiB, 1030)
        assert.ok(s.done)
      })
    })

    describe('swarm: stalls and deferrals (issue 19)', () => {
      it('a partial holder that stalls backs off and is asked again, never dropped; a seed that defers is not stalled', () => {
        const s = new Scheduler({ initialWindowBytes: 2 * MiB, stallTimeoutMs: 10_000 })
        s.add(items(40))
        s.setAllKnown(true)
        s.addPeer('p', { ...LAN, partial: true }, 0)
        s.have('p', ['c0'])
        assert.deepEqual(wants(s.poll(0), 'p'), ['c0'])
        let t = 0
        for (let strike = 1; strike <= 4; strike++) {
          t += 40_000
          const actions = s.poll(t)
          assert.equal(actions.some(a => a.type === 'drop'), false, `dropped at stall ${strike}`)
          t += 31_000
          assert.deepEqual(wants(s.poll(t), 'p'), ['c0'], `asked again after stall ${strike}`)
        }
        // a seed that answers with deferrals for 12 s delivers no block, yet answers: not a stall
        s.addPeer('seed', SEED, t)
        for (let i = 1; i <= 12; i++) {
          const asked = wants(s.poll(t), 'seed')
          t += 1000
          for (const k of asked) s.defer('seed', k, t)
        }
        assert.equal(s.stats().peers.find(p => p.id === 'seed')?.strikes, 0)
      })

      it('an item asked of the seed that a partial holder announces is withdrawn from the seed and asked of the holder', () => {
        const s = new Scheduler({ initialWindowBytes: 4 * MiB })
        s.add(items(4))
        s.setAllKnown(true)
        s.addPeer('seed', SEED, 0)
        s.addPeer('p', { ...LAN, partial: true }, 0)
        assert.deepEqual(wants(s.poll(0), 'seed'), ['c0', 'c1', 'c2', 'c3'])
        s.have('p', ['c2'])
        const actions = s.poll(1)
        assert.deepEqual(cancels(actions, 'seed'), ['c2'])
        assert.deepEqual(wants(actions, 'p'), ['c2'])
      })

      it('a peer deferring the same item twice has not got it for us', () => {
        const s = new Scheduler({ initialWindowBytes: MiB, deferMs: 1000 })
        s.add(items(1))
        s.setAllKnown(true)
        s.addPeer('seed', SEED, 0)
        assert.deepEqual(wants(s.poll(0), 'seed'), ['c0'])
        s.defer('seed', 'c0', 1)
        assert.deepEqual(wants(s.poll(1001), 'seed'), ['c0'])
        s.defer('seed', 'c0', 1002)
        s.poll(1002)
        assert.deepEqual(s.stuck(), ['c0'])
      })
    })

    it('caps the request rate with a token bucket and says when to poll again', () => {
      const s = new Scheduler({ maxRateBytesPerSec: 10 * MiB, rateBurstMs: 100, initialWindowBytes: 64 * MiB })
      s.add(items(20))
      s.addPeer('a', LAN, 0)
      assert.equal(wants(s.poll(0), 'a').length, 1)
      const next = s.nextDeadline(0)
      assert.ok(next != null && next > 90 && next <= 101, String(next))
      let asked = 1
      for (let t = 0; t <= 1000; t += 10) asked += wants(s.poll(t), 'a').length
      // ~10 MiB per second plus the burst
      assert.ok(asked >= 10 && asked <= 12, String(asked))
    })
  })
})
