/**
 * Client sessions for exactly-once commands (Raft thesis §6.3): per client id, the results of its newest
 * sequence numbers, so a retried `(client, seq)` gets its first result instead of being applied again.
 *
 * Bounds, both deterministic so every replica drops the same things:
 * - per client, the results of the newest `window` sequence numbers. `floor` remembers the highest one
 *   dropped; a command at or below it may or may not have been applied, so it is refused
 *   (SessionExpiredError) rather than guessed at. Sequence numbers above the floor may commit out of order.
 * - at most `maxSessions` clients; past that the least recently active one is dropped (activity = the log
 *   index of its last applied command; the map is kept in that order). A dropped client that comes back is a
 *   new session: a retry of a command it issued before being dropped would be applied again. With the
 *   default bound, that takes thousands of other clients active in between — far longer than a client retries.
 */
import type { CommandResult } from './types.ts'

interface Session {
  /** applied sequence numbers and their results, ascending by seq, at most `window` of them */
  results: Array<{ seq: number, result: CommandResult }>
  /** the highest sequence number whose result was dropped; -1 while none was */
  floor: number
}

export type SessionLookup =
  | { kind: 'new' }
  | { kind: 'duplicate', result: CommandResult }
  | { kind: 'expired', floor: number }

/** Sessions as stored in a snapshot, least recently active first. */
export type SessionsData = Array<[client: string, floor: number, results: Array<[seq: number, result: CommandResult]>]>

export class SessionTable {
  private readonly sessions = new Map<string, Session>()

  constructor (readonly maxSessions: number, readonly window: number) {}

  lookup (client: string, seq: number): SessionLookup {
    const session = this.sessions.get(client)
    if (session === undefined) return { kind: 'new' }
    const hit = session.results.find(r => r.seq === seq)
    if (hit !== undefined) return { kind: 'duplicate', result: hit.result }
    if (seq <= session.floor) return { kind: 'expired', floor: session.floor }
    return { kind: 'new' }
  }

  /** Remember the result of a newly applied `(client, seq)` and mark the client most recently active. */
  record (client: string, seq: number, result: CommandResult): void {
    let session = this.sessions.get(client)
    if (session === undefined) {
      session = { results: [], floor: -1 }
    } else {
      this.sessions.delete(client)
    }
    this.sessions.set(client, session)
    const at = session.results.findIndex(r => r.seq > seq)
    session.results.splice(at === -1 ? session.results.length : at, 0, { seq, result })
    while (session.results.length > this.window) {
      const dropped = session.results.shift()
      if (dropped !== undefined) session.floor = Math.max(session.floor, dropped.seq)
    }
    while (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value
      if (oldest === undefined) break
      this.sessions.delete(oldest)
    }
  }

  /** Replace the stored result of `(client, seq)` if still kept: a queued acquire that reached its outcome. */
  resolve (client: string, seq: number, result: CommandResult): void {
    const hit = this.sessions.get(client)?.results.find(r => r.seq === seq)
    if (hit !== undefined) hit.result = result
  }

  get size (): number {
    return this.sessions.size
  }

  toData (): SessionsData {
    return [...this.sessions].map(([client, s]) => [client, s.floor, s.results.map(r => [r.seq, r.result])])
  }

  static fromData (data: SessionsData, maxSessions: number, window: number): SessionTable {
    const table = new SessionTable(maxSessions, window)
    for (const [client, floor, results] of data) {
      table.sessions.set(client, { floor, results: results.map(([seq, result]) => ({ seq, result })) })
    }
    return table
  }
}
