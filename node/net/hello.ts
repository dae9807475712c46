/**
 * `/dits/hello/1.0.0` (PROTOCOL.md §Hello): on every new connection the dialer sends its Hello, the
 * listener answers with its own, and both keep the intersection — common protocol versions, common
 * features, the smaller of each limit — and the peer's roles. A peer that shares no chunks protocol major
 * version, or whose limits cannot carry a maximum-size block, is told why (`reject`) and disconnected.
 */
import { Hello } from '../../protocol/hello.ts'
import {
  HELLO_PROTOCOL, CHUNKS_PROTOCOL, parseProtocolId, MAX_HELLO_BYTES, MAX_HELLO_LIST_ITEMS, MAX_STRING_CHARS,
  MAX_BLOCK_BYTES, MAX_MESSAGE_BYTES, DEFAULT_MAX_OUTSTANDING_WANTS, DEFAULT_MAX_IN_FLIGHT_BYTES
} from '../../protocol/index.ts'
import { FrameReader, writeFrame } from './framing.ts'
import { IncompatiblePeerError, PeerTimeoutError, ProtocolViolationError } from './errors.ts'
import type { AbortOptions, Connection, PeerId, Startable, Stream, Libp2pEvents, ComponentLogger, Logger } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { TypedEventTarget } from 'main-event'

/** The whole exchange (open, send, receive) must finish within this. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000
/** After sending a reject, how long to let it reach the peer before closing the connection. */
export const DEFAULT_REJECT_LINGER_MS = 200
/** Features this implementation supports (PROTOCOL.md §Features). */
export const FEATURES = ['want-have', 'dont-have', 'cancel', 'swarm']
export const AGENT = 'dits-node/0.1.0'

export interface NegotiatedLimits {
  maxMessageBytes: number
  maxBlockBytes: number
  maxOutstandingWants: number
  maxInFlightBytes: number
}

/** What both sides of a connection agreed on. */
export interface PeerHello {
  roles: string[]
  /** the protocols both speak (our ids) */
  protocols: string[]
  features: string[]
  limits: NegotiatedLimits
  agent: string
}

export type Negotiation = { ok: true, hello: PeerHello } | { ok: false, reason: string }

export function localLimits (): NegotiatedLimits {
  return {
    maxMessageBytes: MAX_MESSAGE_BYTES,
    maxBlockBytes: MAX_BLOCK_BYTES,
    maxOutstandingWants: DEFAULT_MAX_OUTSTANDING_WANTS,
    maxInFlightBytes: DEFAULT_MAX_IN_FLIGHT_BYTES
  }
}

/** Intersect our Hello with the peer's. Pure. */
export function negotiate (local: Hello, remote: Hello): Negotiation {
  if (remote.reject !== '') return { ok: false, reason: `peer refused the connection: ${remote.reject}` }
  const protocols: string[] = []
  for (const ours of local.protocols) {
    const o = parseProtocolId(ours)
    if (o == null) continue
    const match = remote.protocols.some(theirs => {
      const t = parseProtocolId(theirs)
      return t != null && t.name === o.name && t.major === o.major
    })
    if (match) protocols.push(ours)
  }
  const chunks = parseProtocolId(CHUNKS_PROTOCOL)
  if (chunks != null && local.protocols.includes(CHUNKS_PROTOCOL) && !protocols.includes(CHUNKS_PROTOCOL)) {
    const theirs = remote.protocols.filter(p => parseProtocolId(p)?.name === chunks.name)
    return {
      ok: false,
      reason: `no common /dits/chunks version: this node speaks ${CHUNKS_PROTOCOL} (major ${chunks.major}), the peer speaks ${theirs.length > 0 ? theirs.join(', ') : 'none'}; upgrade the older node`
    }
  }
  const l = local.limits
  const r = remote.limits
  if (l == null || r == null) return { ok: false, reason: 'the peer sent no limits' }
  const limits: NegotiatedLimits = {
    maxMessageBytes: Math.min(l.maxMessageBytes, r.maxMessageBytes),
    maxBlockBytes: Math.min(l.maxBlockBytes, r.maxBlockBytes),
    maxOutstandingWants: Math.min(l.maxOutstandingWants, r.maxOutstandingWants),
    maxInFlightBytes: Number(l.maxInFlightBytes < r.maxInFlightBytes ? l.maxInFlightBytes : r.maxInFlightBytes)
  }
  if (limits.maxBlockBytes < MAX_BLOCK_BYTES) {
    return { ok: false, reason: `the peer accepts blocks of at most ${limits.maxBlockBytes} bytes; dits chunks and manifest nodes may be ${MAX_BLOCK_BYTES} bytes` }
  }
  if (limits.maxMessageBytes < MAX_BLOCK_BYTES) {
    return { ok: false, reason: `the peer accepts messages of at most ${limits.maxMessageBytes} bytes; one block needs ${MAX_BLOCK_BYTES}` }
  }
  if (limits.maxOutstandingWants < 1 || limits.maxInFlightBytes < MAX_BLOCK_BYTES) {
    return { ok: false, reason: `the peer's limits (${limits.maxOutstandingWants} wants, ${limits.maxInFlightBytes} bytes in flight) cannot carry one block` }
  }
  return {
    ok: true,
    hello: {
      roles: remote.roles,
      protocols,
      features: local.features.filter(f => remote.features.includes(f)),
      limits,
      agent: remote.agent
    }
  }
}

