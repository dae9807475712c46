/**
 * A tiny deterministic network of RaftNodes for the specs (in the spirit of etcd-io/raft's raft_test.go
 * `network`): each node has a MemoryStorage that its Ready is "persisted" to synchronously, a toy state machine
 * (the list of applied commands), and checkers that record every safety violation they see:
 * election safety, log matching, state-machine safety, read linearizability, and two rules about durable state
 * (a vote never changes within its term; a leader commits only entries of its own term).
 */

import { MemoryStorage, RaftNode, seededRandom } from '../../../src/raft/index.ts'
import type { Entry, HardState, Message, RaftConfig, ReadState, Role, Status } from '../../../src/raft/index.ts'

export type NodeOptions = Partial<Omit<RaftConfig, 'id' | 'storage' | 'voters' | 'random'>>

export interface NetworkOptions {
  /** founding voters; they bootstrap the group */
  ids: string[]
  /** nodes that start empty and wait to be added */
  joiners?: string[]
  seed?: number
  raft?: NodeOptions
  /** per-node overrides (e.g. a mutant on one node only) */
  perNode?: Record<string, NodeOptions>
  /** prepared storages (hand-made logs); these nodes do not bootstrap */
  storages?: Record<string, MemoryStorage>
}

export class SimNode {
  readonly id: string
  readonly storage: MemoryStorage
  raft!: RaftNode
  /** the state machine: applied normal commands, in order */
  values: string[] = []
  appliedIndex = 0
  readStates: ReadState[] = []
  role: Role = 'follower'

  constructor (id: string, storage: MemoryStorage) {
    this.id = id
    this.storage = storage
    const snap = storage.snapshot()
    this.values = snap.index > 0 ? JSON.parse(text(snap.data)) : []
    this.appliedIndex = snap.index
  }

  status (): Status {
    return this.raft.status()
  }
}

const enc = new TextEncoder()
const dec = new TextDecoder()

export function bytes (s: string): Uint8Array {
  return enc.encode(s)
}

export function text (b: Uint8Array): string {
  return dec.decode(b)
}

export class Network {
  readonly nodes = new Map<string, SimNode>()
  inFlight: Message[] = []
  readonly rng: () => number
  readonly violations: string[] = []
  /** every message ever sent, for assertions on traffic */
  readonly sent: Message[] = []
  private readonly blocked = new Set<string>()
  private readonly options: NetworkOptions
  private readonly leaders = new Map<number, string>()
  private readonly appliedAt = new Map<number, string>()
  private readonly pendingReads = new Map<string, number>()
  /** drop every message for which this returns true */
  dropIf: ((m: Message) => boolean) | undefined

  constructor (options: NetworkOptions) {
    this.options = options
    this.rng = seededRandom(options.seed ?? 1)
    for (const id of options.ids) {
      this.addNode(id, options.ids)
    }
    for (const id of options.joiners ?? []) {
      this.addNode(id, [])
    }
    this.processAll()
  }

  private nodeConfig (id: string): NodeOptions {
    return { ...this.options.raft, ...this.options.perNode?.[id] }
  }

  private addNode (id: string, voters: string[]): void {
    const prepared = this.options.storages?.[id]
    const n = new SimNode(id, prepared ?? new MemoryStorage())
    const seed = Math.floor(this.rng() * 2 ** 32)
    n.raft = new RaftNode({ id, storage: n.storage, voters: prepared === undefined ? voters : [], random: seededRandom(seed), ...this.nodeConfig(id) })
    this.nodes.set(id, n)
  }

  node (id: string): SimNode {
    const n = this.nodes.get(id)
    if (n === undefined) {
      throw new Error(`no node ${id}`)
    }
    return n
  }

  raft (id: string): RaftNode {
    return this.node(id).raft
  }

  /** Crash and restart `id`: everything persisted survives, volatile state and in-flight output is lost. */
  restart (id: string, overrides: NodeOptions = {}): void {
    const n = this.node(id)
    const snap = n.storage.snapshot()
    n.values = snap.index > 0 ? JSON.parse(text(snap.data)) : []
    n.appliedIndex = snap.index
    n.readStates = []
    n.role = 'follower'
    const seed = Math.floor(this.rng() * 2 ** 32)
    n.raft = new RaftNode({ id, storage: n.storage, random: seededRandom(seed), ...this.nodeConfig(id), ...overrides })
    this.process(id)
  }

  // --- links -------------------------------------------------------------------------------------------------

  /** Cut the links between `a` and `b`, both directions. */
  cut (a: string, b: string): void {
    this.blocked.add(`${a}>${b}`)
    this.blocked.add(`${b}>${a}`)
  }

