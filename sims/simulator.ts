/**
 * One simulated run: a Raft group of production RaftNodes and RefsLocksStateMachines (sims/node.ts), clients
 * (sims/client.ts), a network, disks and clocks — all driven by one seed in virtual time — through a fault
 * phase, a heal, and a check that the group recovers and converges. Checkers run as events happen (Raft safety,
 * lock safety, stale leaders) and at the end (linearizability of every ref, convergence).
 *
 * The same (seed, scenario, mutant) always produces the same run: `npm run sim -- --seed S` replays it.
 */

import { COMMAND_ROLES, decodeCommand, defaultAccessTable } from '../src/state/index.ts'
import { LockSafetyChecker } from './checkers/locks.ts'
import { checkRefHistories } from './checkers/linearizability.ts'
import { RaftSafetyChecker } from './checkers/raft.ts'
import { SimClient } from './client.ts'
import { EventQueue } from './event-queue.ts'
import { INTRUDER_CLIENT, INTRUDER_ID, SimIntruder } from './intruder.ts'
import { simCid } from './history.ts'
import { mutantNamed } from './mutants.ts'
import { CALM_NETWORK, SimNetwork } from './network.ts'
import { SimNode } from './node.ts'
import { Prng } from './random.ts'
import { DEFAULT_SCENARIO, PARTITION_KINDS, scenarioFor } from './scenarios.ts'
import { DEFAULT_TRACE_EVENTS, Trace } from './trace.ts'
import type { Violation, ViolationKind } from './checkers/violations.ts'
import type { ClientTiming } from './client.ts'
import type { HistoryRecord } from './history.ts'
import type { ClientReply, ClientRequest } from './protocol.ts'
import type { NodeEnv, NodeTiming } from './node.ts'
import type { FaultKind, PartitionKind, Scenario } from './scenarios.ts'
import type { Entry } from '../src/raft/index.ts'
import type { AccessTable, ApplyOutput } from '../src/state/index.ts'

/** Virtual ms per Raft tick: etcd's default heartbeat interval. */
export const DEFAULT_TICK_MS = 100
/** Election timeout in ticks (etcd's default, and the core's: 1-2 s at 100 ms a tick). */
export const DEFAULT_ELECTION_TICKS = 10
/** How often the leader proposes `lock.expire`: a few times per shortest lease the clients ask for (600 ms). */
export const DEFAULT_EXPIRE_INTERVAL_MS = 250
/** How often the fault scheduler rolls its dice, virtual ms. */
export const DEFAULT_FAULT_STEP_MS = 100
/** After the heal, a quorum must commit a new entry within this many ticks (issue 5: liveness after heal). */
export const DEFAULT_LIVENESS_BOUND_TICKS = 200
/** A leader cut off from a majority must step down within this many ticks (thesis §6.2 check-quorum: 1-2 election timeouts). */
export const DEFAULT_STALE_LEADER_TICKS = 40
/** Clients keep working this long after the heal before they stop, virtual ms. */
export const DEFAULT_TAIL_MS = 3_000

export const DEFAULT_NODE_TIMING: Readonly<NodeTiming> = {
  tickMs: DEFAULT_TICK_MS,
  electionTicks: DEFAULT_ELECTION_TICKS,
  heartbeatTicks: 1,
  expireIntervalMs: DEFAULT_EXPIRE_INTERVAL_MS,
  slowFsyncRate: 0,
  slowFsyncMs: 50,
  compactEntries: 80
}

export const DEFAULT_CLIENT_TIMING: Readonly<ClientTiming> = {
  thinkMinMs: 20,
  thinkMaxMs: 300,
  attemptTimeoutMs: 800,
  callDeadlineMs: 6_000,
  backoffMs: 60,
  pollMs: 300,
  stallRate: 0.03,
  stallMs: 5_000
}

export interface SimulationOptions {
  seed: number
  /** a scenario name, or `all` to let the seed pick one; @default DEFAULT_SCENARIO */
  scenario?: string
  /** a Raft or state-machine mutant (sims/mutants.ts) */
  mutant?: string
  /** events kept for the trace; @default DEFAULT_TRACE_EVENTS */
  traceEvents?: number
  /**
   * Stop at the first violation, as a replay for a person would; false runs on to the end (`--keep-going`), so
   * that the whole history, client-visible effects of a mutant included, can be exported. @default true
   */
  stopOnViolation?: boolean
}

