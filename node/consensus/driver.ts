/**
 * The Raft driver: the imperative shell around the pure core (src/raft) and the refs+locks state machine
 * (src/state). It owns the clock (one tick every `heartbeatMs`) and runs the ready loop in the order the core
 * requires (STYLE habit 8, src/raft/types.ts `Ready`):
 *
 * 1. persist the snapshot, entries and hard state (one fsync, RaftDiskStorage.save);
 * 2. send the messages;
 * 3. apply the snapshot and the committed entries, resolve proposals and serve ReadIndex reads;
 * 4. advance(); take a snapshot and compact the log every `snapshotEntries` entries.
 *
 * Within that order, three refinements keep the disk off the critical path (each argued where it is done):
 * the leader's own appends go out while it writes them (thesis §10.2.1), committed entries already on disk
 * are applied while the Ready's new entries are written, and a commit index alone is neither fsynced nor
 * sent at once (it rides on the next append or tick).
 *
 * Proposals are tracked by (index, term): one is committed iff an entry with that index AND term is applied;
 * another entry at its index means it was lost (ProposalLostError, retriable: the state machine's client
 * sessions make the retry apply at most once). As leader it stamps every command's `now` and proposes
 * `lock.expire` whenever a lease or a wait is due, so expiry is decided once, in the log, for every replica.
 */
import { RaftNode, NotLeaderError, ProposalDroppedError } from '../../src/raft/index.ts'
import { RefsLocksStateMachine, encodeCommand, validateQuery } from '../../src/state/index.ts'
import { UnavailableError } from '../../src/errors.ts'
import { ConsensusStorageError, NoQuorumError, ProposalLostError } from './errors.ts'
import type { RaftDiskStorage } from './storage.ts'
import type { ConfChange, Entry, Message, ReadState, Refusal, Role, Snapshot, SoftState } from '../../src/raft/index.ts'
import type { ConsensusObserver } from './observer.ts'
import type {
  AccessTable, ApplyOutput, ClientCommand, CommandResult, GrantLostEvent, LockGrantedOk, Failure, Query, QueryReply
} from '../../src/state/index.ts'

/** Entries applied between two snapshots (etcd's default --snapshot-count is 10 000 too). */
export const DEFAULT_SNAPSHOT_ENTRIES = 10_000
/** Entries kept in the log before a snapshot, so a slightly lagging voter catches up without one (etcd: 5 000). */
export const DEFAULT_CATCH_UP_ENTRIES = 5_000

/** A client command as submitted: the leader adds `now`. */
export type CommandInput = ClientCommand extends infer C ? C extends ClientCommand ? Omit<C, 'now'> : never : never

export interface RaftDriverInit {
  /** this voter's peer id */
  id: string
  storage: RaftDiskStorage
  /** the founding voters, used only when the storage is empty (src/raft RaftConfig.voters); [] to join later */
  founders: string[]
  /** a voter joining later: the voters whose messages it accepts until its log holds a configuration (src/raft RaftConfig.joinVia) */
  joinVia?: string[]
  heartbeatMs: number
  electionMs: number
  /** hand messages to the transport; must not block */
  send(messages: Message[]): void
  /** whether a voter was heard from (or is connected) recently: for status and "no quorum" messages */
  reachable(id: string): boolean
  /** a lease of some owner expired or was broken: for the holder's node (the lease renewer) */
  onGrantLost?(event: GrantLostEvent): void
  /** @default DEFAULT_SNAPSHOT_ENTRIES */
  snapshotEntries?: number
  /** @default min(DEFAULT_CATCH_UP_ENTRIES, snapshotEntries / 2) */
  catchUpEntries?: number
  /** the leader's clock, ms since the epoch @default Date.now */
  now?(): number
  /** told of leader changes and of each proposal's time to apply (the daemon's metrics) */
  observer?: Pick<ConsensusObserver, 'leaderChanged' | 'proposed'>
  log?(message: string): void
}

export interface VoterStatus {
  id: string
  /** 'leader' or 'follower', as this node sees it */
  role: 'leader' | 'follower'
  /** heard from recently (always true for this node itself) */
  reachable: boolean
  /** on the leader: the highest index known to be replicated there; null elsewhere */
  match: number | null
  /** on the leader: lastIndex - match; null elsewhere */
  lag: number | null
  /** on the leader: 'replicate', 'probe' or 'snapshot'; null elsewhere */
  progress: string | null
}

