/**
 * The Raft consensus core: a deterministic state machine in the shape of etcd-io/raft's RawNode.
 * No timers, clock, randomness source or I/O: time is `tick()`, the network is `step()` and `ready().messages`,
 * storage is read through {@link Storage} and written by the shell, randomness is injected.
 *
 * References: "Raft §x" is the extended Raft paper (Ongaro & Ousterhout 2014); "thesis §x" is Ongaro's
 * dissertation "Consensus: Bridging Theory and Practice" (2014).
 */

import { applyConfChange, decodeConfChange, encodeConfChange } from './conf-change.ts'
import { refuseMessage } from './membership.ts'
import {
  CompactedError, ConfChangePendingError, InvalidConfChangeError, InvalidMessageError, InvalidRaftConfigError,
  InvalidTransferError, NotLeaderError, ProposalDroppedError, RaftStateError, SnapshotOutOfDateError
} from './errors.ts'
import { RaftLog } from './log.ts'
import { Progress } from './progress.ts'
import { hashString, seededRandom } from './random.ts'
import { ReadOnly } from './read-only.ts'
import { MESSAGE_TYPES, NONE } from './types.ts'
import type { Refusal } from './membership.ts'
import type { RaftMutant } from './mutants.ts'
import type { Storage } from './storage.ts'
import type {
  ConfChange, Entry, HardState, Message, ProgressStatus, ProposalId, Ready, ReadState, Role,
  Snapshot, SoftState, Status
} from './types.ts'

/** Ticks without hearing from a leader before a follower campaigns (etcd's default: 10 × 100 ms = 1 s). */
export const DEFAULT_ELECTION_TICKS = 10
/** Ticks between leader heartbeats (etcd's default: 1 × 100 ms). */
export const DEFAULT_HEARTBEAT_TICKS = 1
/** Entry bytes (payload + ENTRY_OVERHEAD_BYTES each) per append message (etcd server's default); at least one entry is always sent. */
export const DEFAULT_MAX_SIZE_PER_MSG_BYTES = 1024 * 1024
/** Unacknowledged append messages per follower in the replication pipeline (etcd server's default). */
export const DEFAULT_MAX_INFLIGHT_MSGS = 256
/** Entry bytes of committed entries handed out per Ready, to bound the shell's apply batch. */
export const DEFAULT_MAX_COMMITTED_BYTES_PER_READY = 16 * 1024 * 1024
/** Election timeouts a snapshot may stay unacknowledged before the leader assumes it was lost and resends. */
export const DEFAULT_SNAPSHOT_RETRY_ELECTION_TIMEOUTS = 3

/** `Vote.context` of a campaign that follows `TimeoutNow`: voters skip their leader lease for it (thesis §3.10). */
export const CAMPAIGN_TRANSFER: Uint8Array = new TextEncoder().encode('CampaignTransfer')

export interface RaftConfig {
  /** this node's id (for dits: its peer id) */
  id: string
  /** the read side of the persisted log; see {@link MemoryStorage} */
  storage: Storage
  /**
   * The voters to bootstrap a NEW group with (all founding members pass the same set). Used only when storage
   * is empty; it then writes one `add` conf change entry per voter at term 1, identical on every founder, so
   * that later joiners learn the founding configuration from the log. A node joining an existing group passes
   * nothing (or `[]`) and waits for the leader to replicate the log to it after `proposeConfChange(add)`.
   * @default []
   */
  voters?: string[]
  /**
   * A node joining an existing group (no `voters`): until its log holds a configuration, the only peers whose
   * messages {@link RaftNode.refuse} admits (the voters it was told to join through). @default []
   */
  joinVia?: string[]
  /**
   * Ticks without hearing from a leader before campaigning; the actual timeout is drawn from
   * [electionTicks, 2 × electionTicks) after each reset (Raft §5.2). Must exceed heartbeatTicks.
   * @default DEFAULT_ELECTION_TICKS
   */
  electionTicks?: number
  /** @default DEFAULT_HEARTBEAT_TICKS */
  heartbeatTicks?: number
  /**
   * Source of numbers in [0, 1) for the election timeout jitter. Inject the simulator's seeded PRNG.
   * @default a PRNG seeded from a hash of `id`
   */
  random?: () => number
  /** Pre-vote (thesis §9.6): a candidate first checks that it could win, so a rejoining node does not disrupt. @default true */
  preVote?: boolean
  /**
   * Check-quorum (thesis §6.2): a leader that has not heard from a majority within an election timeout steps
   * down, so a minority never keeps a leader that accepts writes; followers also ignore votes while they have
   * heard from a leader within the election timeout (the leader lease, thesis §4.2.3). @default true
   */
  checkQuorum?: boolean
  /** @default DEFAULT_MAX_SIZE_PER_MSG_BYTES */
  maxSizePerMsg?: number
  /** @default DEFAULT_MAX_INFLIGHT_MSGS */
  maxInflightMsgs?: number
  /** @default DEFAULT_MAX_COMMITTED_BYTES_PER_READY */
  maxCommittedSizePerReady?: number
  /** @default DEFAULT_SNAPSHOT_RETRY_ELECTION_TIMEOUTS × electionTicks */
  snapshotRetryTicks?: number
  /** A deliberately broken variant, for the simulator's checkers only. See {@link RAFT_MUTANTS}. */
  mutant?: RaftMutant
}

type CampaignKind = 'pre-election' | 'election' | 'transfer'

/** The configuration that took effect at a log index (apply-on-append, thesis §4.1). */
interface ConfAt {
  index: number
  voters: string[]
}

/** What the last Ready handed out, to acknowledge on advance(). */
interface Outstanding {
  lastEntry?: { index: number, term: number }
  snapshotIndex?: number
  appliedIndex?: number
}

function positiveInteger (name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidRaftConfigError(`raft config ${name} is ${String(value)}; expected a positive integer`)
  }
  return value
}

