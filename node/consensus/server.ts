/**
 * The voter's side of `/dits/consensus/1.0.0` (PROTOCOL.md, "Consensus protocols"): commits commands (as leader), answers
 * linearizable reads (any voter, ReadIndex), reports status, and changes membership (leader). A voter that
 * is not the leader answers a command with a redirect naming the leader it knows — the client then retries
 * there with the same (client, seq) — rather than forwarding it, so a command crosses the network once.
 *
 * `serve()` is also what a voter's own daemon calls for itself, without a stream.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CONSENSUS_PROTOCOL } from '../../protocol/ids.ts'
import { MAX_CONSENSUS_INFLIGHT_REQUESTS, MAX_CONSENSUS_MESSAGE_BYTES } from '../../protocol/limits.ts'
import { ConsensusRequest, ConsensusResponse } from '../../protocol/consensus.ts'
import { NotLeaderError, ProposalDroppedError } from '../../src/raft/index.ts'
import {
  AccessDeniedError, InvalidCommandError, STAMPED_FIELDS, accessDenied, admit, hasRole, validateCommand, validateQuery
} from '../../src/state/index.ts'
import { FrameReader } from '../net/framing.ts'
import { PeerTimeoutError, ProtocolViolationError } from '../net/errors.ts'
import { NoQuorumError } from './errors.ts'
import { decodeConsensusRequest, frameAll } from './wire.ts'
import type { Connection, Stream } from '@libp2p/interface'
import type { RaftDriver } from './driver.ts'
import type { RaftTransport } from './transport.ts'
import type { AccessLsReply, AccessRole, AccessTable, Query, RequestBody } from '../../src/state/index.ts'

/** An inbound client stream with no request in flight that receives nothing for this long is closed. */
export const DEFAULT_CONSENSUS_IDLE_TIMEOUT_MS = 60_000
/** How long writing one response may take. */
export const DEFAULT_CONSENSUS_SEND_TIMEOUT_MS = 10_000
/** A voter answers this much before the client's own deadline, so that its reason arrives in time. */
const ANSWER_MARGIN_MS = 250

/** A request in the form both the wire and a local caller use. */
export type ConsensusCall =
  | { kind: 'command', command: RequestBody }
  | { kind: 'read', query: Query }
  | { kind: 'status' }
  | { kind: 'add-voter', peer: string, addrs: string[] }
  | { kind: 'remove-voter', peer: string }

export type ConsensusReply =
  | { type: 'ok', value: unknown }
  | { type: 'error', name: string, message: string, exitCode: number }
  | { type: 'redirect', leader: string | null, addrs: string[], reachable: number, voters: number }

export interface ConsensusServerComponents {
  driver: RaftDriver
  transport: RaftTransport
  /** the multiaddrs of a peer as this node knows them, for redirects */
  addressesOf(peer: string): string[]
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number, maxOutboundStreams?: number }): Promise<void>
  unhandle(protocol: string): Promise<void>
  /**
   * config `access`: the table this voter enforces until the replicated one is set (by the first access change,
   * which starts from it)
   */
  configAccess(): AccessTable
}

export interface ConsensusServerInit {
  /** @default DEFAULT_CONSENSUS_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  log?(message: string): void
  /** a client that broke the protocol (a malformed or oversized request frame) is scored and disconnected */
  penalize?(peer: string, reason: string, disconnect?: boolean): void
}

export class ConsensusServer {
  private readonly c: ConsensusServerComponents
  private readonly idleTimeoutMs: number
  private readonly log?: (message: string) => void
  private readonly penalize?: (peer: string, reason: string, disconnect?: boolean) => void
  private readonly streams = new Set<Stream>()

  constructor (components: ConsensusServerComponents, init: ConsensusServerInit = {}) {
    this.c = components
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_CONSENSUS_IDLE_TIMEOUT_MS
    this.log = init.log
    this.penalize = init.penalize
  }

  async start (): Promise<void> {
    await this.c.handle(CONSENSUS_PROTOCOL, this.onStream, { maxInboundStreams: 256, maxOutboundStreams: 64 })
  }

  async stop (): Promise<void> {
    await this.c.unhandle(CONSENSUS_PROTOCOL).catch(() => {})
    for (const s of this.streams) s.abort(new Error('node stopping'))
    this.streams.clear()
  }

  /** The leader this voter knows of right now (itself included), for a client on this node to follow. */
  leader (): string | undefined {
    return this.c.driver.leader
  }

