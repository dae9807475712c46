/**
 * The network node (issue 3): a libp2p 3 host on the private dits DHT that discovers the studio's other
 * nodes (mDNS, bootstrap, DHT), negotiates capabilities with each (`/dits/hello/1.0.0`), serves the blocks
 * it holds and fetches what it lacks from several peers at once over `/dits/chunks/1.0.0`, verifying every
 * byte, with the seed as the fallback. `libp2p` is exposed so the consensus layer can register its own
 * protocols on the same host.
 *
 * @example
 * ```ts
 * const net = await createNetwork({
 *   privateKey, blockstore, role: 'peer', listen: ['/ip4/0.0.0.0/tcp/4101'],
 *   bootstrap: [], mdns: true, seeds: ['/ip4/10.0.0.2/tcp/4101/p2p/12D3KooW...'],
 *   swarmKey: await readSwarmKeyFile('studio.key')   // optional: a private network (TCP only)
 * })
 * await net.start()
 * await net.provide(root)                       // after `add`
 * const report = await net.fetch(root, { onProgress: p => console.log(p.bytes_fetched) })
 * await net.stop()
 * ```
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { isLanAddr } from './lan.ts'
import { createHost, privateListen } from './host.ts'
import { loadCertificate, saveCertificate } from './webrtc-certificate.ts'
import { swarmStatus } from './swarm-key.ts'
import { PeerPenalties } from './penalties.ts'
import { Advertiser } from './advertiser.ts'
import { Download } from './fetcher.ts'
import { SwarmRegistry, SuperSeeder } from './swarm.ts'
import { openHaveCheck } from './have-check.ts'
import { requestRootStatus } from './seed.ts'
import { pullChunks } from './pull.ts'
import { NotStartedError, PrivateNetworkDialError, PeerPenalizedError } from './errors.ts'
import { parseMultiaddr } from '../../src/multiaddr.ts'
import { UnavailableError, InvalidMultiaddrError } from '../../src/errors.ts'
import type { AbortOptions, Connection, PeerId, PrivateKey, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'
import type { DitsLibp2p } from './host.ts'
import type { AdvertiserStats } from './advertiser.ts'
import type { FetchOptions, FetchProgress, FetchReport, ProviderInfo, TransferSnapshot } from './fetcher.ts'
import type { PenaltyEvent } from './penalties.ts'
import type { ChunkExchangeInit, NetworkBlockstore, ServeStats } from './chunk-exchange.ts'
import type { PeerHello } from './hello.ts'
import type { SwarmKey, SwarmStatus } from './swarm-key.ts'
import type { HostInit } from './host.ts'
import type { NetworkObserver, FetchSource } from './observer.ts'
import type { HaveCheck } from './have-check.ts'
import type { RootStatusReport } from './seed.ts'
import type { PullOptions, PullReport } from './pull.ts'

export type { FetchOptions, FetchProgress, FetchReport, NetworkBlockstore, PeerHello, DitsLibp2p, SwarmKey, SwarmStatus, NetworkObserver, FetchSource, HaveCheck, TransferSnapshot, PenaltyEvent, RootStatusReport, PullOptions, PullReport }
export { HaveCheckRefusedError, IncompatiblePeerError, FetchFailedError, ProtocolViolationError, PeerPenalizedError, RemoteProtocolError, PeerTimeoutError, NotStartedError, PrivateNetworkDialError, SwarmKeyError, SwarmKeyRequiredError, NotASeedError, SeedRequestError, SpeculativeQuotaError, SpeculativeBatchError } from './errors.ts'
// asking a seed to keep a root (/dits/seed/1.0.0): the seed's service and the client calls
export { SeedService, pushRoot, requestRootStatus, speculate, checkSpeculativeBatch, pushStanding, parseSeedTarget } from './seed.ts'
export type { PushStatus, PushOptions, SeedHandler, SeedTarget, SpeculativeChunk, SpeculateResult, SpeculateOptions, Speculation } from './seed.ts'

/** Violations kept for `recentPenalties()`, newest last. */
export const MAX_RECENT_PENALTIES = 64