  /** Cut `id` off from everyone. */
  isolate (id: string): void {
    for (const other of this.nodes.keys()) {
      if (other !== id) {
        this.cut(id, other)
      }
    }
  }

  /** Split into groups that cannot talk to each other. */
  partition (...groups: string[][]): void {
    for (const g of groups) {
      for (const h of groups) {
        if (g !== h) {
          for (const a of g) {
            for (const b of h) {
              this.blocked.add(`${a}>${b}`)
            }
          }
        }
      }
    }
  }

  heal (): void {
    this.blocked.clear()
  }

  private canReach (from: string, to: string): boolean {
    return !this.blocked.has(`${from}>${to}`) && this.nodes.has(to)
  }

  // --- driving -----------------------------------------------------------------------------------------------

  /** Run `id`'s Ready loop: persist, queue messages, apply, check. */
  process (id: string): void {
    const n = this.node(id)
    while (n.raft.hasReady()) {
      const rd = n.raft.ready()
      if (rd.softState !== undefined) {
        n.role = rd.softState.role
      }
      if (rd.snapshot !== undefined) {
        n.storage.applySnapshot(rd.snapshot)
      }
      n.storage.append(rd.entries)
      if (rd.hardState !== undefined) {
        this.checkHardState(n, rd.hardState)
        n.storage.setHardState(rd.hardState)
      }
      for (const m of rd.messages) {
        this.sent.push(m)
        this.inFlight.push(m)
      }
      if (rd.snapshot !== undefined) {
        n.values = JSON.parse(text(rd.snapshot.data))
        n.appliedIndex = rd.snapshot.index
      }
      for (const e of rd.committedEntries) {
        this.apply(n, e)
      }
      for (const rs of rd.readStates) {
        this.checkRead(n, rs)
        n.readStates.push(rs)
      }
      n.raft.advance()
      this.checkLeader(n)
    }
  }

  processAll (): void {
    for (const id of this.nodes.keys()) {
      this.process(id)
    }
  }

  private apply (n: SimNode, e: Entry): void {
    const key = `${e.term}/${e.type}/${text(e.data)}`
    const seen = this.appliedAt.get(e.index)
    if (seen === undefined) {
      this.appliedAt.set(e.index, key)
    } else if (seen !== key) {
      this.violations.push(`state-machine safety: ${n.id} applied ${key} at ${e.index}, another node applied ${seen}`)
    }
    if (e.index !== n.appliedIndex + 1) {
      this.violations.push(`${n.id} applied ${e.index} after ${n.appliedIndex}`)
    }
    n.appliedIndex = e.index
    if (e.type === 'normal') {
      n.values.push(text(e.data))
    }
  }

  /**
   * Two rules about durable state (Raft Figure 2 and §5.4.2): a vote, once persisted, never changes within its
   * term; and a leader advances its commit index only to an entry of its own term.
   */
  private checkHardState (n: SimNode, hs: HardState): void {
    const prev = n.storage.initialState()
    if (hs.term === prev.term && prev.vote !== '' && hs.vote !== prev.vote) {
      this.violations.push(`vote: ${n.id} voted for ${prev.vote} in term ${hs.term}, then for ${hs.vote === '' ? 'nobody' : hs.vote}`)
    }
    const st = n.raft.status()
    if (st.role === 'leader' && hs.commit > prev.commit && hs.term === st.term) {
      const term = n.storage.lastIndex() >= hs.commit ? n.storage.term(hs.commit) : undefined
      if (term !== undefined && term !== hs.term) {
        this.violations.push(`commit rule: leader ${n.id} of term ${hs.term} committed index ${hs.commit} of term ${term}`)
      }
    }
  }

  private checkLeader (n: SimNode): void {
    const st = n.raft.status()
    if (st.role !== 'leader') {
      return
    }
    const other = this.leaders.get(st.term)
    if (other === undefined) {
      this.leaders.set(st.term, n.id)
    } else if (other !== n.id) {
      this.violations.push(`election safety: ${other} and ${n.id} are both leaders of term ${st.term}`)
    }
  }

  /** Deliver the in-flight message at position `i` (removing it). */
  deliverAt (i: number): void {
    const [m] = this.inFlight.splice(i, 1)
    this.deliver(m)
  }

  /** Deliver one message now (subject to cuts and `dropIf`); the simulator copies, so do we. */
  deliver (m: Message): void {
    if (!this.canReach(m.from, m.to) || this.dropIf?.(m) === true) {
      return
    }
    this.guard(m.to, () => {
      this.node(m.to).raft.step(structuredClone(m))
      this.process(m.to)
    })
  }

