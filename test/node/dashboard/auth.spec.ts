import assert from 'node:assert/strict'
import { DashboardAuth, MAX_LOGIN_CODES, MAX_SESSIONS } from '../../../node/dashboard/auth.ts'

describe('node/dashboard auth: one-time codes and sessions', () => {
  let now = 1_000_000
  const auth = (): DashboardAuth => new DashboardAuth({ codeTtlMs: 60_000, sessionTtlMs: 3_600_000, now: () => now })

  it('a code is good once: the second presentation gets nothing', () => {
    const a = auth()
    const { code, expires } = a.issueCode()
    assert.match(code, /^[0-9a-f]{64}$/)
    assert.equal(expires, now + 60_000)
    const s = a.redeem(code)
    assert.ok(s !== undefined)
    assert.equal(a.valid(s.session), true)
    assert.equal(a.redeem(code), undefined)
  })

  it('a code is good until its ttl only, and a late one is spent too', () => {
    const a = auth()
    const { code } = a.issueCode()
    now += 60_000
    assert.equal(a.redeem(code), undefined)
    now -= 60_000
    assert.equal(a.redeem(code), undefined)
  })

  it('a session expires; strangers, malformed values and codes are no sessions', () => {
    const a = auth()
    const { code } = a.issueCode()
    const s = a.redeem(code)
    assert.ok(s !== undefined)
    assert.equal(a.valid(code), false)
    assert.equal(a.valid(undefined), false)
    assert.equal(a.valid('x'.repeat(64)), false)
    assert.equal(a.valid('0'.repeat(64)), false)
    now += 3_600_000
    assert.equal(a.valid(s.session), false)
  })

  it('keeps at most MAX_LOGIN_CODES codes and MAX_SESSIONS sessions, dropping the oldest', () => {
    const a = auth()
    const codes = Array.from({ length: MAX_LOGIN_CODES + 1 }, () => a.issueCode().code)
    assert.equal(a.redeem(codes[0]), undefined)
    const sessions = codes.slice(1).map(c => a.redeem(c)?.session)
    for (let i = 0; i < MAX_SESSIONS; i++) sessions.push(a.redeem(a.issueCode().code)?.session)
    assert.equal(a.valid(sessions[0]), false)
    assert.equal(a.valid(sessions.at(-1)), true)
  })
})
