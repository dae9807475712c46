import assert from 'node:assert/strict'
import { RefsLocksStateMachine, encodeCommand } from '../../../src/state/index.ts'
import type {
  ApplyOutput, ClientCommand, Command, CommandErrorInfo, CommandErrorName, CommandResult, LockGrant, LockMode,
  RefsLocksStateMachineInit, StateEvent
} from '../../../src/state/index.ts'

/** Real dits CIDs (dag-cbor, BLAKE3) of three manifests of reel3, and a raw chunk. */
export const CID1 = 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi'
export const CID2 = 'bafyr4id7jufvgwjwikvnhpjpkii3dgmuuqycn4zvivwiew4yzr2v6tfkra'
export const CID3 = 'bafkr4ibshx7ecg7c6oxmzjg4q5aj37srwmd4qyi5mx4ludg7vjfu2flraq'

export const T0 = 1_700_000_000_000
export const TTL = 30_000

type Body<C> = C extends ClientCommand ? Omit<C, 'client' | 'seq' | 'now' | 'owner'> : never
export type CommandBody = Body<ClientCommand>

/**
 * Drives a state machine the way the Raft shell would: consecutive log indexes, a leader clock that the test
 * moves by hand, one session per owner, every command through `encodeCommand` (so the codec is on the path).
 */
export class Cluster {
  sm: RefsLocksStateMachine
  index = 0
  now = T0
  readonly outputs: ApplyOutput[] = []
  private readonly seqs = new Map<string, number>()

  constructor (init: RefsLocksStateMachineInit = {}) {
    this.sm = new RefsLocksStateMachine(init)
  }

  tick (ms: number): this {
    this.now += ms
    return this
  }

  /** Apply a raw command (bytes or object) at the next index. */
  raw (command: Uint8Array | Command): ApplyOutput {
    const out = this.sm.apply(++this.index, command)
    this.outputs.push(out)
    return out
  }

  /** A command of `owner` with the next sequence number of its session. */
  as (owner: string, body: CommandBody, seq?: number): ApplyOutput {
    const next = seq ?? (this.seqs.get(owner) ?? 0) + 1
    this.seqs.set(owner, Math.max(next, this.seqs.get(owner) ?? 0))
    return this.raw(encodeCommand({ ...body, client: `c-${owner}`, seq: next, now: this.now, owner } as Command))
  }

  lastSeq (owner: string): number {
    return this.seqs.get(owner) ?? 0
  }

  acquire (owner: string, path: string, mode: LockMode, opts: { ttlMs?: number, waitMs?: number } = {}): ApplyOutput {
    return this.as(owner, { type: 'lock.acquire', path, mode, ttlMs: opts.ttlMs ?? TTL, waitMs: opts.waitMs })
  }

  release (owner: string, path: string): ApplyOutput {
    return this.as(owner, { type: 'lock.release', path })
  }

  renew (owner: string, path: string, ttlMs?: number): ApplyOutput {
    return this.as(owner, { type: 'lock.renew', path, ttlMs })
  }

  break (owner: string, path: string, reason: string): ApplyOutput {
    return this.as(owner, { type: 'lock.break', path, reason })
  }

  set (owner: string, name: string, cid: string, opts: { expect?: string | null, token?: number } = {}): ApplyOutput {
    return this.as(owner, { type: 'ref.set', name, cid, expect: opts.expect, token: opts.token })
  }

  rm (owner: string, name: string, expect: string, opts: { token?: number } = {}): ApplyOutput {
    return this.as(owner, { type: 'ref.rm', name, expect, token: opts.token })
  }

  expire (): ApplyOutput {
    return this.raw(encodeCommand({ type: 'lock.expire', now: this.now }))
  }

  /** The token of a granted acquire. */
  token (out: ApplyOutput): number {
    return grantOf(out).token
  }
}

export function ok<R extends CommandResult> (out: ApplyOutput | R): Exclude<CommandResult, { ok: false }> {
  const result = 'result' in out ? out.result : out
  if (!result.ok) assert.fail(`expected success, got ${result.error.name}: ${result.error.message}`)
  return result
}

export function refused<N extends CommandErrorName> (out: ApplyOutput | CommandResult, name: N): Extract<CommandErrorInfo, { name: N }> {
  const result = 'result' in out ? out.result : out
  if (result.ok) assert.fail(`expected ${name}, got success ${JSON.stringify(result)}`)
  assert.equal(result.error.name, name, result.error.message)
  return result.error as Extract<CommandErrorInfo, { name: N }>
}

export function grantOf (out: ApplyOutput | CommandResult): LockGrant {
  const result = ok(out)
  if (result.type !== 'lock.acquire' || result.status !== 'granted') assert.fail(`expected a grant, got ${JSON.stringify(result)}`)
  return result.grant
}

export function assertQueued (out: ApplyOutput): void {
  const result = ok(out)
  assert.ok(result.type === 'lock.acquire' && result.status === 'queued', `expected queued, got ${JSON.stringify(result)}`)
}

/** The events of one output, reduced to `type:owner` for compact assertions. */
export function eventKinds (events: StateEvent[]): string[] {
  return events.map(e => 'grant' in e ? `${e.type}:${e.grant.owner}` : `${e.type}:${e.owner}`)
}

/** Grants whose path starts with `prefix`, as `owner:mode:path`. */
export function holders (c: Cluster, prefix = ''): string[] {
  return c.sm.query({ type: 'lock.ls', prefix }).locks.map(g => `${g.owner}:${g.mode}:${g.path}`)
}
