/**
 * The client's side of `/dits/consensus/1.0.0` (PROTOCOL.md, "Consensus protocols"), used by every node, voter or not: it sends a
 * call to the leader it believes in (a voter's own daemon serves itself without the network), follows
 * redirects, moves on to the next voter when one cannot be reached or does not answer within one attempt
 * (a leader frozen by SIGSTOP keeps its connections open and answers nothing), follows a new leader as soon
 * as this node's own voter learns of one, and backs off while an election runs — all under one deadline,
 * after which it fails with "no quorum: N of M voters reachable" (exit 4), N counting every voter that
 * answered anything during the call.
 *
 * Retries resend the very same call, so a command keeps its (client, seq) and is applied at most once.
 * One stream per voter carries any number of concurrent requests, matched to responses by id.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { CONSENSUS_PROTOCOL } from '../../protocol/ids.ts'
import { MAX_CONSENSUS_MESSAGE_BYTES } from '../../protocol/limits.ts'
import { ConsensusRequest } from '../../protocol/consensus.ts'
import { UnavailableError } from '../../src/errors.ts'
import { ProtocolViolationError } from '../net/errors.ts'
import { FrameReader } from '../net/framing.ts'
import { deadline, withDeadline } from '../net/deadline.ts'
import { NoQuorumError, RemoteConsensusError } from './errors.ts'
import { decodeConsensusResponse, frameAll } from './wire.ts'
import type { PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ConsensusCall, ConsensusReply } from './server.ts'

/** How long to reach a voter (dial + protocol negotiation). */
export const DEFAULT_CONSENSUS_DIAL_TIMEOUT_MS = 2_000
/** Pause before asking again once every voter said "no leader" (an election is running). */
export const DEFAULT_ELECTION_BACKOFF_MS = 25
/** The longest pause between rounds. */
export const MAX_ELECTION_BACKOFF_MS = 100
/**
 * How long one voter may take to answer before the call asks the next one (the same call: its (client, seq)
 * makes a second delivery harmless). An election takes one to two election timeouts (1–2 s by default), so a
 * frozen leader costs at most this before the call looks for its successor.
 */
export const DEFAULT_CONSENSUS_ATTEMPT_TIMEOUT_MS = 1_500
/** How often, while waiting on another voter, the call checks whether this node's voter knows a new leader. */
const FOLLOW_LEADER_POLL_MS = 25

/** Errors after which the same call may be sent again (to this or another voter). */
const RETRIABLE = new Set(['ProposalLostError', 'NotLeaderError', 'ProposalDroppedError', 'ConsensusStorageError', 'NoQuorumError', 'UnavailableError'])

export interface ConsensusClientComponents {
  dialProtocol(target: PeerId | Multiaddr | Multiaddr[], protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
}

export interface ConsensusClientInit {
  /** this node's peer id */
  self: string
  /** the voters' addresses by peer id (consensus.voters); learned leaders are added */
  voters: Map<string, string[]>
  /** this node's own voter, when it is one: it serves calls and knows the leader of the moment */
  local?: { serve(call: ConsensusCall, timeoutMs: number): Promise<ConsensusReply>, leader(): string | undefined }
  /** @default DEFAULT_CONSENSUS_DIAL_TIMEOUT_MS */
  dialTimeoutMs?: number
  /** @default DEFAULT_CONSENSUS_ATTEMPT_TIMEOUT_MS */
  attemptTimeoutMs?: number
  /** a voter that broke the protocol (a malformed or oversized response frame) is scored and disconnected */
  penalize?(peer: string, reason: string, disconnect?: boolean): void
}

export interface CallOptions {
  /** the whole call, retries included, must finish within this */
  timeoutMs: number
  signal?: AbortSignal
  /** ask only this voter, once */
  target?: string
  /** how long one voter may take to answer; longer for a lock request that waits @default the client's */
  attemptTimeoutMs?: number
}

/** An attempt given up because this node's voter learned of another leader meanwhile. */
class LeaderChanged extends Error {
  static override name = 'LeaderChanged'
  override name = 'LeaderChanged'
  constructor (readonly leader: string) {
    super(`the leader is now ${short(leader)}`)
  }
}

export class ConsensusClient {
  private readonly host: ConsensusClientComponents
  private readonly init: ConsensusClientInit
  private readonly dialTimeoutMs: number
  private readonly attemptTimeoutMs: number
  private readonly connections = new Map<string, VoterConnection>()
  private leaderHint?: string
  private closed = false

