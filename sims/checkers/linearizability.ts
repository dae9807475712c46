/**
 * Linearizability of each ref's history (Herlihy & Wing 1990), checked with the Wing & Gong search as improved
 * by Lowe ("Testing for linearizability", 2017: the linked list of call/return events, undo by re-linking,
 * and a cache of (linearized set, state) pairs already explored) — the algorithm of Porcupine and Knossos.
 *
 * A ref is a register holding a CID or nothing. Refs are independent, so each ref's history is checked on its
 * own (P-compositionality, Lowe §5). A call whose outcome is unknown has its return at +∞: it may be placed
 * anywhere after its invocation, or nowhere — the search succeeds once every call that did return is placed,
 * so an unknown write may or may not have taken effect, exactly as the client saw it.
 */

import { FENCED_ERRORS } from '../history.ts'
import type { HistoryRecord, RefOutput } from '../history.ts'

/** Search steps allowed per ref before the checker gives up (it has never come close on simulator runs). */
export const DEFAULT_MAX_SEARCH_STEPS = 2_000_000

type Register = string | null

interface RegisterOp {
  id: number
  call: number
  /** +∞ when the outcome is unknown */
  ret: number
  kind: 'get' | 'set' | 'rm'
  cid: string | undefined
  expect: string | null | undefined
  output: RefOutput | null
  record: HistoryRecord
}

interface Event {
  op: RegisterOp
  isCall: boolean
  /** the return event of a call event */
  match: Event | undefined
  prev: Event | undefined
  next: Event | undefined
}

export type LinearizabilityResult =
  | { ok: true }
  | { ok: false, key: string, ops: number, message: string }
  | { ok: 'inconclusive', key: string, ops: number, message: string }

/**
 * The register model: the state after `op` takes effect in `state`, or undefined when `op` cannot take effect
 * there with the output it returned.
 */
function step (state: Register, op: RegisterOp): Register | undefined {
  const out = op.output
  switch (op.kind) {
    case 'get':
      return out !== null && 'value' in out && out.value === state ? state : undefined
    case 'set': {
      if (out === null) {
        return op.expect === undefined || op.expect === state ? op.cid ?? null : undefined
      }
      if (out.ok) {
        const old = 'old' in out ? out.old : undefined
        return old === state && (op.expect === undefined || op.expect === old) ? op.cid ?? null : undefined
      }
      // a refusal names the value it found when the client could see it (the simulator's clients can; the CLI
      // prints only a message), and in any case says the value was not the expected one
      return op.expect !== undefined && (out.current === undefined || out.current === state) && state !== op.expect ? state : undefined
    }
    case 'rm': {
      if (out === null) {
        return state !== null && state === op.expect ? null : undefined
      }
      if (out.ok) {
        const old = 'old' in out ? out.old : undefined
        return old === state && old === op.expect ? null : undefined
      }
      return (out.current === undefined || out.current === state) && state !== op.expect ? state : undefined
    }
  }
}

/**
 * The calls that constrain the register: reads that returned, writes that returned a result or an unknown
 * outcome. Writes refused for a reason outside the model (fencing, an expired session, no quorum) certainly
 * did not take effect and constrain nothing, so they are left out.
 */
function registerOps (records: readonly HistoryRecord[]): RegisterOp[] {
  const ops: RegisterOp[] = []
  for (const r of records) {
    if (r.op !== 'ref.get' && r.op !== 'ref.set' && r.op !== 'ref.rm') {
      continue
    }
    const out = r.output as RefOutput | null
    if (r.op === 'ref.get' && out === null) {
      continue
    }
    if (out !== null && !out.ok && FENCED_ERRORS.has(out.error)) {
      continue
    }
    const input = r.input as { cid?: string, expect?: string | null }
    ops.push({
      id: ops.length,
      call: r.call,
      ret: r.return ?? Number.POSITIVE_INFINITY,
      kind: r.op === 'ref.get' ? 'get' : r.op === 'ref.set' ? 'set' : 'rm',
      cid: input.cid,
      expect: 'expect' in input ? input.expect : undefined,
      output: out,
      record: r
    })
  }
  return ops
}

/** Check every ref's history; the first non-linearizable (or inconclusive) ref is reported. */
export function checkRefHistories (records: readonly HistoryRecord[], maxSteps = DEFAULT_MAX_SEARCH_STEPS): LinearizabilityResult[] {
  const byKey = new Map<string, HistoryRecord[]>()
  for (const r of records) {
    let list = byKey.get(r.key)
    if (list === undefined) {
      list = []
      byKey.set(r.key, list)
    }
    list.push(r)
  }
  const failures: LinearizabilityResult[] = []
  for (const [key, list] of byKey) {
    const result = checkRegister(key, registerOps(list), maxSteps)
    if (result.ok !== true) {
      failures.push(result)
    }
  }
  return failures
}

