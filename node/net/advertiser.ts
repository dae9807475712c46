/**
 * DHT advertising (DESIGN §6, PROTOCOL.md §DHT): manifest roots — and, with `announceChunks`, every block
 * under them — are announced under their derived sha2-256 provide key, and re-announced every
 * `reannounceIntervalMs`, well before the 48 h provider-record validity of kad-dht runs out. While the
 * routing table is empty (a lone node, or before the first peer is identified) announcements wait and go
 * out as soon as a peer is identified.
 */
import { provideKey } from '../../protocol/provide-key.ts'
import { walkBlocks } from '../../src/manifest/reader.ts'
import { macrotask } from '../deferred.ts'
import { deadline } from './deadline.ts'
import { forEachLimit } from '../limit.ts'
import type { AbortOptions, ComponentLogger, Logger, PeerId, PeerStore, Libp2pEvents } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { TypedEventTarget } from 'main-event'
import type { CID } from 'multiformats/cid'
import type { NetworkBlockstore } from './chunk-exchange.ts'
import type { NetworkObserver } from './observer.ts'

/** Re-announce period; kad-dht provider records live 48 h on the nodes that store them. */
export const DEFAULT_REANNOUNCE_INTERVAL_MS = 12 * 60 * 60_000
/** One announcement (a DHT provide query) may take this long. */
export const DEFAULT_PROVIDE_TIMEOUT_MS = 30_000
/** Announcements in flight at once (matters with announceChunks). */
export const DEFAULT_PROVIDE_CONCURRENCY = 8
/** After a peer is identified, wait this long for more before flushing waiting announcements. */
export const DEFAULT_FLUSH_DELAY_MS = 250
/** Polls for a routing-table entry after a peer is identified. */
const FLUSH_TRIES = 40

export interface AdvertiserInit {
  /** @default false */
  announceChunks?: boolean
  /** @default DEFAULT_REANNOUNCE_INTERVAL_MS */
  reannounceIntervalMs?: number
  /** @default DEFAULT_PROVIDE_TIMEOUT_MS */
  provideTimeoutMs?: number
  /** @default DEFAULT_PROVIDE_CONCURRENCY */
  concurrency?: number
}

export interface AdvertiserComponents {
  dht: Pick<KadDHT, 'provide' | 'findProviders'>
  routingTableSize(): number
  peerStore: Pick<PeerStore, 'merge'>
  events: TypedEventTarget<Libp2pEvents>
  blockstore: NetworkBlockstore
  logger: ComponentLogger
  /** told of every announcement and lookup with its duration (the daemon's metrics) */
  observer?: Pick<NetworkObserver, 'provided' | 'lookedUp'>
}

export interface AdvertiserStats {
  /** roots this node announces */
  roots: number
  /** announcements that succeeded since start */
  announced: number
  /** announcements waiting for a peer (or for a retry after failing) */
  waiting: number
  lastAnnounceAt?: number
}

export class Advertiser {
  readonly announceChunks: boolean
  private readonly components: AdvertiserComponents
  private readonly reannounceIntervalMs: number
  private readonly provideTimeoutMs: number
  private readonly concurrency: number
  private readonly log: Logger
  private readonly roots = new Map<string, CID>()
  private readonly waiting = new Map<string, CID>()
  private stopper = new AbortController()
  private interval?: ReturnType<typeof setInterval>
  private flushTimer?: ReturnType<typeof setTimeout>
  private announced = 0
  private lastAnnounceAt?: number

  constructor (components: AdvertiserComponents, init: AdvertiserInit = {}) {
    this.components = components
    this.announceChunks = init.announceChunks ?? false
    this.reannounceIntervalMs = init.reannounceIntervalMs ?? DEFAULT_REANNOUNCE_INTERVAL_MS
    this.provideTimeoutMs = init.provideTimeoutMs ?? DEFAULT_PROVIDE_TIMEOUT_MS
    this.concurrency = init.concurrency ?? DEFAULT_PROVIDE_CONCURRENCY
    this.log = components.logger.forComponent('dits:advertiser')
  }

  start (): void {
    this.stopper = new AbortController()
    this.interval = setInterval(() => { void this.reannounce() }, this.reannounceIntervalMs)
    this.interval.unref()
    this.components.events.addEventListener('peer:identify', this.onPeer)
  }

  stop (): void {
    this.stopper.abort()
    clearInterval(this.interval)
    clearTimeout(this.flushTimer)
    this.components.events.removeEventListener('peer:identify', this.onPeer)
  }

  stats (): AdvertiserStats {
    return { roots: this.roots.size, announced: this.announced, waiting: this.waiting.size, lastAnnounceAt: this.lastAnnounceAt }
  }

