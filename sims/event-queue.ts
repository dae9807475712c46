/**
 * Virtual time: a priority queue of callbacks keyed by (virtual ms, insertion order). Nothing in the simulator
 * reads a real clock or sets a real timer; ties run in the order they were scheduled, so a run depends on the
 * seed alone.
 */

import { MinHeap } from '../src/exchange/heap.ts'

interface Scheduled {
  at: number
  seq: number
  run: () => void
}

export class EventQueue {
  /** the virtual time of the event being run, ms since the start of the run */
  now = 0
  private readonly heap = new MinHeap<Scheduled>(before)
  private seq = 0

  /** Run `run` at virtual time `at` (never before now). */
  at (at: number, run: () => void): void {
    this.heap.push({ at: Math.max(at, this.now), seq: this.seq++, run })
  }

  /** Run `run` `delayMs` from now. */
  after (delayMs: number, run: () => void): void {
    this.at(this.now + delayMs, run)
  }

  get size (): number {
    return this.heap.size
  }

  /** Run events in time order up to and including `until`, or until `stop()` turns true; the clock ends at `until`. */
  runUntil (until: number, stop: () => boolean = () => false): void {
    for (let next = this.heap.peek(); next !== undefined && next.at <= until && !stop(); next = this.heap.peek()) {
      const ev = this.heap.pop() as Scheduled
      this.now = ev.at
      ev.run()
    }
    if (!stop()) {
      this.now = Math.max(this.now, until)
    }
  }
}

function before (a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
