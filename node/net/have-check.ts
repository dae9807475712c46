/**
 * Batched have-checks (issue 17, `availability`): which of a list of CIDs one peer holds, asked over one
 * `/dits/chunks/1.0.0` stream with HAVE wants and answered with presences (PROTOCOL.md "Have-checks"). The wants
 * go out in messages of at most MAX_ENTRIES_PER_MESSAGE and are pipelined: more are sent as answers come, never
 * more outstanding than the limit negotiated in hello. A responder answers a HAVE want from its blockstore's
 * `has`, without reading the block, so a check of 10,000 chunks costs the peer 10,000 lookups and no block reads.
 *
 * @example
 * ```ts
 * const check = await openHaveCheck(libp2p.services.chunks, peer, { maxOutstandingWants: hello.limits.maxOutstandingWants })
 * try {
 *   const held = await check.check(cids, { signal })   // held[i]: the peer holds cids[i]
 * } finally {
 *   check.close()
 * }
 * ```
 */
import { MAX_ENTRIES_PER_MESSAGE } from '../../protocol/limits.ts'
import { HaveCheckRefusedError, PeerTimeoutError, ProtocolViolationError, RemoteProtocolError } from './errors.ts'
import { deferred } from '../deferred.ts'
import { cidKey } from '../../src/cid.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { ChunkExchange, ChunkSession } from './chunk-exchange.ts'
import type { Deferred } from '../deferred.ts'

/** A check with wants outstanding fails when the peer answers none of them for this long. */
export const DEFAULT_HAVE_CHECK_IDLE_TIMEOUT_MS = 10_000

export interface HaveCheckInit {
  /** the outstanding wants negotiated with the peer in hello (`limits.maxOutstandingWants`) */
  maxOutstandingWants: number
  /** @default DEFAULT_HAVE_CHECK_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
}

/** One batch in flight: the distinct CIDs asked, by key, and where each answer goes. */
interface Batch {
  cids: CID[]
  /** key → positions in the caller's list (a CID listed twice is asked once) */
  positions: Map<string, number[]>
  held: boolean[]
  next: number
  outstanding: number
  answered: number
  done: Deferred<boolean[]>
  timer?: ReturnType<typeof setTimeout>
}

/** The asking end of one have-check stream to one peer; checks run one after the other on it. */
export class HaveCheck {
  readonly peer: PeerId
  private readonly window: number
  private readonly idleTimeoutMs: number
  private session?: ChunkSession
  private batch?: Batch
  private tail: Promise<unknown> = Promise.resolve()
  private failure?: Error

  constructor (peer: PeerId, init: HaveCheckInit) {
    if (!Number.isSafeInteger(init.maxOutstandingWants) || init.maxOutstandingWants < 1) throw new RangeError(`maxOutstandingWants must be a whole number >= 1, not ${init.maxOutstandingWants}`)
    this.peer = peer
    this.window = init.maxOutstandingWants
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_HAVE_CHECK_IDLE_TIMEOUT_MS
  }

  attach (session: ChunkSession): void {
    this.session = session
  }

  /**
   * The session's handlers: presences answer the batch in flight; a close fails it. A block is never asked for
   * here: the session then closes with the violation (and the exchange penalizes the peer, PROTOCOL.md).
   */
  readonly handlers = {
    onBlock: async (): Promise<void> => { throw new ProtocolViolationError('a block on a have-check stream, which asks for none') },
    onPresence: (cid: CID, have: boolean): void => { this.onPresence(cid, have) },
    onClose: (err?: Error): void => { this.onClose(err) }
  }

  /**
   * Which of `cids` the peer holds: `held[i]` for `cids[i]`. Fails with HaveCheckRefusedError when the peer
   * refuses to answer (it does not serve this node: the read role), PeerTimeoutError when it answers nothing for
   * the idle timeout, or the signal's reason.
   */
  async check (cids: CID[], options: AbortOptions = {}): Promise<boolean[]> {
    const run = this.tail.then(async () => await this.run(cids, options))
    this.tail = run.catch(() => {})
    return await run
  }