  constructor (host: ConsensusClientComponents, init: ConsensusClientInit) {
    this.host = host
    this.init = init
    this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULT_CONSENSUS_DIAL_TIMEOUT_MS
    this.attemptTimeoutMs = init.attemptTimeoutMs ?? DEFAULT_CONSENSUS_ATTEMPT_TIMEOUT_MS
  }

  /** Scores a voter that broke the protocol and hangs up on it. */
  penalize (peer: string, reason: string): void {
    this.init.penalize?.(peer, reason, true)
  }

  /** How many voters this client knows of. */
  get voterCount (): number {
    return this.init.voters.size
  }

  /** The leader last learned of, if any. */
  get leader (): string | undefined {
    return this.leaderHint
  }

  close (): void {
    this.closed = true
    for (const c of this.connections.values()) c.close(new UnavailableError('the node is shutting down'))
    this.connections.clear()
  }

  /**
   * Send `call` to the group and return the value of its answer.
   * @throws {NoQuorumError} when no voter could complete it before the deadline
   * @throws {RemoteConsensusError} for a refusal (its name, message and exit code are the voter's)
   */
  async call (call: ConsensusCall, options: CallOptions): Promise<unknown> {
    if (options.target !== undefined) {
      const reply = await this.send(options.target, call, options.timeoutMs, options.signal)
      if (reply.type === 'ok') return reply.value
      if (reply.type === 'error') throw new RemoteConsensusError(reply.name, reply.message, reply.exitCode)
      throw new UnavailableError(`${short(options.target)} is not the leader`)
    }
    const deadline = Date.now() + options.timeoutMs
    const attemptMs = options.attemptTimeoutMs ?? this.attemptTimeoutMs
    const voters = [...this.init.voters.keys()]
    if (voters.length === 0) throw new UnavailableError('no consensus voters are known')
    let reachable = 0
    const answered = new Set<string>()
    let detail = ''
    let backoff = DEFAULT_ELECTION_BACKOFF_MS
    /** when each voter last failed to answer during this call */
    const failedAt = new Map<string, number>()
    // voters to try in this round, the believed leader (or this node itself, being a voter) first
    let round: string[] = []
    for (;;) {
      options.signal?.throwIfAborted()
      if (this.closed) throw new UnavailableError('the node is shutting down')
      const remaining = deadline - Date.now()
      if (remaining <= 0) {
        // every voter that answered anything was reachable, whatever the last view said; say why only when
        // none did, otherwise the count says it
        const count = Math.max(reachable, answered.size)
        throw new NoQuorumError(count, voters.length, answered.size === 0 ? detail : `for ${options.timeoutMs} ms`)
      }
      if (round.length === 0) round = this.order(voters)
      const target = round.shift() as string
      let reply: ConsensusReply
      try {
        reply = await this.attempt(target, call, Math.min(remaining, attemptMs), options.signal)
      } catch (err) {
        if (options.signal?.aborted === true) throw err
        if (err instanceof LeaderChanged) {
          this.leaderHint = err.leader
          round = [err.leader, ...round.filter(v => v !== err.leader)]
          detail = `${short(target)} did not answer; ${err.message}`
          continue
        }
        detail = `${short(target)}: ${(err as Error).message}`
        failedAt.set(target, Date.now())
        if (this.leaderHint === target) this.leaderHint = undefined
        if (round.length === 0) backoff = await pause(backoff, deadline)
        continue
      }
      answered.add(target)
      switch (reply.type) {
        case 'ok':
          if (call.kind === 'command' || call.kind === 'add-voter' || call.kind === 'remove-voter') this.leaderHint = target
          return reply.value
        case 'redirect':
          // the latest view counts: a voter killed during the call drops out of it
          reachable = reply.reachable
          // a voter may still name a leader that just died (until the election): do not run after it
          const recentlyFailed = reply.leader !== null && Date.now() - (failedAt.get(reply.leader) ?? 0) < MAX_ELECTION_BACKOFF_MS
          if (reply.leader !== null && reply.leader !== target && !recentlyFailed) {
            if (reply.addrs.length > 0 && !this.init.voters.has(reply.leader)) this.init.voters.set(reply.leader, reply.addrs)
            this.leaderHint = reply.leader
            round = [reply.leader, ...round.filter(v => v !== reply.leader)]
            detail = `${short(target)} redirected to ${short(reply.leader)}`
            continue
          }
          if (this.leaderHint === target) this.leaderHint = undefined
          detail = `${short(target)} knows no leader`
          if (round.length === 0) backoff = await pause(backoff, deadline)
          continue
        case 'error':
          if (reply.name === 'NoQuorumError') {
            const m = /no quorum: (\d+) of/.exec(reply.message)
            if (m != null) reachable = Number(m[1])
          }
          if (!RETRIABLE.has(reply.name)) throw new RemoteConsensusError(reply.name, reply.message, reply.exitCode)
          detail = `${short(target)}: ${reply.message}`
          if (this.leaderHint === target && reply.name !== 'ProposalLostError') this.leaderHint = undefined
          if (round.length === 0) backoff = await pause(backoff, deadline)
          continue
      }
    }
  }

