/**
 * What the network reports as it works, for whoever counts it (the daemon's metrics, node/metrics). Every method is
 * synchronous and cheap: it is called on the data path, once per block.
 */
import type { PeerId } from '@libp2p/interface'

/** Where fetched bytes came from: a seed, a peer on a private/loopback/link-local address, or any other peer. */
export type FetchSource = 'seed' | 'lan' | 'wan'

export interface NetworkObserver {
  /** a block received from `peer` passed BLAKE3 verification (it is stored next) */
  blockVerified(peer: PeerId, bytes: number, kind: 'chunk' | 'manifest', source: FetchSource): void
  /** a block received from `peer` failed verification (the peer is banned) */
  verificationFailed(peer: PeerId): void
  /** chunk bytes already held when a download started (they were not fetched) */
  heldAtStart(bytes: number): void
  /** the transport took a block this node served to `peer` */
  served(peer: PeerId, bytes: number): void
  /** `peer` reached the penalty threshold and is banned; `reason`: the violation that did it */
  banned(peer: PeerId, reason: string): void
  /** one DHT announcement (provide) finished */
  provided(seconds: number, ok: boolean): void
  /** one DHT provider lookup finished (ok: it ran to the end or was stopped by its consumer) */
  lookedUp(seconds: number, ok: boolean): void
}