/** Decode a Hello, enforcing the list and string bounds of PROTOCOL.md. */
export function decodeHello (bytes: Uint8Array | Uint8ArrayList): Hello {
  let hello: Hello
  try {
    hello = Hello.decode(bytes, { limits: { protocols: MAX_HELLO_LIST_ITEMS, roles: MAX_HELLO_LIST_ITEMS, features: MAX_HELLO_LIST_ITEMS } })
  } catch (err) {
    throw new ProtocolViolationError(`malformed hello: ${(err as Error).message}`)
  }
  const strings = [...hello.protocols, ...hello.roles, ...hello.features, hello.agent, hello.reject]
  if (strings.some(s => s.length > MAX_STRING_CHARS)) throw new ProtocolViolationError(`hello carries a string longer than ${MAX_STRING_CHARS} characters`)
  return hello
}

export interface HelloInit {
  /** roles this node announces: 'peer' or 'seed', plus 'voter' */
  roles: string[]
  /** protocols announced besides hello and chunks (e.g. the consensus layer's) */
  extraProtocols?: string[]
  /** @default DEFAULT_HELLO_TIMEOUT_MS */
  timeoutMs?: number
  /** score a peer whose hello broke the protocol (malformed, over a limit); its connection is closed anyway */
  penalize?(peer: PeerId, reason: string): void
}

export interface HelloComponents {
  registrar: Registrar
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

type HelloResult = { ok: true, hello: PeerHello } | { ok: false, reason: string }

export interface HelloEventDetail {
  peer: PeerId
  result: HelloResult
}

export class HelloService implements Startable {
  readonly timeoutMs: number
  private readonly components: HelloComponents
  private readonly local: Hello
  private readonly log: Logger
  private readonly results = new Map<string, HelloResult>()
  private readonly waiters = new EventTarget()
  private readonly penalize?: (peer: PeerId, reason: string) => void
  private started = false

  constructor (components: HelloComponents, init: HelloInit) {
    this.components = components
    this.timeoutMs = init.timeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS
    this.penalize = init.penalize
    this.log = components.logger.forComponent('dits:hello')
    const limits = localLimits()
    this.local = {
      protocols: [HELLO_PROTOCOL, CHUNKS_PROTOCOL, ...(init.extraProtocols ?? [])],
      roles: init.roles,
      limits: { ...limits, maxInFlightBytes: BigInt(limits.maxInFlightBytes) },
      features: FEATURES,
      agent: AGENT,
      reject: ''
    }
  }

  readonly [Symbol.toStringTag] = 'dits:hello'