  /**
   * One attempt at one voter, for at most `timeoutMs`. While it waits on another voter, this node's own voter
   * (if any) is watched: once it knows a leader other than `target`, the attempt ends with LeaderChanged.
   */
  private async attempt (target: string, call: ConsensusCall, timeoutMs: number, signal?: AbortSignal): Promise<ConsensusReply> {
    const local = this.init.local
    if (local === undefined || target === this.init.self) return await this.send(target, call, timeoutMs, signal)
    const follow = new AbortController()
    const watch = setInterval(() => {
      const leader = local.leader()
      if (leader !== undefined && leader !== target) follow.abort(new LeaderChanged(leader))
    }, FOLLOW_LEADER_POLL_MS)
    const wait = deadline([signal, follow.signal], timeoutMs)
    try {
      return await this.send(target, call, timeoutMs, wait.signal)
    } catch (err) {
      if (follow.signal.aborted && signal?.aborted !== true) throw follow.signal.reason
      throw err
    } finally {
      clearInterval(watch)
      wait.clear()
    }
  }

  /** The believed leader first, then this node (a voter serves itself), then the others. */
  private order (voters: string[]): string[] {
    const first = [this.leaderHint, this.init.local !== undefined ? this.init.self : undefined].filter((v): v is string => v !== undefined)
    return [...new Set([...first, ...voters])]
  }

  private async send (target: string, call: ConsensusCall, timeoutMs: number, signal?: AbortSignal): Promise<ConsensusReply> {
    if (target === this.init.self && this.init.local !== undefined) return await this.init.local.serve(call, timeoutMs)
    let conn = this.connections.get(target)
    if (conn === undefined || conn.dead) {
      conn = new VoterConnection(this, target)
      this.connections.set(target, conn)
    }
    return await conn.request(call, timeoutMs, signal)
  }

  /** Used by VoterConnection. */
  async open (target: string, signal: AbortSignal): Promise<Stream> {
    const addrs = this.init.voters.get(target) ?? []
    const to: PeerId | Multiaddr[] = addrs.length > 0 ? addrs.map(a => multiaddr(a)) : peerIdFromString(target)
    return await withDeadline(signal, this.dialTimeoutMs, async signal => await this.host.dialProtocol(to, CONSENSUS_PROTOCOL, { signal }))
  }
}

/** One multiplexed stream to a voter; opened on first use, and replaced once it fails. */
class VoterConnection {
  dead = false
  private readonly client: ConsensusClient
  private readonly target: string
  private opening?: Promise<Stream>
  private stream?: Stream
  private nextId = 1
  private readonly pending = new Map<number, { resolve(r: ConsensusReply): void, reject(e: Error): void }>()

  constructor (client: ConsensusClient, target: string) {
    this.client = client
    this.target = target
  }

  async request (call: ConsensusCall, timeoutMs: number, signal?: AbortSignal): Promise<ConsensusReply> {
    const wait = deadline(signal, Math.max(1, Math.ceil(timeoutMs)))
    try {
      return await this.send(call, timeoutMs, wait.signal, signal)
    } finally {
      wait.clear()
    }
  }

