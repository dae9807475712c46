/**
 * One simulated dits-node voter: the production Raft core (src/raft) and refs+locks state machine (src/state)
 * driven by a shell that keeps the ready-loop contract of src/raft/index.ts — persist (fsync) the Ready's
 * snapshot, entries and hard state, then send its messages, then apply, then advance — on a simulated disk,
 * network and clock. It serves clients the way the daemon does: the leader admits a request as the daemon's
 * consensus server does (src/state/access.ts `admit`: the owner is the identity of the connection it came over,
 * and the sender must hold the role the command needs), stamps `now` from its lease clock, proposes, and answers once the entry is applied; reads go through ReadIndex (thesis §6.4); the leader
 * proposes `lock.expire` every so often so that leases run out through the log.
 */

import { NotLeaderError, ProposalDroppedError, RaftNode, seededRandom } from '../src/raft/index.ts'
import { RefsLocksStateMachine, admit, encodeCommand } from '../src/state/index.ts'
import { SimDisk } from './disk.ts'
import type { RaftSafetyChecker } from './checkers/raft.ts'
import type { ViolationKind } from './checkers/violations.ts'
import type { DiskRecord } from './disk.ts'
import type { EventQueue } from './event-queue.ts'
import type { SimNetwork } from './network.ts'
import type { ClientReply, ClientRequest } from './protocol.ts'
import type { Prng } from './random.ts'
import type { Trace } from './trace.ts'
import type { Entry, HardState, Message, RaftMutant, Ready, Role } from '../src/raft/index.ts'
import type { AccessMutant, AccessTable, ApplyOutput, Command, RequestBody, StateMutant } from '../src/state/index.ts'

/** A catching-up shell replays at most this many election timeouts' worth of ticks after a pause. */
export const MAX_CATCH_UP_TICKS_FACTOR = 3

/** The virtual wall clock's origin: lease clocks read EPOCH_MS + virtual ms (+ skew). */
export const EPOCH_MS = 1_700_000_000_000

export interface NodeTiming {
  /** virtual ms per Raft tick */
  tickMs: number
  electionTicks: number
  heartbeatTicks: number
  /** how often the leader proposes `lock.expire`, ms */
  expireIntervalMs: number
  /** chance that an fsync is slow (a busy disk), and how slow */
  slowFsyncRate: number
  slowFsyncMs: number
  /** take a snapshot and compact once this many entries were applied since the last one (randomized ±50%) */
  compactEntries: number
}

/** What a node needs from the simulation around it. */
export interface NodeEnv {
  readonly queue: EventQueue
  readonly network: SimNetwork
  readonly trace: Trace
  readonly checker: RaftSafetyChecker
  readonly timing: NodeTiming
  readonly voters: readonly string[]
  readonly raftMutant: RaftMutant | undefined
  readonly stateMutant: StateMutant | undefined
  readonly accessMutant: AccessMutant | undefined
  /** the roles every voter enforces (the daemon's config `access`; the simulated clients never change it) */
  readonly access: AccessTable
  /** the identity the connection from endpoint `from` authenticates (a client's node's peer id) */
  identityOf: (from: string) => string
  /** deliver a Raft message to node `to`; `from` is the endpoint that really sent it */
  deliver: (m: Message, from: string) => void
  /** deliver a reply to client `to` */
  reply: (to: string, reply: ClientReply) => void
  /** an entry applied on `node`, with the state machine's output for normal entries */
  applied: (node: string, e: Entry, output: ApplyOutput | undefined) => void
  violation: (kind: ViolationKind, message: string) => void
}

interface PendingProposal {
  term: number
  client: string
  op: number
  attempt: number
}

