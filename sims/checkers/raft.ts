/**
 * Raft safety checkers (Raft §5.2-§5.4, Figure 3), fed by the simulated shell as each node persists, applies
 * and answers reads. They keep what the whole cluster has seen — leaders per term, every persisted entry by
 * (index, term), every applied entry by index — so each check is O(1) per event, apart from leader
 * completeness, which walks the committed log once per new leader.
 */

import { NONE } from '../../src/raft/index.ts'
import type { ViolationKind } from './violations.ts'
import type { Entry, HardState, MemoryStorage, ReadState } from '../../src/raft/index.ts'

interface LoggedEntry {
  type: Entry['type']
  data: Uint8Array
  /** term of the entry before it in the log that held it */
  prevTerm: number
  node: string
}

interface CommittedEntry {
  term: number
  type: Entry['type']
  data: Uint8Array
  node: string
  /**
   * The highest term any node had persisted when this entry was first applied: the entry was committed in
   * that term or an earlier one, so every leader of a later term must hold it (Raft §5.4, leader completeness).
   */
  committedBy: number
}

export class RaftSafetyChecker {
  /** highest commit index any node has persisted: everything up to it is committed */
  maxCommit = 0
  /** leaders elected, per term */
  readonly leaders = new Map<number, string>()
  private maxTerm = 0
  private readonly logged = new Map<string, LoggedEntry>()
  private readonly committed: CommittedEntry[] = []
  private readonly readFloors = new Map<string, number>()

  constructor (private readonly report: (kind: ViolationKind, message: string) => void) {}

  /** Election safety (Raft §5.2): at most one leader per term. */
  leaderElected (node: string, term: number): void {
    const other = this.leaders.get(term)
    if (other === undefined) {
      this.leaders.set(term, node)
    } else if (other !== node) {
      this.report('election-safety', `${other} and ${node} are both leaders of term ${term}`)
    }
  }

  /**
   * A node's Ready was persisted: `prev` is the hard state it had persisted before, `storage` now holds the
   * Ready's entries and hard state. Checks the two durable-state rules and log matching.
   */
  persisted (node: string, storage: MemoryStorage, prev: HardState, hs: HardState | undefined, entries: Entry[], leaderTerm: number | undefined): void {
    if (entries.length > 0) {
      this.logMatching(node, storage, entries)
    }
    if (hs === undefined) {
      return
    }
    this.maxTerm = Math.max(this.maxTerm, hs.term)
    this.maxCommit = Math.max(this.maxCommit, hs.commit)
    // Raft Figure 2: votedFor is persisted so that a node votes at most once per term, restarts included.
    if (hs.term === prev.term && prev.vote !== NONE && hs.vote !== prev.vote) {
      this.report('vote-changed', `${node} voted for ${prev.vote} in term ${hs.term}, then persisted ${hs.vote === NONE ? 'no vote' : `a vote for ${hs.vote}`} in the same term`)
    }
    if (hs.term < prev.term) {
      this.report('vote-changed', `${node} persisted term ${hs.term} after term ${prev.term}`)
    }
    // Raft §5.4.2: a leader only counts replicas to commit an entry of its own term.
    if (leaderTerm === hs.term && hs.commit > prev.commit && hs.commit >= storage.firstIndex() && hs.commit <= storage.lastIndex()) {
      const term = storage.term(hs.commit)
      if (term !== hs.term) {
        this.report('commit-rule', `leader ${node} of term ${hs.term} advanced its commit index to ${hs.commit}, an entry of term ${term}`)
      }
    }
  }

  /** Log matching (Raft §5.3): two logs holding an entry with the same index and term agree on it and on everything before it. */
  private logMatching (node: string, storage: MemoryStorage, entries: Entry[]): void {
    const first = entries[0].index
    let prevTerm = first - 1 >= storage.firstIndex() - 1 ? storage.term(first - 1) : -1
    for (const e of entries) {
      if (e.index < storage.firstIndex()) {
        prevTerm = e.term
        continue
      }
      const key = `${e.index}/${e.term}`
      const seen = this.logged.get(key)
      if (seen === undefined) {
        this.logged.set(key, { type: e.type, data: e.data, prevTerm, node })
      } else if (!sameEntry(seen, e)) {
        this.report('log-matching', `${node} and ${seen.node} hold different entries at index ${e.index} of term ${e.term}`)
      } else if (prevTerm !== -1 && seen.prevTerm !== -1 && prevTerm !== seen.prevTerm) {
        this.report('log-matching', `${node} and ${seen.node} agree on entry ${e.index} of term ${e.term} but not on the entry before it (terms ${prevTerm} and ${seen.prevTerm})`)
      }
      prevTerm = e.term
    }
  }

  /** State-machine safety (Raft §5.4.3): no two nodes apply different entries at one index. */
  applied (node: string, e: Entry): void {
    const seen = this.committed[e.index]
    if (seen === undefined) {
      this.committed[e.index] = { term: e.term, type: e.type, data: e.data, node, committedBy: this.maxTerm }
    } else if (seen.term !== e.term || !sameEntry(seen, e)) {
      this.report('state-machine-safety', `${node} applied entry ${e.index} of term ${e.term}, but ${seen.node} applied a different entry of term ${seen.term} there`)
    }
  }

  /**
   * Leader completeness (Raft §5.4.1): the new leader of `term` holds every entry committed in an earlier
   * term. Called once its first Ready as leader is persisted, so that `storage` holds its whole log.
   */
  newLeaderLog (node: string, term: number, storage: MemoryStorage): void {
    const snapshot = storage.snapshot()
    const last = storage.lastIndex()
    for (let i = Math.max(1, snapshot.index + 1); i < this.committed.length; i++) {
      const c = this.committed[i]
      if (c === undefined || c.committedBy >= term) {
        continue
      }
      if (i > last) {
        this.report('leader-completeness', `${node} became leader of term ${term} with a log ending at ${last}, without the entry ${i} of term ${c.term} committed before`)
        return
      }
      if (i >= storage.firstIndex() && storage.term(i) !== c.term) {
        this.report('leader-completeness', `${node} became leader of term ${term} with entry ${i} of term ${storage.term(i)}, but an entry of term ${c.term} was committed there`)
        return
      }
    }
  }

  /** A read issued now must be answered at an index covering everything committed now (thesis §6.4). */
  readIssued (ctx: string): void {
    this.readFloors.set(ctx, this.maxCommit)
  }

  readAnswered (node: string, ctx: string, rs: ReadState): void {
    const floor = this.readFloors.get(ctx)
    if (floor !== undefined && rs.index < floor) {
      this.report('read-index', `${node} answered read ${ctx} at index ${rs.index}, but ${floor} was committed when the read was issued`)
    }
    this.readFloors.delete(ctx)
  }

  /** Entries applied by some node, for the summary. */
  get appliedIndex (): number {
    return this.committed.length - 1
  }
}

function sameEntry (a: { type: Entry['type'], data: Uint8Array }, b: Entry): boolean {
  if (a.type !== b.type) {
    return false
  }
  if (a.data === b.data) {
    return true
  }
  if (a.data.byteLength !== b.data.byteLength) {
    return false
  }
  for (let i = 0; i < a.data.byteLength; i++) {
    if (a.data[i] !== b.data[i]) {
      return false
    }
  }
  return true
}