export type Role = 'peer' | 'seed'

export interface NetworkInit {
  /** the repo's persistent identity */
  privateKey: PrivateKey
  blockstore: NetworkBlockstore
  role: Role
  /** also announce the 'voter' role in hello (a member of the Raft group) */
  voter?: boolean
  /** multiaddrs to listen on (config `addresses.listen`) */
  listen: string[]
  /** multiaddrs ending in /p2p/<peer id> (config `bootstrap`) */
  bootstrap: string[]
  /** LAN discovery (config `discovery.mdns`) */
  mdns: boolean
  /** announce every block, not only manifest roots (config `dht.announceChunks`) @default false */
  announceChunks?: boolean
  /** seeds, the fallback of last resort: peer ids or multiaddrs ending in /p2p/<peer id> */
  seeds?: string[]
  /** keeps the peer store and DHT records across restarts; in memory when absent */
  datastore?: Datastore
  /** cap on the bytes per second this node serves to all peers together (config `serve.maxRate`); unlimited when absent */
  maxServeRateBytesPerSec?: number
  /** serving budgets and the write-idle timeout (chunk-exchange.ts); the DEFAULT_* values when absent */
  serving?: Pick<ChunkExchangeInit, 'servePeerBudgetBytes' | 'serveTotalBudgetBytes' | 'writeIdleTimeoutMs' | 'maxServeStreamsPerPeer' | 'slots'>
  /** protocols of other layers announced in hello (e.g. '/dits/raft/1.0.0') */
  extraProtocols?: string[]
  /** @default DEFAULT_REANNOUNCE_INTERVAL_MS (advertiser.ts) */
  reannounceIntervalMs?: number
  /** the reason a peer may not be served chunks (it lacks the read role), undefined when it may */
  refuseServing?(peer: PeerId): string | undefined
  /** a private network's key (config `swarm.keyFile`): only nodes with the same key connect; TCP only */
  swarmKey?: SwarmKey
  /**
   * Where the WebRTC-direct certificate is kept (the repo's `webrtc-direct.json`), so that the certhash of this
   * node's WebRTC-direct address survives restarts; a new certificate each start when absent
   */
  webrtcCertificateFile?: string
  /** told of what the network fetches, verifies, serves, bans and announces (the daemon's metrics) */
  observer?: NetworkObserver
  /** libp2p's own metrics (node/metrics libp2pMetrics); none when absent */
  metrics?: HostInit['metrics']
  /** where the debug loggers of libp2p and of the network's services write (node/log) */
  logger?: HostInit['logger']
  /**
   * libp2p's limits on inbound connections: per remote host, 5 a second (`inboundConnectionThreshold`), and 10 not yet
   * upgraded at once (`maxIncomingPendingConnections`) when absent. Many nodes on one host (a bench or a simulation on
   * 127.0.0.1) all dial from the same address and need more; on a LAN each workstation has its own.
   */
  inboundLimits?: HostInit['inboundLimits']
}

/** The network's privacy, and the listen addresses a private node dropped (WebRTC cannot carry the key). */
export interface NetworkSwarm extends SwarmStatus {
  dropped: string[]
}

export interface PeerInfo {
  id: string
  /** remote addresses of the open connections */
  addrs: string[]
  direction: 'inbound' | 'outbound'
  /** 'tcp', 'webrtc-direct', … of the first open connection */
  transport: string
  /** from hello; empty until (or if) hello succeeds */
  roles: string[]
  /** the peer is on a private, loopback or link-local address */
  lan: boolean
  /** 'ok' once hello succeeded, 'pending' before, 'rejected' when incompatible */
  hello: 'ok' | 'pending' | 'rejected'
  agent?: string
}

/** A node that may hold content: a configured seed or a connected peer (`DitsNetwork.holders`). */
export interface HolderInfo {
  peer: string
  /** from hello; 'unknown' for a configured seed that could not be reached */
  role: 'seed' | 'peer' | 'unknown'
  /** why a configured seed could not be reached */
  error?: string
}