interface PendingRead {
  client: string
  op: number
  attempt: number
  name: string
  /** the read point, once ReadIndex answered */
  index: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class SimNode {
  readonly disk = new SimDisk()
  raft!: RaftNode
  sm!: RefsLocksStateMachine
  up = true
  /** virtual time until which the process is frozen (a GC or VM pause); its timers and inbox wait */
  pausedUntil = 0
  /** whether this node's shell makes up for ticks a pause swallowed (see onTick) */
  catchUpTicks = false
  /** the lease clock's error: a fixed offset (skew) and a rate error (drift, ms per ms) */
  clockOffsetMs = 0
  clockDrift = 0
  role: Role = 'follower'
  /** the leader this node knows of, as of its last Ready */
  leader: string | undefined
  term = 0
  appliedIndex = 0
  /** snapshots received from a leader and installed, and snapshots taken of its own state machine */
  snapshotsInstalled = 0
  snapshotsTaken = 0
  /** a Ready handed out and waiting for its fsync */
  private outstanding: { rd: Ready, prev: HardState, leaderTerm: number | undefined, becameLeader: boolean } | undefined
  private generation = 0
  private proposals = new Map<number, PendingProposal>()
  private reads = new Map<string, PendingRead>()
  private waitingReads: PendingRead[] = []
  private lastExpireAt = Number.NEGATIVE_INFINITY
  private readSeq = 0
  private nextCompaction = 0
  private lastTickAt = 0

  constructor (readonly id: string, private readonly env: NodeEnv, private readonly prng: Prng) {}

  /** Boot from what is on disk (a fresh node bootstraps the founding voters). */
  start (): void {
    const env = this.env
    this.up = true
    // a new process: whatever froze the old one is gone with it
    this.pausedUntil = 0
    this.outstanding = undefined
    this.proposals = new Map()
    this.reads = new Map()
    this.waitingReads = []
    this.role = 'follower'
    this.leader = undefined
    this.lastExpireAt = Number.NEGATIVE_INFINITY
    const storage = this.disk.storage
    const snap = storage.snapshot()
    this.guard(() => {
      this.sm = snap.index > 0
        ? RefsLocksStateMachine.restore(snap.data, { mutant: env.stateMutant })
        : new RefsLocksStateMachine({ mutant: env.stateMutant })
      this.appliedIndex = snap.index
      this.raft = new RaftNode({
        id: this.id,
        storage,
        voters: [...env.voters],
        electionTicks: env.timing.electionTicks,
        heartbeatTicks: env.timing.heartbeatTicks,
        random: seededRandom(this.prng.seed32()),
        mutant: env.raftMutant
      })
      this.term = storage.initialState().term
    })
    this.scheduleCompaction()
    const gen = this.generation
    this.lastTickAt = env.queue.now
    this.env.queue.after(this.prng.between(0, env.timing.tickMs), () => this.onTick(gen))
    this.guard(() => this.processReady())
  }

  /** Lose power: volatile state and unsynced writes are gone (some of them may have reached the disk). */
  crash (): string {
    this.up = false
    this.generation++
    this.outstanding = undefined
    const loss = this.disk.crash(this.prng)
    return `crashed: ${loss.kept} of ${loss.unsynced} unsynced records survived${loss.torn ? ' (next one torn)' : ''}`
  }

  /** Freeze the process for `ms` (its clock keeps running: on waking it sees the time that passed). */
  pause (ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.env.queue.now + ms)
  }

  get paused (): boolean {
    return this.env.queue.now < this.pausedUntil
  }

  /** The lease clock: what this node believes the time is, in ms since the epoch. */
  leaseNow (): number {
    const t = this.env.queue.now
    return Math.round(EPOCH_MS + t + this.clockOffsetMs + this.clockDrift * t)
  }

  /**
   * A Raft message arrives from the endpoint `remote` (what the connection would authenticate). Like the
   * daemon's transport, the shell steps it only if the core admits it (src/raft/membership.ts). A message from
   * outside the group that got in anyway and moved this node's term or log is a violation.
   */
  receive (m: Message, remote: string): void {
    this.whenRunning(() => {
      const refusal = this.raft.refuse(m, remote)
      if (refusal !== undefined) {
        this.env.trace.add(this.env.queue.now, this.id, () => `refused (${refusal.reason}): ${refusal.message}`)
        return
      }
      this.env.trace.add(this.env.queue.now, this.id, m)
      if (this.env.voters.includes(remote)) {
        this.raft.step(m)
      } else {
        const before = this.raft.status()
        this.raft.step(m)
        const after = this.raft.status()
        if (after.term !== before.term || after.lastIndex !== before.lastIndex || after.commit !== before.commit) {
          this.env.violation('non-member', `${this.id} stepped ${m.type} from ${remote} (claiming ${m.from}), not a voter: term ${before.term} -> ${after.term}, last index ${before.lastIndex} -> ${after.lastIndex}, commit ${before.commit} -> ${after.commit}`)
        }
      }
      this.processReady()
    })
  }

