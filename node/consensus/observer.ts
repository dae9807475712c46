/**
 * What the consensus service reports as it works, for whoever counts it (the daemon's metrics, node/metrics).
 * Every method is synchronous and cheap.
 */
export interface ConsensusObserver {
  /** this voter saw the leader change (to `leader`, or to none while an election runs) */
  leaderChanged(leader: string | undefined): void
  /** a command this voter proposed as leader was applied (ok) or lost, after `seconds` */
  proposed(seconds: number, ok: boolean): void
  /** this voter's replica applied the end of a lease: it expired, or someone broke it */
  lockLost(how: 'expired' | 'broken'): void
  /** a `ref set` this node issued was committed (ok), refused by compare-and-swap or fencing (conflict), or failed */
  refSet(result: 'ok' | 'conflict' | 'error'): void
}
