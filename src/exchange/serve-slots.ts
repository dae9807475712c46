/**
 * Serving slots (config `serve.slots`, issue 19): at most `slots` peers are sent blocks at once (unchoked, in
 * BitTorrent's words); the others' wants wait. A free slot goes to a waiting LAN peer first, then to the peer that
 * has waited longest; a holder that has had its slot for `quantumMs` while others wait gives it up at its next
 * block and waits its turn again (BEP 3's rechoke, made round-robin), so every peer gets served in bounded time.
 * Pure: time comes in as an argument.
 */

/** How long a peer keeps its slot while others wait for one. */
export const DEFAULT_SLOT_QUANTUM_MS = 2_000

export interface ServeSlotsInit {
  slots: number
  /** @default DEFAULT_SLOT_QUANTUM_MS */
  quantumMs?: number
}

export class ServeSlots {
  readonly slots: number
  private readonly quantumMs: number
  /** peer → when it took its slot */
  private readonly holders = new Map<string, number>()
  /** peer → whether it is on the LAN, and since when it waits */
  private readonly waiting = new Map<string, { lan: boolean, since: number }>()
  private readonly listeners = new Set<() => void>()

  constructor (init: ServeSlotsInit) {
    this.slots = Math.max(1, init.slots)
    this.quantumMs = init.quantumMs ?? DEFAULT_SLOT_QUANTUM_MS
  }

  /** Whether `peer` may be sent a block now: it keeps its slot, or takes a free one in its turn. */
  tryTake (peer: string, lan: boolean, now: number): boolean {
    const since = this.holders.get(peer)
    if (since != null) {
      if (this.waiting.size === 0 || now - since < this.quantumMs) return true
      this.holders.delete(peer)
      this.waiting.set(peer, { lan, since: now })
      this.notify()
      return false
    }
    if (!this.waiting.has(peer)) this.waiting.set(peer, { lan, since: now })
    if (this.holders.size >= this.slots || this.next() !== peer) return false
    this.waiting.delete(peer)
    this.holders.set(peer, now)
    return true
  }

  /** `peer` has nothing more to be sent (or went): its slot, or its place in line, goes. */
  release (peer: string): void {
    const held = this.holders.delete(peer)
    const queued = this.waiting.delete(peer)
    if (held || queued) this.notify()
  }

  /** Told whenever a slot may have become free or the line changed; returns the removal. */
  onRelease (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  stats (): { holders: number, waiting: number } {
    return { holders: this.holders.size, waiting: this.waiting.size }
  }

  /** The waiting peer whose turn it is: LAN first, then the longest waiting. */
  private next (): string | undefined {
    let best: string | undefined
    let bestLan = false
    let bestSince = Infinity
    for (const [peer, w] of this.waiting) {
      if ((w.lan && !bestLan) || (w.lan === bestLan && w.since < bestSince)) {
        best = peer
        bestLan = w.lan
        bestSince = w.since
      }
    }
    return best
  }

  private notify (): void {
    for (const listener of this.listeners) listener()
  }
}
