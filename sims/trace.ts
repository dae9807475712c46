/**
 * A ring buffer of the run's last events, formatted only when someone asks (a failing seed, `--trace N`):
 * recording must cost next to nothing, since a run records tens of thousands of events and almost never prints.
 */

import type { Message } from '../src/raft/index.ts'

/** Events kept for the trace printed with a failure. */
export const DEFAULT_TRACE_EVENTS = 60

export type TracePayload = string | Message | (() => string)

export class Trace {
  private readonly times: Float64Array
  private readonly whos: string[]
  private readonly payloads: TracePayload[]
  private next = 0
  private count = 0

  constructor (readonly capacity = DEFAULT_TRACE_EVENTS) {
    this.times = new Float64Array(Math.max(capacity, 1))
    this.whos = new Array<string>(Math.max(capacity, 1))
    this.payloads = new Array<TracePayload>(Math.max(capacity, 1))
  }

  add (t: number, who: string, payload: TracePayload): void {
    if (this.capacity === 0) {
      return
    }
    this.times[this.next] = t
    this.whos[this.next] = who
    this.payloads[this.next] = payload
    this.next = (this.next + 1) % this.capacity
    this.count = Math.min(this.count + 1, this.capacity)
  }

  /** The kept events, oldest first, one line each: `  12345.6 ms  n2  <- App n1>n2 t3 ...`. */
  lines (): string[] {
    const out: string[] = []
    const start = (this.next - this.count + this.capacity) % this.capacity
    for (let k = 0; k < this.count; k++) {
      const i = (start + k) % this.capacity
      const p = this.payloads[i]
      const text = typeof p === 'string' ? p : typeof p === 'function' ? p() : `<- ${formatMessage(p)}`
      out.push(`${this.times[i].toFixed(1).padStart(10)} ms  ${this.whos[i].padEnd(3)} ${text}`)
    }
    return out
  }
}

/** One Raft message on one line, with the fields its type uses (src/raft/types.ts `Message`). */
export function formatMessage (m: Message): string {
  let s = `${m.type} ${m.from}>${m.to} t${m.term}`
  switch (m.type) {
    case 'App':
      s += ` prev ${String(m.index)}/t${String(m.logTerm)} +${m.entries?.length ?? 0} commit ${String(m.commit)}`
      break
    case 'AppResp':
      s += m.reject === true ? ` reject ${String(m.index)} hint ${String(m.rejectHint)}` : ` ok ${String(m.index)}`
      break
    case 'Vote':
    case 'PreVote':
      s += ` last ${String(m.index)}/t${String(m.logTerm)}`
      break
    case 'VoteResp':
    case 'PreVoteResp':
      s += m.reject === true ? ' rejected' : ' granted'
      break
    case 'Heartbeat':
      s += ` commit ${String(m.commit)}`
      break
    case 'Snapshot':
      s += ` at ${String(m.snapshot?.index)}/t${String(m.snapshot?.term)}`
      break
    case 'ReadIndexResp':
      s += ` index ${String(m.index)}`
      break
    default:
      break
  }
  return s
}