  async start (): Promise<void> {
    await this.components.registrar.handle(HELLO_PROTOCOL, this.onStream, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
    this.components.events.addEventListener('peer:disconnect', this.onPeerDisconnect)
    this.started = true
  }

  async stop (): Promise<void> {
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    this.components.events.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    await this.components.registrar.unhandle(HELLO_PROTOCOL)
    this.results.clear()
    this.started = false
  }

  isStarted (): boolean {
    return this.started
  }

  /** The negotiated hello of a connected peer, if the exchange succeeded. */
  get (peer: PeerId | string): PeerHello | undefined {
    const r = this.results.get(peer.toString())
    return r?.ok === true ? r.hello : undefined
  }

  /** Why hello with `peer` failed, if it did. */
  failure (peer: PeerId | string): string | undefined {
    const r = this.results.get(peer.toString())
    return r?.ok === false ? r.reason : undefined
  }

  /** Peers with a successful hello. */
  peers (): Array<{ peer: string, hello: PeerHello }> {
    const out: Array<{ peer: string, hello: PeerHello }> = []
    for (const [peer, r] of this.results) if (r.ok) out.push({ peer, hello: r.hello })
    return out
  }

  /** Wait for the hello exchange with `peer` to finish; throws IncompatiblePeerError when it failed. */
  async waitFor (peer: PeerId | string, options: AbortOptions = {}): Promise<PeerHello> {
    const key = peer.toString()
    const signal = options.signal ?? AbortSignal.timeout(this.timeoutMs * 2)
    for (;;) {
      const r = this.results.get(key)
      if (r != null) {
        if (r.ok) return r.hello
        throw new IncompatiblePeerError(`peer ${key} is incompatible: ${r.reason}`)
      }
      signal.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const onResult = (evt: Event): void => {
          if ((evt as CustomEvent<HelloEventDetail>).detail.peer.toString() !== key) return
          done()
          resolve()
        }
        const onAbort = (): void => {
          done()
          reject(new PeerTimeoutError(`no hello from ${key} in time`))
        }
        const done = (): void => {
          this.waiters.removeEventListener('result', onResult)
          signal.removeEventListener('abort', onAbort)
        }
        this.waiters.addEventListener('result', onResult)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  private record (peer: PeerId, result: HelloResult): void {
    const key = peer.toString()
    // a second connection's failed hello does not spoil an established one
    if (result.ok || this.results.get(key)?.ok !== true) this.results.set(key, result)
    this.waiters.dispatchEvent(new CustomEvent<HelloEventDetail>('result', { detail: { peer, result } }))
    if (!result.ok) this.log('hello with %p failed: %s', peer, result.reason)
  }

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    const r = this.results.get(evt.detail.toString())
    // keep a rejection so a waiter can still read why; forget successes
    if (r?.ok === true) this.results.delete(evt.detail.toString())
  }

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    const connection = evt.detail
    if (connection.direction !== 'outbound') return
    this.initiate(connection).catch(err => {
      this.log.error('hello with %p failed - %e', connection.remotePeer, err)
    })
  }

  private async initiate (connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.timeoutMs)
    let stream: Stream | undefined
    try {
      stream = await connection.newStream(HELLO_PROTOCOL, { signal })
      const reader = new FrameReader(stream, { maxFrameBytes: MAX_HELLO_BYTES })
      await writeFrame(stream, Hello.encode(this.local), { signal })
      const frame = await reader.next({ signal })
      if (frame == null) throw new IncompatiblePeerError('peer closed the hello stream without answering')
      const remote = decodeHello(frame)
      reader.release()
      await stream.close({ signal }).catch(() => {})
      const result = negotiate(this.local, remote)
      this.record(connection.remotePeer, result)
      if (!result.ok) await connection.close().catch(() => {})
    } catch (err) {
      stream?.abort(err as Error)
      const reason = (err as Error).name === 'UnsupportedProtocolError'
        ? `peer does not speak ${HELLO_PROTOCOL}`
        : (err as Error).message
      this.record(connection.remotePeer, { ok: false, reason })
      if (err instanceof ProtocolViolationError) this.penalize?.(connection.remotePeer, `hello: ${reason}`)
      await connection.close().catch(() => {})
    }
  }

  private readonly onStream = (stream: Stream, connection: Connection): void => {
    this.respond(stream, connection).catch(err => {
      this.log.error('hello from %p failed - %e', connection.remotePeer, err)
    })
  }

  private async respond (stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(this.timeoutMs)
    try {
      const reader = new FrameReader(stream, { maxFrameBytes: MAX_HELLO_BYTES })
      const frame = await reader.next({ signal })
      if (frame == null) throw new IncompatiblePeerError('peer closed the hello stream without a hello')
      const remote = decodeHello(frame)
      reader.release()
      const result = negotiate(this.local, remote)
      const answer = result.ok ? this.local : { ...this.local, reject: result.reason }
      await writeFrame(stream, Hello.encode(answer), { signal })
      await stream.close({ signal }).catch(() => {})
      this.record(connection.remotePeer, result)
      if (!result.ok) {
        await new Promise(resolve => setTimeout(resolve, DEFAULT_REJECT_LINGER_MS))
        await connection.close().catch(() => {})
      }
    } catch (err) {
      stream.abort(err as Error)
      this.record(connection.remotePeer, { ok: false, reason: (err as Error).message })
      if (err instanceof ProtocolViolationError) this.penalize?.(connection.remotePeer, `hello: ${(err as Error).message}`)
      await connection.close().catch(() => {})
    }
  }
}

export function hello (init: HelloInit): (components: HelloComponents) => HelloService {
  return (components) => new HelloService(components, init)
}