export interface NetworkStatus {
  peerId: string
  roles: string[]
  addresses: string[]
  peers: number
  dht: { mode: 'client' | 'server', routingTableSize: number } & AdvertiserStats
  transfers: { downloads: number, uploads: number }
  served: Omit<ServeStats, 'streams'>
  swarm: SwarmStatus
}

export interface DitsNetwork {
  readonly peerId: string
  readonly libp2p: DitsLibp2p
  readonly swarm: NetworkSwarm
  addresses(): string[]
  start(): Promise<void>
  stop(): Promise<void>
  /** announce a manifest root (and its blocks with announceChunks); re-announced before expiry */
  provide(root: CID, options?: AbortOptions): Promise<void>
  /** fill the blockstore with every block of `root` not held yet, verified; see FetchReport */
  fetch(root: CID, options?: FetchOptions): Promise<FetchReport>
  /** fetch `chunks` (none held here) from `peer` alone, verified, each of the length said (node/net/pull.ts) */
  pull(peer: PeerId, chunks: Array<{ cid: CID, bytes: number }>, options?: PullOptions): Promise<PullReport>
  peers(): PeerInfo[]
  /** dial `ma` and complete hello; IncompatiblePeerError (with the reason) when it fails */
  connect(ma: string, options?: AbortOptions): Promise<PeerInfo>
  status(): NetworkStatus
  /**
   * The configured seeds (dialled if not connected; those that cannot be reached are listed with the error) and
   * every other peer connected through hello, each once
   */
  holders(options?: AbortOptions): Promise<HolderInfo[]>
  /** a have-check stream to `peer` (dialled and through hello if need be), within its negotiated outstanding wants */
  openHaveCheck(peer: string, options?: AbortOptions): Promise<HaveCheck>
  /** what the seed `peer` holds of `root` and why it keeps it (`/dits/seed/1.0.0` ROOT_STATUS, node/net/seed.ts) */
  rootStatus(peer: string, root: CID, options?: AbortOptions): Promise<RootStatusReport>
  /**
   * count one violation of another layer (e.g. consensus) against `peer`; see PeerPenalties. `disconnect`: a
   * protocol violation (a malformed or oversized frame, a forged field) also closes every connection to it at once
   */
  penalize(peer: string, reason: string, disconnect?: boolean): void
  /** the downloads in flight */
  transfers(): TransferSnapshot[]
  /** the last MAX_RECENT_PENALTIES violations counted (verification failures, bans), oldest first, each with a sequence number */
  recentPenalties(): Array<PenaltyEvent & { seq: number }>
}

export async function createNetwork (init: NetworkInit): Promise<DitsNetwork> {
  const penalties = new PeerPenalties({ onBan: init.observer != null ? (peer, reason) => { init.observer?.banned(peer, reason) } : undefined })
  const roles: string[] = [init.role, ...(init.voter === true ? ['voter'] : [])]
  const { listen, dropped } = init.swarmKey != null ? privateListen(init.listen) : { listen: init.listen, dropped: [] }
  const webrtcCertificate = init.swarmKey == null && init.webrtcCertificateFile !== undefined ? await loadCertificate(init.webrtcCertificateFile) : undefined
  const libp2p = await createHost({
    webrtcCertificate,
    privateKey: init.privateKey,
    listen,
    psk: init.swarmKey?.psk,
    bootstrap: init.bootstrap,
    mdns: init.mdns,
    penalties,
    datastore: init.datastore,
    metrics: init.metrics,
    logger: init.logger,
    inboundLimits: init.inboundLimits,
    hello: { roles, extraProtocols: init.extraProtocols, penalize: (peer, reason) => { penalties.penalize(peer, reason, 1, true) } },
    chunks: { ...init.serving, blockstore: init.blockstore, penalties, maxServeRateBytesPerSec: init.maxServeRateBytesPerSec, refuse: init.refuseServing, onServed: init.observer != null ? (peer, bytes) => { init.observer?.served(peer, bytes) } : undefined }
  })
  // an offender's connections are aborted, not closed: a graceful close waits for its streams, which it controls
  penalties.hangUp = async (peer, reason) => {
    for (const connection of libp2p.getConnections(peer)) connection.abort(new PeerPenalizedError(`disconnected for a protocol violation: ${reason}`))
  }
  return new Network(libp2p, init, penalties, roles, { ...swarmStatus(init.swarmKey), dropped })
}

