/**
 * The ref table: name → CID, and each name's append-only log of changes (DESIGN §7). Storage only; the
 * compare-and-swap and fencing rules live in the state machine, which sees locks as well.
 *
 * Each name's log keeps its newest `maxLogEntries` entries and counts the ones it dropped, so a busy ref
 * cannot grow snapshots without bound. The log of a deleted ref is kept (it says who deleted it, and when),
 * and continues if the name is set again.
 */
import type { RefLogEntry, RefRecord } from './types.ts'

interface RefLog {
  dropped: number
  entries: RefLogEntry[]
}

/** The ref table as stored in a snapshot, in insertion order. */
export interface RefsData {
  refs: RefRecord[]
  logs: Array<[name: string, dropped: number, entries: RefLogEntry[]]>
}

export class RefTable {
  private readonly refs = new Map<string, RefRecord>()
  private readonly logs = new Map<string, RefLog>()

  constructor (readonly maxLogEntries: number) {}

  get (name: string): RefRecord | undefined {
    return this.refs.get(name)
  }

  /** Point `name` at `cid`, or delete it when `cid` is null, and log the change. */
  write (name: string, cid: string | null, who: string, when: number, token: number | null, index: number, user?: string): void {
    const old = this.refs.get(name)?.cid ?? null
    if (cid === null) {
      this.refs.delete(name)
    } else {
      this.refs.set(name, withUser({ name, cid, index, when, who, token }, user))
    }
    let log = this.logs.get(name)
    if (log === undefined) {
      log = { dropped: 0, entries: [] }
      this.logs.set(name, log)
    }
    log.entries.push(withUser({ old, new: cid, who, when, token, index }, user))
    if (log.entries.length > this.maxLogEntries) {
      const excess = log.entries.length - this.maxLogEntries
      log.entries.splice(0, excess)
      log.dropped += excess
    }
  }

  /** Refs whose name starts with `prefix` (a plain string prefix, '' for all), sorted by name. */
  list (prefix: string): RefRecord[] {
    const out: RefRecord[] = []
    for (const ref of this.refs.values()) {
      if (ref.name.startsWith(prefix)) out.push({ ...ref })
    }
    return out.sort((a, b) => compareStrings(a.name, b.name))
  }

  log (name: string): { entries: RefLogEntry[], dropped: number } {
    const log = this.logs.get(name)
    return { entries: log?.entries.map(e => ({ ...e })) ?? [], dropped: log?.dropped ?? 0 }
  }

  toData (): RefsData {
    return {
      refs: [...this.refs.values()],
      logs: [...this.logs].map(([name, log]) => [name, log.dropped, log.entries])
    }
  }

  static fromData (data: RefsData, maxLogEntries: number): RefTable {
    const table = new RefTable(maxLogEntries)
    for (const ref of data.refs) table.refs.set(ref.name, ref)
    for (const [name, dropped, entries] of data.logs) table.logs.set(name, { dropped, entries })
    return table
  }
}

/** `record` with the unverified `user` label, when there is one (absent rather than undefined: results stay JSON-like). */
export function withUser<T extends object> (record: T, user: string | undefined): T & { user?: string } {
  return user === undefined ? record : { ...record, user }
}

/** Code-unit order: the same on every replica, whatever its locale. */
export function compareStrings (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
