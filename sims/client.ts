/**
 * A simulated client of the refs+locks service: one session (client id, sequence numbers), one owner, one call
 * at a time, many clients at once. It does what a studio tool does — reads refs, moves them by compare-and-swap,
 * takes locks, renews and releases them, writes under a lock with its fencing token — and, like any real client,
 * retries a call that timed out or hit a non-leader with the same `(client, seq)`, so exactly-once is exercised.
 * Now and then it stalls (a laptop lid closed) long enough for its leases to run out, and then writes with the
 * stale token anyway: fencing must refuse it.
 *
 * Every call goes into the history with its invocation and completion in virtual time; a call that gave up
 * without an answer is recorded with an unknown outcome.
 */

import { lockCovers } from './checkers/locks.ts'
import type { EventQueue } from './event-queue.ts'
import type { HistoryRecord, LockOutput, OpName, RefOutput } from './history.ts'
import type { ClientReply, ClientRequest, CommandBody } from './protocol.ts'
import type { Prng } from './random.ts'
import type { Trace } from './trace.ts'
import type { CommandResult, LockMode } from '../src/state/index.ts'

/** The refs clients work on: two reels under one directory, one under another, one never locked. */
export const REF_NAMES: readonly string[] = ['reels/r1', 'reels/r2', 'audio/mix', 'edl']
/** The lock paths: a directory covering two refs, two files, another directory. */
export const LOCK_PATHS: readonly string[] = ['reels/', 'reels/r1', 'reels/r2', 'audio/']

export interface ClientTiming {
  /** pause between calls, uniform in [thinkMinMs, thinkMaxMs) */
  thinkMinMs: number
  thinkMaxMs: number
  /** an attempt with no answer by then is retried elsewhere */
  attemptTimeoutMs: number
  /** a call still unanswered this long after its invocation is given up (outcome unknown) */
  callDeadlineMs: number
  /** pause before retrying after a redirect or a lost proposal */
  backoffMs: number
  /** how often a queued lock request asks again for its outcome */
  pollMs: number
  /** chance, per call, that the client then stalls for [stallMs / 2, stallMs) */
  stallRate: number
  stallMs: number
}

export interface ClientEnv {
  readonly queue: EventQueue
  readonly trace: Trace
  readonly timing: ClientTiming
  readonly nodes: readonly string[]
  send: (from: string, to: string, req: ClientRequest) => void
  record: (r: HistoryRecord) => void
  /** a CID never written before in this run */
  nextCid: () => string
}

interface Call {
  id: number
  name: OpName
  key: string
  input: Record<string, unknown>
  /** for commands: the body and the sequence number every retry keeps */
  body: CommandBody | undefined
  seq: number
  call: number
  deadline: number
  /** some attempt went unanswered, so the command may have been applied */
  uncertain: boolean
  /** a queued lock request: keep asking until then */
  pollUntil: number | undefined
}

interface Held {
  token: number
  mode: LockMode
}

export interface ClientStats {
  ok: number
  failed: number
  unknown: number
}

export class SimClient {
  readonly stats: ClientStats = { ok: 0, failed: 0, unknown: 0 }
  private active = false
  private current: Call | undefined
  private callSeq = 0
  private seq = 0
  private attempt = 0
  private leaderGuess: string | undefined
  private readonly beliefs = new Map<string, string | null>()
  private readonly held = new Map<string, Held>()

  /**
   * `owner`: the identity the client's connection authenticates (its node's peer id). `claim`: a spoofing client
   * names this identity as the owner of every other command it sends (issue 14: it claims another node's).
   */
  constructor (readonly id: string, readonly owner: string, private readonly env: ClientEnv, private readonly prng: Prng, readonly claim?: string) {}

  start (): void {
    this.active = true
    this.env.queue.after(this.think(), () => this.next())
  }

  /** Issue no new calls; the one under way runs to its end. */
  stop (): void {
    this.active = false
  }

  get idle (): boolean {
    return this.current === undefined
  }

  receive (reply: ClientReply): void {
    const call = this.current
    if (call === undefined || reply.op !== call.id) {
      return
    }
    switch (reply.kind) {
      case 'result':
        // an answer to any attempt of this call is its answer: every attempt carries the same (client, seq)
        this.result(call, reply.result)
        break
      case 'read':
        this.finish(call, { ok: true, value: reply.ref?.cid ?? null })
        break
      case 'redirect':
        if (reply.attempt === this.attempt) {
          this.leaderGuess = reply.leader
          this.retry(call)
        }
        break
      case 'retry':
        if (reply.attempt === this.attempt) {
          this.retry(call)
        }
        break
    }
  }

  private think (): number {
    const t = this.env.timing
    if (this.prng.chance(t.stallRate)) {
      return this.prng.between(t.stallMs / 2, t.stallMs)
    }
    return this.prng.between(t.thinkMinMs, t.thinkMaxMs)
  }

