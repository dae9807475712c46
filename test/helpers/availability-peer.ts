/**
 * One peer of the availability scene (test/helpers/availability.ts) in a process of its own, as a studio's peers
 * are machines of their own: `node availability-peer.js STORE_DIR ROLE REFUSED_PEER|-`. Serves the blockstore at
 * STORE_DIR on 127.0.0.1 (TCP, port 0, mDNS off), refusing REFUSED_PEER (no read role), prints
 * `{"peerId","addr"}` once it listens, and stops cleanly on SIGTERM or when its stdin closes. A seed also serves
 * `/dits/seed/1.0.0` (ROOT_STATUS tells the pins under STORE_DIR/pins), as a seed's daemon does.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { join } from 'node:path'
import { DitsBlockstore } from '../../node/blockstore.ts'
import { createNetwork } from '../../node/net/index.ts'
import { SeedService } from '../../node/net/seed.ts'
import { SeedKeeper } from '../../node/seed/keeper.ts'
import { Pins } from '../../node/repo.ts'
import { SEED_PROTOCOL } from '../../protocol/ids.ts'

const [dir, role, refused] = process.argv.slice(2)
if (dir === undefined || (role !== 'peer' && role !== 'seed') || refused === undefined) {
  process.stderr.write('usage: availability-peer.js STORE_DIR peer|seed REFUSED_PEER|-\n')
  process.exit(2)
}
const store = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
await store.open()
const net = await createNetwork({
  privateKey: await generateKeyPair('Ed25519'),
  role,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  bootstrap: [],
  mdns: false,
  blockstore: store,
  refuseServing: peer => peer.toString() === refused ? `peer ${refused} lacks the read role (chunks)` : undefined,
  extraProtocols: role === 'seed' ? [SEED_PROTOCOL] : []
})
await net.start()
if (role === 'seed') {
  await new SeedService(net.libp2p, { handler: new SeedKeeper({ blocks: store, pins: new Pins(join(dir, 'pins')), fetch: async (root, options) => await net.fetch(root, options) }) }).start()
}
let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  net.stop().then(() => process.exit(0), () => process.exit(1))
}
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.resume()
process.stdout.write(JSON.stringify({ peerId: net.peerId, addr: net.addresses().find(a => a.includes('/tcp/')) }) + '\n')