export interface DriverStatus {
  /** the voter that answered */
  self: string
  role: Role
  leader: string | null
  term: number
  commitIndex: number
  appliedIndex: number
  firstIndex: number
  lastIndex: number
  snapshotIndex: number
  voters: VoterStatus[]
}

interface Pending {
  term: number
  /** a lock.acquire that should answer with its final outcome, not "queued" */
  waitOutcome: boolean
  resolve(value: unknown): void
  reject(err: Error): void
}

interface ReadWaiter {
  resolve(): void
  reject(err: Error): void
}

type OutcomeWaiter = (result: LockGrantedOk | Failure) => void

export class RaftDriver {
  readonly id: string
  readonly electionTicks: number
  private readonly init: RaftDriverInit
  private readonly storage: RaftDiskStorage
  private readonly snapshotEntries: number
  private readonly catchUpEntries: number
  private readonly now: () => number
  private readonly node: RaftNode
  private sm: RefsLocksStateMachine
  private applied: number
  private soft: SoftState = { leader: undefined, role: 'follower' }
  private ticks = 0
  private timer?: NodeJS.Timeout
  private scheduled = false
  private loop?: Promise<void>
  private failure?: Error
  private stopped = false

  private readonly pending = new Map<number, Pending>()
  private readonly outcomeWaiters = new Map<string, Set<OutcomeWaiter>>()
  private readQueue: ReadWaiter[] = []
  private readRound?: { key: string, waiters: ReadWaiter[], startedTick: number }
  private appliedWaiters: Array<{ index: number, waiters: ReadWaiter[] }> = []
  private readCounter = 0
  private expireInflight?: { index: number, tick: number }
  private readonly commitNotices = new Map<string, Message>()
  /** the term this voter leads in, and whether it has applied an entry of that term yet */
  private leaderTerm = -1
  private leaderCaughtUp = false

  constructor (init: RaftDriverInit) {
    this.init = init
    this.id = init.id
    this.storage = init.storage
    this.now = init.now ?? Date.now
    this.electionTicks = Math.max(2, Math.round(init.electionMs / init.heartbeatMs))
    this.snapshotEntries = init.snapshotEntries ?? DEFAULT_SNAPSHOT_ENTRIES
    this.catchUpEntries = init.catchUpEntries ?? Math.min(DEFAULT_CATCH_UP_ENTRIES, Math.floor(this.snapshotEntries / 2))
    // Restart (src/raft RaftNode): the state machine comes back from the snapshot, and the core hands out the
    // committed entries after it again.
    const snapshot = this.storage.memory.snapshot()
    this.sm = snapshot.index > 0 ? RefsLocksStateMachine.restore(snapshot.data) : new RefsLocksStateMachine()
    this.applied = snapshot.index
    this.node = new RaftNode({
      id: init.id,
      storage: this.storage.memory,
      voters: init.founders,
      joinVia: init.joinVia,
      electionTicks: this.electionTicks,
      heartbeatTicks: 1,
      random: Math.random
    })
  }

  start (): void {
    this.timer = setInterval(this.onTick, this.init.heartbeatMs)
    this.schedule()
  }

  /** Stop ticking, finish the Ready in hand, fail whatever waits, close the storage. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.timer)
    await this.loop
    this.failAll(new UnavailableError('the node is shutting down'))
    await this.storage.close()
  }

  get role (): Role {
    return this.soft.role
  }

  get leader (): string | undefined {
    return this.soft.leader
  }

  get voters (): string[] {
    return this.node.status().voters
  }

  /** Voters reachable from here (this one included) and the number of voters, for "no quorum" messages. */
  quorumView (): { reachable: number, voters: number } {
    const voters = this.voters
    return { reachable: voters.filter(v => v === this.id || this.init.reachable(v)).length, voters: voters.length }
  }

  noQuorum (detail = ''): NoQuorumError {
    const q = this.quorumView()
    return new NoQuorumError(q.reachable, Math.max(q.voters, 1), detail)
  }

