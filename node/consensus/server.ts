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
import { validateCommand, validateQuery, InvalidCommandError } from '../../src/state/index.ts'
import { FrameReader } from '../net/framing.ts'
import { PeerTimeoutError } from '../net/errors.ts'
import { NoQuorumError } from './errors.ts'
import { decodeConsensusRequest, frameAll } from './wire.ts'
import type { Connection, Stream } from '@libp2p/interface'
import type { RaftDriver, CommandInput } from './driver.ts'
import type { RaftTransport } from './transport.ts'
import type { Query } from '../../src/state/index.ts'

/** An inbound client stream with no request in flight that receives nothing for this long is closed. */
export const DEFAULT_CONSENSUS_IDLE_TIMEOUT_MS = 60_000
/** How long writing one response may take. */
export const DEFAULT_CONSENSUS_SEND_TIMEOUT_MS = 10_000
/** A voter answers this much before the client's own deadline, so that its reason arrives in time. */
const ANSWER_MARGIN_MS = 250

/** A request in the form both the wire and a local caller use. */
export type ConsensusCall =
  | { kind: 'command', command: CommandInput }
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
}

export interface ConsensusServerInit {
  /** @default DEFAULT_CONSENSUS_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  log?(message: string): void
}

export class ConsensusServer {
  private readonly c: ConsensusServerComponents
  private readonly idleTimeoutMs: number
  private readonly log?: (message: string) => void
  private readonly streams = new Set<Stream>()

  constructor (components: ConsensusServerComponents, init: ConsensusServerInit = {}) {
    this.c = components
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_CONSENSUS_IDLE_TIMEOUT_MS
    this.log = init.log
  }

  async start (): Promise<void> {
    await this.c.handle(CONSENSUS_PROTOCOL, this.onStream, { maxInboundStreams: 256, maxOutboundStreams: 64 })
  }

  async stop (): Promise<void> {
    await this.c.unhandle(CONSENSUS_PROTOCOL).catch(() => {})
    for (const s of this.streams) s.abort(new Error('node stopping'))
    this.streams.clear()
  }

  /** Serve one request, giving up with a reason shortly before `timeoutMs` runs out. Never throws. */
  async serve (call: ConsensusCall, timeoutMs: number): Promise<ConsensusReply> {
    const { driver } = this.c
    const budget = Math.max(1, Math.floor(timeoutMs - Math.min(ANSWER_MARGIN_MS, timeoutMs / 10)))
    const signal = AbortSignal.timeout(budget)
    try {
      switch (call.kind) {
        case 'command': {
          if (driver.role !== 'leader') return this.redirect()
          const waitOutcome = call.command.type === 'lock.acquire' && (call.command.waitMs ?? 0) > 0
          return ok(await driver.submit(call.command, { signal, waitOutcome }))
        }
        case 'read':
          return ok(await driver.read(call.query, { signal }))
        case 'status':
          return ok(driver.status())
        case 'add-voter':
          if (driver.role !== 'leader') return this.redirect()
          this.c.transport.addPeer(call.peer, call.addrs)
          return ok({ voters: await driver.changeVoters({ type: 'add', node: call.peer }, { signal }) })
        case 'remove-voter':
          if (driver.role !== 'leader') return this.redirect()
          return ok({ voters: await driver.changeVoters({ type: 'remove', node: call.peer }, { signal }) })
      }
    } catch (err) {
      if (err instanceof NotLeaderError || err instanceof ProposalDroppedError) return this.redirect()
      if (signal.aborted) return failure(driver.noQuorum(`${call.kind} not done within ${timeoutMs} ms`))
      return failure(err as Error)
    }
  }

  private redirect (): ConsensusReply {
    const { driver } = this.c
    const leader = driver.leader === undefined || driver.leader === driver.id ? null : driver.leader
    const q = driver.quorumView()
    return { type: 'redirect', leader, addrs: leader === null ? [] : this.c.addressesOf(leader), reachable: q.reachable, voters: q.voters }
  }

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    this.serveStream(stream).catch(err => {
      this.log?.(`consensus: stream from ${connection.remotePeer.toString()} failed: ${(err as Error).message}`)
    })
  }

  private async serveStream (stream: Stream): Promise<void> {
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
        this.answer(stream, req).finally(() => {
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
      throw err
    } finally {
      this.streams.delete(stream)
    }
  }

  private async answer (stream: Stream, req: ConsensusRequest): Promise<void> {
    let reply: ConsensusReply
    try {
      reply = await this.serve(callFromWire(req), req.timeoutMs)
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
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidCommandError('invalid command: expected a map')
      // validate with a placeholder `now`; the leader stamps the real one when it proposes
      const { now: _now, ...command } = validateCommand({ ...(raw as Record<string, unknown>), now: 0 }) as unknown as Record<string, unknown>
      if (command.type === 'lock.expire') throw new InvalidCommandError('invalid command: lock.expire is proposed by the leader only')
      return { kind: 'command', command: command as unknown as CommandInput }
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