function bytesEqual (a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.byteLength === b.byteLength && a.every((v, i) => v === b[i])
}

function quorumOf (n: number): number {
  return Math.floor(n / 2) + 1
}

const NETWORK_TYPES = new Set<string>(MESSAGE_TYPES)

/**
 * One voter's Raft state machine. Drive it with `tick()` (the shell's clock: e.g. one tick per 100 ms),
 * `step()` (messages from peers) and the proposal/read/admin calls; then, while `hasReady()`, handle `ready()`
 * as {@link Ready} describes and call `advance()`.
 *
 * Restart: rebuild the storage from disk (snapshot, entries, hard state), restore the state machine from
 * `storage.snapshot()`, and construct a new RaftNode on it; committed entries after the snapshot are handed out
 * again in `committedEntries`. A node is a voter only while the latest configuration in its log (or snapshot)
 * lists it; a node that is not a voter never campaigns.
 */
export class RaftNode {
  readonly id: string
  private readonly log: RaftLog
  private readonly electionTimeout: number
  private readonly heartbeatTimeout: number
  private readonly random: () => number
  private readonly preVote: boolean
  private readonly checkQuorum: boolean
  private readonly maxMsgSize: number
  private readonly maxInflight: number
  private readonly maxApplyBytes: number
  private readonly snapshotRetryTicks: number
  private readonly mutant: RaftMutant | undefined
  private readonly joinVia: readonly string[]

  private term = 0
  private vote = NONE
  private lead: string | undefined
  private role: Role = 'follower'
  private electionElapsed = 0
  private heartbeatElapsed = 0
  private randomizedElectionTimeout = 0
  private votes = new Map<string, boolean>()
  private progress = new Map<string, Progress>()
  private leadTransferee: string | undefined
  private transferElapsed = 0
  /** index of the latest conf change this leader may not propose past until it commits */
  private pendingConfIndex = 0
  private readOnly = new ReadOnly()
  /** reads that arrived before this leader committed an entry of its term (thesis §6.4 step 1) */
  private pendingReads: Array<{ from: string, ctx: Uint8Array }> = []

  private confBase: ConfAt
  private confHistory: ConfAt[] = []

  private msgs: Message[] = []
  private readStates: ReadState[] = []
  private prevSoft: SoftState
  private prevHard: HardState
  private outstanding: Outstanding | undefined