class Network implements DitsNetwork {
  readonly libp2p: DitsLibp2p
  readonly swarm: NetworkSwarm
  private readonly init: NetworkInit
  private readonly penalties: PeerPenalties
  private readonly roles: string[]
  private readonly advertiser: Advertiser
  private readonly downloads = new Set<Download>()
  /** the downloads running here by root, for the peers that fetch the same roots (issue 19) */
  private readonly swarmRegistry = new SwarmRegistry()
  private readonly penaltyLog: Array<PenaltyEvent & { seq: number }> = []
  private penaltySeq = 0
  private readonly log: Logger
  /** aborts in-flight downloads when the node stops */
  private stopping = new AbortController()
  private running = false

  constructor (libp2p: DitsLibp2p, init: NetworkInit, penalties: PeerPenalties, roles: string[], swarm: NetworkSwarm) {
    this.libp2p = libp2p
    this.swarm = swarm
    this.init = init
    this.penalties = penalties
    penalties.onPenalty = event => {
      this.penaltyLog.push({ ...event, seq: ++this.penaltySeq })
      if (this.penaltyLog.length > MAX_RECENT_PENALTIES) this.penaltyLog.shift()
    }
    this.roles = roles
    this.log = libp2p.logger.forComponent('dits:net')
    this.advertiser = new Advertiser({
      dht: libp2p.services.dht,
      routingTableSize: () => routingTableSize(libp2p),
      peerStore: libp2p.peerStore,
      events: libp2p,
      blockstore: init.blockstore,
      logger: libp2p.logger,
      observer: init.observer
    }, { announceChunks: init.announceChunks, reannounceIntervalMs: init.reannounceIntervalMs })
    libp2p.services.chunks.swarm = {
      supports: (peer) => libp2p.services.hello.get(peer)?.features.includes('swarm') === true,
      probe: (root, peer) => this.swarmRegistry.probe(root, peer),
      connected: (peer) => libp2p.getConnections().some(c => c.remotePeer.toString() === peer),
      // a seed sends each chunk to one peer of a swarm and lets the others fill in from it (BEP 16's idea)
      superSeeder: init.role === 'seed' ? new SuperSeeder() : undefined
    }
  }

  get peerId (): string {
    return this.libp2p.peerId.toString()
  }

  addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(String)
  }

  async start (): Promise<void> {
    if (this.running) return
    await this.libp2p.start()
    // the first start of a node with WebRTC-direct: keep the certificate its transport made, for the next starts
    const certFile = this.init.webrtcCertificateFile
    if (certFile !== undefined && this.init.swarmKey == null && await loadCertificate(certFile) === undefined && await saveCertificate(this.libp2p, certFile)) {
      this.log('saved the WebRTC-direct certificate to %s', certFile)
    }
    this.stopping = new AbortController()
    this.libp2p.addEventListener('peer:discovery', this.onDiscovery)
    this.advertiser.start()
    this.running = true
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.stopping.abort(new NotStartedError('the node is stopping'))
    this.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    this.advertiser.stop()
    await this.libp2p.stop()
  }

  penalize (peer: string, reason: string, disconnect = false): void {
    this.penalties.penalize(peerIdFromString(peer), reason, 1, disconnect)
  }

  async provide (root: CID, options: AbortOptions = {}): Promise<void> {
    this.assertRunning()
    await this.advertiser.provide(root, options)
  }

  async fetch (root: CID, options: FetchOptions = {}): Promise<FetchReport> {
    this.assertRunning()
    const download = new Download({
      self: this.libp2p.peerId,
      blockstore: this.init.blockstore,
      exchange: this.libp2p.services.chunks,
      connected: () => this.libp2p.services.hello.peers().map(p => ({ peer: peerIdFromString(p.peer), hello: p.hello })),
      seeds: (opts) => this.dialSeeds(opts),
      providers: (cid, opts) => this.advertiser.findProviders(cid, opts),
      ready: async (peer, opts) => await this.ready(peer, opts),
      isLan: (peer) => this.libp2p.getConnections(peer).some(c => isLanAddr(c.remoteAddr)),
      punish: (peer, reason, penalty) => { this.penalties.penalize(peer, reason, penalty === 'ban' ? this.penalties.threshold : 1, true) },
      observer: this.init.observer,
      swarm: this.swarmRegistry,
      log: this.log
    }, root, { ...options, signal: options.signal != null ? AbortSignal.any([options.signal, this.stopping.signal]) : this.stopping.signal })
    this.downloads.add(download)
    // what it writes and holds is not yet named by a pin: a gc must keep it until the fetch is over
    const writing = this.init.blockstore.beginWrite()
    try {
      const report = await download.run()
      this.init.observer?.heldAtStart(report.bytes_local)
      // a node that holds content serves it: announce it like Kubo does after a fetch
      this.advertiser.provide(root).catch(err => { this.log.error('announcing %c failed - %e', root, err) })
      return report
    } finally {
      writing.end()
      this.downloads.delete(download)
    }
  }

  async pull (peer: PeerId, chunks: Array<{ cid: CID, bytes: number }>, options: PullOptions = {}): Promise<PullReport> {
    this.assertRunning()
    return await pullChunks({
      blockstore: this.init.blockstore,
      exchange: this.libp2p.services.chunks,
      ready: async (p, opts) => await this.ready(p, opts),
      punish: (p, reason) => { this.penalties.penalize(p, reason, this.penalties.threshold, true) }
    }, peer, chunks, { ...options, signal: options.signal != null ? AbortSignal.any([options.signal, this.stopping.signal]) : this.stopping.signal })
  }

  async holders (options: AbortOptions = {}): Promise<HolderInfo[]> {
    this.assertRunning()
    const found = new Map<string, HolderInfo>()
    const dialed = await Promise.allSettled((this.init.seeds ?? []).map(async (seed): Promise<PeerHello & { peer: string }> => {
      const target: PeerId | Multiaddr = seed.startsWith('/') ? multiaddr(seed) : peerIdFromString(seed)
      const connection = await this.libp2p.dial(target, options)
      return { ...await this.libp2p.services.hello.waitFor(connection.remotePeer, options), peer: connection.remotePeer.toString() }
    }))
    for (const [i, r] of dialed.entries()) {
      if (r.status === 'fulfilled') {
        found.set(r.value.peer, { peer: r.value.peer, role: r.value.roles.includes('seed') ? 'seed' : 'peer' })
        continue
      }
      const seed = (this.init.seeds ?? [])[i]
      const peer = seed.startsWith('/') ? multiaddr(seed).getComponents().find(c => c.code === P2P_CODE)?.value ?? seed : seed
      found.set(peer, { peer, role: 'unknown', error: (r.reason as Error).message })
    }
    for (const { peer, hello } of this.libp2p.services.hello.peers()) {
      if (!found.has(peer) || found.get(peer)?.role === 'unknown') found.set(peer, { peer, role: hello.roles.includes('seed') ? 'seed' : 'peer' })
    }
    found.delete(this.peerId)
    return [...found.values()]
  }

  async openHaveCheck (peer: string, options: AbortOptions = {}): Promise<HaveCheck> {
    this.assertRunning()
    const id = peerIdFromString(peer)
    const hello = await this.ready(id, options)
    return await openHaveCheck(this.libp2p.services.chunks, id, { maxOutstandingWants: hello.limits.maxOutstandingWants }, options)
  }

  transfers (): TransferSnapshot[] {
    return [...this.downloads].map(d => d.snapshot())
  }

  recentPenalties (): Array<PenaltyEvent & { seq: number }> {
    return this.penaltyLog.map(e => ({ ...e }))
  }

  async rootStatus (peer: string, root: CID, options: AbortOptions = {}): Promise<RootStatusReport> {
    this.assertRunning()
    return await requestRootStatus(this.libp2p, peer, root, options)
  }

  peers (): PeerInfo[] {
    const byPeer = new Map<string, Connection[]>()
    for (const c of this.libp2p.getConnections()) {
      const key = c.remotePeer.toString()
      byPeer.set(key, [...(byPeer.get(key) ?? []), c])
    }
    return [...byPeer.values()].map(conns => this.peerInfo(conns))
  }

  /**
   * Dial `ma` and complete the hello handshake. The address is what is asked about: an open connection to the
   * same peer over another address says nothing about this one, so it is dialled unless a connection already
   * runs over exactly it.
   */
  async connect (ma: string, options: AbortOptions = {}): Promise<PeerInfo> {
    this.assertRunning()
    const target = parseMultiaddr(ma)
    const peer = target.getComponents().find(c => c.code === P2P_CODE)?.value
    if (peer !== undefined) {
      try {
        peerIdFromString(peer)
      } catch {
        throw new InvalidMultiaddrError(`"${ma}" names "${peer}" after /p2p/, which is not a peer id (they look like 12D3KooW…)`)
      }
    }
    const timeoutMs = this.libp2p.services.hello.timeoutMs * 2
    const signal = options.signal ?? AbortSignal.timeout(timeoutMs)
    const address = target.decapsulateCode(P2P_CODE).toString()
    const existing = peer === undefined
      ? undefined
      : this.libp2p.getConnections(peerIdFromString(peer)).find(c => c.status === 'open' && c.remoteAddr.decapsulateCode(P2P_CODE).toString() === address)
    let connection: Connection
    try {
      connection = existing ?? await this.libp2p.dial(target, { signal, force: true })
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      // a socket that was refused says so; a handshake that failed or hung may be a private network's
      const socket = socketFailure(err)
      if (socket !== undefined) throw new UnavailableError(`could not connect to ${ma}: ${socket}`, { cause: err })
      const described = this.dialError(ma, err as Error, options.signal)
      if (described !== err) throw described
      throw new UnavailableError(`could not connect to ${ma}: ${timedOut(err) ? `no answer within ${timeoutMs / 1000} s` : (err as Error).message}`, { cause: err })
    }
    await this.libp2p.services.hello.waitFor(connection.remotePeer, { signal })
    return this.peerInfo(this.libp2p.getConnections(connection.remotePeer))
  }

  status (): NetworkStatus {
    const { streams, ...served } = this.libp2p.services.chunks.stats()
    return {
      peerId: this.peerId,
      roles: this.roles,
      addresses: this.addresses(),
      peers: this.libp2p.getPeers().length,
      dht: { mode: this.libp2p.services.dht.getMode(), routingTableSize: routingTableSize(this.libp2p), ...this.advertiser.stats() },
      transfers: { downloads: this.downloads.size, uploads: streams },
      served,
      swarm: swarmStatus(this.init.swarmKey)
    }
  }

  private peerInfo (conns: Connection[]): PeerInfo {
    const first = conns[0]
    const hello = this.libp2p.services.hello.get(first.remotePeer)
    return {
      id: first.remotePeer.toString(),
      addrs: conns.map(c => c.remoteAddr.toString()),
      direction: first.direction,
      transport: transportOf(first.remoteAddr),
      roles: hello?.roles ?? [],
      lan: conns.some(c => isLanAddr(c.remoteAddr)),
      hello: hello != null ? 'ok' : (this.libp2p.services.hello.failure(first.remotePeer) != null ? 'rejected' : 'pending'),
      agent: hello?.agent
    }
  }

  /**
   * A failed dial, explained where a swarm key is the likely cause. Under pnet a peer with another key (or none)
   * reads our bytes as garbage: the noise handshake then stalls until the timeout, or the peer resets the
   * connection; pnet itself cannot tell that from a broken link, so the message says what to check.
   */
  private dialError (ma: string, err: Error, callerSignal?: AbortSignal): Error {
    if (callerSignal?.aborted === true) return err
    if (this.swarm.private) {
      return new PrivateNetworkDialError(`could not connect to ${ma}: ${err.message}. This node is in a private network (swarm key ${this.swarm.keyFingerprint ?? ''}): only a node with the same swarm key can connect, and with any other (or none) the handshake fails like this — compare \`dits-node id\` (swarm key fingerprint) on both nodes`, { cause: err })
    }
    if (err.name === 'EncryptionFailedError') {
      return new PrivateNetworkDialError(`could not connect to ${ma}: the encrypted handshake did not complete (${err.message}). If that node is in a private network, this node needs its swarm key (swarm.keyFile)`, { cause: err })
    }
    return err
  }

  /** Connected (dialing if needed) and through hello. */
  private async ready (peer: PeerId, options: AbortOptions): Promise<PeerHello> {
    if (this.libp2p.getConnections(peer).length === 0) await this.libp2p.dial(peer, options)
    return await this.libp2p.services.hello.waitFor(peer, options)
  }

  private async * dialSeeds (options: AbortOptions): AsyncGenerator<ProviderInfo> {
    const dialed = await Promise.allSettled((this.init.seeds ?? []).map(async (seed): Promise<PeerId> => {
      const target: PeerId | Multiaddr = seed.startsWith('/') ? multiaddr(seed) : peerIdFromString(seed)
      const connection = await this.libp2p.dial(target, options)
      return connection.remotePeer
    }))
    for (const [i, r] of dialed.entries()) {
      if (r.status === 'fulfilled') yield { id: r.value, seed: true }
      else this.log('seed %s unreachable: %s', this.init.seeds?.[i], (r.reason as Error).message)
    }
    for (const { peer, hello } of this.libp2p.services.hello.peers()) {
      if (hello.roles.includes('seed')) yield { id: peerIdFromString(peer), seed: true }
    }
  }

  /** mDNS and bootstrap only add peers to the peer store: dial them so they become sources and DHT peers. */
  private readonly onDiscovery = (evt: CustomEvent<{ id: PeerId }>): void => {
    const peer = evt.detail.id
    if (peer.equals(this.libp2p.peerId) || this.libp2p.getConnections(peer).length > 0 || this.penalties.isBanned(peer)) return
    this.libp2p.dial(peer, { signal: AbortSignal.timeout(this.libp2p.services.hello.timeoutMs) })
      .catch(err => { this.log('dialing discovered peer %p failed: %s', peer, (err as Error).message) })
  }

  private assertRunning (): void {
    if (!this.running) throw new NotStartedError('the network is not started: call start() first')
  }
}