export interface SimulationStats {
  voters: number
  clients: number
  virtualMs: number
  ops: number
  opsOk: number
  opsFailed: number
  opsUnknown: number
  elections: number
  partitions: number
  crashes: number
  pauses: number
  skews: number
  transfers: number
  /** attacks by the peer outside the configuration (scenario `intruder`), and its messages */
  intrusions: number
  messages: number
  dropped: number
  duplicated: number
  /** entries applied by the group (the committed log's length) */
  committed: number
  /** snapshots nodes took of their state machine (log compaction), and snapshots installed from a leader */
  snapshotsTaken: number
  snapshotsInstalled: number
  /** virtual ms from the heal until a quorum committed a new entry; -1 if it never did */
  recoveryMs: number
}

export interface SimulationResult {
  seed: number
  scenario: string
  mutant: string | undefined
  violations: Violation[]
  stats: SimulationStats
  /** the last events, formatted */
  trace: string[]
  history: HistoryRecord[]
}

/** Run one seed. */
export function simulate (options: SimulationOptions): SimulationResult {
  return new Simulation(options).run()
}

class Simulation {
  private readonly queue = new EventQueue()
  private readonly trace: Trace
  private readonly scenario: Scenario
  private readonly nodes = new Map<string, SimNode>()
  private readonly clients = new Map<string, SimClient>()
  private readonly nodeIds: string[]
  private readonly network: SimNetwork
  private readonly checker: RaftSafetyChecker
  private readonly locks = new LockSafetyChecker()
  private readonly violations: Violation[] = []
  private readonly history: HistoryRecord[] = []
  private readonly faults: Prng
  private readonly stats: SimulationStats
  private readonly timing: NodeTiming
  private readonly stopOnViolation: boolean
  /** the committed order observed so far: entries up to here were fed to the lock checker */
  private observedIndex = 0
  /** what the first replica to apply each index got from it */
  private readonly outputs: Array<{ node: string, fingerprint: string }> = []
  private cids = 0
  private faultsOn = true
  /** bumped on every partition change, so that a scheduled heal or flap of an old partition does nothing */
  private partitionEpoch = 0
  private partitioned = false
  private readonly cutOffSince = new Map<string, number>()
  /**
   * The roles the voters enforce: the honest clients' identities (u1…) may write, lock and administer; a
   * spoofer's (y1…) may only read. The checkers read the rule from `honest`, not from this table.
   */
  private readonly access: AccessTable
  private readonly honest: ReadonlySet<string>
  private readonly intruder: SimIntruder

  constructor (private readonly options: SimulationOptions) {
    this.scenario = scenarioFor(options.scenario ?? DEFAULT_SCENARIO, options.seed)
    this.stopOnViolation = options.stopOnViolation ?? true
    this.trace = new Trace(options.traceEvents ?? DEFAULT_TRACE_EVENTS)
    const mutant = mutantNamed(options.mutant)
    const root = new Prng(options.seed)
    const netPrng = root.fork()
    this.faults = root.fork()
    const clientPrng = root.fork()
    const nodePrng = root.fork()
    const voters = root.pick(this.scenario.voters)
    this.nodeIds = Array.from({ length: voters }, (_, i) => `n${i + 1}`)
    const clientIds = Array.from({ length: this.scenario.clients }, (_, i) => `c${i + 1}`)
    this.honest = new Set(clientIds.map((_, i) => `u${i + 1}`))
    this.access = { ...defaultAccessTable(), write: [...this.honest], lock: [...this.honest], admin: [...this.honest] }
    const spooferIds = Array.from({ length: this.scenario.spoofers ?? 0 }, (_, i) => `s${i + 1}`)
    this.network = new SimNetwork(this.queue, netPrng, [...this.nodeIds, ...clientIds, INTRUDER_ID, ...spooferIds], this.scenario.network)
    this.checker = new RaftSafetyChecker((kind, message) => this.report(kind, message))
    this.timing = { ...DEFAULT_NODE_TIMING, slowFsyncRate: this.scenario.slowFsyncRate }
    this.stats = {
      voters,
      clients: clientIds.length,
      virtualMs: 0,
      ops: 0,
      opsOk: 0,
      opsFailed: 0,
      opsUnknown: 0,
      elections: 0,
      partitions: 0,
      crashes: 0,
      pauses: 0,
      skews: 0,
      transfers: 0,
      intrusions: 0,
      messages: 0,
      dropped: 0,
      duplicated: 0,
      committed: 0,
      snapshotsTaken: 0,
      snapshotsInstalled: 0,
      recoveryMs: -1
    }
    for (const id of this.nodeIds) {
      const env: NodeEnv = {
        queue: this.queue,
        network: this.network,
        trace: this.trace,
        checker: this.checker,
        timing: this.timing,
        voters: this.nodeIds,
        raftMutant: mutant.raft,
        stateMutant: mutant.state,
        accessMutant: mutant.access,
        access: this.access,
        identityOf: from => this.clients.get(from)?.owner ?? from,
        // answers to the intruder are lost: it only talks
        deliver: (m, from) => this.nodes.get(m.to)?.receive(m, from),
        reply: (to, reply) => this.sendReply(id, to, reply),
        applied: (node, e, output) => this.applied(node, e, output),
        violation: (kind, message) => this.report(kind, message)
      }
      const node = new SimNode(id, env, nodePrng.fork())
      node.catchUpTicks = nodePrng.chance(0.5)
      this.nodes.set(id, node)
    }
    const clientEnv = {
      queue: this.queue,
      trace: this.trace,
      timing: DEFAULT_CLIENT_TIMING,
      nodes: this.nodeIds,
      send: (from: string, to: string, req: ClientRequest) => {
        this.network.send(from, to, () => this.node(to).receiveClient(req, from))
      },
      record: (r: HistoryRecord) => this.history.push(r),
      nextCid: () => simCid(this.cids++)
    }
    clientIds.forEach((id, i) => this.clients.set(id, new SimClient(id, `u${i + 1}`, clientEnv, clientPrng.fork())))
    // forked last, so that the other streams (and every run of the other scenarios) stay what they were
    this.intruder = new SimIntruder(root.fork())
    const spoofPrng = root.fork()
    spooferIds.forEach((id, i) => {
      // its connection says y<i>, a node without roles; every other command it sends names u1 as the owner
      this.clients.set(id, new SimClient(id, `y${i + 1}`, clientEnv, spoofPrng.fork(), 'u1'))
    })
  }