  /** A client request arrives from endpoint `from` (what its connection would authenticate). */
  receiveClient (req: ClientRequest, from: string): void {
    this.whenRunning(() => {
      if (req.kind === 'write') {
        this.propose(req, from)
      } else {
        this.read(req)
      }
      this.processReady()
    })
  }

  /** Ask the leader to hand over to `to` (thesis §3.10); a node that has just lost leadership refuses, as an admin would see. */
  transferLeadership (to: string): void {
    this.whenRunning(() => {
      try {
        this.raft.transferLeadership(to)
      } catch (err) {
        if (!(err instanceof NotLeaderError)) {
          throw err
        }
      }
      this.processReady()
    })
  }

  /** Run `fn` now if the node is up, later if it is paused, never if it crashed before then. */
  private whenRunning (fn: () => void, gen?: number): void {
    if (!this.up || (gen !== undefined && gen !== this.generation)) {
      return
    }
    if (this.paused) {
      const at = this.pausedUntil
      const g = this.generation
      this.env.queue.at(at, () => this.whenRunning(fn, g))
      return
    }
    this.guard(fn)
  }

  private guard (fn: () => void): void {
    try {
      fn()
    } catch (err) {
      // src/raft and src/state throw only when the caller broke their contract or safety is already lost
      const e = err as Error
      this.env.violation('exception', `${this.id} threw ${e.name}: ${e.message}`)
      this.up = false
      this.generation++
    }
  }

  private onTick (gen: number): void {
    if (!this.up || gen !== this.generation) {
      return
    }
    if (this.paused) {
      this.env.queue.at(this.pausedUntil, () => this.onTick(gen))
      return
    }
    const t = this.env.timing
    // A shell that derives ticks from a monotonic clock makes up for the ticks a pause swallowed, all at once;
    // one driven by an interval timer fires once on waking (timers coalesce). Both exist, so both are simulated.
    const missed = this.catchUpTicks ? Math.floor((this.env.queue.now - this.lastTickAt) / t.tickMs) : 1
    const ticks = Math.min(Math.max(missed, 1), MAX_CATCH_UP_TICKS_FACTOR * t.electionTicks)
    this.lastTickAt = this.env.queue.now
    this.guard(() => {
      for (let i = 0; i < ticks; i++) {
        this.raft.tick()
      }
      if (this.role === 'leader' && this.env.queue.now - this.lastExpireAt >= t.expireIntervalMs) {
        this.lastExpireAt = this.env.queue.now
        this.proposeExpire()
      }
      this.processReady()
    })
    const jitter = 1 + this.prng.between(-0.02, 0.02)
    this.env.queue.after(t.tickMs * jitter, () => this.onTick(gen))
  }

  private proposeExpire (): void {
    try {
      this.raft.propose(encodeCommand({ type: 'lock.expire', now: this.leaseNow() }))
    } catch (err) {
      if (!(err instanceof NotLeaderError || err instanceof ProposalDroppedError)) {
        throw err
      }
    }
  }