  private next (): void {
    if (!this.active || this.current !== undefined) {
      return
    }
    const call = this.choose()
    this.current = call
    this.env.trace.add(this.env.queue.now, this.id, () => `call ${call.name} ${call.key} ${JSON.stringify(call.input)}${call.body === undefined ? '' : ` seq ${call.seq}`}`)
    this.send(call)
  }

  private choose (): Call {
    const heldPaths = [...this.held.keys()]
    const kind = this.prng.weighted({
      get: 25,
      set: 22,
      rm: 5,
      acquire: heldPaths.length < 2 ? 15 : 0,
      convert: heldPaths.length > 0 ? 4 : 0,
      renew: heldPaths.length > 0 ? 8 : 0,
      break: 1,
      release: heldPaths.length > 0 ? 8 : 0,
      fencedWrite: heldPaths.length > 0 ? 17 : 0
    })
    const now = this.env.queue.now
    const make = (name: OpName, key: string, input: Record<string, unknown>, body?: CommandBody): Call => ({
      id: ++this.callSeq,
      name,
      key,
      input,
      body,
      seq: body === undefined ? 0 : ++this.seq,
      call: now,
      deadline: now + this.env.timing.callDeadlineMs,
      uncertain: false,
      pollUntil: undefined
    })
    const p = this.prng
    switch (kind) {
      case 'set':
      case 'fencedWrite': {
        let name = p.pick(REF_NAMES)
        let token: number | undefined
        if (kind === 'fencedWrite') {
          const path = p.pick(heldPaths)
          const covered = REF_NAMES.filter(n => lockCovers(path, n))
          name = covered.length > 0 ? p.pick(covered) : name
          token = covered.length > 0 ? this.held.get(path)?.token : undefined
        }
        const cid = this.env.nextCid()
        const input: Record<string, unknown> = { cid }
        const belief = this.beliefs.get(name)
        const r = p.float()
        if (r < 0.6 && belief !== undefined) {
          input.expect = belief
        } else if (r < 0.8) {
          input.expect = null
        }
        if (token !== undefined) {
          input.token = token
        }
        return make('ref.set', name, input, { type: 'ref.set', name, ...input } as CommandBody)
      }
      case 'rm': {
        const name = p.pick(REF_NAMES)
        const belief = this.beliefs.get(name)
        if (belief === undefined || belief === null) {
          return make('ref.get', name, {})
        }
        return make('ref.rm', name, { expect: belief }, { type: 'ref.rm', name, expect: belief })
      }
      case 'acquire': {
        const path = p.pick(LOCK_PATHS.filter(l => !this.held.has(l)))
        const mode: LockMode = p.chance(0.6) ? 'exclusive' : 'shared'
        const ttlMs = p.range(600, 3000)
        const waitMs = p.chance(0.6) ? 0 : p.range(200, 2000)
        return make('lock.acquire', path, { mode, ttlMs, waitMs }, { type: 'lock.acquire', path, mode, ttlMs, waitMs })
      }
      case 'convert': {
        // acquire a held lock in the other mode: an upgrade (which may have to wait) or a downgrade
        const path = p.pick(heldPaths)
        const mode: LockMode = this.held.get(path)?.mode === 'shared' ? 'exclusive' : 'shared'
        const ttlMs = p.range(600, 3000)
        const waitMs = p.chance(0.5) ? 0 : p.range(200, 2000)
        return make('lock.acquire', path, { mode, ttlMs, waitMs }, { type: 'lock.acquire', path, mode, ttlMs, waitMs })
      }
      case 'break': {
        // an administrator breaks whatever lock is on a path (DESIGN §7: explicit and audited)
        const path = p.pick(LOCK_PATHS)
        return make('lock.break', path, {}, { type: 'lock.break', path, reason: `simulated admin ${this.id}` })
      }
      case 'renew': {
        const path = p.pick(heldPaths)
        return make('lock.renew', path, {}, { type: 'lock.renew', path })
      }
      case 'release': {
        const path = p.chance(0.9) ? p.pick(heldPaths) : p.pick(LOCK_PATHS)
        return make('lock.release', path, {}, { type: 'lock.release', path })
      }
      default:
        return make('ref.get', p.pick(REF_NAMES), {})
    }
  }

  private send (call: Call): void {
    const attempt = ++this.attempt
    const to = this.leaderGuess ?? this.prng.pick(this.env.nodes)
    const req: ClientRequest = call.body === undefined
      ? { kind: 'read', client: this.id, op: call.id, attempt, name: call.key }
      : { kind: 'write', client: this.id, op: call.id, attempt, seq: call.seq, body: call.body, ...(this.claim !== undefined && call.id % 2 === 0 ? { claim: this.claim } : {}) }
    this.env.send(this.id, to, req)
    this.env.queue.after(this.env.timing.attemptTimeoutMs, () => {
      if (this.current === call && this.attempt === attempt) {
        call.uncertain ||= call.body !== undefined
        this.leaderGuess = undefined
        this.retry(call, 0)
      }
    })
  }