  private async send (call: ConsensusCall, timeoutMs: number, limit: AbortSignal, signal?: AbortSignal): Promise<ConsensusReply> {
    const stream = await this.ensure(limit)
    const id = this.nextId
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1
    const req: Partial<ConsensusRequest> = { id, kind: KIND[call.kind], timeoutMs: Math.max(1, Math.floor(timeoutMs)) }
    if (call.kind === 'command') req.payload = dagCbor.encode(call.command)
    else if (call.kind === 'read') req.payload = dagCbor.encode(call.query)
    else if (call.kind === 'add-voter') { req.peer = call.peer; req.addrs = call.addrs } else if (call.kind === 'remove-voter') req.peer = call.peer
    return await new Promise<ConsensusReply>((resolve, reject) => {
      const onAbort = (): void => {
        this.pending.delete(id)
        reject(signal?.aborted === true ? signal.reason : new UnavailableError(`${short(this.target)} did not answer within ${timeoutMs} ms`))
      }
      limit.addEventListener('abort', onAbort, { once: true })
      this.pending.set(id, {
        resolve: (r) => { limit.removeEventListener('abort', onAbort); resolve(r) },
        reject: (e) => { limit.removeEventListener('abort', onAbort); reject(e) }
      })
      try {
        // one send per frame (prefix and body together): one muxer frame, one encrypted record
        if (!stream.send(frameAll([ConsensusRequest.encode(req)]))) {
          stream.onDrain({ signal: limit }).catch(err => { this.fail(err as Error) })
        }
      } catch (err) {
        this.fail(err as Error)
      }
    })
  }

  close (err: Error): void {
    this.fail(err)
  }

  private async ensure (signal: AbortSignal): Promise<Stream> {
    if (this.stream !== undefined) return this.stream
    this.opening ??= this.client.open(this.target, signal).then(stream => {
      this.stream = stream
      this.readLoop(stream).catch(err => { this.fail(err as Error) })
      return stream
    }, err => {
      this.dead = true
      throw err
    })
    return await this.opening
  }

  private async readLoop (stream: Stream): Promise<void> {
    const reader = new FrameReader(stream, { maxFrameBytes: MAX_CONSENSUS_MESSAGE_BYTES })
    try {
      for (;;) {
        const frame = await reader.next()
        if (frame === undefined) break
        const res = decodeConsensusResponse(frame)
        const p = this.pending.get(res.id)
        if (p === undefined) continue
        this.pending.delete(res.id)
        if (res.error != null) p.resolve({ type: 'error', name: res.error.name, message: res.error.message, exitCode: res.error.exitCode })
        else if (res.redirect != null) p.resolve({ type: 'redirect', leader: res.redirect.leader === '' ? null : res.redirect.leader, addrs: res.redirect.addrs, reachable: res.redirect.reachable, voters: res.redirect.voters })
        else p.resolve({ type: 'ok', value: decodeAnswer(res.payload) })
      }
    } catch (err) {
      if (err instanceof ProtocolViolationError) this.client.penalize(this.target, `consensus: ${err.message}`)
      throw err
    } finally {
      reader.release()
    }
    this.fail(new UnavailableError(`${short(this.target)} closed the consensus stream`))
  }

  private fail (err: Error): void {
    this.dead = true
    this.stream?.abort(err)
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }
}

const KIND: Record<ConsensusCall['kind'], ConsensusRequest.Kind> = {
  command: ConsensusRequest.Kind.COMMAND,
  read: ConsensusRequest.Kind.READ,
  status: ConsensusRequest.Kind.STATUS,
  'add-voter': ConsensusRequest.Kind.ADD_VOTER,
  'remove-voter': ConsensusRequest.Kind.REMOVE_VOTER
}

/** An answer's dag-cbor payload; one that does not decode is the voter's protocol violation. */
function decodeAnswer (payload: Uint8Array): unknown {
  try {
    return dagCbor.decode(payload)
  } catch (err) {
    throw new ProtocolViolationError(`malformed consensus answer: ${(err as Error).message}`)
  }
}

/** Sleep `ms` (but not past the deadline) and return the next, longer, pause. */
async function pause (ms: number, deadline: number): Promise<number> {
  const wait = Math.max(0, Math.min(ms, deadline - Date.now()))
  if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
  return Math.min(ms * 2, MAX_ELECTION_BACKOFF_MS)
}

function short (peer: string): string {
  return peer.length > 16 ? `…${peer.slice(-8)}` : peer
}
