/**
 * Seeded random logs of refs+locks commands, and the lock invariants a log must never break — shared by the
 * property specs and the mutant specs (a mutant must make these checks fail).
 */
import { pathsConflict } from '../../../src/paths.ts'
import { RefsLocksStateMachine, encodeCommand } from '../../../src/state/index.ts'
import { CID1, CID2, CID3, T0 } from './helpers.ts'
import type {
  ApplyOutput, Command, LockGrant, LockMode, LockWaiter, RefsLocksStateMachineInit
} from '../../../src/state/index.ts'

const OWNERS = ['a', 'b', 'c', 'd']
const PATHS = ['p/', 'p/x', 'p/y', 'p/x/z', 'q', 'q/', 'r/', 'r/s']
const NAMES = ['p/x', 'p/y', 'q', 'r/s', 'r/t']
const CIDS = [CID1, CID2, CID3]
export const SMALL: RefsLocksStateMachineInit = { maxSessions: 3, sessionWindow: 4, maxRefLogEntries: 5, maxAuditEntries: 5 }

/** mulberry32: a tiny seeded PRNG, enough to pick commands. */
function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A random log of `length` entries: the bytes each replica applies. */
export function randomLog (seed: number, length: number): Uint8Array[] {
  const rand = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
  const seqs = new Map<string, number>()
  const tokens: number[] = []
  const sent: Uint8Array[] = []
  let now = T0
  let index = 0
  const log: Uint8Array[] = []
  while (log.length < length) {
    index++
    now += Math.floor(rand() * 800)
    // a new leader with a clock behind the old one's, now and then
    if (rand() < 0.03) now -= Math.floor(rand() * 3000)
    const r = rand()
    if (r < 0.05 && sent.length > 0) {
      log.push(pick(sent))
      continue
    }
    if (r < 0.07) {
      log.push(new Uint8Array([0xa1, 0x61, 0x78, 0xff]))
      continue
    }
    if (r < 0.2) {
      log.push(encodeCommand({ type: 'lock.expire', now }))
      continue
    }
    const owner = pick(OWNERS)
    const seq = (seqs.get(owner) ?? 0) + 1
    seqs.set(owner, seq)
    const session = { client: `c-${owner}`, seq, now, owner }
    const token = rand() < 0.5 && tokens.length > 0 ? pick(tokens) : undefined
    const mode: LockMode = rand() < 0.5 ? 'shared' : 'exclusive'
    let cmd: Command
    const k = rand()
    if (k < 0.2) {
      const expect = rand() < 0.3 ? undefined : rand() < 0.3 ? null : pick(CIDS)
      cmd = { type: 'ref.set', ...session, name: pick(NAMES), cid: pick(CIDS), expect, token }
    } else if (k < 0.3) {
      cmd = { type: 'ref.rm', ...session, name: pick(NAMES), expect: pick(CIDS), token }
    } else if (k < 0.6) {
      cmd = { type: 'lock.acquire', ...session, path: pick(PATHS), mode, ttlMs: 200 + Math.floor(rand() * 4000), waitMs: rand() < 0.5 ? 0 : Math.floor(rand() * 5000) }
      tokens.push(index)
    } else if (k < 0.78) {
      cmd = { type: 'lock.release', ...session, path: pick(PATHS) }
    } else if (k < 0.93) {
      cmd = { type: 'lock.renew', ...session, path: pick(PATHS), ttlMs: rand() < 0.5 ? undefined : 100 + Math.floor(rand() * 3000) }
    } else {
      cmd = { type: 'lock.break', ...session, path: pick(PATHS), reason: `seed ${seed}` }
    }
    const bytes = encodeCommand(cmd)
    sent.push(bytes)
    log.push(bytes)
  }
  return log
}

function conflicting (x: { owner: string, path: string, mode: LockMode }, y: { owner: string, path: string, mode: LockMode }): boolean {
  return x.owner !== y.owner && (x.mode === 'exclusive' || y.mode === 'exclusive') && pathsConflict(x.path, y.path)
}

/** An independent statement of the queue rules (locks.ts): who keeps waiter `i` waiting. */
function blockersOf (grants: LockGrant[], waiters: LockWaiter[], i: number): string[] {
  const w = waiters[i]
  const base = w.upgrade ? grants.find(g => g.owner === w.owner && g.path === w.path) : undefined
  return [
    ...grants.filter(g => conflicting(g, w)).map(g => g.owner),
    ...waiters.slice(0, i).filter(e => conflicting(e, w) && !(base !== undefined && conflicting(e, base))).map(e => e.owner)
  ]
}

/** Lock invariants that must hold after every entry, or a message saying which failed. */
export function lockViolation (sm: RefsLocksStateMachine): string | undefined {
  const { locks, waiters } = sm.query({ type: 'lock.ls' })
  for (let i = 0; i < locks.length; i++) {
    for (let j = i + 1; j < locks.length; j++) {
      if (conflicting(locks[i], locks[j])) return `conflicting grants: ${JSON.stringify(locks[i])} and ${JSON.stringify(locks[j])}`
    }
  }
  const edges = new Map<string, Set<string>>()
  for (let i = 0; i < waiters.length; i++) {
    const blockers = blockersOf(locks, waiters, i)
    if (blockers.length === 0) return `waiter ${JSON.stringify(waiters[i])} could be granted but waits`
    const w = waiters[i]
    if (w.upgrade && !locks.some(g => g.owner === w.owner && g.path === w.path && g.mode === 'shared')) {
      return `upgrade waiter without its shared grant: ${JSON.stringify(w)}`
    }
    edges.set(w.owner, new Set([...(edges.get(w.owner) ?? []), ...blockers]))
  }
  const state = new Map<string, 'open' | 'done'>()
  const visit = (node: string, path: string[]): string | undefined => {
    if (state.get(node) === 'open') return `wait-for cycle: ${[...path, node].join(' → ')}`
    if (state.get(node) === 'done') return undefined
    state.set(node, 'open')
    for (const next of edges.get(node) ?? []) {
      const found = visit(next, [...path, node])
      if (found !== undefined) return found
    }
    state.set(node, 'done')
    return undefined
  }
  for (const node of edges.keys()) {
    const found = visit(node, [])
    if (found !== undefined) return found
  }
  return undefined
}

/** Apply `log` from index 1, checking invariants after every entry; returns the outputs. */
export function run (log: Uint8Array[], init: RefsLocksStateMachineInit, check = true): { sm: RefsLocksStateMachine, outputs: ApplyOutput[], violation?: string } {
  const sm = new RefsLocksStateMachine(init)
  const outputs: ApplyOutput[] = []
  for (const [i, entry] of log.entries()) {
    outputs.push(sm.apply(i + 1, entry))
    if (check) {
      const violation = lockViolation(sm)
      if (violation !== undefined) return { sm, outputs, violation: `after entry ${i + 1}: ${violation}` }
    }
  }
  return { sm, outputs }
}
