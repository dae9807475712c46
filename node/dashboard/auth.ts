/**
 * The dashboard's logins. `dits-node dashboard` (which holds the API token) asks the daemon for a one-time code;
 * the browser brings the code once, in the login URL, and gets in exchange a session cookie (HttpOnly,
 * SameSite=Strict). The API token itself never reaches the browser: not in a URL, not in the page. A code is
 * random (256 bits), short-lived and good for one use; a session is random too and expires. Only their SHA-256
 * digests are kept, and looked up by digest: a lookup's timing says nothing about a secret's own bytes.
 */
import { createHash, randomBytes } from 'node:crypto'

/** How long a login code stays good. */
export const DEFAULT_LOGIN_CODE_TTL_MS = 60_000
/** How long a browser stays logged in. */
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60_000
/** Codes not yet used kept at once: the oldest goes first. */
export const MAX_LOGIN_CODES = 16
/** Sessions kept at once: the oldest goes first. */
export const MAX_SESSIONS = 32
/** A code or session secret as text: 64 hex digits. */
const SECRET_PATTERN = /^[0-9a-f]{64}$/

export interface DashboardAuthInit {
  /** @default DEFAULT_LOGIN_CODE_TTL_MS */
  codeTtlMs?: number
  /** @default DEFAULT_SESSION_TTL_MS */
  sessionTtlMs?: number
  now?(): number
}

export class DashboardAuth {
  readonly codeTtlMs: number
  readonly sessionTtlMs: number
  private readonly now: () => number
  /** digest → expiry, oldest first (Map keeps insertion order) */
  private readonly codes = new Map<string, number>()
  private readonly sessions = new Map<string, number>()

  constructor (init: DashboardAuthInit = {}) {
    this.codeTtlMs = init.codeTtlMs ?? DEFAULT_LOGIN_CODE_TTL_MS
    this.sessionTtlMs = init.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS
    this.now = init.now ?? Date.now
  }

  /** A new login code and when it stops being good (ms since the epoch). */
  issueCode (): { code: string, expires: number } {
    const code = randomBytes(32).toString('hex')
    const expires = this.now() + this.codeTtlMs
    put(this.codes, digest(code), expires, MAX_LOGIN_CODES, this.now())
    return { code, expires }
  }

  /**
   * Spend `code`: a session secret when it was issued, is not expired and was not used before; undefined otherwise.
   * A code is gone after its first presentation, good or late.
   */
  redeem (code: string): { session: string, expires: number } | undefined {
    if (!SECRET_PATTERN.test(code)) return undefined
    const key = digest(code)
    const expires = this.codes.get(key)
    this.codes.delete(key)
    if (expires === undefined || expires <= this.now()) return undefined
    const session = randomBytes(32).toString('hex')
    const sessionExpires = this.now() + this.sessionTtlMs
    put(this.sessions, digest(session), sessionExpires, MAX_SESSIONS, this.now())
    return { session, expires: sessionExpires }
  }

  /** Whether `session` (a cookie's value) is a live session. */
  valid (session: string | undefined): boolean {
    if (session === undefined || !SECRET_PATTERN.test(session)) return false
    const key = digest(session)
    const expires = this.sessions.get(key)
    if (expires === undefined) return false
    if (expires > this.now()) return true
    this.sessions.delete(key)
    return false
  }
}

function digest (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** Insert, dropping expired entries and then the oldest beyond `max`. */
function put (map: Map<string, number>, key: string, expires: number, max: number, now: number): void {
  for (const [k, e] of map) if (e <= now) map.delete(k)
  map.set(key, expires)
  for (const k of map.keys()) {
    if (map.size <= max) break
    map.delete(k)
  }
}