  /**
   * @throws {InvalidRaftConfigError} on an invalid config value
   */
  constructor (config: RaftConfig) {
    if (typeof config.id !== 'string' || config.id === NONE) {
      throw new InvalidRaftConfigError('raft config id must be a non-empty string')
    }
    this.id = config.id
    this.electionTimeout = positiveInteger('electionTicks', config.electionTicks ?? DEFAULT_ELECTION_TICKS)
    this.heartbeatTimeout = positiveInteger('heartbeatTicks', config.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS)
    if (this.heartbeatTimeout >= this.electionTimeout) {
      throw new InvalidRaftConfigError(`raft config electionTicks (${this.electionTimeout}) must be greater than heartbeatTicks (${this.heartbeatTimeout})`)
    }
    this.random = config.random ?? seededRandom(hashString(config.id))
    this.preVote = config.preVote ?? true
    this.checkQuorum = config.checkQuorum ?? true
    this.maxMsgSize = positiveInteger('maxSizePerMsg', config.maxSizePerMsg ?? DEFAULT_MAX_SIZE_PER_MSG_BYTES)
    this.maxInflight = positiveInteger('maxInflightMsgs', config.maxInflightMsgs ?? DEFAULT_MAX_INFLIGHT_MSGS)
    this.maxApplyBytes = positiveInteger('maxCommittedSizePerReady', config.maxCommittedSizePerReady ?? DEFAULT_MAX_COMMITTED_BYTES_PER_READY)
    this.snapshotRetryTicks = positiveInteger('snapshotRetryTicks', config.snapshotRetryTicks ?? DEFAULT_SNAPSHOT_RETRY_ELECTION_TIMEOUTS * this.electionTimeout)
    this.mutant = config.mutant
    this.joinVia = [...new Set(config.joinVia ?? [])]

    const storage = config.storage
    this.log = new RaftLog(storage)
    const snapshot = storage.snapshot()
    this.confBase = { index: snapshot.index, voters: [...snapshot.voters].sort() }
    const hardState = storage.initialState()
    this.prevHard = hardState
    this.prevSoft = { leader: undefined, role: 'follower' }

    const bootstrap = [...new Set(config.voters ?? [])].sort()
    if (this.log.lastIndex() === 0 && hardState.term === 0 && bootstrap.length > 0) {
      this.becomeFollower(1, undefined)
      const entries: Entry[] = bootstrap.map((node, i) => ({
        term: 1, index: i + 1, type: 'confchange', data: encodeConfChange({ type: 'add', node })
      }))
      this.log.append(entries)
      this.trackConfig(entries)
      this.log.commitTo(entries.length)
    } else {
      if (this.log.lastIndex() >= this.log.firstIndex()) {
        this.trackConfig(storage.entries(this.log.firstIndex(), this.log.lastIndex() + 1, Number.MAX_SAFE_INTEGER))
      }
      if (hardState.commit > this.log.lastIndex()) {
        throw new RaftStateError(`persisted commit ${hardState.commit} is beyond the last index ${this.log.lastIndex()}`)
      }
      this.log.commitTo(hardState.commit)
      this.becomeFollower(hardState.term, undefined)
      // MUTANT(forget-vote): the persisted vote is dropped, so after a restart this node may vote again in its term.
      this.vote = this.mutant === 'forget-vote' ? NONE : hardState.vote
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Public API

  /** Advance logical time by one tick: election timeout on followers/candidates, heartbeats on the leader. */
  tick (): void {
    if (this.role === 'leader') {
      this.tickHeartbeat()
    } else {
      this.tickElection()
    }
  }

  /**
   * Process a message from another voter.
   * @throws {InvalidMessageError} when the message is not addressed to this node or has an unknown type
   */
  step (m: Message): void {
    if (m.to !== this.id) {
      throw new InvalidMessageError(`message ${m.type} from ${m.from} is addressed to ${m.to}, not to ${this.id}`)
    }
    if (!NETWORK_TYPES.has(m.type)) {
      throw new InvalidMessageError(`unknown message type ${String(m.type)} from ${m.from}`)
    }
    if (m.from === this.id) {
      return
    }
    this.stepMessage(m)
  }

  /**
   * Why a message that arrived over a connection authenticated as `remote` must not be stepped, or undefined
   * when it may be: the sender must be who it claims and a voter of this node's latest configuration
   * (membership.ts). Every shell asks this before `step()`; the core itself trusts what it is handed.
   */
  refuse (m: Message, remote: string): Refusal | undefined {
    return refuseMessage(m, remote, { self: this.id, voters: this.voters(), joinVia: this.joinVia }, this.mutant)
  }

  /** Start an election now (as if the election timeout had elapsed), with pre-vote when enabled. */
  campaign (): void {
    this.hup(this.preVote ? 'pre-election' : 'election')
  }

  /**
   * Append a state-machine command to the log. It is committed when an entry with the returned index AND term
   * shows up in `committedEntries`; if another entry commits at that index, the proposal was lost.
   * @throws {NotLeaderError} on a non-leader, with the leader to forward to (if known)
   * @throws {ProposalDroppedError} during a leadership transfer or after this leader removed itself
   */
  propose (command: Uint8Array): ProposalId {
    this.checkCanPropose()
    this.leaderAppend([{ term: 0, index: 0, type: 'normal', data: command }])
    return { index: this.log.lastIndex(), term: this.term }
  }

  /**
   * Propose adding or removing ONE voter (thesis §4.1). The new configuration takes effect on every node as soon
   * as the entry is appended to its log; a leader that removes itself keeps leading until the entry commits,
   * then steps down (thesis §4.2.2).
   * @throws {NotLeaderError} | {ProposalDroppedError} as for {@link propose}
   * @throws {ConfChangePendingError} while a previous change is uncommitted, or before this leader has committed
   *   an entry of its term (the fix for the single-server change bug Ongaro reported on raft-dev in 2015)
   * @throws {InvalidConfChangeError} when the change does not fit the current voters
   */
  proposeConfChange (cc: ConfChange): ProposalId {
    this.checkCanPropose()
    const voters = this.voters()
    if (cc.type !== 'add' && cc.type !== 'remove') {
      throw new InvalidConfChangeError(`conf change type ${String(cc.type)}; expected add or remove`)
    }
    if (typeof cc.node !== 'string' || cc.node === NONE) {
      throw new InvalidConfChangeError('conf change node must be a non-empty id')
    }
    if (cc.type === 'add' && voters.includes(cc.node)) {
      throw new InvalidConfChangeError(`${cc.node} is already a voter`)
    }
    if (cc.type === 'remove' && !voters.includes(cc.node)) {
      throw new InvalidConfChangeError(`${cc.node} is not a voter (voters: ${voters.join(', ')})`)
    }
    if (cc.type === 'remove' && voters.length === 1) {
      throw new InvalidConfChangeError(`cannot remove ${cc.node}: it is the last voter`)
    }
    if (this.pendingConfIndex > this.log.committed) {
      throw new ConfChangePendingError(`a membership change (or this leader's first entry) at index ${this.pendingConfIndex} is not committed yet (commit ${this.log.committed}); retry once it is`)
    }
    this.leaderAppend([{ term: 0, index: 0, type: 'confchange', data: encodeConfChange(cc) }])
    this.pendingConfIndex = this.log.lastIndex()
    return { index: this.log.lastIndex(), term: this.term }
  }

  /**
   * Hand leadership to `to` (thesis §3.10): bring it up to date, then send it TimeoutNow so it campaigns at once.
   * Proposals are refused until the transfer completes or is abandoned after an election timeout.
   * @throws {NotLeaderError} on a non-leader
   * @throws {InvalidTransferError} when `to` is not a voter
   */
  transferLeadership (to: string): void {
    if (this.role !== 'leader') {
      throw new NotLeaderError(this.lead)
    }
    const pr = this.progress.get(to)
    if (pr === undefined) {
      throw new InvalidTransferError(`cannot transfer leadership to ${to}: not a voter (voters: ${this.voters().join(', ')})`)
    }
    if (to === this.id || this.leadTransferee === to) {
      return
    }
    // a transfer must finish within one election timeout, else it is abandoned (tickHeartbeat); it has its own
    // clock so that repeated requests cannot postpone check-quorum
    this.transferElapsed = 0
    this.leadTransferee = to
    if (pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(to)
    } else {
      this.sendAppend(to)
    }
  }

  /**
   * Request a linearizable read point (ReadIndex, thesis §6.4). The answer arrives in `ready().readStates` with
   * the same `ctx` (which must be unique per request): serve the read once `applied >= index`. A follower
   * forwards the request to its leader. A request may be dropped if leadership changes: the caller times out.
   * @throws {NotLeaderError} on a follower that knows no leader
   */
  readIndex (ctx: Uint8Array): void {
    if (this.role === 'leader') {
      this.handleReadIndex(this.id, ctx)
    } else if (this.lead !== undefined) {
      this.send({ type: 'ReadIndex', from: this.id, to: this.lead, term: this.term, context: ctx })
    } else {
      throw new NotLeaderError(undefined)
    }
  }

  /** The transport could not reach `id`: stop streaming optimistically to it (back to probing). */
  reportUnreachable (id: string): void {
    const pr = this.progress.get(id)
    if (this.role === 'leader' && pr?.state === 'replicate') {
      pr.becomeProbe()
    }
  }

  /** The transport finished (ok) or failed to deliver the snapshot sent to `id`. */
  reportSnapshot (id: string, ok: boolean): void {
    const pr = this.progress.get(id)
    if (this.role === 'leader' && pr?.state === 'snapshot') {
      this.snapshotDone(pr, ok)
    }
  }

  /**
   * Take a snapshot of the state machine as applied up to `index`. The shell then persists it, calls
   * `storage.createSnapshot(snapshot)` and `storage.compact(i)` for some i <= index (Raft §7).
   * @throws {RaftStateError} when `index` has not been applied yet
   * @throws {SnapshotOutOfDateError} when `index` is not after the latest snapshot
   */
  createSnapshot (index: number, data: Uint8Array): Snapshot {
    if (index > this.log.applied) {
      throw new RaftStateError(`cannot snapshot at ${index}: only ${this.log.applied} is applied`)
    }
    const latest = this.log.snapshot().index
    if (index <= latest) {
      throw new SnapshotOutOfDateError(`cannot snapshot at ${index}: a snapshot at ${latest} exists`)
    }
    const voters = this.votersAt(index)
    const snapshot: Snapshot = { index, term: this.log.term(index), voters: [...voters], data }
    // the configuration up to `index` is now carried by the snapshot
    this.confBase = { index, voters }
    this.confHistory = this.confHistory.filter(c => c.index > index)
    return snapshot
  }

  /** Whether {@link ready} has work; false while a Ready is outstanding (not yet advanced). */
  hasReady (): boolean {
    if (this.outstanding !== undefined) {
      return false
    }
    return !softStateEqual(this.softState(), this.prevSoft) ||
      !hardStateEqual(this.hardState(), this.prevHard) ||
      this.log.unstable().length > 0 ||
      this.log.pendingSnapshot() !== undefined ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasNextCommittedEntries()
  }

  /**
   * Collect the work for the shell (see {@link Ready} for the order it must be done in). Between `ready()` and
   * `advance()` the node may still be ticked and stepped; their output goes into the next Ready.
   * @throws {RaftStateError} when the previous Ready has not been advanced
   */
  ready (): Ready {
    if (this.outstanding !== undefined) {
      throw new RaftStateError('ready() called again before advance()')
    }
    const entries = this.log.unstable().slice()
    const committedEntries = this.log.nextCommittedEntries(this.maxApplyBytes)
    const rd: Ready = { entries, messages: this.msgs, committedEntries, readStates: this.readStates }
    const soft = this.softState()
    if (!softStateEqual(soft, this.prevSoft)) {
      rd.softState = soft
      this.prevSoft = soft
    }
    const hard = this.hardState()
    if (!hardStateEqual(hard, this.prevHard)) {
      rd.hardState = hard
      this.prevHard = hard
    }
    const snapshot = this.log.pendingSnapshot()
    if (snapshot !== undefined) {
      rd.snapshot = snapshot
    }
    this.msgs = []
    this.readStates = []
    const last = entries[entries.length - 1]
    this.outstanding = {
      lastEntry: last === undefined ? undefined : { index: last.index, term: last.term },
      snapshotIndex: snapshot?.index,
      appliedIndex: committedEntries[committedEntries.length - 1]?.index
    }
    return rd
  }

  /**
   * Acknowledge the last Ready: its entries and snapshot are durable and its committed entries applied.
   * @throws {RaftStateError} without an outstanding Ready
   */
  advance (): void {
    const done = this.outstanding
    if (done === undefined) {
      throw new RaftStateError('advance() called without a Ready')
    }
    this.outstanding = undefined
    if (done.snapshotIndex !== undefined) {
      this.log.stableSnapTo(done.snapshotIndex)
      if (done.snapshotIndex > this.log.applied) {
        this.log.appliedTo(done.snapshotIndex)
      }
    }
    if (done.lastEntry !== undefined) {
      this.log.stableTo(done.lastEntry.index, done.lastEntry.term)
    }
    if (done.appliedIndex !== undefined) {
      this.log.appliedTo(done.appliedIndex)
    }
  }

  /** A snapshot of this node's state, for `cluster status` (lag = lastIndex - progress[peer].match). */
  status (): Status {
    const status: Status = {
      id: this.id,
      term: this.term,
      vote: this.vote,
      role: this.role,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      voters: [...this.voters()]
    }
    if (this.role === 'leader') {
      const progress: Record<string, ProgressStatus> = {}
      for (const [id, pr] of this.progress) {
        progress[id] = pr.status()
      }
      status.progress = progress
      if (this.leadTransferee !== undefined) {
        status.leadTransferee = this.leadTransferee
      }
    }
    return status
  }

  // ---------------------------------------------------------------------------------------------------------
  // Configuration (apply-on-append, thesis §4.1)

  private voters (): string[] {
    return (this.confHistory[this.confHistory.length - 1] ?? this.confBase).voters
  }

  private votersAt (index: number): string[] {
    for (let i = this.confHistory.length - 1; i >= 0; i--) {
      if (this.confHistory[i].index <= index) {
        return this.confHistory[i].voters
      }
    }
    return this.confBase.voters
  }

  private lastConfIndex (): number {
    return (this.confHistory[this.confHistory.length - 1] ?? this.confBase).index
  }

  /**
   * Entries were written to the log from `entries[0].index` on: forget configurations of any entries they
   * replaced, then adopt the conf changes among them — a server uses the latest configuration in its log,
   * committed or not (thesis §4.1).
   */
  private trackConfig (entries: Entry[]): void {
    // entries at or before the snapshot are already reflected in its voters (a restart with retained entries)
    entries = entries.filter(e => e.index > this.confBase.index)
    if (entries.length === 0) {
      return
    }
    const before = this.voters()
    const from = entries[0].index
    while (this.confHistory.length > 0 && this.confHistory[this.confHistory.length - 1].index >= from) {
      this.confHistory.pop()
    }
    for (const e of entries) {
      if (e.type === 'confchange') {
        this.confHistory.push({ index: e.index, voters: applyConfChange(this.voters(), decodeConfChange(e.data)) })
      }
    }
    const after = this.voters()
    if (this.role === 'leader' && before.join('\n') !== after.join('\n')) {
      this.syncProgress()
    }
  }

  /** Make the leader's progress map follow the voters. */
  private syncProgress (): void {
    const voters = this.voters()
    for (const id of [...this.progress.keys()]) {
      if (!voters.includes(id)) {
        this.progress.delete(id)
      }
    }
    const last = this.log.lastIndex()
    for (const id of voters) {
      if (!this.progress.has(id)) {
        // start probing at the last entry (the conf change itself) and treat the newcomer as active so that it
        // may be sent a snapshot right away
        this.progress.set(id, new Progress(0, Math.max(last, 1), this.maxInflight, true))
      }
    }
    if (this.leadTransferee !== undefined && !voters.includes(this.leadTransferee)) {
      this.leadTransferee = undefined
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Roles

  private promotable (): boolean {
    return this.voters().includes(this.id) && this.log.pendingSnapshot() === undefined
  }

  private resetRandomizedElectionTimeout (): void {
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout)
  }

  private reset (term: number): void {
    if (this.term !== term) {
      this.term = term
      this.vote = NONE
    }
    this.lead = undefined
    this.electionElapsed = 0
    this.heartbeatElapsed = 0
    this.resetRandomizedElectionTimeout()
    this.leadTransferee = undefined
    this.votes = new Map()
    const last = this.log.lastIndex()
    this.progress = new Map(this.voters().map(id => [
      id, new Progress(id === this.id ? last : 0, last + 1, this.maxInflight, id === this.id)
    ]))
    this.pendingConfIndex = 0
    this.readOnly = new ReadOnly()
    this.pendingReads = []
  }

  private becomeFollower (term: number, lead: string | undefined): void {
    this.reset(term)
    this.lead = lead
    this.role = 'follower'
  }

  private becomePreCandidate (): void {
    // pre-vote changes neither term nor vote (thesis §9.6); only the role and the ballot box
    this.votes = new Map()
    this.lead = undefined
    this.resetRandomizedElectionTimeout()
    this.role = 'pre-candidate'
  }

  private becomeCandidate (): void {
    this.reset(this.term + 1)
    this.vote = this.id
    this.role = 'candidate'
  }

  private becomeLeader (): void {
    this.reset(this.term)
    this.lead = this.id
    this.role = 'leader'
    this.progress.get(this.id)?.becomeReplicate()
    // Conservatively treat everything in the log as a possibly uncommitted conf change: no new change until
    // it all commits — and, with the no-op below, until an entry of this term commits (Ongaro's 2015 raft-dev
    // fix for single-server changes).
    this.pendingConfIndex = this.log.lastIndex()
    if (this.mutant === 'commit-old-term') {
      // MUTANT(commit-old-term): no no-op entry, so earlier-term entries travel alone and get committed by
      // counting replicas in maybeCommit().
      return
    }
    // Raft §8: commit an entry of this term at once, which commits everything before it (§5.4.2) and lets
    // ReadIndex serve reads (thesis §6.4).
    this.leaderAppend([{ term: 0, index: 0, type: 'empty', data: new Uint8Array(0) }])
    this.pendingConfIndex = this.log.lastIndex()
  }

  private tickElection (): void {
    this.electionElapsed++
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0
      this.hup(this.preVote ? 'pre-election' : 'election')
    }
  }

  private tickHeartbeat (): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    for (const pr of this.progress.values()) {
      if (pr.state === 'snapshot' && ++pr.snapshotElapsed >= this.snapshotRetryTicks) {
        this.snapshotDone(pr, false)
      }
    }
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0
      // MUTANT(no-check-quorum): the leader never checks that a majority still hears it.
      if (this.checkQuorum && this.mutant !== 'no-check-quorum') {
        this.checkQuorumActive()
      }
    }
    if (this.role !== 'leader') {
      return
    }
    if (this.leadTransferee !== undefined && ++this.transferElapsed >= this.electionTimeout) {
      this.leadTransferee = undefined
    }
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0
      this.bcastHeartbeat()
    }
  }

  /** Thesis §6.2: step down unless a majority was heard from during the last election timeout. */
  private checkQuorumActive (): void {
    const voters = this.voters()
    const active = voters.filter(id => this.progress.get(id)?.recentActive === true).length
    if (active < quorumOf(voters.length)) {
      this.becomeFollower(this.term, undefined)
      return
    }
    for (const [id, pr] of this.progress) {
      if (id !== this.id) {
        pr.recentActive = false
      }
    }
  }

  private hup (kind: CampaignKind): void {
    if (this.role === 'leader' || !this.promotable()) {
      return
    }
    this.startCampaign(kind)
  }

  private startCampaign (kind: CampaignKind): void {
    let voteType: 'Vote' | 'PreVote'
    let term: number
    if (kind === 'pre-election') {
      this.becomePreCandidate()
      voteType = 'PreVote'
      // the term this node would campaign in; its own term is unchanged (thesis §9.6)
      term = this.term + 1
    } else {
      this.becomeCandidate()
      voteType = 'Vote'
      term = this.term
    }
    if (this.recordVote(this.id, true) === 'won') {
      this.wonElection(kind)
      return
    }
    const index = this.log.lastIndex()
    const logTerm = this.log.lastTerm()
    for (const to of this.voters()) {
      if (to === this.id) {
        continue
      }
      const m: Message = { type: voteType, from: this.id, to, term, index, logTerm }
      if (kind === 'transfer') {
        m.context = CAMPAIGN_TRANSFER
      }
      this.send(m)
    }
  }

  private wonElection (kind: CampaignKind): void {
    if (kind === 'pre-election') {
      this.startCampaign('election')
    } else {
      this.becomeLeader()
    }
  }

  /** Record a ballot (the first one from each voter counts) and tally. */
  private recordVote (from: string, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) {
      this.votes.set(from, granted)
    }
    const voters = this.voters()
    let yes = 0
    let no = 0
    for (const id of voters) {
      const v = this.votes.get(id)
      if (v === true) {
        yes++
      } else if (v === false) {
        no++
      }
    }
    const q = quorumOf(voters.length)
    if (yes >= q) {
      return 'won'
    }
    return voters.length - no < q ? 'lost' : 'pending'
  }

  // ---------------------------------------------------------------------------------------------------------
  // Message handling

  private send (m: Message): void {
    this.msgs.push(m)
  }

  private stepMessage (m: Message): void {
    if (m.term > this.term) {
      if (m.type === 'Vote' || m.type === 'PreVote') {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER)
        const inLease = this.checkQuorum && this.lead !== undefined && this.electionElapsed < this.electionTimeout
        if (!force && inLease) {
          // Thesis §4.2.3: a server that heard from a leader within the minimum election timeout neither updates
          // its term nor grants its vote, so a removed or partitioned server cannot disrupt a working leader.
          return
        }
      }
      if (m.type === 'PreVote') {
        // never change term on a pre-vote (thesis §9.6)
      } else if (m.type === 'PreVoteResp' && m.reject !== true) {
        // a granted pre-vote carries the term we would campaign in; the term changes only if we campaign
      } else {
        const fromLeader = m.type === 'App' || m.type === 'Heartbeat' || m.type === 'Snapshot'
        this.becomeFollower(m.term, fromLeader ? m.from : undefined)
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'Heartbeat' || m.type === 'App')) {
        // A stale leader (e.g. on the minority side of a healed partition, where this node's term advanced
        // while it could not win) learns the newer term from this response and steps down; with the lease
        // above it would otherwise never hear of it.
        this.send({ type: 'AppResp', from: this.id, to: m.from, term: this.term })
      } else if (m.type === 'PreVote') {
        this.send({ type: 'PreVoteResp', from: this.id, to: m.from, term: this.term, reject: true })
      }
      return
    }

    if (m.type === 'Vote' || m.type === 'PreVote') {
      this.handleVote(m)
      return
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m)
        break
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m)
        break
      case 'follower':
        this.stepFollower(m)
        break
    }
  }

  private handleVote (m: Message): void {
    const pre = m.type === 'PreVote'
    // Raft §5.2: at most one vote per term — a repeat of the vote already cast, or no vote and no known leader;
    // a pre-vote for a future term commits to nothing.
    let canVote = this.vote === m.from || (this.vote === NONE && this.lead === undefined) || (pre && m.term > this.term)
    if (this.mutant === 'vote-twice') {
      // MUTANT(vote-twice): votedFor is ignored.
      canVote = true
    }
    let upToDate = this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)
    if (this.mutant === 'stale-log-vote') {
      // MUTANT(stale-log-vote): the §5.4.1 election restriction is skipped.
      upToDate = true
    }
    const type = pre ? 'PreVoteResp' : 'VoteResp'
    if (canVote && upToDate) {
      // respond with the request's term: a pre-vote's is in our future, and a response at our own (older) term
      // would be ignored by the candidate
      this.send({ type, from: this.id, to: m.from, term: m.term })
      if (!pre) {
        this.electionElapsed = 0
        this.vote = m.from
      }
    } else {
      this.send({ type, from: this.id, to: m.from, term: this.term, reject: true })
    }
  }

  private stepLeader (m: Message): void {
    if (m.type === 'ReadIndex') {
      this.handleReadIndex(m.from, m.context ?? new Uint8Array(0))
      return
    }
    const pr = this.progress.get(m.from)
    if (pr === undefined) {
      return
    }
    switch (m.type) {
      case 'AppResp':
        this.handleAppResp(m, pr)
        break
      case 'HeartbeatResp':
        this.handleHeartbeatResp(m, pr)
        break
      default:
        break
    }
  }

  private handleAppResp (m: Message, pr: Progress): void {
    pr.recentActive = true
    const index = m.index ?? 0
    if (m.reject === true) {
      // Raft §5.3 with fast backtracking: skip every index whose term is above the follower's term at its hint,
      // since none of them can match (etcd-io/raft stepLeader).
      let nextProbe = m.rejectHint ?? 0
      if ((m.logTerm ?? 0) > 0) {
        nextProbe = this.log.findConflictByTerm(nextProbe, m.logTerm ?? 0).index
      }
      if (pr.maybeDecrTo(index, nextProbe)) {
        if (pr.state === 'replicate') {
          pr.becomeProbe()
        }
        this.sendAppend(m.from)
      }
      return
    }
    const wasPaused = pr.isPaused()
    if (!pr.maybeUpdate(index)) {
      return
    }
    if (pr.state === 'probe') {
      pr.becomeReplicate()
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      // the follower can continue from the log, whichever snapshot it actually applied
      pr.becomeProbe()
      pr.becomeReplicate()
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(index)
    }
    if (this.maybeCommit()) {
      this.onCommitAdvanced()
    } else if (wasPaused) {
      this.sendAppend(m.from)
    }
    // keep the pipeline full
    while (this.role === 'leader' && this.progress.has(m.from) && this.maybeSendAppend(m.from, false)) {
      // each call sends one more batch
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from)
    }
  }

  private handleHeartbeatResp (m: Message, pr: Progress): void {
    pr.recentActive = true
    pr.probeSent = false
    if (pr.state === 'replicate' && pr.inflights.full()) {
      // Every append in the window may have been lost, and nothing else would reopen it: let one more through.
      // It either fills a gap or is rejected, which sends the leader back to probing from the follower's match.
      pr.inflights.freeFirstOne()
    }
    if (pr.match < this.log.lastIndex()) {
      this.sendAppend(m.from)
    }
    if (m.context === undefined || m.context.byteLength === 0) {
      return
    }
    this.readOnly.ack(m.from, m.context)
    const voters = this.voters()
    const acks = [...this.readOnly.acks(m.context)].filter(id => voters.includes(id)).length
    if (acks < quorumOf(voters.length)) {
      return
    }
    for (const req of this.readOnly.release(m.context)) {
      this.respondToRead(req.from, req.index, req.ctx)
    }
  }

  /** Thesis §6.4 steps 1-3, on the leader. */
  private handleReadIndex (from: string, ctx: Uint8Array): void {
    if (this.mutant === 'read-without-quorum') {
      // MUTANT(read-without-quorum): answer at once from the local commit index, as a deposed leader would.
      this.respondToRead(from, this.log.committed, ctx)
      return
    }
    const voters = this.voters()
    if (voters.length === 1 && voters[0] === this.id) {
      this.respondToRead(from, this.log.committed, ctx)
      return
    }
    // Step 1: until an entry of this term commits, the leader's commit index may lag the group's.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReads.push({ from, ctx })
      return
    }
    // Steps 2-3: record the commit index, then confirm leadership with a heartbeat round carrying ctx.
    this.readOnly.add(this.log.committed, from, ctx)
    this.readOnly.ack(this.id, ctx)
    this.bcastHeartbeat(ctx)
  }

  private respondToRead (from: string, index: number, ctx: Uint8Array): void {
    if (from === this.id) {
      this.readStates.push({ index, ctx })
    } else {
      this.send({ type: 'ReadIndexResp', from: this.id, to: from, term: this.term, index, context: ctx })
    }
  }

  private committedEntryInCurrentTerm (): boolean {
    return this.log.termOrZero(this.log.committed) === this.term
  }

  private stepCandidate (m: Message): void {
    switch (m.type) {
      case 'App':
        this.becomeFollower(m.term, m.from)
        this.handleAppend(m)
        break
      case 'Heartbeat':
        this.becomeFollower(m.term, m.from)
        this.handleHeartbeat(m)
        break
      case 'Snapshot':
        this.becomeFollower(m.term, m.from)
        this.handleSnapshot(m)
        break
      case 'VoteResp':
      case 'PreVoteResp': {
        const expected = this.role === 'pre-candidate' ? 'PreVoteResp' : 'VoteResp'
        if (m.type !== expected) {
          break
        }
        const result = this.recordVote(m.from, m.reject !== true)
        if (result === 'won') {
          this.wonElection(this.role === 'pre-candidate' ? 'pre-election' : 'election')
        } else if (result === 'lost') {
          // a candidate that lost needs no further action; it waits out a new randomized timeout (Raft §5.2)
          this.becomeFollower(this.term, undefined)
        }
        break
      }
      default:
        break
    }
  }

  private stepFollower (m: Message): void {
    switch (m.type) {
      case 'App':
        this.electionElapsed = 0
        this.lead = m.from
        this.handleAppend(m)
        break
      case 'Heartbeat':
        this.electionElapsed = 0
        this.lead = m.from
        this.handleHeartbeat(m)
        break
      case 'Snapshot':
        this.electionElapsed = 0
        this.lead = m.from
        this.handleSnapshot(m)
        break
      case 'TimeoutNow':
        // thesis §3.10: the leader asks us to campaign now; skip pre-vote, we know there is no partition
        this.hup('transfer')
        break
      case 'ReadIndexResp':
        this.readStates.push({ index: m.index ?? 0, ctx: m.context ?? new Uint8Array(0) })
        break
      default:
        break
    }
  }

  private handleAppend (m: Message): void {
    const index = m.index ?? 0
    if (index < this.log.committed) {
      this.send({ type: 'AppResp', from: this.id, to: m.from, term: this.term, index: this.log.committed })
      return
    }
    // MUTANT(skip-log-match): the previous entry's term is not compared.
    const result = this.log.maybeAppend(index, m.logTerm ?? 0, m.commit ?? 0, m.entries ?? [], this.mutant !== 'skip-log-match')
    if (result !== undefined) {
      this.trackConfig(result.appended)
      this.send({ type: 'AppResp', from: this.id, to: m.from, term: this.term, index: result.lastNewIndex })
      return
    }
    // Tell the leader where our log might match: the last index at or below its probe whose term is no higher
    // than its previous term (etcd-io/raft handleAppendEntries), so a divergent tail costs one round trip per term.
    const hint = this.log.findConflictByTerm(Math.min(index, this.log.lastIndex()), m.logTerm ?? 0)
    this.send({
      type: 'AppResp', from: this.id, to: m.from, term: this.term, index, reject: true, rejectHint: hint.index, logTerm: hint.term
    })
  }

  private handleHeartbeat (m: Message): void {
    this.log.commitTo(m.commit ?? 0)
    const resp: Message = { type: 'HeartbeatResp', from: this.id, to: m.from, term: this.term }
    if (m.context !== undefined) {
      resp.context = m.context
    }
    this.send(resp)
  }

  private handleSnapshot (m: Message): void {
    const snapshot = m.snapshot
    if (snapshot !== undefined && this.restore(snapshot)) {
      this.send({ type: 'AppResp', from: this.id, to: m.from, term: this.term, index: this.log.lastIndex() })
    } else {
      this.send({ type: 'AppResp', from: this.id, to: m.from, term: this.term, index: this.log.committed })
    }
  }

  /** Raft §7: install a snapshot unless the log already has everything it covers. */
  private restore (snapshot: Snapshot): boolean {
    if (snapshot.index <= this.log.committed) {
      return false
    }
    if (this.log.matchTerm(snapshot.index, snapshot.term)) {
      // the log already contains the snapshot's last entry: just commit up to it and keep what follows
      this.log.commitTo(snapshot.index)
      return false
    }
    this.log.restore(snapshot)
    this.confBase = { index: snapshot.index, voters: [...snapshot.voters].sort() }
    this.confHistory = []
    return true
  }

  // ---------------------------------------------------------------------------------------------------------
  // Leader replication

  private checkCanPropose (): void {
    if (this.role !== 'leader') {
      throw new NotLeaderError(this.lead)
    }
    if (!this.progress.has(this.id)) {
      throw new ProposalDroppedError(`${this.id} is being removed from the group and accepts no proposals`)
    }
    if (this.leadTransferee !== undefined) {
      throw new ProposalDroppedError(`leadership is being transferred to ${this.leadTransferee}; retry with the new leader`)
    }
  }

  /** Append entries stamped with this term, then replicate (or commit at once in a single-voter group). */
  private leaderAppend (entries: Entry[]): void {
    const first = this.log.lastIndex() + 1
    const stamped = entries.map((e, i) => ({ term: this.term, index: first + i, type: e.type, data: e.data }))
    this.log.append(stamped)
    this.trackConfig(stamped)
    this.progress.get(this.id)?.maybeUpdate(this.log.lastIndex())
    if (this.maybeCommit()) {
      this.onCommitAdvanced()
    } else {
      this.bcastAppend()
    }
  }

  /** Advance commit to the highest index a majority of voters has, if it is of this term (Raft §5.4.2). */
  private maybeCommit (): boolean {
    const voters = this.voters()
    if (voters.length === 0) {
      return false
    }
    const matches = voters.map(id => this.progress.get(id)?.match ?? 0).sort((a, b) => b - a)
    const index = matches[quorumOf(voters.length) - 1]
    if (this.mutant === 'commit-old-term') {
      // MUTANT(commit-old-term): counting replicas suffices, whatever the entry's term (Raft Figure 8).
      if (index > this.log.committed) {
        this.log.commitTo(index)
        return true
      }
      return false
    }
    return this.log.maybeCommit(index, this.term)
  }

  private onCommitAdvanced (): void {
    if (this.pendingReads.length > 0 && this.committedEntryInCurrentTerm()) {
      const reads = this.pendingReads
      this.pendingReads = []
      for (const r of reads) {
        this.handleReadIndex(r.from, r.ctx)
      }
    }
    this.bcastAppend()
    if (!this.voters().includes(this.id) && this.log.committed >= this.lastConfIndex()) {
      // Thesis §4.2.2: a leader removed from the configuration steps down once the change commits. It hands
      // over to an up-to-date voter at once rather than leaving the group to wait out an election timeout.
      const last = this.log.lastIndex()
      const successor = [...this.progress.entries()].find(([, pr]) => pr.match === last)?.[0]
      if (successor !== undefined) {
        this.sendTimeoutNow(successor)
      }
      this.becomeFollower(this.term, undefined)
    }
  }

  private bcastAppend (): void {
    for (const id of this.progress.keys()) {
      if (id !== this.id) {
        this.sendAppend(id)
      }
    }
  }

  private bcastHeartbeat (ctx?: Uint8Array): void {
    const context = ctx ?? this.readOnly.lastPendingCtx()
    for (const [id, pr] of this.progress) {
      if (id === this.id) {
        continue
      }
      // never tell a follower to commit past what it is known to hold
      const m: Message = { type: 'Heartbeat', from: this.id, to: id, term: this.term, commit: Math.min(pr.match, this.log.committed) }
      if (context !== undefined) {
        m.context = context
      }
      this.send(m)
    }
  }

  private sendAppend (to: string): void {
    this.maybeSendAppend(to, true)
  }

  /** Send the next batch of entries to `to` (or a snapshot if they were compacted); false if nothing was sent. */
  private maybeSendAppend (to: string, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to)
    if (pr === undefined || pr.isPaused()) {
      return false
    }
    let prevTerm: number
    let entries: Entry[]
    try {
      prevTerm = this.log.term(pr.next - 1)
      entries = this.log.entriesFrom(pr.next, this.maxMsgSize)
    } catch (err) {
      if (err instanceof CompactedError) {
        return this.sendSnapshot(to, pr)
      }
      throw err
    }
    if (entries.length === 0 && !sendIfEmpty) {
      return false
    }
    this.send({
      type: 'App', from: this.id, to, term: this.term, index: pr.next - 1, logTerm: prevTerm, entries, commit: this.log.committed
    })
    pr.sentEntries(entries.length, pr.next - 1 + entries.length)
    return true
  }

  private sendSnapshot (to: string, pr: Progress): boolean {
    // a snapshot is expensive: only send it to a follower that is known to be alive
    if (!pr.recentActive) {
      return false
    }
    const snapshot = this.log.snapshot()
    pr.becomeSnapshot(snapshot.index)
    this.send({ type: 'Snapshot', from: this.id, to, term: this.term, snapshot })
    return true
  }

  private snapshotDone (pr: Progress, ok: boolean): void {
    if (!ok) {
      // probe from the match index so that a new snapshot is sent if the log is still compacted
      pr.pendingSnapshot = 0
    }
    pr.becomeProbe()
    // wait for a heartbeat response before probing, as the follower may be unreachable
    pr.probeSent = true
  }

  private sendTimeoutNow (to: string): void {
    this.send({ type: 'TimeoutNow', from: this.id, to, term: this.term })
  }

  private softState (): SoftState {
    return { leader: this.lead, role: this.role }
  }

  private hardState (): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed }
  }
}

function softStateEqual (a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role
}

function hardStateEqual (a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit
}
