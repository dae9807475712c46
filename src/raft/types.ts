/**
 * Plain-data types of the Raft core. Everything here is JSON-like (strings, numbers, booleans, arrays and
 * `Uint8Array`s) so that the shell can encode it into protobuf and the simulator can copy, duplicate and
 * reorder it. The core never mutates a message, entry or snapshot it has been handed, nor one it has handed out.
 */

/** "No node": the value of `HardState.vote` before this node has voted in its term. */
export const NONE = ''

/**
 * What an entry carries. `normal` entries hold a state-machine command; `confchange` entries hold an encoded
 * {@link ConfChange} (see `encodeConfChange`); `empty` entries are the no-op a new leader appends so that it can
 * commit an entry of its own term (Raft §5.4.2, §8).
 */
export type EntryType = 'normal' | 'confchange' | 'empty'

/** One log entry. Indexes start at 1; terms start at 1. */
export interface Entry {
  term: number
  index: number
  type: EntryType
  data: Uint8Array
}

/** A single-server membership change (Raft thesis §4.1): add or remove one voter. */
export interface ConfChange {
  type: 'add' | 'remove'
  node: string
}

/** The state that must be on stable storage before any message of the same `Ready` is sent (Raft Figure 2). */
export interface HardState {
  term: number
  /** the candidate voted for in `term`, {@link NONE} if none */
  vote: string
  commit: number
}

/** A point-in-time image of the state machine that replaces the log up to and including `index`. */
export interface Snapshot {
  /** index of the last entry the snapshot covers */
  index: number
  /** term of that entry */
  term: number
  /** the voters in effect at `index` (the configuration survives log compaction, thesis §5.1) */
  voters: string[]
  /** the serialized state machine, opaque to the core */
  data: Uint8Array
}

/** Messages exchanged between voters. */
export type MessageType =
  | 'App' | 'AppResp'
  | 'Vote' | 'VoteResp'
  | 'PreVote' | 'PreVoteResp'
  | 'Heartbeat' | 'HeartbeatResp'
  | 'Snapshot'
  | 'TimeoutNow'
  | 'ReadIndex' | 'ReadIndexResp'

/** Every message type, in a stable order (for encoders and tests). */
export const MESSAGE_TYPES: readonly MessageType[] = [
  'App', 'AppResp', 'Vote', 'VoteResp', 'PreVote', 'PreVoteResp', 'Heartbeat', 'HeartbeatResp',
  'Snapshot', 'TimeoutNow', 'ReadIndex', 'ReadIndexResp'
]

/**
 * One Raft RPC, request or response. Which optional fields are set depends on `type`:
 * - `App`: `index`/`logTerm` of the entry before `entries`, `entries`, `commit`.
 * - `AppResp`: `index` (last index appended, or the rejected probe's index), `reject`, `rejectHint` and `logTerm`
 *   (the follower's best guess of where the logs agree, for fast backtracking).
 * - `Vote`/`PreVote`: `index`/`logTerm` of the candidate's last entry; `context` is `CAMPAIGN_TRANSFER` when
 *   the campaign follows a `TimeoutNow`. `VoteResp`/`PreVoteResp`: `reject`.
 * - `Heartbeat`: `commit`, `context` (the latest pending ReadIndex request). `HeartbeatResp`: `context` echoed.
 * - `Snapshot`: `snapshot`.
 * - `ReadIndex` (follower → leader): `context`. `ReadIndexResp`: `index`, `context`.
 */
export interface Message {
  type: MessageType
  from: string
  to: string
  term: number
  logTerm?: number
  index?: number
  entries?: Entry[]
  commit?: number
  reject?: boolean
  rejectHint?: number
  snapshot?: Snapshot
  context?: Uint8Array
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

/** Volatile state the shell may want to observe (not persisted). */
export interface SoftState {
  /** the leader this node knows of in its current term, undefined if none */
  leader: string | undefined
  role: Role
}

/** A linearizable read point: once `applied >= index`, reads issued with `ctx` may be served (thesis §6.4). */
export interface ReadState {
  index: number
  ctx: Uint8Array
}

/**
 * The work the shell must do, in this order (STYLE habit 8):
 * 1. persist `snapshot`, `entries` and `hardState` (fsync);
 * 2. send `messages`;
 * 3. apply `snapshot` then `committedEntries` to the state machine, serve `readStates` once applied;
 * 4. call `advance()`.
 */
export interface Ready {
  /** set when leader or role changed since the last Ready */
  softState?: SoftState
  /** set when term, vote or commit changed since the last Ready */
  hardState?: HardState
  /** entries to append to stable storage (they may replace a suffix already there) */
  entries: Entry[]
  /** a snapshot received from the leader, to persist and restore */
  snapshot?: Snapshot
  /** messages to send once the above is durable */
  messages: Message[]
  /** committed entries to apply, in order */
  committedEntries: Entry[]
  /** ReadIndex results */
  readStates: ReadState[]
}

/** Replication state of one follower, as tracked by the leader. */
export type ProgressState = 'probe' | 'replicate' | 'snapshot'

export interface ProgressStatus {
  /** highest index known to be replicated on the peer */
  match: number
  /** next index to send */
  next: number
  state: ProgressState
  /** heard from since the last check-quorum round */
  recentActive: boolean
  /** index of the snapshot in flight (state `snapshot`), else 0 */
  pendingSnapshot: number
  /** unacknowledged append messages (state `replicate`) */
  inflight: number
}

export interface Status {
  id: string
  term: number
  vote: string
  role: Role
  leader: string | undefined
  commit: number
  applied: number
  firstIndex: number
  lastIndex: number
  /** the voters in effect on this node (apply-on-append, thesis §4.1) */
  voters: string[]
  /** per-voter replication progress; only on the leader */
  progress?: Record<string, ProgressStatus>
  /** the target of a leadership transfer in progress */
  leadTransferee?: string
}

/** Where a proposal landed in the log; it is committed iff an entry with this index AND term is applied. */
export interface ProposalId {
  index: number
  term: number
}
