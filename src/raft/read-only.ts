/**
 * Pending ReadIndex requests on the leader (Raft thesis §6.4): each records the commit index at the time it
 * arrived and waits for a majority to acknowledge a heartbeat carrying its context, which proves this node was
 * still the leader after the request arrived.
 */

interface ReadRequest {
  /** the commit index when the request arrived */
  index: number
  /** who asked: this node, or a follower that forwarded it */
  from: string
  ctx: Uint8Array
  acks: Set<string>
}

/** A Map key for a request context (contexts are compared by content). */
function keyOf (ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('base64')
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadRequest>()
  private queue: string[] = []

  /** Register a request; a duplicate context is ignored (the first one wins). */
  add (index: number, from: string, ctx: Uint8Array): void {
    const key = keyOf(ctx)
    if (this.pending.has(key)) {
      return
    }
    this.pending.set(key, { index, from, ctx, acks: new Set() })
    this.queue.push(key)
  }

  /** Record that `id` acknowledged the heartbeat for `ctx` (ignored for an unknown context). */
  ack (id: string, ctx: Uint8Array): void {
    this.pending.get(keyOf(ctx))?.acks.add(id)
  }

  /** The acks received for `ctx` (empty if unknown). */
  acks (ctx: Uint8Array): ReadonlySet<string> {
    return this.pending.get(keyOf(ctx))?.acks ?? new Set()
  }

  /**
   * Release the request for `ctx` and every one queued before it: a quorum that confirms leadership after a
   * later request arrived also confirms it for the earlier ones.
   */
  release (ctx: Uint8Array): Array<{ index: number, from: string, ctx: Uint8Array }> {
    const at = this.queue.indexOf(keyOf(ctx))
    if (at < 0) {
      return []
    }
    const released = this.queue.slice(0, at + 1).map(key => {
      const req = this.pending.get(key)
      this.pending.delete(key)
      return { index: req!.index, from: req!.from, ctx: req!.ctx }
    })
    this.queue = this.queue.slice(at + 1)
    return released
  }

  /** The context of the newest pending request, which heartbeats carry. */
  lastPendingCtx (): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1]
    return key === undefined ? undefined : this.pending.get(key)!.ctx
  }
}
