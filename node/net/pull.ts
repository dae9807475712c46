/**
 * Pull a list of chunks from one peer that says it holds them (a SPECULATE's requester, node/seed/keeper.ts): the
 * fetcher's (node/net/fetcher.ts) verified path — BLAKE3 checked before `put`, a peer that sends bytes that fail it
 * banned — without its root: no manifest walk, no discovery, no other source. The list is checked with HAVE wants
 * first, so that a peer lacking one of them fails the pull before a byte is stored; then the blocks are wanted within
 * the wants and bytes in flight that the peer's hello allows, and each must be as long as the caller said.
 *
 * @example
 * ```ts
 * const got = await network.pull(requester, [{ cid, bytes: 1048576 }], { signal, onChunk: async (cid, n) => { … } })
 * ```
 */
import { verifyBlock } from '../../src/cid.ts'
import { SpeculativeBatchError, PeerTimeoutError } from './errors.ts'
import { deferred } from '../deferred.ts'
import type { CID } from 'multiformats/cid'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { ChunkExchange, NetworkBlockstore } from './chunk-exchange.ts'
import type { PeerHello } from './hello.ts'

/** A peer that answers nothing (no presence, no block) for this long fails the pull. */
export const DEFAULT_PULL_STALL_TIMEOUT_MS = 20_000

export interface PullContext {
  blockstore: Pick<NetworkBlockstore, 'put'>
  exchange: Pick<ChunkExchange, 'openSession'>
  ready(peer: PeerId, options: AbortOptions): Promise<PeerHello>
  /** a peer that sent bytes failing verification */
  punish(peer: PeerId, reason: string): void
}

export interface PullOptions extends AbortOptions {
  /** @default DEFAULT_PULL_STALL_TIMEOUT_MS */
  stallTimeoutMs?: number
  /** each chunk once stored (verified, of the length said) */
  onChunk?(cid: CID, bytes: number): Promise<void> | void
}

export interface PullReport {
  chunks: number
  bytes: number
}

/** Fetch every chunk of `chunks` (distinct; none held here, as the caller checked) from `peer`. */
export async function pullChunks (ctx: PullContext, peer: PeerId, chunks: Array<{ cid: CID, bytes: number }>, options: PullOptions = {}): Promise<PullReport> {
  const report: PullReport = { chunks: 0, bytes: 0 }
  if (chunks.length === 0) return report
  options.signal?.throwIfAborted()
  const stallMs = options.stallTimeoutMs ?? DEFAULT_PULL_STALL_TIMEOUT_MS
  const hello = await ctx.ready(peer, { signal: options.signal ?? AbortSignal.timeout(stallMs) })
  const byKey = new Map(chunks.map(c => [c.cid.toString(), c]))
  const done = deferred<void>()
  let failed = false
  const fail = (err: Error): void => {
    if (failed) return
    failed = true
    done.reject(err)
  }
  /** HAVE answers still to come, then blocks still to come */
  const unanswered = new Set(byKey.keys())
  /** HAVE wants not sent yet: at most the peer's outstanding wants are out at once */
  const toAsk = chunks.map(c => c.cid)
  let asking = 0
  const wanted = new Set<string>()
  let queue: Array<{ cid: CID, bytes: number }> = []
  let inFlightBytes = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const rearm = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => { fail(new PeerTimeoutError(`peer ${peer.toString()} answered nothing for ${stallMs / 1000} s (${report.chunks} of ${chunks.length} chunks pulled)`)) }, stallMs)
  }
  // wants beyond the peer's negotiated limits would be abuse on its side: keep within both
  const pump = (): void => {
    const next: CID[] = []
    while (queue.length > 0 && wanted.size < hello.limits.maxOutstandingWants && (wanted.size === 0 || inFlightBytes + queue[0].bytes <= hello.limits.maxInFlightBytes)) {
      const c = queue.shift() as { cid: CID, bytes: number }
      wanted.add(c.cid.toString())
      inFlightBytes += c.bytes
      next.push(c.cid)
    }
    if (next.length > 0) session.want(next, 'block')
  }
  const onBlock = async (cid: CID, bytes: Uint8ArrayList): Promise<void> => {
    const key = cid.toString()
    const chunk = byKey.get(key)
    if (chunk === undefined || !wanted.has(key)) {
      fail(new SpeculativeBatchError(`peer ${peer.toString()} sent block ${key}, which was not asked for`))
      return
    }
    rearm()
    if (!verifyBlock(cid, bytes)) {
      ctx.punish(peer, `sent bytes for ${key} that fail BLAKE3 verification`)
      fail(new SpeculativeBatchError(`peer ${peer.toString()} sent bytes for chunk ${key} that fail BLAKE3 verification`))
      return
    }
    if (bytes.byteLength !== chunk.bytes) {
      fail(new SpeculativeBatchError(`chunk ${key} is ${bytes.byteLength} bytes, not the ${chunk.bytes} its requester said`))
      return
    }
    await ctx.blockstore.put(cid, bytes, { trusted: true, direct: true, inline: true, signal: options.signal })
    await options.onChunk?.(cid, bytes.byteLength)
    wanted.delete(key)
    inFlightBytes -= chunk.bytes
    report.chunks++
    report.bytes += chunk.bytes
    if (report.chunks === chunks.length) done.resolve()
    else pump()
  }
  const onPresence = (cid: CID, have: boolean): void => {
    const key = cid.toString()
    if (!unanswered.delete(key)) return
    rearm()
    asking--
    ask()
    if (!have) {
      fail(new SpeculativeBatchError(`peer ${peer.toString()} does not have chunk ${key}, which it asked the seed to keep`))
      return
    }
    // every chunk said HAVE: only now is a byte asked for, so that a batch naming a chunk its requester lacks stores nothing
    if (unanswered.size === 0) {
      queue = [...byKey.values()]
      pump()
    }
  }
  const ask = (): void => {
    const room = Math.min(toAsk.length, hello.limits.maxOutstandingWants - asking)
    if (room <= 0) return
    asking += room
    session.want(toAsk.splice(0, room), 'have')
  }
  const session = await ctx.exchange.openSession(peer, {
    onBlock,
    onPresence,
    onClose: (err) => { fail(err ?? new SpeculativeBatchError(`peer ${peer.toString()} closed the chunks stream with ${chunks.length - report.chunks} chunk(s) still to send`)) }
  }, { signal: options.signal })
  const onAbort = (): void => { fail(options.signal?.reason as Error) }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    rearm()
    ask()
    await done.promise
    return report
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onAbort)
    failed = true
    session.close()
  }
}