  run (): SimulationResult {
    const q = this.queue
    const stop = (): boolean => this.stopOnViolation && this.violations.length > 0
    for (const node of this.nodes.values()) {
      node.start()
    }
    for (const client of this.clients.values()) {
      client.start()
    }
    this.scheduleFaultStep()
    this.scheduleLeaderWatch()
    q.runUntil(this.scenario.faultMs, stop)

    if (!stop()) {
      this.healAll()
      const healAt = q.now
      // everything appended anywhere so far, durable or not: an entry past this one was proposed after the heal
      const indexAtHeal = Math.max(...[...this.nodes.values()].map(n => n.up ? n.raft.status().lastIndex : n.disk.storage.lastIndex()))
      const quorum = Math.floor(this.nodeIds.length / 2) + 1
      const bound = DEFAULT_LIVENESS_BOUND_TICKS * this.timing.tickMs
      const recovered = (): boolean => [...this.nodes.values()].filter(n => n.appliedIndex > indexAtHeal).length >= quorum
      q.runUntil(healAt + bound, () => stop() || recovered())
      if (recovered()) {
        this.stats.recoveryMs = Math.round(q.now - healAt)
      } else if (!stop()) {
        this.report('liveness', `no quorum committed a new entry within ${DEFAULT_LIVENESS_BOUND_TICKS} ticks of the heal (still at index ${indexAtHeal} or below on ${this.nodeIds.length - [...this.nodes.values()].filter(n => n.appliedIndex > indexAtHeal).length} nodes)`)
      }
      q.runUntil(Math.max(q.now, healAt + DEFAULT_TAIL_MS), stop)
      for (const client of this.clients.values()) {
        client.stop()
      }
      const idle = (): boolean => [...this.clients.values()].every(c => c.idle)
      q.runUntil(q.now + DEFAULT_CLIENT_TIMING.callDeadlineMs * 2, () => stop() || idle())
      if (!idle() && !stop()) {
        this.report('liveness', `clients still had calls under way ${Math.round(q.now - healAt)} ms after the heal`)
      }
      this.checkConvergence(bound)
    }
    for (const client of this.clients.values()) {
      client.abandon()
    }
    if (!stop()) {
      for (const failure of checkRefHistories(this.history)) {
        if (failure.ok === false) {
          this.report('linearizability', failure.message)
        } else if (failure.ok === 'inconclusive') {
          this.report('linearizability-inconclusive', failure.message)
        }
      }
    }
    return this.result()
  }

  private node (id: string): SimNode {
    const node = this.nodes.get(id)
    if (node === undefined) {
      throw new RangeError(`no node ${id}`)
    }
    return node
  }