  /**
   * A message that arrived over a connection authenticated as `remote`. It is stepped only when the core admits
   * it (src/raft/membership.ts: `from` is `remote`, addressed here, and `remote` a voter of the latest
   * configuration); otherwise it is dropped unseen and the refusal returned, for the transport to log and score.
   */
  step (m: Message, remote: string): Refusal | undefined {
    if (this.failure != null || this.stopped) return undefined
    const refusal = this.node.refuse(m, remote)
    if (refusal !== undefined) return refusal
    this.node.step(m)
    this.schedule()
    return undefined
  }

  /**
   * Every connection to `id` closed. When `id` is the leader this follower heard from, it fast-forwards its
   * election clock by one election timeout: a leader whose process died stops being waited for at once,
   * while the randomized part of the timeout (Raft §5.2) still separates the followers' campaigns. Only time
   * moves, so safety is untouched; and pre-vote keeps a follower whose connection merely blinked from
   * disturbing a leader that the others still hear (they stay in its lease and refuse).
   */
  leaderDisconnected (id: string): void {
    if (this.failure != null || this.stopped || this.soft.role !== 'follower' || this.soft.leader !== id) return
    for (let i = 0; i < this.electionTicks; i++) this.node.tick()
    this.schedule()
  }

  reportUnreachable (id: string): void {
    if (this.failure != null || this.stopped) return
    this.node.reportUnreachable(id)
  }

  reportSnapshot (id: string, ok: boolean): void {
    if (this.failure != null || this.stopped) return
    this.node.reportSnapshot(id, ok)
    this.schedule()
  }

  /**
   * Propose a client command (leader only) and wait until it is applied; with `waitOutcome`, a lock.acquire
   * that queues answers with its final outcome (granted, timed out or cancelled) instead.
   * @throws {NotLeaderError} (with the leader to ask) | {ProposalDroppedError} on a voter that cannot propose
   * @throws {InvalidCommandError} for a malformed command
   * @throws {ProposalLostError} when another entry took its place: retry with the same (client, seq)
   */
  async submit (cmd: CommandInput, options: { signal?: AbortSignal, waitOutcome?: boolean } = {}): Promise<CommandResult> {
    this.assertRunning()
    const bytes = encodeCommand({ ...cmd, now: this.now() } as ClientCommand)
    const id = this.node.propose(bytes)
    const started = performance.now()
    let ok = false
    try {
      const result = await this.track(id, options.waitOutcome === true, options.signal) as CommandResult
      ok = true
      return result
    } finally {
      this.init.observer?.proposed((performance.now() - started) / 1000, ok)
    }
  }

  /** Propose one membership change (leader only) and wait until it is applied; resolves to the new voters. */
  async changeVoters (cc: ConfChange, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    this.assertRunning()
    const id = this.node.proposeConfChange(cc)
    await this.track(id, false, options.signal)
    return this.voters
  }

  /**
   * A linearizable read (ReadIndex, thesis §6.4): confirm with a quorum that the leader is still the leader,
   * wait until this replica has applied everything committed at that point, then query the state machine.
   * @throws {NotLeaderError} when no leader is known
   */
  async read<Q extends Query> (query: Q, options: { signal?: AbortSignal } = {}): Promise<QueryReply<Q>> {
    this.assertRunning()
    const q = validateQuery(query) as Q
    await this.readPoint(options.signal)
    return this.sm.query(q)
  }

  /**
   * The replicated access table as of everything committed before this call (null: never set). A new leader
   * may not yet have applied what earlier leaders committed — a revoke among it — so until it has applied an
   * entry of its own term it takes a read point first (ReadIndex: at most one round per call, none once caught up).
   * @throws {NotLeaderError} when no leader is known
   */
  async accessTable (options: { signal?: AbortSignal } = {}): Promise<AccessTable | null> {
    this.assertRunning()
    if (!(this.soft.role === 'leader' && this.leaderCaughtUp)) await this.readPoint(options.signal)
    return this.sm.query({ type: 'access.ls' }).table
  }

  /** The access table as this replica has applied it, without waiting (after a `read`, it is current). */
  appliedAccessTable (): AccessTable | null {
    return this.sm.query({ type: 'access.ls' }).table
  }

  /** Locks granted and requests waiting in this replica, as applied. */
  lockCounts (): { held: number, waiting: number } {
    const { locks, waiters } = this.sm.query({ type: 'lock.ls' })
    return { held: locks.length, waiting: waiters.length }
  }