  /**
   * Serve one request, giving up with a reason shortly before `timeoutMs` runs out. Never throws. `from` is who
   * asks: the authenticated remote peer of the connection the request came over, or this voter itself for its
   * own daemon's calls. It is the `owner` of a command and what every role check looks at (DESIGN §10).
   */
  async serve (call: ConsensusCall, timeoutMs: number, from: string = this.c.driver.id): Promise<ConsensusReply> {
    const { driver } = this.c
    const budget = Math.max(1, Math.floor(timeoutMs - Math.min(ANSWER_MARGIN_MS, timeoutMs / 10)))
    const signal = AbortSignal.timeout(budget)
    try {
      switch (call.kind) {
        case 'command': {
          if (driver.role !== 'leader') return this.redirect()
          const replicated = await driver.accessTable({ signal })
          const admitted = admit(call.command, { from, table: replicated ?? this.c.configAccess(), unset: replicated === null, voters: driver.voters })
          // a refusal is the command's result, as the state machine's own refusals are
          if (!('command' in admitted)) return ok(admitted)
          const waitOutcome = admitted.command.type === 'lock.acquire' && (admitted.command.waitMs ?? 0) > 0
          return ok(await driver.submit(admitted.command, { signal, waitOutcome }))
        }
        case 'read': {
          const reply = await driver.read(call.query, { signal })
          // checked after the read point, so against a table at least as new as the read
          this.check(from, 'read', driver.appliedAccessTable(), `read ${call.query.type}`)
          if (call.query.type !== 'access.ls') return ok(reply)
          // until the first access change, the table in effect is this voter's config `access`
          const { table, ...rest } = reply as AccessLsReply
          return ok({ ...rest, table: table ?? this.c.configAccess(), source: table === null ? 'config' : 'replicated', voters: driver.voters })
        }
        case 'status':
          this.check(from, 'read', driver.appliedAccessTable(), 'cluster status')
          return ok(driver.status())
        case 'add-voter':
        case 'remove-voter': {
          if (driver.role !== 'leader') return this.redirect()
          this.check(from, 'admin', await driver.accessTable({ signal }), `cluster ${call.kind === 'add-voter' ? 'add' : 'remove'}`)
          if (call.kind === 'remove-voter') return ok({ voters: await driver.changeVoters({ type: 'remove', node: call.peer }, { signal }) })
          this.c.transport.addPeer(call.peer, call.addrs)
          return ok({ voters: await driver.changeVoters({ type: 'add', node: call.peer }, { signal }) })
        }
      }
    } catch (err) {
      if (err instanceof NotLeaderError || err instanceof ProposalDroppedError) return this.redirect()
      if (signal.aborted) return failure(driver.noQuorum(`${call.kind} not done within ${timeoutMs} ms`))
      return failure(err as Error)
    }
  }

  /** @throws {AccessDeniedError} naming `from` and the role it lacks */
  private check (from: string, role: AccessRole, replicated: AccessTable | null, what: string): void {
    const table = replicated ?? this.c.configAccess()
    if (hasRole(table, from, role, this.c.driver.voters)) return
    const refusal = accessDenied(table, from, role, what)
    throw new AccessDeniedError(refusal.error.message, refusal.error)
  }

