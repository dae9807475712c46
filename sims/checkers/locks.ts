/**
 * Lock safety, checked on the committed order (DESIGN §7): the outputs of the entries every replica applies,
 * in log order, as the first replica to apply each index reported them. The checker keeps its own view of which
 * grants are valid — granted and not yet released, expired or broken at that point of the log — from those
 * outputs alone, with its own reading of the path hierarchy, so that it does not trust the lock table it checks.
 *
 * - no two conflicting grants (different owners, overlapping paths, one exclusive) are valid at once;
 * - tokens increase: a grant's token is above the token of every earlier grant it conflicts with (compatible
 *   shared grants made by one entry may share a token, so only conflicting grants are compared);
 * - fencing: a ref write is accepted only when its token names a valid grant of the writer covering the ref,
 *   and never under another owner's valid exclusive grant;
 * - a renewal succeeds only for a valid grant.
 */

import type { ApplyOutput, Command, LockGrant, LockMode } from '../../src/state/index.ts'

export type LockViolationKind = 'lock-conflict' | 'lock-token-order' | 'stale-token-write' | 'locked-write' | 'lock-not-held'

export interface LockViolation {
  kind: LockViolationKind
  message: string
}

interface GrantView {
  owner: string
  path: string
  mode: LockMode
  token: number
  /** log index of the entry that made this grant */
  index: number
}

/** `lockPath` covers ref or lock path `path`: a directory covers itself and everything beneath it (src/paths.ts rules). */
export function lockCovers (lockPath: string, path: string): boolean {
  if (!lockPath.endsWith('/')) {
    return path === lockPath || path === `${lockPath}/`
  }
  return path === lockPath.slice(0, -1) || path.startsWith(lockPath)
}

function conflicting (a: GrantView, b: { owner: string, path: string, mode: LockMode }): boolean {
  return a.owner !== b.owner && (a.mode === 'exclusive' || b.mode === 'exclusive') &&
    (lockCovers(a.path, b.path) || lockCovers(b.path, a.path))
}

function show (g: GrantView): string {
  return `${g.owner}'s ${g.mode} ${g.path} (token ${g.token}, granted at ${g.index})`
}

export class LockSafetyChecker {
  private readonly valid = new Map<string, GrantView>()
  private readonly granted: GrantView[] = []

  /** Feed the next committed entry's command and apply output; returns what it broke. */
  observe (index: number, cmd: Command, out: ApplyOutput): LockViolation[] {
    const violations: LockViolation[] = []
    const result = out.result
    if (!out.duplicate && result.ok) {
      switch (result.type) {
        case 'lock.acquire':
          if (result.status === 'granted') {
            this.grant(result.grant, index, violations)
          }
          break
        case 'lock.release':
          if (result.released !== null) {
            this.valid.delete(keyOf(result.released))
          }
          break
        case 'lock.renew':
          if (!this.valid.has(keyOf(result.grant))) {
            violations.push({ kind: 'lock-not-held', message: `entry ${index} renewed ${result.grant.owner}'s lock ${result.grant.path}, which is not held at that point of the log` })
          }
          break
        case 'ref.set':
        case 'ref.rm':
          if (cmd.type === 'ref.set' || cmd.type === 'ref.rm') {
            this.write(index, cmd.name, cmd.owner, cmd.token, violations)
          }
          break
        default:
          // lock.expire and lock.break report their removals as events, handled below in order
          break
      }
    }
    for (const ev of out.events) {
      if (ev.type === 'expired' || ev.type === 'broken') {
        this.valid.delete(keyOf(ev.grant))
      } else if (ev.type === 'granted' && ev.result.ok) {
        this.grant(ev.result.grant, index, violations)
      }
    }
    return violations
  }

  private grant (g: LockGrant, index: number, violations: LockViolation[]): void {
    const key = keyOf(g)
    const held = this.valid.get(key)
    if (held !== undefined && held.token === g.token && held.mode === g.mode) {
      // the same grant acquired again: a lease extension
      return
    }
    const view: GrantView = { owner: g.owner, path: g.path, mode: g.mode, token: g.token, index }
    if (g.token > index) {
      violations.push({ kind: 'lock-token-order', message: `entry ${index} granted ${show(view)}: the token is beyond the granting entry` })
    }
    for (const other of this.valid.values()) {
      if (conflicting(other, view)) {
        violations.push({ kind: 'lock-conflict', message: `entry ${index} granted ${show(view)} while ${show(other)} is still valid` })
      }
    }
    for (const earlier of this.granted) {
      if (conflicting(earlier, view) && earlier.token >= view.token) {
        violations.push({ kind: 'lock-token-order', message: `entry ${index} granted ${show(view)}, not above the token of the earlier conflicting ${show(earlier)}` })
      }
    }
    this.valid.set(key, view)
    this.granted.push(view)
  }

  private write (index: number, name: string, owner: string, token: number | undefined, violations: LockViolation[]): void {
    let fenced = token === undefined
    for (const g of this.valid.values()) {
      if (!lockCovers(g.path, name)) {
        continue
      }
      if (g.mode === 'exclusive' && g.owner !== owner) {
        violations.push({ kind: 'locked-write', message: `entry ${index}: ${owner} wrote ref ${name} under ${show(g)}` })
      }
      if (g.owner === owner && g.token === token) {
        fenced = true
      }
    }
    if (!fenced) {
      violations.push({ kind: 'stale-token-write', message: `entry ${index}: ${owner} wrote ref ${name} with token ${String(token)}, which names no valid grant of ${owner} covering it` })
    }
  }
}

function keyOf (g: { owner: string, path: string }): string {
  return `${g.owner}\u0000${g.path}`
}
