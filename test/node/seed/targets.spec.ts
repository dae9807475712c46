import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { studioSeeds, seedTargets } from '../../../node/seed/index.ts'
import { UsageError } from '../../../src/errors.ts'
import type { PeerInfo } from '../../../node/net/index.ts'

const newId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

describe('node/seed studioSeeds: which seeds keep the studio\'s content', () => {
  let self: string, configured: string, helloSeed: string, workstation: string
  before(async () => { [self, configured, helloSeed, workstation] = await Promise.all([newId(), newId(), newId(), newId()]) })
  const network = (peers: Array<[string, string[]]>): { peerId: string, peers: () => PeerInfo[] } =>
    ({ peerId: self, peers: () => peers.map(([id, roles]) => ({ id, roles }) as unknown as PeerInfo) })

  it('takes config seeds alone when it names any: a peer claiming role seed in its hello does not add a target', () => {
    const seeds = studioSeeds([`/ip4/127.0.0.1/tcp/4101/p2p/${configured}`], network([[helloSeed, ['seed']], [workstation, ['peer']]]))
    assert.deepEqual(seeds.map(s => s.id), [configured])
  })

  it('takes the connected peers whose role is seed when config names none, never a workstation', () => {
    const seeds = studioSeeds([], network([[helloSeed, ['seed']], [workstation, ['peer']]]))
    assert.deepEqual(seeds.map(s => s.id), [helloSeed])
  })

  it('names each seed once and never this node', () => {
    const seeds = seedTargets([configured, `/ip4/127.0.0.1/tcp/4101/p2p/${configured}`, self], self)
    assert.deepEqual(seeds.map(s => s.id), [configured])
    assert.equal(seeds[0].text, configured)
  })

  it('refuses a malformed seed with a usage error that names it', () => {
    assert.throws(() => seedTargets(['not-a-peer'], self), (err: Error) => err instanceof UsageError && err.message.includes('"not-a-peer"'))
    assert.throws(() => seedTargets(['/ip4/127.0.0.1/tcp/4101'], self), (err: Error) => err instanceof UsageError && err.message.includes('/p2p/'))
  })
})