  private sendReply (from: string, to: string, reply: ClientReply): void {
    const client = this.clients.get(to)
    if (client !== undefined) {
      this.network.send(from, to, () => client.receive(reply))
    }
  }

  private report (kind: ViolationKind, message: string): void {
    this.violations.push({ kind, message, at: this.queue.now })
    this.trace.add(this.queue.now, '!!', `VIOLATION ${kind}: ${message}`)
  }

  /**
   * Each index of the committed order goes to the lock checker once, as the first replica to apply it saw it.
   * Every later replica must get the same output from the same command: the state machine is deterministic, a
   * replica restored from a snapshot included (DESIGN §7).
   */
  private applied (node: string, e: Entry, output: ApplyOutput | undefined): void {
    const fingerprint = output === undefined ? '' : canonicalJson(output)
    if (e.index <= this.observedIndex) {
      const first = this.outputs[e.index]
      if (first !== undefined && first.fingerprint !== fingerprint) {
        this.report('state-machine-safety', `${node} applied entry ${e.index} with output ${fingerprint.slice(0, 300)}, but ${first.node} got ${first.fingerprint.slice(0, 300)}`)
      }
      return
    }
    this.outputs[e.index] = { node, fingerprint }
    this.observedIndex = e.index
    if (output === undefined) {
      return
    }
    const command = decodeCommand(e.data)
    if ('client' in command && command.client === INTRUDER_CLIENT) {
      this.report('non-member', `${node} applied, at ${e.index}, a ${command.type} forged by ${INTRUDER_ID}, which is not a voter`)
    }
    if (command.type !== 'lock.expire') {
      // identity: a command acts for the node whose connection sent it (the client owning the session)
      const sender = this.clients.get(command.client)
      if (sender !== undefined && command.owner !== sender.owner) {
        this.report('forged-identity', `${node} applied, at ${e.index}, a ${command.type} of session ${command.client} (sent by ${sender.owner}) as owner ${command.owner}`)
      }
      if (command.client !== INTRUDER_CLIENT && !this.honest.has(command.owner)) {
        this.report('unauthorized-command', `${node} applied, at ${e.index}, a ${command.type} of ${command.owner}, which lacks the ${COMMAND_ROLES[command.type]} role`)
      }
    }
    for (const v of this.locks.observe(e.index, command, output)) {
      this.report(v.kind, `${v.message} (applied on ${node})`)
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Faults

  private scheduleFaultStep (): void {
    this.queue.after(DEFAULT_FAULT_STEP_MS, () => {
      if (!this.faultsOn) {
        return
      }
      const rates = this.scenario.faultRates
      for (const kind of Object.keys(rates) as FaultKind[]) {
        if (this.faults.chance((rates[kind] ?? 0) * DEFAULT_FAULT_STEP_MS / 1000)) {
          this.inject(kind)
        }
      }
      this.scheduleFaultStep()
    })
  }

  private inject (kind: FaultKind): void {
    const f = this.faults
    const q = this.queue
    const up = [...this.nodes.values()].filter(n => n.up)
    if ((PARTITION_KINDS as readonly string[]).includes(kind)) {
      if (!this.partitioned) {
        this.partition(kind as PartitionKind, f.between(...this.scenario.partitionMs))
      }
      return
    }
    switch (kind) {
      case 'crash': {
        if (up.length === 0) {
          return
        }
        const leader = this.leader()
        const node = leader !== undefined && f.chance(0.5) ? leader : f.pick(up)
        this.stats.crashes++
        this.trace.add(q.now, node.id, node.crash())
        q.after(f.between(100, 3_000), () => this.restart(node))
        break
      }
      case 'pause': {
        if (up.length === 0) {
          return
        }
        const node = f.pick(up)
        const ms = f.between(100, 3_000)
        this.stats.pauses++
        node.pause(ms)
        this.trace.add(q.now, node.id, `paused for ${ms.toFixed(0)} ms`)
        break
      }
      case 'stall': {
        // the host froze every node at once (a hypervisor hiccup, a shared storage stall): their timers wake
        // together, which is when elections split
        const ms = f.between(300, 3_000)
        this.stats.pauses++
        for (const node of this.nodes.values()) {
          node.pause(ms)
        }
        this.trace.add(q.now, '--', `every node stalled for ${ms.toFixed(0)} ms`)
        break
      }
      case 'skew': {
        const node = f.pick([...this.nodes.values()])
        node.clockOffsetMs += f.between(-5_000, 5_000)
        node.clockDrift = f.between(-0.01, 0.01)
        this.stats.skews++
        this.trace.add(q.now, node.id, `lease clock skewed: offset ${node.clockOffsetMs.toFixed(0)} ms, drift ${(node.clockDrift * 100).toFixed(2)}%`)
        break
      }
      case 'intrude': {
        const target = f.pick(up.length > 0 ? up : [...this.nodes.values()])
        const messages = this.intruder.attack(target, target.leader, target.leaseNow())
        this.stats.intrusions++
        this.trace.add(q.now, INTRUDER_ID, `sends ${messages.map(m => `${m.type}(from ${m.from}, t${m.term})`).join(' ')} to ${target.id}`)
        for (const m of messages) {
          this.network.send(INTRUDER_ID, target.id, () => target.receive(m, INTRUDER_ID))
        }
        break
      }
      case 'transfer': {
        const leader = this.leader()
        if (leader !== undefined) {
          const to = f.pick(this.nodeIds.filter(id => id !== leader.id))
          this.stats.transfers++
          this.trace.add(q.now, leader.id, `asked to transfer leadership to ${to}`)
          leader.transferLeadership(to)
        }
        break
      }
    }
  }

  private restart (node: SimNode): void {
    if (node.up || (this.stopOnViolation && this.violations.length > 0)) {
      return
    }
    this.trace.add(this.queue.now, node.id, 'restarting from disk')
    node.start()
  }

  /** Start a partition of the given shape for `ms`, then heal it. */
  private partition (kind: PartitionKind, ms: number): void {
    const f = this.faults
    const net = this.network
    const ids = this.nodeIds
    const epoch = ++this.partitionEpoch
    this.partitioned = true
    this.stats.partitions++
    let what: string
    switch (kind) {
      case 'isolate': {
        const lone = this.leaderOr(f)
        net.partition([[lone], ids.filter(id => id !== lone)])
        what = `${lone} isolated`
        break
      }
      case 'split': {
        const shuffled = f.shuffled(ids)
        const minority = shuffled.slice(0, f.range(1, Math.floor((ids.length - 1) / 2)))
        const majority = shuffled.slice(minority.length)
        net.partition([minority, majority])
        what = `split {${minority.join(',')}} | {${majority.join(',')}}`
        break
      }
      case 'asymmetric': {
        const x = this.leaderOr(f)
        const inbound = f.chance(0.5)
        for (const other of ids) {
          if (other !== x) {
            if (inbound) {
              net.cutOneWay(other, x)
            } else {
              net.cutOneWay(x, other)
            }
          }
        }
        what = inbound ? `${x} hears nobody (others still hear it)` : `nobody hears ${x} (it still hears them)`
        break
      }
      case 'bridge': {
        const shuffled = f.shuffled(ids)
        const bridge = shuffled[0]
        const half = Math.floor((ids.length - 1) / 2)
        const left = shuffled.slice(1, 1 + half)
        const right = shuffled.slice(1 + half)
        net.partition([left, right])
        what = `{${left.join(',')}} and {${right.join(',')}} reach each other only through ${bridge}`
        break
      }
      case 'flapping': {
        const x = this.leaderOr(f)
        const flap = (cut: boolean): void => {
          if (this.partitionEpoch !== epoch) {
            return
          }
          if (cut) {
            net.partition([[x], ids.filter(id => id !== x)])
          } else {
            net.heal()
          }
          this.queue.after(f.between(50, 400), () => flap(!cut))
        }
        flap(true)
        what = `${x}'s links flapping`
        break
      }
    }
    this.trace.add(this.queue.now, '--', `partition (${kind}): ${what} for ${ms.toFixed(0)} ms`)
    this.queue.after(ms, () => {
      if (this.partitionEpoch === epoch) {
        this.healPartition()
      }
    })
  }

  private healPartition (): void {
    this.partitionEpoch++
    this.partitioned = false
    this.network.heal()
    this.trace.add(this.queue.now, '--', 'partition healed')
  }

  /** The end of the fault phase: links healed, network calm, every crashed node restarted. */
  private healAll (): void {
    this.faultsOn = false
    this.healPartition()
    this.network.faults = { ...CALM_NETWORK }
    for (const node of this.nodes.values()) {
      if (!node.up) {
        this.restart(node)
      }
    }
    this.trace.add(this.queue.now, '--', 'faults off: network healed and calm, every node up')
  }

  /** The current leader half the time (the interesting target), any node otherwise. */
  private leaderOr (f: Prng): string {
    const leader = this.leader()
    return leader !== undefined && f.chance(0.5) ? leader.id : f.pick(this.nodeIds)
  }

  private leader (): SimNode | undefined {
    let best: SimNode | undefined
    for (const n of this.nodes.values()) {
      if (n.up && n.role === 'leader' && (best === undefined || n.term > best.term)) {
        best = n
      }
    }
    return best
  }

  // ------------------------------------------------------------------------------------------------------
  // Checks over time

  /**
   * Thesis §6.2: a leader that cannot exchange messages with a majority (links cut, peers down or frozen)
   * must step down, so that a minority never keeps a leader that clients would wait on forever.
   */
  private scheduleLeaderWatch (): void {
    this.queue.after(this.timing.tickMs, () => {
      const bound = DEFAULT_STALE_LEADER_TICKS * this.timing.tickMs
      const quorum = Math.floor(this.nodeIds.length / 2) + 1
      for (const n of this.nodes.values()) {
        if (!n.up || n.paused || n.role !== 'leader') {
          this.cutOffSince.delete(n.id)
          continue
        }
        const peers = [...this.nodes.values()].filter(p => p.up && !p.paused && this.network.reaches(n.id, p.id) && this.network.reaches(p.id, n.id))
        if (peers.length >= quorum) {
          this.cutOffSince.delete(n.id)
          continue
        }
        const since = this.cutOffSince.get(n.id)
        if (since === undefined) {
          this.cutOffSince.set(n.id, this.queue.now)
        } else if (this.queue.now - since > bound) {
          this.report('stale-leader', `${n.id} has been leader of term ${n.term} for ${Math.round(this.queue.now - since)} ms without a majority it can exchange messages with`)
          this.cutOffSince.delete(n.id)
        }
      }
      this.scheduleLeaderWatch()
    })
  }

  /** After the clients stop: every node catches up, and replicas at the same index hold the same state. */
  private checkConvergence (boundMs: number): void {
    const q = this.queue
    const nodes = [...this.nodes.values()]
    const target = Math.max(...nodes.map(n => n.appliedIndex))
    const caughtUp = (): boolean => nodes.every(n => n.appliedIndex >= target && n.appliedIndex === nodes[0].appliedIndex)
    q.runUntil(q.now + boundMs, () => (this.stopOnViolation && this.violations.length > 0) || caughtUp())
    if (this.stopOnViolation && this.violations.length > 0) {
      return
    }
    if (!caughtUp()) {
      this.report('convergence', `within ${boundMs} ms after the clients stopped, not every node applied index ${target}: ${nodes.map(n => `${n.id}@${n.appliedIndex}`).join(' ')}`)
      return
    }
    const reference = nodes[0].sm.snapshot()
    for (const n of nodes.slice(1)) {
      const mine = n.sm.snapshot()
      if (mine.byteLength !== reference.byteLength || mine.some((b, i) => b !== reference[i])) {
        this.report('convergence', `${n.id} and ${nodes[0].id} both applied up to ${target} but hold different refs+locks state`)
      }
    }
  }

  private result (): SimulationResult {
    const s = this.stats
    s.virtualMs = Math.round(this.queue.now)
    s.elections = this.checker.leaders.size
    s.messages = this.network.stats.sent
    s.dropped = this.network.stats.dropped
    s.duplicated = this.network.stats.duplicated
    s.committed = this.checker.appliedIndex
    for (const n of this.nodes.values()) {
      s.snapshotsTaken += n.snapshotsTaken
      s.snapshotsInstalled += n.snapshotsInstalled
    }
    for (const c of this.clients.values()) {
      s.opsOk += c.stats.ok
      s.opsFailed += c.stats.failed
      s.opsUnknown += c.stats.unknown
    }
    s.ops = s.opsOk + s.opsFailed + s.opsUnknown
    return {
      seed: this.options.seed,
      scenario: this.scenario.name,
      mutant: this.options.mutant,
      violations: this.violations,
      stats: s,
      trace: this.trace.lines(),
      history: this.history
    }
  }
}

/**
 * JSON with object keys sorted: a replica restored from a snapshot holds objects decoded from dag-cbor, whose
 * keys come back in canonical order rather than in the order the live replica created them.
 */
function canonicalJson (value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value) ?? 'undefined'
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonicalJson).join(',')}]`
  }
  const obj = value as Record<string, unknown>
  return `{${Object.keys(obj).sort().map(k => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`
}
