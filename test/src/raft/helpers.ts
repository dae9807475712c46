/**
 * Helpers for single-node specs: hand-made logs and a Ready loop that persists into MemoryStorage.
 */

import { MemoryStorage, RaftNode } from '../../../src/raft/index.ts'
import type { Entry, Message, ReadState, SoftState } from '../../../src/raft/index.ts'
import type { NodeOptions } from './network.ts'

const enc = new TextEncoder()

/** Entries with the given terms at indexes 1, 2, ... (data "e<index>"). */
export function ents (...terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, type: 'normal', data: enc.encode(`e${i + 1}`) }))
}

export interface Prepared {
  voters: string[]
  log?: Entry[]
  term?: number
  vote?: string
  commit?: number
}

/** A storage holding an initial configuration (snapshot at index 0), a log and a hard state. */
export function prepareStorage (p: Prepared): MemoryStorage {
  const storage = new MemoryStorage()
  storage.applySnapshot({ index: 0, term: 0, voters: p.voters, data: new Uint8Array(0) })
  storage.append(p.log ?? [])
  storage.setHardState({ term: p.term ?? 0, vote: p.vote ?? '', commit: p.commit ?? 0 })
  return storage
}

export interface TestRaft {
  raft: RaftNode
  storage: MemoryStorage
}

export function newRaft (id: string, p: Prepared, options: NodeOptions & { random?: () => number } = {}): TestRaft {
  const storage = prepareStorage(p)
  // a fixed "random" gives the minimal timeout unless a test injects its own
  const raft = new RaftNode({ id, storage, random: () => 0, ...options })
  return { raft, storage }
}

export interface Drained {
  messages: Message[]
  committed: Entry[]
  readStates: ReadState[]
  softStates: SoftState[]
}

/** Run the Ready loop to completion, persisting into storage; returns everything it produced. */
export function drain ({ raft, storage }: TestRaft): Drained {
  const out: Drained = { messages: [], committed: [], readStates: [], softStates: [] }
  while (raft.hasReady()) {
    const rd = raft.ready()
    if (rd.snapshot !== undefined) {
      storage.applySnapshot(rd.snapshot)
    }
    storage.append(rd.entries)
    if (rd.hardState !== undefined) {
      storage.setHardState(rd.hardState)
    }
    if (rd.softState !== undefined) {
      out.softStates.push(rd.softState)
    }
    out.messages.push(...rd.messages)
    out.committed.push(...rd.committedEntries)
    out.readStates.push(...rd.readStates)
    raft.advance()
  }
  return out
}

/** Every entry a storage holds. */
export function storedLog (storage: MemoryStorage): Entry[] {
  const first = storage.firstIndex()
  const last = storage.lastIndex()
  return last >= first ? storage.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : []
}

/** The whole log (storage after draining). */
export function logOf (t: TestRaft): Entry[] {
  drain(t)
  return storedLog(t.storage)
}

/** Messages of one type. */
export function ofType (messages: Message[], type: Message['type']): Message[] {
  return messages.filter(m => m.type === type)
}

/** Make `t` leader of `voters` by campaigning and feeding it (pre-)vote grants from everyone. */
export function makeLeader (t: TestRaft, voters: string[]): Drained {
  t.raft.campaign()
  drain(t)
  if (t.raft.status().role === 'pre-candidate') {
    const future = t.raft.status().term + 1
    for (const v of voters) {
      if (v !== t.raft.id) {
        t.raft.step({ type: 'PreVoteResp', from: v, to: t.raft.id, term: future })
      }
    }
    drain(t)
  }
  const { term } = t.raft.status()
  for (const v of voters) {
    if (v !== t.raft.id) {
      t.raft.step({ type: 'VoteResp', from: v, to: t.raft.id, term })
    }
  }
  return drain(t)
}
