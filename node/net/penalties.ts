/**
 * Misbehaviour accounting. Every protocol violation counts against the peer; at `threshold` points within
 * `windowMs` the peer is disconnected and refused (by the connection gater) for `banMs`. Bytes that fail
 * verification cost the full threshold at once. A protocol violation on any dits protocol (chunks, hello, raft,
 * consensus) disconnects the peer at once as well (`disconnect`); a Raft message from a peer that is no longer a
 * voter only counts (it may not know yet that it was removed).
 */
import type { PeerId, ConnectionGater } from '@libp2p/interface'

/** Points that get a peer banned. */
export const DEFAULT_PENALTY_THRESHOLD = 3
/** Points older than this are forgotten. */
export const DEFAULT_PENALTY_WINDOW_MS = 10 * 60_000
/** How long a banned peer is refused. */
export const DEFAULT_BAN_MS = 10 * 60_000

export interface PeerPenaltiesInit {
  /** @default DEFAULT_PENALTY_THRESHOLD */
  threshold?: number
  /** @default DEFAULT_PENALTY_WINDOW_MS */
  windowMs?: number
  /** @default DEFAULT_BAN_MS */
  banMs?: number
  /** closes every connection to a peer, saying why; set once the host exists */
  hangUp?(peer: PeerId, reason: string): Promise<void>
  /** told of every ban (the daemon's metrics) */
  onBan?(peer: PeerId, reason: string): void
  now?(): number
}

/** One violation counted, as the dashboard's recent events show it. */
export interface PenaltyEvent {
  peer: string
  reason: string
  points: number
  /** this violation got the peer banned */
  banned: boolean
  /** ms since the epoch */
  at: number
}

export class PeerPenalties {
  readonly threshold: number
  private readonly windowMs: number
  private readonly banMs: number
  private readonly now: () => number
  hangUp?: (peer: PeerId, reason: string) => Promise<void>
  onBan?: (peer: PeerId, reason: string) => void
  /** told of every violation counted (the network's log of recent events) */
  onPenalty?: (event: PenaltyEvent) => void
  private readonly records = new Map<string, { events: Array<{ at: number, points: number, reason: string }>, bannedUntil?: number }>()

  constructor (init: PeerPenaltiesInit = {}) {
    this.threshold = init.threshold ?? DEFAULT_PENALTY_THRESHOLD
    this.windowMs = init.windowMs ?? DEFAULT_PENALTY_WINDOW_MS
    this.banMs = init.banMs ?? DEFAULT_BAN_MS
    this.now = init.now ?? Date.now
    this.hangUp = init.hangUp
    this.onBan = init.onBan
  }

  /** Count a violation; returns true when it got the peer banned (and disconnected). `disconnect`: hang up anyway. */
  penalize (peer: PeerId, reason: string, points = 1, disconnect = false): boolean {
    const key = peer.toString()
    const now = this.now()
    const rec = this.records.get(key) ?? { events: [] }
    rec.events = rec.events.filter(e => now - e.at < this.windowMs)
    rec.events.push({ at: now, points, reason })
    this.records.set(key, rec)
    const total = rec.events.reduce((n, e) => n + e.points, 0)
    const banned = total >= this.threshold
    if (banned) {
      rec.bannedUntil = now + this.banMs
      this.onBan?.(peer, reason)
    }
    if (banned || disconnect) this.hangUp?.(peer, reason).catch(() => {})
    this.onPenalty?.({ peer: key, reason, points, banned, at: now })
    return banned
  }

  isBanned (peer: PeerId | string): boolean {
    const until = this.records.get(peer.toString())?.bannedUntil
    return until != null && until > this.now()
  }

  /** A libp2p connection gater that refuses banned peers in both directions. */
  gater (): ConnectionGater {
    return {
      denyDialPeer: async (peer) => this.isBanned(peer),
      denyInboundEncryptedConnection: async (peer) => this.isBanned(peer),
      denyOutboundEncryptedConnection: async (peer) => this.isBanned(peer)
    }
  }
}