  private propose (req: Extract<ClientRequest, { kind: 'write' }>, from: string): void {
    const reply = (r: ClientReply): void => this.env.reply(req.client, r)
    if (this.role !== 'leader') {
      // a follower redirects without asking the core (whose NotLeaderError says the same, at the cost of a throw)
      reply({ kind: 'redirect', op: req.op, attempt: req.attempt, leader: this.leader })
      return
    }
    // admission as the daemon's consensus server does it (src/state/access.ts): owner from the connection, role checked
    const body = { ...req.body, client: req.client, seq: req.seq, ...(req.claim !== undefined ? { owner: req.claim } : {}) } as unknown as RequestBody
    const admitted = admit(body, { from: this.env.identityOf(from), table: this.env.access, voters: this.env.voters, unset: false, mutant: this.env.accessMutant })
    if (!('command' in admitted)) {
      this.env.trace.add(this.env.queue.now, this.id, () => `refused ${req.client}#${req.seq} ${req.body.type}: ${admitted.error.message}`)
      reply({ kind: 'result', op: req.op, attempt: req.attempt, result: admitted })
      return
    }
    const command = { ...admitted.command, now: this.leaseNow() } as Command
    try {
      const id = this.raft.propose(encodeCommand(command))
      this.proposals.set(id.index, { term: id.term, client: req.client, op: req.op, attempt: req.attempt })
      this.env.trace.add(this.env.queue.now, this.id, () => `propose ${req.client}#${req.seq} ${req.body.type} at ${id.index}/t${id.term}`)
    } catch (err) {
      if (err instanceof NotLeaderError) {
        reply({ kind: 'redirect', op: req.op, attempt: req.attempt, leader: err.leader })
      } else if (err instanceof ProposalDroppedError) {
        reply({ kind: 'retry', op: req.op, attempt: req.attempt, reason: err.message })
      } else {
        throw err
      }
    }
  }

  private read (req: Extract<ClientRequest, { kind: 'read' }>): void {
    if (this.role !== 'leader' && this.leader === undefined) {
      this.env.reply(req.client, { kind: 'redirect', op: req.op, attempt: req.attempt, leader: undefined })
      return
    }
    const ctx = `${this.id}#${++this.readSeq}`
    try {
      this.raft.readIndex(encoder.encode(ctx))
      // the floor is what was committed when the read was issued: nothing commits during the call above
      this.env.checker.readIssued(ctx)
      this.reads.set(ctx, { client: req.client, op: req.op, attempt: req.attempt, name: req.name, index: 0 })
    } catch (err) {
      if (!(err instanceof NotLeaderError)) {
        throw err
      }
      this.env.reply(req.client, { kind: 'redirect', op: req.op, attempt: req.attempt, leader: err.leader })
    }
  }

  /** Take the next Ready, if any, and write it to disk; the rest happens once it is fsynced. */
  private processReady (): void {
    if (!this.up || this.outstanding !== undefined || !this.raft.hasReady()) {
      return
    }
    const rd = this.raft.ready()
    const prev = this.disk.storage.initialState()
    let becameLeader = false
    if (rd.softState !== undefined) {
      becameLeader = rd.softState.role === 'leader' && this.role !== 'leader'
      this.role = rd.softState.role
      this.leader = rd.softState.leader
      this.env.trace.add(this.env.queue.now, this.id, `now ${rd.softState.role}${rd.softState.leader === undefined ? '' : `, leader ${rd.softState.leader}`}`)
    }
    if (rd.hardState !== undefined) {
      this.term = rd.hardState.term
    }
    const leaderTerm = this.role === 'leader' ? this.term : undefined
    if (becameLeader) {
      this.env.checker.leaderElected(this.id, this.term)
      // the expiry timer starts with the leadership, as a shell's interval timer would
      this.lastExpireAt = this.env.queue.now
    }
    const records: DiskRecord[] = []
    if (rd.snapshot !== undefined) {
      records.push({ kind: 'snapshot', snapshot: rd.snapshot })
    }
    for (const entry of rd.entries) {
      records.push({ kind: 'entry', entry })
    }
    if (rd.hardState !== undefined) {
      records.push({ kind: 'hard-state', hardState: rd.hardState })
    }
    this.disk.write(records)
    this.outstanding = { rd, prev, leaderTerm, becameLeader }
    const t = this.env.timing
    const delay = this.prng.chance(t.slowFsyncRate) ? this.prng.between(1, t.slowFsyncMs) : this.prng.between(0.05, 0.5)
    const gen = this.generation
    this.env.queue.after(delay, () => this.whenRunning(() => this.onFsync(), gen))
  }