  private retry (call: Call, backoffMs = this.env.timing.backoffMs): void {
    const now = this.env.queue.now
    if (now >= (call.pollUntil ?? call.deadline)) {
      this.giveUp(call)
      return
    }
    const attempt = ++this.attempt
    this.env.queue.after(this.prng.between(backoffMs / 2, backoffMs), () => {
      if (this.current === call && this.attempt === attempt) {
        this.send(call)
      }
    })
  }

  private giveUp (call: Call): void {
    if (call.pollUntil !== undefined) {
      this.finish(call, { ok: true, status: 'queued' })
    } else if (call.uncertain) {
      this.finish(call, null)
    } else {
      // every attempt was refused before anything was proposed: certainly not applied
      this.finish(call, { ok: false, error: 'Unavailable' })
    }
  }

  private result (call: Call, result: CommandResult): void {
    if (result.ok && result.type === 'lock.acquire' && result.status === 'queued') {
      // the outcome comes later: a retry of the same (client, seq) returns it once the wait is resolved
      call.pollUntil ??= this.env.queue.now + (call.input.waitMs as number) + this.env.timing.callDeadlineMs
      const attempt = ++this.attempt
      this.env.queue.after(this.env.timing.pollMs, () => {
        if (this.current === call && this.attempt === attempt) {
          this.retry(call, 0)
        }
      })
      return
    }
    if (!result.ok) {
      const error = result.error
      const out: RefOutput = error.name === 'RefConflictError' ? { ok: false, error: error.name, current: error.current } : { ok: false, error: error.name }
      this.finish(call, out)
      return
    }
    switch (result.type) {
      case 'ref.set':
      case 'ref.rm':
        this.finish(call, { ok: true, old: result.old })
        break
      case 'lock.acquire':
        if (result.status === 'granted') {
          this.finish(call, { ok: true, status: 'granted', mode: result.grant.mode, token: result.grant.token })
        }
        break
      case 'lock.renew':
        this.finish(call, { ok: true, mode: result.grant.mode, token: result.grant.token })
        break
      default:
        this.finish(call, { ok: true })
        break
    }
  }

  private finish (call: Call, output: RefOutput | LockOutput | null): void {
    const now = this.env.queue.now
    this.current = undefined
    this.attempt++
    if (output === null) {
      this.stats.unknown++
    } else if (output.ok) {
      this.stats.ok++
    } else {
      this.stats.failed++
    }
    this.learn(call, output)
    // times to the microsecond: exact enough, and the exported history reads better
    this.env.record({ client: this.id, op: call.name, key: call.key, input: call.input, output, call: micro(call.call), return: output === null ? null : micro(now) })
    this.env.trace.add(now, this.id, () => `done ${call.name} ${call.key} -> ${output === null ? 'unknown' : JSON.stringify(output)}`)
    this.env.queue.after(this.think(), () => this.next())
  }

  /**
   * The run ends with this client's call still under way (the run stopped at a violation, or a call outlived
   * the run): record it with an unknown outcome — it may or may not have taken effect — so that an exported
   * history accounts for every value a read may return (a call with no return, as porcupine takes it).
   */
  abandon (): void {
    const call = this.current
    this.active = false
    if (call === undefined) {
      return
    }
    this.current = undefined
    this.attempt++
    this.stats.unknown++
    this.env.record({ client: this.id, op: call.name, key: call.key, input: call.input, output: null, call: micro(call.call), return: null })
    this.env.trace.add(this.env.queue.now, this.id, () => `run over during ${call.name} ${call.key}: outcome unknown`)
  }

  /** Update what this client believes about refs and its locks from an answer. */
  private learn (call: Call, output: RefOutput | LockOutput | null): void {
    if (output === null) {
      if (call.name === 'ref.set' || call.name === 'ref.rm') {
        this.beliefs.delete(call.key)
      }
      return
    }
    switch (call.name) {
      case 'ref.get': {
        const o = output as RefOutput
        if (o.ok && 'value' in o) {
          this.beliefs.set(call.key, o.value)
        }
        break
      }
      case 'ref.set':
      case 'ref.rm': {
        const o = output as RefOutput
        if (o.ok) {
          this.beliefs.set(call.key, call.name === 'ref.set' ? call.input.cid as string : null)
        } else if (o.error === 'RefConflictError' && o.current !== undefined) {
          this.beliefs.set(call.key, o.current)
        } else if (o.error === 'StaleTokenError' && typeof call.input.token === 'number') {
          for (const [path, h] of this.held) {
            if (h.token === call.input.token) {
              this.held.delete(path)
            }
          }
        }
        break
      }
      case 'lock.acquire': {
        const o = output as LockOutput
        if (o.ok && o.status === 'granted' && o.token !== undefined && o.mode !== undefined) {
          this.held.set(call.key, { token: o.token, mode: o.mode })
        }
        break
      }
      case 'lock.renew':
      case 'lock.release':
      case 'lock.break':
        if (call.name !== 'lock.renew' || !(output as LockOutput).ok) {
          this.held.delete(call.key)
        }
        break
    }
  }
}

function micro (ms: number): number {
  return Math.round(ms * 1000) / 1000
}
