/**
 * The leader's record of each follower's replication (etcd-io/raft's tracker.Progress). A follower is in one
 * of three states:
 * - `probe`: the leader does not know where the logs agree; it sends one append per heartbeat interval and
 *   backtracks on rejection (Raft §5.3);
 * - `replicate`: the logs agree up to `match`; the leader streams appends optimistically, up to
 *   `maxInflightMsgs` unacknowledged messages (pipelining, thesis §10.2.2);
 * - `snapshot`: the entries the follower needs are compacted; a snapshot is in flight (Raft §7).
 */

import type { ProgressState, ProgressStatus } from './types.ts'

/** A bounded FIFO of the last index of each unacknowledged append, to cap the pipeline. */
export class Inflights {
  readonly capacity: number
  private readonly queue: number[] = []

  constructor (capacity: number) {
    this.capacity = capacity
  }

  add (lastIndex: number): void {
    this.queue.push(lastIndex)
  }

  /** An ack up to `index` frees every append that ended at or before it. */
  freeLE (index: number): void {
    let n = 0
    while (n < this.queue.length && this.queue[n] <= index) {
      n++
    }
    if (n > 0) {
      this.queue.splice(0, n)
    }
  }

  /** Forget the oldest unacknowledged append (it is presumed lost). */
  freeFirstOne (): void {
    this.queue.shift()
  }

  full (): boolean {
    return this.queue.length >= this.capacity
  }

  count (): number {
    return this.queue.length
  }

  reset (): void {
    this.queue.length = 0
  }
}

export class Progress {
  match: number
  next: number
  state: ProgressState = 'probe'
  /** the snapshot index in flight while in state `snapshot` */
  pendingSnapshot = 0
  /** ticks since the snapshot was sent, to retry one that was lost */
  snapshotElapsed = 0
  /** heard from since the last check-quorum round (Raft thesis §6.2) */
  recentActive: boolean
  /** in `probe`, an append is outstanding: wait for its answer or the next heartbeat response */
  probeSent = false
  readonly inflights: Inflights

  constructor (match: number, next: number, maxInflight: number, recentActive: boolean) {
    this.match = match
    this.next = next
    this.inflights = new Inflights(maxInflight)
    this.recentActive = recentActive
  }

  private resetState (state: ProgressState): void {
    this.probeSent = false
    this.pendingSnapshot = 0
    this.snapshotElapsed = 0
    this.state = state
    this.inflights.reset()
  }

  becomeProbe (): void {
    if (this.state === 'snapshot') {
      // the snapshot may have landed; resume after whichever is further
      const pending = this.pendingSnapshot
      this.resetState('probe')
      this.next = Math.max(this.match + 1, pending + 1)
    } else {
      this.resetState('probe')
      this.next = this.match + 1
    }
  }

  becomeReplicate (): void {
    this.resetState('replicate')
    this.next = this.match + 1
  }

  becomeSnapshot (snapshotIndex: number): void {
    this.resetState('snapshot')
    this.pendingSnapshot = snapshotIndex
  }

  /** A successful append response up to `index`; false if it was stale. */
  maybeUpdate (index: number): boolean {
    let updated = false
    if (this.match < index) {
      this.match = index
      updated = true
      this.probeSent = false
    }
    this.next = Math.max(this.next, index + 1)
    return updated
  }

  /**
   * A rejected append of the probe at `rejected`; `matchHint` is where the logs may agree. Returns false when the
   * rejection is stale (it answers an append sent before a later one was accepted).
   */
  maybeDecrTo (rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) {
        return false
      }
      this.next = this.match + 1
      return true
    }
    if (this.next - 1 !== rejected) {
      return false
    }
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1)
    this.probeSent = false
    return true
  }

  /** Record an append of `count` entries ending at `lastIndex` that was just sent. */
  sentEntries (count: number, lastIndex: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1
        this.inflights.add(lastIndex)
      }
    } else if (this.state === 'probe') {
      this.probeSent = true
    }
  }

  /** Whether sending more appends to this peer must wait. */
  isPaused (): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent
      case 'replicate': return this.inflights.full()
      case 'snapshot': return true
    }
  }

  status (): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      recentActive: this.recentActive,
      pendingSnapshot: this.pendingSnapshot,
      inflight: this.inflights.count()
    }
  }
}