/** libp2p's multiaddr protocol code for /p2p/<peer id> */
const P2P_CODE = 421

/** The errors in a dial failure's chain (its aggregated errors and causes), breadth-first, at most 32. */
function errorChain (err: unknown): Array<Error & { code?: string }> {
  const seen: Array<Error & { code?: string }> = []
  const queue: unknown[] = [err]
  while (queue.length > 0 && seen.length < 32) {
    const e = queue.shift() as (Error & { code?: string, errors?: unknown[], cause?: unknown }) | undefined
    if (e == null || seen.includes(e)) continue
    seen.push(e)
    queue.push(...(e.errors ?? []), e.cause)
  }
  return seen
}

/** Why a dial failed at the socket, in a user's terms; undefined when the socket did not say (a failed handshake). */
function socketFailure (err: unknown): string | undefined {
  for (const e of errorChain(err)) {
    if (e.code === 'ECONNREFUSED') return 'connection refused (nothing listens at that address)'
    if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return 'no route to that host'
  }
  return undefined
}

function timedOut (err: unknown): boolean {
  return errorChain(err).some(e => e.code === 'ETIMEDOUT' || e.name === 'TimeoutError' || e.name === 'AbortError')
}

function routingTableSize (libp2p: DitsLibp2p): number {
  const dht = libp2p.services.dht as unknown as { routingTable?: { size: number } }
  return dht.routingTable?.size ?? 0
}

export { isLanAddr }

function transportOf (ma: Multiaddr): string {
  const names = ma.getComponents().map(c => c.name)
  if (names.includes('webrtc-direct')) return 'webrtc-direct'
  if (names.includes('tcp')) return 'tcp'
  return names.filter(n => n !== 'p2p' && n !== 'ip4' && n !== 'ip6').join('/') || 'unknown'
}