function checkRegister (key: string, ops: RegisterOp[], maxSteps: number): LinearizabilityResult {
  if (ops.length === 0) {
    return { ok: true }
  }
  const events: Event[] = []
  for (const op of ops) {
    const ret: Event = { op, isCall: false, match: undefined, prev: undefined, next: undefined }
    events.push({ op, isCall: true, match: ret, prev: undefined, next: undefined }, ret)
  }
  // Calls before returns at equal times: two calls that touch in time are treated as concurrent.
  const time = (e: Event): number => e.isCall ? e.op.call : e.op.ret
  events.sort((a, b) => time(a) - time(b) || Number(b.isCall) - Number(a.isCall) || a.op.id - b.op.id)
  const head: Event = { op: ops[0], isCall: false, match: undefined, prev: undefined, next: undefined }
  let prev = head
  for (const e of events) {
    prev.next = e
    e.prev = prev
    prev = e
  }

  const words = Math.ceil(ops.length / 32)
  const linearized = new Uint32Array(words)
  const cache = new Set<string>()
  const stack: Array<{ entry: Event, state: Register }> = []
  let state: Register = null
  let entry = head.next
  let steps = 0
  let deepest = 0
  let stuck: RegisterOp | undefined

  while (entry !== undefined) {
    if (++steps > maxSteps) {
      return { ok: 'inconclusive', key, ops: ops.length, message: `ref ${key}: gave up after ${maxSteps} search steps over ${ops.length} calls` }
    }
    if (entry.isCall) {
      const next = step(state, entry.op)
      if (next !== undefined) {
        const id = entry.op.id
        linearized[id >>> 5] |= 1 << (id & 31)
        const seen = `${linearized.join(',')}|${next ?? ''}`
        if (!cache.has(seen)) {
          cache.add(seen)
          stack.push({ entry, state })
          state = next
          lift(entry)
          entry = head.next
          continue
        }
        linearized[id >>> 5] &= ~(1 << (id & 31))
      }
      entry = entry.next
      continue
    }
    // The earliest remaining return belongs to a call not placed yet.
    if (entry.op.ret === Number.POSITIVE_INFINITY) {
      // only calls with unknown outcomes are left: they took effect at the end, or never
      return { ok: true }
    }
    if (stack.length >= deepest) {
      deepest = stack.length
      stuck = entry.op
    }
    const top = stack.pop()
    if (top === undefined) {
      return failure(key, ops, stuck)
    }
    state = top.state
    const id = top.entry.op.id
    linearized[id >>> 5] &= ~(1 << (id & 31))
    unlift(top.entry)
    entry = top.entry.next
  }
  return { ok: true }
}

function lift (call: Event): void {
  const ret = call.match as Event
  ;(call.prev as Event).next = call.next
  if (call.next !== undefined) {
    call.next.prev = call.prev
  }
  ;(ret.prev as Event).next = ret.next
  if (ret.next !== undefined) {
    ret.next.prev = ret.prev
  }
}

function unlift (call: Event): void {
  const ret = call.match as Event
  ;(ret.prev as Event).next = ret
  if (ret.next !== undefined) {
    ret.next.prev = ret
  }
  ;(call.prev as Event).next = call
  if (call.next !== undefined) {
    call.next.prev = call
  }
}

function failure (key: string, ops: RegisterOp[], stuck: RegisterOp | undefined): LinearizabilityResult {
  const describe = (op: RegisterOp): string => {
    const r = op.record
    const ret = r.return === null ? '?' : r.return.toFixed(1)
    return `${r.client} ${r.op}${JSON.stringify(r.input)} -> ${JSON.stringify(r.output)} [${r.call.toFixed(1)}, ${ret}]`
  }
  let message = `ref ${key}: no linearization of its ${ops.length} calls`
  if (stuck !== undefined) {
    const before = ops.filter(op => op.ret < stuck.call).sort((a, b) => a.ret - b.ret).slice(-4)
    const during = ops.filter(op => op !== stuck && op.call <= stuck.ret && op.ret >= stuck.call)
    message += `; cannot place ${describe(stuck)}; the calls that returned just before it: ${before.map(describe).join(' | ') || 'none'}; concurrent with it: ${during.map(describe).join(' | ') || 'none'}`
  }
  return { ok: false, key, ops: ops.length, message }
}