  private redirect (): ConsensusReply {
    const { driver } = this.c
    const leader = driver.leader === undefined || driver.leader === driver.id ? null : driver.leader
    const q = driver.quorumView()
    return { type: 'redirect', leader, addrs: leader === null ? [] : this.c.addressesOf(leader), reachable: q.reachable, voters: q.voters }
  }

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    this.serveStream(stream, connection.remotePeer.toString()).catch(err => {
      this.log?.(`consensus: stream from ${connection.remotePeer.toString()} failed: ${(err as Error).message}`)
    })
  }

  private async serveStream (stream: Stream, from: string): Promise<void> {
    this.streams.add(stream)
    const reader = new FrameReader(stream, { maxFrameBytes: MAX_CONSENSUS_MESSAGE_BYTES })
    let inflight = 0
    let slot: (() => void) | undefined
    try {
      for (;;) {
        let frame: Uint8Array | undefined
        try {
          frame = await reader.next({ signal: AbortSignal.timeout(this.idleTimeoutMs) })
        } catch (err) {
          if (err instanceof PeerTimeoutError && inflight > 0) continue
          throw err
        }
        if (frame === undefined) break
        const req = decodeConsensusRequest(frame)
        inflight++
        this.answer(stream, req, from).finally(() => {
          inflight--
          slot?.()
        })
        // bounded concurrency per stream: stop reading (the sender's window fills) until a slot frees up
        while (inflight >= MAX_CONSENSUS_INFLIGHT_REQUESTS) await new Promise<void>(resolve => { slot = resolve })
      }
      reader.release()
      while (inflight > 0) await new Promise<void>(resolve => { slot = resolve })
      await stream.close({ signal: AbortSignal.timeout(DEFAULT_CONSENSUS_SEND_TIMEOUT_MS) }).catch(() => stream.abort(new PeerTimeoutError('close timed out')))
    } catch (err) {
      reader.release()
      stream.abort(err as Error)
      if (err instanceof ProtocolViolationError) this.penalize?.(from, `consensus: ${err.message}`, true)
      throw err
    } finally {
      this.streams.delete(stream)
    }
  }

  private async answer (stream: Stream, req: ConsensusRequest, from: string): Promise<void> {
    let reply: ConsensusReply
    try {
      reply = await this.serve(callFromWire(req), req.timeoutMs, from)
    } catch (err) {
      reply = failure(err as Error)
    }
    const res: Partial<ConsensusResponse> = { id: req.id }
    if (reply.type === 'ok') res.payload = dagCbor.encode(reply.value)
    else if (reply.type === 'error') res.error = { name: reply.name, message: reply.message, exitCode: reply.exitCode }
    else res.redirect = { leader: reply.leader ?? '', addrs: reply.addrs, reachable: reply.reachable, voters: reply.voters }
    if (stream.status !== 'open') return
    // one send per frame (prefix and body together): one muxer frame, one encrypted record, one socket write
    if (!stream.send(frameAll([ConsensusResponse.encode(res)]))) {
      await stream.onDrain({ signal: AbortSignal.timeout(DEFAULT_CONSENSUS_SEND_TIMEOUT_MS) }).catch(err => {
        stream.abort(err as Error)
      })
    }
  }
}

/** A request off the wire as a call; InvalidCommandError (exit 2) for a malformed payload. */
export function callFromWire (req: ConsensusRequest): ConsensusCall {
  switch (req.kind) {
    case ConsensusRequest.Kind.COMMAND: {
      const raw = decodePayload(req.payload, 'command')
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Uint8Array) throw new InvalidCommandError('invalid command: expected a map')
      const fields = raw as Record<string, unknown>
      if (fields.type === 'lock.expire') throw new InvalidCommandError('invalid command: lock.expire is proposed by the leader only')
      // The fields a voter stamps (owner, now, base) are set aside and the rest validated with placeholders;
      // a request that carries one is kept as it came, so that `admit` refuses it, naming the field.
      const claimed = Object.fromEntries(STAMPED_FIELDS.filter(k => fields[k] !== undefined).map(k => [k, fields[k]]))
      const rest = Object.fromEntries(Object.entries(fields).filter(([k]) => !(STAMPED_FIELDS as readonly string[]).includes(k)))
      const { now: _now, owner: _owner, ...body } = validateCommand({ ...rest, now: 0, owner: PLACEHOLDER_OWNER }) as unknown as Record<string, unknown>
      return { kind: 'command', command: { ...body, ...claimed } as RequestBody }
    }
    case ConsensusRequest.Kind.READ:
      return { kind: 'read', query: validateQuery(decodePayload(req.payload, 'query')) }
    case ConsensusRequest.Kind.STATUS:
      return { kind: 'status' }
    case ConsensusRequest.Kind.ADD_VOTER:
      return { kind: 'add-voter', peer: req.peer, addrs: req.addrs }
    case ConsensusRequest.Kind.REMOVE_VOTER:
      return { kind: 'remove-voter', peer: req.peer }
  }
}

/** Stands in for the owner while a request is validated; `admit` sets the real one. */
const PLACEHOLDER_OWNER = 'unauthenticated'

function decodePayload (payload: Uint8Array, what: string): unknown {
  try {
    return dagCbor.decode(payload)
  } catch (err) {
    throw new InvalidCommandError(`invalid ${what}: not dag-cbor (${(err as Error).message})`)
  }
}

function ok (value: unknown): ConsensusReply {
  return { type: 'ok', value }
}

function failure (err: Error & { exitCode?: number }): ConsensusReply {
  const exitCode = err instanceof NoQuorumError ? 4 : (err.exitCode ?? 1)
  return { type: 'error', name: err.name ?? 'Error', message: err.message ?? String(err), exitCode }
}
