/**
 * Virtual time: a priority queue of callbacks keyed by (virtual ms, insertion order). Nothing in the simulator
 * reads a real clock or sets a real timer; ties run in the order they were scheduled, so a run depends on the
 * seed alone.
 */

interface Scheduled {
  at: number
  seq: number
  run: () => void
}

export class EventQueue {
  /** the virtual time of the event being run, ms since the start of the run */
  now = 0
  private readonly heap: Scheduled[] = []
  private seq = 0

  /** Run `run` at virtual time `at` (never before now). */
  at (at: number, run: () => void): void {
    this.push({ at: Math.max(at, this.now), seq: this.seq++, run })
  }

  /** Run `run` `delayMs` from now. */
  after (delayMs: number, run: () => void): void {
    this.at(this.now + delayMs, run)
  }

  get size (): number {
    return this.heap.length
  }

  /** Run events in time order up to and including `until`, or until `stop()` turns true; the clock ends at `until`. */
  runUntil (until: number, stop: () => boolean = () => false): void {
    while (this.heap.length > 0 && this.heap[0].at <= until && !stop()) {
      const ev = this.pop()
      this.now = ev.at
      ev.run()
    }
    if (!stop()) {
      this.now = Math.max(this.now, until)
    }
  }

  private push (ev: Scheduled): void {
    const h = this.heap
    h.push(ev)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(h[i], h[parent])) {
        break
      }
      const tmp = h[i]
      h[i] = h[parent]
      h[parent] = tmp
      i = parent
    }
  }

  private pop (): Scheduled {
    const h = this.heap
    const top = h[0]
    const last = h.pop() as Scheduled
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l], h[m])) {
          m = l
        }
        if (r < h.length && before(h[r], h[m])) {
          m = r
        }
        if (m === i) {
          break
        }
        const tmp = h[i]
        h[i] = h[m]
        h[m] = tmp
        i = m
      }
    }
    return top
  }
}

function before (a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
