/**
 * libp2p 3 host assembly (DESIGN §1, §4): TCP (the fast path) and WebRTC-direct (the reachability path),
 * with a swarm key `@libp2p/pnet` as the connection protector and TCP alone (see `privateListen`), noise, yamux, identify, ping, the private kad-dht on `/dits/kad/1.0.0` in server mode with every address
 * kept (`passthroughMapper`: LAN and loopback addresses are the point here), mDNS under a dits service tag,
 * bootstrap peers, and the dits hello and chunks services.
 */
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webRTCDirect } from '@libp2p/webrtc'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { bootstrap } from '@libp2p/bootstrap'
import { preSharedKey } from '@libp2p/pnet'
import { multiaddr } from '@multiformats/multiaddr'
import { KAD_PROTOCOL } from '../../protocol/index.ts'
import { hello } from './hello.ts'
import { chunkExchange } from './chunk-exchange.ts'
import { MAX_STREAM_WINDOW_BYTES } from './framing.ts'
import { deferredWindowUpdates, oneWritePerRecord } from './write-coalescing.ts'
import type { ConnectionManagerInit } from 'libp2p'
import type { ComponentLogger, Libp2p, Metrics, PeerDiscovery, PrivateKey } from '@libp2p/interface'
import type { Identify } from '@libp2p/identify'
import type { Ping } from '@libp2p/ping'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Datastore } from 'interface-datastore'
import type { TransportCertificate } from '@libp2p/webrtc'
import type { HelloInit, HelloService } from './hello.ts'
import type { ChunkExchange, ChunkExchangeInit } from './chunk-exchange.ts'
import type { PeerPenalties } from './penalties.ts'

/** The mDNS service tag of dits nodes: other libp2p software on the LAN is not discovered. */
export const MDNS_SERVICE_TAG = '_dits._udp.local'
/** How often mDNS queries the LAN. */
export const DEFAULT_MDNS_INTERVAL_MS = 10_000

export interface DitsServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  dht: KadDHT
  hello: HelloService
  chunks: ChunkExchange
}

export type DitsLibp2p = Libp2p<DitsServices>

export interface HostInit {
  privateKey: PrivateKey
  listen: string[]
  bootstrap: string[]
  mdns: boolean
  penalties: PeerPenalties
  hello: HelloInit
  chunks: ChunkExchangeInit
  datastore?: Datastore
  /** the WebRTC-direct certificate to listen with (see webrtc-certificate.ts); a new one each start when absent */
  webrtcCertificate?: TransportCertificate
  /**
   * A private network's key file in canonical form (SwarmKey.psk): every connection is protected with it, and the
   * host has no WebRTC transport, which would bypass the protector. `listen` must then hold no WebRTC address.
   */
  psk?: Uint8Array
  /** libp2p's metrics (node/metrics libp2pMetrics): counted into the daemon's registry; none when absent */
  metrics?: (components: any) => Metrics
  /** where libp2p's and the dits components' debug loggers write (node/log); libp2p's `debug` loggers when absent */
  logger?: ComponentLogger
  /** libp2p's limits on inbound connections (see NetworkInit.inboundLimits); libp2p's defaults when absent */
  inboundLimits?: Pick<ConnectionManagerInit, 'inboundConnectionThreshold' | 'maxIncomingPendingConnections'>
}

/** Multiaddr protocols of transports that do not run the connection protector (see `privateListen`). */
const UNPROTECTED_PROTOCOLS = ['webrtc-direct', 'webrtc']

/**
 * The listen addresses a private node keeps, and those it drops. `@libp2p/webrtc` upgrades its connections with
 * `skipProtection: true` (private-to-public/utils/connect.js, private-to-private/transport.js: DTLS and its own
 * noise handshake stand in for the upgrader's steps), and libp2p's upgrader then never calls the connection
 * protector: a WebRTC-direct listener would admit any node, key or not. So a node with a swarm key neither
 * listens on nor dials WebRTC addresses.
 */
export function privateListen (listen: string[]): { listen: string[], dropped: string[] } {
  const unprotected = (addr: string): boolean => multiaddr(addr).getComponents().some(c => UNPROTECTED_PROTOCOLS.includes(c.name))
  return { listen: listen.filter(a => !unprotected(a)), dropped: listen.filter(unprotected) }
}

export async function createHost (init: HostInit): Promise<DitsLibp2p> {
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (init.mdns) peerDiscovery.push(mdns({ serviceTag: MDNS_SERVICE_TAG, interval: DEFAULT_MDNS_INTERVAL_MS }))
  if (init.bootstrap.length > 0) peerDiscovery.push(bootstrap({ list: init.bootstrap }))
  if (init.psk != null && privateListen(init.listen).dropped.length > 0) throw new TypeError('a private host cannot listen on WebRTC addresses: filter them with privateListen')
  return await createLibp2p<DitsServices>({
    start: false,
    privateKey: init.privateKey,
    ...(init.datastore != null ? { datastore: init.datastore } : {}),
    ...(init.metrics != null ? { metrics: init.metrics } : {}),
    ...(init.logger != null ? { logger: init.logger } : {}),
    addresses: { listen: init.listen },
    transports: init.psk != null ? [tcp()] : [tcp(), webRTCDirect(init.webrtcCertificate != null ? { certificate: init.webrtcCertificate } : {})],
    ...(init.psk != null ? { connectionProtector: preSharedKey({ psk: init.psk }) } : {}),
    connectionEncrypters: [oneWritePerRecord(noise())],
    streamMuxers: [deferredWindowUpdates(yamux({ streamOptions: { maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES } }))],
    connectionGater: init.penalties.gater(),
    ...(init.inboundLimits != null ? { connectionManager: init.inboundLimits } : {}),
    peerDiscovery,
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: KAD_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        logPrefix: 'dits:kad',
        datastorePrefix: '/dits/dht',
        metricsPrefix: 'dits_kad'
      }),
      hello: hello(init.hello),
      chunks: chunkExchange(init.chunks)
    }
  })
}