  /**
   * Announce `root` now (and keep announcing it). Resolves once the root's announcement is done, or at once
   * when there is no DHT peer yet (it then goes out when one appears). Chunk announcements, when enabled,
   * continue in the background.
   */
  async provide (root: CID, options: AbortOptions = {}): Promise<void> {
    this.roots.set(root.toString(), root)
    await this.announce([root], options)
    if (this.announceChunks) {
      this.announceTree(root).catch(err => { this.log.error('announcing the blocks of %c failed - %e', root, err) })
    }
  }

  /** Providers of `cid` on the DHT, their addresses merged into the peer store. Nothing without DHT peers. */
  async * findProviders (cid: CID, options: AbortOptions = {}): AsyncGenerator<{ id: PeerId }> {
    if (this.components.routingTableSize() === 0) return
    const seen = new Set<string>()
    const key = await provideKey(cid)
    const started = performance.now()
    let failed = false
    try {
      for await (const event of this.components.dht.findProviders(key, options)) {
        if (event.name !== 'PROVIDER') continue
        for (const p of event.providers) {
          if (seen.has(p.id.toString())) continue
          seen.add(p.id.toString())
          if (p.multiaddrs.length > 0) await this.components.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {})
          yield { id: p.id }
        }
      }
    } catch (err) {
      failed = true
      throw err
    } finally {
      // a consumer that stops early (it found enough) ends the lookup without an error: that counts as ok
      this.components.observer?.lookedUp((performance.now() - started) / 1000, !failed)
    }
  }

  private async announceTree (root: CID): Promise<void> {
    const batch: CID[] = []
    const getBlock = async (cid: CID): Promise<Uint8Array> => await this.components.blockstore.get(cid, { signal: this.stopper.signal })
    for await (const cid of walkBlocks(getBlock, root, { signal: this.stopper.signal, pause: macrotask })) {
      if (cid.equals(root)) continue
      batch.push(cid)
      if (batch.length >= 256) await this.announce(batch.splice(0), {})
    }
    await this.announce(batch, {})
  }

  private async announce (cids: CID[], options: AbortOptions): Promise<void> {
    await forEachLimit(cids, this.concurrency, async cid => {
      if (this.stopper.signal.aborted) return
      if (this.components.routingTableSize() === 0) {
        this.waiting.set(cid.toString(), cid)
        return
      }
      // one per CID announced (every chunk, with announceChunks): not AbortSignal.any, see deadline.ts
      const wait = deadline([this.stopper.signal, options.signal], this.provideTimeoutMs)
      const started = performance.now()
      try {
        const key = await provideKey(cid)
        for await (const event of this.components.dht.provide(key, { signal: wait.signal })) void event
        this.waiting.delete(cid.toString())
        this.announced++
        this.lastAnnounceAt = Date.now()
        this.components.observer?.provided((performance.now() - started) / 1000, true)
      } catch (err) {
        this.log('announcing %c failed, will retry: %s', cid, (err as Error).message)
        this.waiting.set(cid.toString(), cid)
        this.components.observer?.provided((performance.now() - started) / 1000, false)
      } finally {
        wait.clear()
      }
    })
  }

  /**
   * Every root again, before its provider records expire. A root whose manifest this node no longer holds (a gc took
   * an unpinned fetch) is dropped, not announced: peers would ask for what it cannot serve, and `roots` would keep
   * every root ever added or fetched since the start. One lookup of the root block each, so O(roots), never O(chunks).
   */
  private async reannounce (): Promise<void> {
    for (const [key, root] of [...this.roots]) {
      if (this.stopper.signal.aborted) return
      if (await this.components.blockstore.has(root).catch(() => true)) continue
      this.roots.delete(key)
      this.waiting.delete(key)
      this.log('%c is no longer held: not announced again', root)
    }
    await this.announce([...this.roots.values()], {})
    if (this.announceChunks) {
      for (const root of this.roots.values()) await this.announceTree(root).catch(() => {})
    }
  }

  private readonly onPeer = (): void => {
    if (this.waiting.size === 0 || this.flushTimer != null) return
    // kad-dht adds an identified peer to its routing table asynchronously: poll briefly for it
    let tries = 0
    const flush = (): void => {
      if (this.components.routingTableSize() === 0 && ++tries < FLUSH_TRIES) {
        this.flushTimer = setTimeout(flush, DEFAULT_FLUSH_DELAY_MS)
        return
      }
      this.flushTimer = undefined
      void this.announce([...this.waiting.values()], {})
    }
    this.flushTimer = setTimeout(flush, DEFAULT_FLUSH_DELAY_MS)
  }
}