  /** Close the stream; a check in flight fails. */
  close (): void {
    this.session?.close()
  }

  private async run (cids: CID[], options: AbortOptions): Promise<boolean[]> {
    if (this.failure != null) throw this.failure
    const session = this.session
    if (session == null) throw new Error('the have-check has no session: attach one first')
    options.signal?.throwIfAborted()
    const positions = new Map<string, number[]>()
    const distinct: CID[] = []
    cids.forEach((cid, i) => {
      const key = cidKey(cid)
      const at = positions.get(key)
      if (at === undefined) {
        positions.set(key, [i])
        distinct.push(cid)
      } else {
        at.push(i)
      }
    })
    const batch: Batch = { cids: distinct, positions, held: new Array<boolean>(cids.length).fill(false), next: 0, outstanding: 0, answered: 0, done: deferred<boolean[]>() }
    if (distinct.length === 0) return batch.held
    this.batch = batch
    const onAbort = (): void => { this.fail(batch, options.signal?.reason as Error) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      this.refill(batch)
      return await batch.done.promise
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
      clearTimeout(batch.timer)
      if (this.batch === batch) this.batch = undefined
    }
  }

  /**
   * Send more wants once half the window is answered, up to the window: the responder keeps working on the rest
   * while the answers travel, and never holds more than the negotiated limit.
   */
  private refill (batch: Batch): void {
    if (batch.next < batch.cids.length && batch.outstanding <= this.window / 2) {
      const room = Math.min(this.window - batch.outstanding, batch.cids.length - batch.next)
      for (let sent = 0; sent < room; sent += MAX_ENTRIES_PER_MESSAGE) {
        const n = Math.min(MAX_ENTRIES_PER_MESSAGE, room - sent)
        this.session?.want(batch.cids.slice(batch.next, batch.next + n), 'have')
        batch.next += n
        batch.outstanding += n
      }
    }
    this.arm(batch)
  }

  /** The idle timer: re-armed at every answer while wants are outstanding. */
  private arm (batch: Batch): void {
    clearTimeout(batch.timer)
    if (batch.outstanding === 0) return
    batch.timer = setTimeout(() => {
      this.fail(batch, new PeerTimeoutError(`peer ${this.peer.toString()} answered none of ${batch.outstanding} have-checks in ${this.idleTimeoutMs / 1000} s`))
    }, this.idleTimeoutMs)
  }

  private onPresence (cid: CID, have: boolean): void {
    const batch = this.batch
    // an answer to nothing asked (a want of an earlier, failed check) tells nothing
    const key = cidKey(cid)
    const at = batch?.positions.get(key)
    if (batch == null || at === undefined) return
    // answered: a second presence for the same CID is not counted twice
    batch.positions.delete(key)
    for (const i of at) batch.held[i] = have
    batch.outstanding--
    batch.answered++
    if (batch.answered === batch.cids.length) {
      clearTimeout(batch.timer)
      batch.done.resolve(batch.held)
      return
    }
    this.refill(batch)
  }

  private onClose (err?: Error): void {
    // a refusal comes as the responder's only message, an `error`, on a stream this node opened correctly
    const failure = err instanceof RemoteProtocolError
      ? new HaveCheckRefusedError(`peer ${this.peer.toString()} refused the have-check: ${err.message.replace(/^peer closed the stream: /, '')}`)
      : err ?? new RemoteProtocolError(`peer ${this.peer.toString()} closed the have-check stream`)
    this.failure = failure
    if (this.batch != null) this.fail(this.batch, failure)
  }

  private fail (batch: Batch, err: Error): void {
    clearTimeout(batch.timer)
    batch.done.reject(err)
    if (err !== this.failure) this.close()
  }
}

/** Open a have-check stream to `peer` (dialing it if needed) through the node's chunk exchange. */
export async function openHaveCheck (exchange: ChunkExchange, peer: PeerId, init: HaveCheckInit, options: AbortOptions = {}): Promise<HaveCheck> {
  const check = new HaveCheck(peer, init)
  check.attach(await exchange.openSession(peer, check.handlers, options))
  return check
}