  private onFsync (): void {
    const out = this.outstanding
    if (out === undefined) {
      return
    }
    const { rd } = out
    const env = this.env
    this.disk.fsync()
    env.checker.persisted(this.id, this.disk.storage, out.prev, rd.hardState, rd.entries, out.leaderTerm)
    if (out.becameLeader) {
      env.checker.newLeaderLog(this.id, this.term, this.disk.storage)
    }
    for (const m of rd.messages) {
      if (!env.network.send(this.id, m.to, () => env.deliver(m, this.id))) {
        // the transport could not reach the peer (etcd-io/raft's ReportUnreachable / ReportSnapshot)
        if (m.type === 'Snapshot') {
          this.raft.reportSnapshot(m.to, false)
        } else if (m.type === 'App') {
          this.raft.reportUnreachable(m.to)
        }
      }
    }
    if (rd.snapshot !== undefined) {
      this.sm = RefsLocksStateMachine.restore(rd.snapshot.data, { mutant: env.stateMutant })
      this.appliedIndex = rd.snapshot.index
      this.snapshotsInstalled++
      env.trace.add(env.queue.now, this.id, `installed snapshot at ${rd.snapshot.index}/t${rd.snapshot.term}`)
      for (const [index, p] of this.proposals) {
        if (index <= rd.snapshot.index) {
          this.proposals.delete(index)
          env.reply(p.client, { kind: 'retry', op: p.op, attempt: p.attempt, reason: `entry ${index} was covered by a snapshot` })
        }
      }
    }
    for (const e of rd.committedEntries) {
      this.apply(e)
    }
    for (const rs of rd.readStates) {
      const ctx = decoder.decode(rs.ctx)
      env.checker.readAnswered(this.id, ctx, rs)
      const pending = this.reads.get(ctx)
      if (pending !== undefined) {
        this.reads.delete(ctx)
        pending.index = rs.index
        this.waitingReads.push(pending)
      }
    }
    this.outstanding = undefined
    this.raft.advance()
    this.serveReads()
    this.maybeCompact()
    this.processReady()
  }

  private apply (e: Entry): void {
    const env = this.env
    env.checker.applied(this.id, e)
    const output = e.type === 'normal' ? this.sm.apply(e.index, e.data) : undefined
    this.appliedIndex = e.index
    env.applied(this.id, e, output)
    const p = this.proposals.get(e.index)
    if (p === undefined) {
      return
    }
    this.proposals.delete(e.index)
    if (p.term === e.term && output !== undefined) {
      env.reply(p.client, { kind: 'result', op: p.op, attempt: p.attempt, result: output.result })
    } else {
      env.reply(p.client, { kind: 'retry', op: p.op, attempt: p.attempt, reason: `entry ${e.index} of term ${e.term} committed in place of the proposal of term ${p.term}` })
    }
  }

  /** Serve the reads whose read point is applied (thesis §6.4 step 4). */
  private serveReads (): void {
    if (this.waitingReads.length === 0) {
      return
    }
    const still: PendingRead[] = []
    for (const r of this.waitingReads) {
      if (r.index > this.appliedIndex) {
        still.push(r)
        continue
      }
      const { ref } = this.sm.query({ type: 'ref.get', name: r.name })
      this.env.reply(r.client, { kind: 'read', op: r.op, attempt: r.attempt, ref })
    }
    this.waitingReads = still
  }

  private scheduleCompaction (): void {
    const every = this.env.timing.compactEntries
    this.nextCompaction = this.appliedIndex + Math.max(1, Math.round(every * this.prng.between(0.5, 1.5)))
  }

  /** Raft §7: snapshot the state machine and drop the log before it, keeping a few entries for slow followers. */
  private maybeCompact (): void {
    if (this.appliedIndex < this.nextCompaction || this.outstanding !== undefined) {
      return
    }
    const storage = this.disk.storage
    if (this.appliedIndex <= storage.snapshot().index) {
      return
    }
    const snapshot = this.raft.createSnapshot(this.appliedIndex, this.sm.snapshot())
    this.disk.compact(snapshot, Math.max(storage.firstIndex(), snapshot.index - this.prng.range(0, 8)))
    this.snapshotsTaken++
    this.env.trace.add(this.env.queue.now, this.id, `snapshot at ${snapshot.index}, log from ${storage.firstIndex()}`)
    this.scheduleCompaction()
  }
}
