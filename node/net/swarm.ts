/**
 * The swarm of a root (issue 19, PROTOCOL.md "Swarm"): the downloads running on this node, found by root, so that
 * the serving side can answer a peer that asks for a root being fetched here with PARTIAL and send it have-updates,
 * and so that a download learns of the peers that fetch the same root from it (their probe) and asks them too.
 * Also the seed's memory for super-seeding: which peer it sent a chunk to moments ago, and which deferrals it made.
 */
import type { CID } from 'multiformats/cid'
import type { PeerId } from '@libp2p/interface'

/** A chunk sent to one peer of the swarm is deferred for others this long (they ask that peer instead). */
export const DEFAULT_SUPER_SEED_WINDOW_MS = 60_000
/** Chunks the seed remembers having sent (the oldest go first). */
export const MAX_SUPER_SEED_SENT = 16_384
/** Deferrals the seed remembers, so that a peer's second want of a deferred chunk is served. */
export const MAX_SUPER_SEED_DEFERRALS = 65_536
/** Roots one serving stream follows with have-updates. */
export const MAX_FEEDS_PER_STREAM = 4

/** The chunks a download of a root here holds, and those it gets from now on. */
export interface HaveFeed {
  /** chunks of the root held now, the most recent (bounded by the download's window) */
  held(): CID[]
  /** told of each chunk once it is stored here; returns the unsubscribe */
  subscribe(listener: (cids: CID[]) => void): () => void
}

/** What a running download offers its swarm. */
export interface SwarmMember extends HaveFeed {
  /** `peer` asked for the root: it fetches it too, so ask it in return */
  probed(peer: PeerId): void
}

export class SwarmRegistry {
  private readonly members = new Map<string, Set<SwarmMember>>()

  /** A download of `root` runs; returns its removal. */
  join (root: CID, member: SwarmMember): () => void {
    const key = root.toString()
    let set = this.members.get(key)
    if (set == null) {
      set = new Set()
      this.members.set(key, set)
    }
    set.add(member)
    return () => {
      set.delete(member)
      if (set.size === 0 && this.members.get(key) === set) this.members.delete(key)
    }
  }

  /** `peer` asked whether this node has `root`: the feed of a download of it here (told of the peer), if one runs. */
  probe (root: CID, peer: PeerId): HaveFeed | undefined {
    const set = this.members.get(root.toString())
    if (set == null) return undefined
    for (const member of set) member.probed(peer)
    return set.values().next().value
  }
}

/**
 * Super-seeding (BEP 16's idea, per chunk rather than per piece): the seed sends a chunk to one peer of the swarm,
 * and answers another peer's want of it within the window with DEFER — once per peer and chunk: the same want
 * again is served, so a deferral can delay a chunk but never strand it.
 */
export class SuperSeeder {
  private readonly windowMs: number
  private readonly sent = new Map<string, { peer: string, at: number }>()
  private readonly deferrals = new Set<string>()

  constructor (windowMs = DEFAULT_SUPER_SEED_WINDOW_MS) {
    this.windowMs = windowMs
  }

  /**
   * Whether to defer `chunk` for `peer` now, given who holds what: true when another peer that can serve it
   * (`reachable`) got it within the window and `peer` was not deferred for it before. Otherwise `peer` is recorded
   * as the latest to get it.
   */
  shouldDefer (chunk: string, peer: string, now: number, reachable: (peer: string) => boolean): boolean {
    const last = this.sent.get(chunk)
    const pair = `${peer} ${chunk}`
    if (last != null && last.peer !== peer && now - last.at < this.windowMs && !this.deferrals.has(pair) && reachable(last.peer)) {
      this.deferrals.add(pair)
      if (this.deferrals.size > MAX_SUPER_SEED_DEFERRALS) this.deferrals.delete(this.deferrals.values().next().value as string)
      return true
    }
    this.sent.delete(chunk)
    this.sent.set(chunk, { peer, at: now })
    if (this.sent.size > MAX_SUPER_SEED_SENT) this.sent.delete(this.sent.keys().next().value as string)
    return false
  }
}