  /** This voter's view of the group; the leader's includes each voter's replication progress. */
  status (): DriverStatus {
    const s = this.node.status()
    return {
      self: this.id,
      role: s.role,
      leader: s.leader ?? null,
      term: s.term,
      commitIndex: s.commit,
      appliedIndex: this.applied,
      firstIndex: s.firstIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: this.storage.memory.snapshot().index,
      voters: s.voters.map(id => {
        const pr = s.progress?.[id]
        return {
          id,
          role: id === s.leader ? 'leader' : 'follower',
          reachable: id === this.id || this.init.reachable(id) || pr?.recentActive === true,
          match: pr?.match ?? null,
          lag: pr === undefined ? null : Math.max(0, s.lastIndex - pr.match),
          progress: pr?.state ?? null
        }
      })
    }
  }

  // ---------------------------------------------------------------------------------------------------------

  private assertRunning (): void {
    if (this.failure != null) throw new ConsensusStorageError(`this voter stopped after a storage failure: ${this.failure.message}`)
    if (this.stopped) throw new UnavailableError('the node is shutting down')
  }

  private async track (id: { index: number, term: number }, waitOutcome: boolean, signal?: AbortSignal): Promise<unknown> {
    this.schedule()
    return await new Promise((resolve, reject) => {
      const onAbort = (): void => {
        if (this.pending.get(id.index) === entry) this.pending.delete(id.index)
        reject(signal?.reason ?? new UnavailableError('aborted'))
      }
      const entry: Pending = {
        term: id.term,
        waitOutcome,
        resolve: (v) => { signal?.removeEventListener('abort', onAbort); resolve(v) },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e) }
      }
      if (signal?.aborted === true) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      this.pending.set(id.index, entry)
    })
  }

  private async readPoint (signal?: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        waiter.reject(signal?.reason ?? new UnavailableError('aborted'))
      }
      let settled = false
      const waiter: ReadWaiter = {
        resolve: () => { if (!settled) { settled = true; signal?.removeEventListener('abort', onAbort); resolve() } },
        reject: (e) => { if (!settled) { settled = true; signal?.removeEventListener('abort', onAbort); reject(e) } }
      }
      if (signal?.aborted === true) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      this.readQueue.push(waiter)
      this.startReadRound()
    })
  }

  /** One ReadIndex round serves every read queued when it starts (reads batch like writes do). */
  private startReadRound (): void {
    if (this.readRound !== undefined || this.readQueue.length === 0) return
    const waiters = this.readQueue
    this.readQueue = []
    const key = `${this.id}/${++this.readCounter}`
    const ctx = new TextEncoder().encode(key)
    try {
      this.node.readIndex(ctx)
    } catch (err) {
      for (const w of waiters) w.reject(err as Error)
      return
    }
    this.readRound = { key, waiters, startedTick: this.ticks }
    this.schedule()
  }

  /** ReadIndex requests are dropped when leadership changes: ask again. */
  private retryReadRound (): void {
    if (this.readRound === undefined) return
    this.readQueue = [...this.readRound.waiters, ...this.readQueue]
    this.readRound = undefined
    this.startReadRound()
  }

  private onReadState (rs: ReadState): void {
    const key = new TextDecoder().decode(rs.ctx)
    if (this.readRound === undefined || key !== this.readRound.key) return
    this.appliedWaiters.push({ index: rs.index, waiters: this.readRound.waiters })
    this.readRound = undefined
    this.startReadRound()
  }

  private wakeReads (): void {
    if (this.appliedWaiters.length === 0) return
    const ready = this.appliedWaiters.filter(w => w.index <= this.applied)
    if (ready.length === 0) return
    this.appliedWaiters = this.appliedWaiters.filter(w => w.index > this.applied)
    for (const r of ready) for (const w of r.waiters) w.resolve()
  }

  /**
   * Hand messages to the transport, except a leader's appends without entries (they only carry a new commit
   * index, one after every commit): each is held until the next tick and dropped if a later append to the same
   * voter carries the commit first. Under load that halves the messages per command; Raft tolerates the
   * dropped ones, and a follower learns the commit at the latest one tick later (ReadIndex heartbeats carry
   * it too, so follower reads do not wait for it).
   */
  private sendMessages (messages: Message[]): void {
    const out: Message[] = []
    for (const m of messages) {
      if (m.type === 'App' && (m.entries?.length ?? 0) === 0 && this.soft.role === 'leader') {
        this.commitNotices.set(m.to, m)
        continue
      }
      if (m.type === 'App') this.commitNotices.delete(m.to)
      out.push(m)
    }
    if (out.length > 0) this.init.send(out)
  }

  private flushCommitNotices (): void {
    if (this.commitNotices.size === 0) return
    const held = [...this.commitNotices.values()]
    this.commitNotices.clear()
    this.init.send(held)
  }

  private readonly onTick = (): void => {
    if (this.failure != null || this.stopped) return
    this.ticks++
    this.flushCommitNotices()
    this.node.tick()
    if (this.readRound !== undefined && this.ticks - this.readRound.startedTick >= this.electionTicks) this.retryReadRound()
    this.maybeProposeExpire()
    this.schedule()
  }

  /**
   * The leader decides lease expiry and wait timeouts by proposing `lock.expire {now}` whenever something is
   * due (checked every tick), one at a time, so an idle group does not grow its log.
   */
  private maybeProposeExpire (): void {
    if (this.soft.role !== 'leader') return
    if (this.expireInflight !== undefined) {
      if (this.applied < this.expireInflight.index && this.ticks - this.expireInflight.tick < this.electionTicks) return
      this.expireInflight = undefined
    }
    const now = this.now()
    const { locks, waiters } = this.sm.query({ type: 'lock.ls' })
    if (!locks.some(g => g.expires <= now) && !waiters.some(w => w.deadline <= now)) return
    try {
      const id = this.node.propose(encodeCommand({ type: 'lock.expire', now }))
      this.expireInflight = { index: id.index, tick: this.ticks }
    } catch (err) {
      if (!(err instanceof NotLeaderError) && !(err instanceof ProposalDroppedError)) throw err
    }
  }

  private schedule (): void {
    if (this.scheduled || this.stopped || this.failure != null) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      if (this.loop !== undefined) return
      this.loop = this.runReadyLoop().finally(() => { this.loop = undefined })
    })
  }

  private async runReadyLoop (): Promise<void> {
    try {
      while (this.failure == null && this.node.hasReady()) {
        const rd = this.node.ready()
        // Thesis §10.2.1: the leader's appends may go out while it writes its own disk. Safe here because
        // Readies are handled one at a time: a commit that counts these entries is only learned from the
        // followers' answers, so it shows up in a later Ready — sent, applied and answered after this one's
        // fsync. Everything else (votes above all) waits for the disk.
        const durable = this.storage.memory.initialState()
        const sameTerm = rd.hardState === undefined || (rd.hardState.term === durable.term && rd.hardState.vote === durable.vote)
        const early = this.soft.role === 'leader' && sameTerm && rd.snapshot === undefined ? rd.messages.filter(m => m.type === 'App') : []
        const stable = rd.snapshot === undefined ? this.storage.memory.lastIndex() : 0
        // 1. persist: save() writes at once and leaves the fsync running on the thread pool while the work
        // below is done; nothing that depends on it happens before it resolves
        const saving = this.storage.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot })
        try {
          // The appends go out after the fsync has started, not before: each socket write wakes a follower,
          // which on a busy machine may take the leader's CPU for a while, and the commit waits for the
          // leader's own fsync as well as for an answer.
          if (early.length > 0) this.sendMessages(early)
          // Committed entries that are already on this voter's disk (from earlier Readies) need not wait for
          // this Ready's fsync: committed means durable on a majority, and these are durable here too, so their
          // results can go out while the disk works (etcd applies concurrently with its WAL write as well).
          for (const e of rd.committedEntries) {
            if (e.index > stable) break
            this.applyEntry(e)
          }
        } finally {
          await saving
        }
        // 2. send
        const rest = early.length > 0 ? rd.messages.filter(m => m.type !== 'App') : rd.messages
        if (rest.length > 0) this.sendMessages(rest)
        // 3. apply (what was not applied above)
        if (rd.snapshot !== undefined) this.installSnapshot(rd.snapshot)
        for (const e of rd.committedEntries) this.applyEntry(e)
        if (rd.softState !== undefined) this.onSoftState(rd.softState)
        for (const rs of rd.readStates) this.onReadState(rs)
        // 4. advance
        this.node.advance()
        this.wakeReads()
        await this.maybeSnapshot()
      }
    } catch (err) {
      this.fail(err as Error)
    }
  }

  private onSoftState (soft: SoftState): void {
    const leaderChanged = soft.leader !== this.soft.leader
    const deposed = this.soft.role === 'leader' && soft.role !== 'leader'
    if (soft.role === 'leader' && this.soft.role !== 'leader') {
      this.leaderTerm = this.node.status().term
      this.leaderCaughtUp = false
    }
    this.soft = soft
    if (deposed) {
      // Whether these still commit depends on the next leader; the client retries them there with the same
      // (client, seq), which the state machine applies at most once.
      for (const p of this.pending.values()) p.reject(new ProposalLostError('this voter lost the leadership before the command committed; retry at the new leader'))
      this.pending.clear()
    }
    if (soft.role !== 'leader') this.expireInflight = undefined
    if (leaderChanged) {
      this.init.observer?.leaderChanged(soft.leader)
      this.init.log?.(`leader is now ${soft.leader ?? '(none)'} (this node: ${soft.role})`)
      this.retryReadRound()
    }
  }

  private installSnapshot (snapshot: Snapshot): void {
    this.sm = RefsLocksStateMachine.restore(snapshot.data)
    this.applied = snapshot.index
    for (const [index, p] of this.pending) {
      if (index <= snapshot.index) {
        this.pending.delete(index)
        p.reject(new ProposalLostError(`a snapshot at ${snapshot.index} replaced the log before entry ${index} was applied here; retry`))
      }
    }
  }

  private applyEntry (e: Entry): void {
    if (e.index <= this.applied) return
    this.applied = e.index
    if (e.term === this.leaderTerm && this.soft.role === 'leader') this.leaderCaughtUp = true
    let out: ApplyOutput | undefined
    if (e.type === 'normal') {
      out = this.sm.apply(e.index, e.data)
      for (const ev of out.events) {
        if ('grant' in ev) {
          this.init.onGrantLost?.(ev)
          continue
        }
        const key = outcomeKey(ev.client, ev.seq)
        const set = this.outcomeWaiters.get(key)
        this.outcomeWaiters.delete(key)
        for (const w of set ?? []) w(ev.result)
      }
    }
    const p = this.pending.get(e.index)
    if (p === undefined) return
    this.pending.delete(e.index)
    if (p.term !== e.term) {
      p.reject(new ProposalLostError(`the proposal at index ${e.index} (term ${p.term}) was replaced by an entry of term ${e.term} after a leader change; retry`))
      return
    }
    const result = out?.result
    if (p.waitOutcome && result?.ok === true && result.type === 'lock.acquire' && result.status === 'queued') {
      // registered here, during apply, so that a grant applied in this same batch is not missed
      const key = outcomeKey(result.waiter.client, result.waiter.seq)
      const set = this.outcomeWaiters.get(key) ?? new Set()
      set.add(r => { p.resolve(r) })
      this.outcomeWaiters.set(key, set)
      return
    }
    p.resolve(result)
  }

  private async maybeSnapshot (): Promise<void> {
    const memory = this.storage.memory
    if (this.applied - memory.snapshot().index < this.snapshotEntries) return
    const snapshot = this.node.createSnapshot(this.applied, this.sm.snapshot())
    const compactTo = Math.max(memory.firstIndex() - 1, this.applied - this.catchUpEntries)
    await this.storage.saveLocalSnapshot(snapshot, compactTo)
    this.init.log?.(`snapshot at ${snapshot.index}; log compacted up to ${compactTo}`)
  }

  private fail (err: Error): void {
    this.failure ??= err
    clearInterval(this.timer)
    this.init.log?.(`raft storage failed, this voter stops: ${err.message}`)
    this.failAll(new ConsensusStorageError(`this voter stopped after a storage failure: ${err.message}`))
  }

  private failAll (err: Error): void {
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    for (const w of [...this.readQueue, ...(this.readRound?.waiters ?? []), ...this.appliedWaiters.flatMap(a => a.waiters)]) w.reject(err)
    this.readQueue = []
    this.readRound = undefined
    this.appliedWaiters = []
    this.outcomeWaiters.clear()
  }
}

function outcomeKey (client: string, seq: number): string {
  return `${client}\n${seq}`
}