  /**
   * A message that really comes from `remote` (a peer outside the group, or one forging `from`), delivered as
   * a shell would: only if the core admits it (src/raft/membership.ts). Returns whether it was stepped.
   */
  inject (m: Message, remote: string): boolean {
    const raft = this.node(m.to).raft
    if (raft.refuse(m, remote) !== undefined) {
      return false
    }
    this.guard(m.to, () => {
      raft.step(structuredClone(m))
      this.process(m.to)
    })
    return true
  }

  /** Run `fn` against node `id`; an exception (the core refusing an impossible state) is a violation. */
  guard (id: string, fn: () => void): void {
    try {
      fn()
    } catch (err: any) {
      this.violations.push(`${id} threw ${String(err?.name)}: ${String(err?.message)}`)
    }
  }

  /** Deliver in FIFO order until nothing is in flight (or `maxMessages` were delivered). */
  stabilize (maxMessages = 100_000): void {
    let n = 0
    while (this.inFlight.length > 0 && n++ < maxMessages) {
      this.deliverAt(0)
    }
  }

  /** Drop everything in flight. */
  dropAll (): void {
    this.inFlight = []
  }

  tick (id: string, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.guard(id, () => {
        this.raft(id).tick()
        this.process(id)
      })
    }
  }

  /** Tick every node `times` times, delivering all messages after each round. */
  tickAll (times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.nodes.keys()) {
        this.tick(id)
      }
      this.stabilize()
    }
  }

  /** Make `id` campaign and deliver until quiet. */
  elect (id: string): void {
    this.raft(id).campaign()
    this.process(id)
    this.stabilize()
  }

  propose (id: string, value: string): void {
    this.raft(id).propose(bytes(value))
    this.process(id)
  }

  /** Snapshot `id`'s state machine at its applied index and compact its log up to there (Raft §7). */
  compact (id: string): void {
    const n = this.node(id)
    const snap = n.raft.createSnapshot(n.appliedIndex, bytes(JSON.stringify(n.values)))
    n.storage.createSnapshot(snap)
    n.storage.compact(snap.index)
  }

  /** Issue a read on `id`, remembering the highest commit index any node knew, which the answer must cover. */
  read (id: string, ctx: string): void {
    this.pendingReads.set(ctx, Math.max(...[...this.nodes.values()].map(n => n.raft.status().commit)))
    this.raft(id).readIndex(bytes(ctx))
    this.process(id)
  }

  private checkRead (n: SimNode, rs: ReadState): void {
    const ctx = text(rs.ctx)
    const floor = this.pendingReads.get(ctx)
    if (floor !== undefined && rs.index < floor) {
      this.violations.push(`linearizability: read ${ctx} on ${n.id} answered at ${rs.index}, but ${floor} was committed when it was issued`)
    }
  }

  /** The leaders right now (normally one, or none). */
  leadersNow (): string[] {
    return [...this.nodes.values()].filter(n => n.raft.status().role === 'leader').map(n => n.id)
  }

  /** The leader with the highest term, if any. */
  leader (): string | undefined {
    let best: Status | undefined
    for (const n of this.nodes.values()) {
      const st = n.raft.status()
      if (st.role === 'leader' && (best === undefined || st.term > best.term)) {
        best = st
      }
    }
    return best?.id
  }

  /** Log matching (Raft §5.3): if two persisted logs hold an entry with the same index and term, they agree up to it. */
  checkLogMatching (): void {
    const logs = [...this.nodes.values()].map(n => ({ id: n.id, log: persistedLog(n.storage) }))
    for (let i = 0; i < logs.length; i++) {
      for (let j = i + 1; j < logs.length; j++) {
        const a = logs[i]
        const b = logs[j]
        const lo = Math.max(a.log.first, b.log.first)
        const hi = Math.min(a.log.last, b.log.last)
        let matched = false
        for (let idx = hi; idx >= lo; idx--) {
          const ea = a.log.at(idx)
          const eb = b.log.at(idx)
          if (!matched && ea.term === eb.term) {
            matched = true
          }
          if (matched && (ea.term !== eb.term || text(ea.data) !== text(eb.data) || ea.type !== eb.type)) {
            this.violations.push(`log matching: ${a.id} and ${b.id} agree on a later entry but differ at ${idx}`)
            return
          }
        }
      }
    }
  }

  /** The commands `id` has applied, in order. */
  valuesOf (id: string): string[] {
    return this.node(id).values
  }
}

function persistedLog (storage: MemoryStorage): { first: number, last: number, at: (i: number) => Entry } {
  const first = storage.firstIndex()
  const last = storage.lastIndex()
  const entries = last >= first ? storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : []
  return { first, last, at: (i: number) => entries[i - first] }
}
