/**
 * What the daemon sends the page over `/dashboard/events` (server-sent events), shared by the sampler that makes it
 * (node/dashboard/sampler.ts) and the page that shows it. Types only: the page is compiled on its own (DOM lib).
 *
 * Events: `snapshot` (a {@link Snapshot}, once per sample), `history` (a {@link History}, once, first).
 * Sizes in bytes, rates in bytes per second, times in ms since the epoch.
 */

/** A panel whose source may fail (no consensus group, no quorum): its data, or why there is none. */
export type Panel<T> = { ok: true, data: T } | { ok: false, error: string }

export interface NodeView {
  peerId: string
  roles: string[]
  addresses: string[]
  private: boolean
  keyFingerprint?: string
  repo: { blocks: number, bytes: number, pins: number, counting: boolean, dir: string }
  /** the dashboard's own sampling period, to label rates */
  sampleMs: number
}

export interface PeerView {
  id: string
  /** the name `access.names` gives it */
  name?: string
  transport: string
  lan: boolean
  roles: string[]
  hello: 'ok' | 'pending' | 'rejected'
  /** block bytes received from it and served to it since this daemon started (dits_fetched_peer_bytes_total, dits_served_bytes_total) */
  received: number
  served: number
  rateIn: number
  rateOut: number
}

export interface TransferView {
  root: string
  started: number
  bytesTotal: number
  /** fetched + held before */
  bytesDone: number
  bytesFetched: number
  bytesLocal: number
  rate: number
  /** seconds; null while the rate is 0 or the size unknown */
  etaSec: number | null
  sources: Array<{ peer: string, bytes: number }>
  peers: number
}

export interface ShareView {
  bytes: number
  held: number
  complete: boolean
  /** why it is partial or empty, e.g. "no seed reachable" */
  note?: string
}

export interface RefView {
  name: string
  cid: string
  index: number
  when: number
  who: string
  user?: string
  /** the share held by this node: null until first measured */
  local: ShareView | null
  /** the share held by the seed (an `availability` run, once a minute): null until first measured */
  seed: ShareView | null
}

export interface LockView {
  path: string
  mode: 'shared' | 'exclusive'
  owner: string
  user?: string
  token: number
  expires: number
  ttlMs: number
}

export interface VoterView {
  id: string
  state: string
  reachable: boolean
  match: number | null
  lag: number | null
}

export interface ClusterView {
  leader: string | null
  term: number
  commitIndex: number
  appliedIndex: number
  answeredBy: string
  voters: VoterView[]
}

export type EventKind = 'ref' | 'lock' | 'peer' | 'verification' | 'ban'

export interface EventView {
  seq: number
  at: number
  kind: EventKind
  /** 'info', 'warn' (a lock broken or expired) or 'error' (a verification failure, a ban) */
  level: 'info' | 'warn' | 'error'
  text: string
}

export interface ThroughputPoint {
  at: number
  /** bytes per second received and served over the sample before `at` (dits_fetched_bytes_total, dits_served_bytes_total) */
  in: number
  out: number
}

export interface Snapshot {
  at: number
  node: NodeView
  peers: PeerView[]
  transfers: TransferView[]
  refs: Panel<{ total: number, items: RefView[], seedSource: boolean }>
  locks: Panel<{ items: LockView[], waiters: number }>
  cluster: Panel<ClusterView>
  throughput: ThroughputPoint
  /** events since the previous snapshot */
  events: EventView[]
}

export interface History {
  throughput: ThroughputPoint[]
  events: EventView[]
}
