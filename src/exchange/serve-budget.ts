/**
 * The bytes a responder may hold for the blocks it serves (PROTOCOL.md §Chunks, "Serving budgets"): per peer
 * and in total. A serving stream takes a share before it reads a block and gives it back once the transport has
 * taken the block, so a peer that reads nothing holds at most its share, and all peers together the total.
 * Pure accounting: the shell waits with `onRelease` when `tryTake` says no.
 */

export interface ServeBudgetInit {
  /** bytes one peer may hold, across its streams */
  perPeerBytes: number
  /** bytes all peers may hold together */
  totalBytes: number
}

export interface ServeBudgetStats {
  /** bytes held now, all peers */
  heldBytes: number
  /** the most ever held at once */
  peakHeldBytes: number
  /** the most one peer ever held at once */
  peakPeerBytes: number
}

export class ServeBudget {
  readonly perPeerBytes: number
  readonly totalBytes: number
  private held = 0
  private peak = 0
  private peakPeer = 0
  private readonly peers = new Map<string, number>()
  private readonly listeners = new Set<() => void>()

  constructor (init: ServeBudgetInit) {
    this.perPeerBytes = init.perPeerBytes
    this.totalBytes = init.totalBytes
  }

  /** Take `bytes` for `peer` when both the peer's share and the total allow it; false (nothing taken) otherwise. */
  tryTake (peer: string, bytes: number): boolean {
    const mine = this.peers.get(peer) ?? 0
    if (mine + bytes > this.perPeerBytes || this.held + bytes > this.totalBytes) return false
    this.peers.set(peer, mine + bytes)
    this.held += bytes
    this.peak = Math.max(this.peak, this.held)
    this.peakPeer = Math.max(this.peakPeer, mine + bytes)
    return true
  }

  /** Give back `bytes` that `peer` took; every waiter is told. */
  give (peer: string, bytes: number): void {
    if (bytes <= 0) return
    const mine = (this.peers.get(peer) ?? 0) - bytes
    if (mine < 0) throw new RangeError(`peer ${peer} gave back ${bytes} bytes, more than it held`)
    if (mine === 0) this.peers.delete(peer)
    else this.peers.set(peer, mine)
    this.held -= bytes
    for (const listener of [...this.listeners]) listener()
  }

  /** Call `listener` whenever bytes are given back, until the returned function is called. */
  onRelease (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  heldBy (peer: string): number {
    return this.peers.get(peer) ?? 0
  }

  stats (): ServeBudgetStats {
    return { heldBytes: this.held, peakHeldBytes: this.peak, peakPeerBytes: this.peakPeer }
  }
}
