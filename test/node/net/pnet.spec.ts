import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webRTCDirect } from '@libp2p/webrtc'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { preSharedKey } from '@libp2p/pnet'
import { multiaddr } from '@multiformats/multiaddr'
import { makeFile, readBack, startNode, stopAll, MiB, KiB } from './helpers.ts'
import type { TestNode } from './helpers.ts'
import { newSwarmKey, parseSwarmKey } from '../../../node/net/swarm-key.ts'
import type { SwarmKey } from '../../../node/net/swarm-key.ts'
import { privateListen } from '../../../node/net/host.ts'
import type { Libp2p } from '@libp2p/interface'

async function key (): Promise<SwarmKey> {
  return parseSwarmKey(new TextEncoder().encode(await newSwarmKey()), 'test key')
}

describe('node/net private network (pnet, real libp2p on TCP loopback)', function () {
  this.timeout(60_000)
  let nodes: Array<TestNode | undefined> = []
  let raw: Libp2p[] = []

  afterEach(async () => {
    await stopAll(nodes)
    await Promise.all(raw.map(async n => { await n.stop() }))
    nodes = []
    raw = []
  })

  it('two nodes with the same key connect and exchange chunks, byte-exact; status says private with the fingerprint', async () => {
    const k = await key()
    const file = makeFile(3 * MiB + 17, 256 * KiB, 8)
    const a = await startNode({ swarmKey: k })
    const b = await startNode({ swarmKey: parseSwarmKey(k.psk, 'the same key, read again') })
    nodes = [a, b]
    a.store.putAll(file.blocks)
    await b.net.connect(a.addr)
    const report = await b.net.fetch(file.root)
    assert.equal(report.bytes_fetched, file.data.byteLength)
    assert.deepEqual(await readBack(b.store, file.root), file.data)
    assert.deepEqual(b.net.status().swarm, { private: true, keyFingerprint: k.fingerprint, transports: ['tcp'] })
    assert.equal(JSON.stringify(b.net.status()).includes(Buffer.from(k.key).toString('hex')), false, 'the key itself is never shown')
  })

  it('different keys, or a key on one side only: no connection either way, and the error says why', async () => {
    const [ka, kb] = [await key(), await key()]
    const a = await startNode({ swarmKey: ka })
    const b = await startNode({ swarmKey: kb })
    const open = await startNode()
    nodes = [a, b, open]
    const attempts = await Promise.allSettled([
      b.net.connect(a.addr), // another key
      open.net.connect(a.addr), // no key, to a private node
      a.net.connect(open.addr) // a private node, to one without a key
    ])
    for (const [i, r] of attempts.entries()) {
      assert.equal(r.status, 'rejected', `attempt ${i} must fail`)
      const err = (r as PromiseRejectedResult).reason as Error
      assert.equal(err.name, 'PrivateNetworkDialError', `attempt ${i}: ${err.message}`)
      assert.match(err.message, /swarm key/)
    }
    assert.match(((attempts[0] as PromiseRejectedResult).reason as Error).message, new RegExp(`private network \\(swarm key ${kb.fingerprint}\\)`))
    assert.match(((attempts[1] as PromiseRejectedResult).reason as Error).message, /this node needs its swarm key/)
    for (const n of nodes) assert.deepEqual(n?.net.peers(), [], 'nobody stays connected to anybody')

  })

  it('a private node drops WebRTC listen addresses and cannot dial them', async () => {
    assert.deepEqual(privateListen(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/webrtc-direct']), {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      dropped: ['/ip4/127.0.0.1/udp/0/webrtc-direct']
    })
    const a = await startNode({ swarmKey: await key(), listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/webrtc-direct'] })
    const open = await startNode({ listen: ['/ip4/127.0.0.1/udp/0/webrtc-direct'] })
    nodes = [a, open]
    assert.deepEqual(a.net.swarm.dropped, ['/ip4/127.0.0.1/udp/0/webrtc-direct'])
    assert.ok(a.net.addresses().every(x => !x.includes('webrtc')), `listening only on TCP: ${a.net.addresses().join(', ')}`)
    const webrtcAddr = open.net.addresses().find(x => x.includes('webrtc-direct'))
    assert.ok(webrtcAddr != null)
    await assert.rejects(a.net.connect(webrtcAddr), (err: Error) => /transport|dial/i.test(err.message))
    assert.deepEqual(open.net.peers(), [])
  })

  // Why the node drops WebRTC when private (host.ts, privateListen): libp2p's WebRTC transports upgrade with
  // skipProtection, so a plain libp2p node with a protector still admits anyone over WebRTC-direct. Should a
  // libp2p release change that, this spec fails and the decision can be revisited.
  it('libp2p itself: a pnet-protected listener admits a keyless node over WebRTC-direct, not over TCP', async () => {
    const k = await key()
    const base = { connectionEncrypters: [noise()], streamMuxers: [yamux()] }
    const guarded = await createLibp2p({
      ...base,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/webrtc-direct'] },
      transports: [tcp(), webRTCDirect()],
      connectionProtector: preSharedKey({ psk: k.psk })
    })
    const intruder = await createLibp2p({ ...base, transports: [tcp(), webRTCDirect()] })
    raw = [guarded, intruder]
    const addrs = guarded.getMultiaddrs()
    const tcpAddr = addrs.find(a => a.toString().includes('/tcp/'))
    const webrtcAddr = addrs.find(a => a.toString().includes('/webrtc-direct'))
    assert.ok(tcpAddr != null && webrtcAddr != null)
    await assert.rejects(intruder.dial(tcpAddr, { signal: AbortSignal.timeout(3_000) }))
    const conn = await intruder.dial(multiaddr(webrtcAddr.toString()), { signal: AbortSignal.timeout(20_000) })
    assert.equal(conn.remotePeer.toString(), guarded.peerId.toString(), 'the protector was skipped')
  })
})
