import assert from 'node:assert/strict'
import { negotiate, decodeHello, localLimits, FEATURES } from '../../../node/net/hello.ts'
import { Hello } from '../../../protocol/hello.ts'
import { MAX_BLOCK_BYTES } from '../../../protocol/index.ts'

function hello (over: Partial<Hello> = {}): Hello {
  const l = localLimits()
  return {
    protocols: ['/dits/hello/1.0.0', '/dits/chunks/1.0.0'],
    roles: ['peer'],
    limits: { ...l, maxInFlightBytes: BigInt(l.maxInFlightBytes) },
    features: FEATURES,
    agent: 'test',
    reject: '',
    ...over
  }
}

describe('node/net hello', () => {
  describe('negotiate', () => {
    it('keeps the intersection: common protocols by name and major, common features, the smaller limits', () => {
      const remote = hello({
        protocols: ['/dits/hello/1.2.0', '/dits/chunks/1.4.1', '/dits/raft/1.0.0'],
        roles: ['seed', 'voter'],
        features: ['want-have', 'future-thing'],
        limits: { maxMessageBytes: MAX_BLOCK_BYTES + 10, maxBlockBytes: MAX_BLOCK_BYTES, maxOutstandingWants: 100, maxInFlightBytes: 8n * 1024n * 1024n }
      })
      const r = negotiate(hello(), remote)
      assert.ok(r.ok)
      assert.deepEqual(r.hello.protocols, ['/dits/hello/1.0.0', '/dits/chunks/1.0.0'])
      assert.deepEqual(r.hello.roles, ['seed', 'voter'])
      assert.deepEqual(r.hello.features, ['want-have'])
      assert.deepEqual(r.hello.limits, { maxMessageBytes: MAX_BLOCK_BYTES + 10, maxBlockBytes: MAX_BLOCK_BYTES, maxOutstandingWants: 100, maxInFlightBytes: 8 * 1024 * 1024 })
    })

    it('refuses a peer with no common chunks major version, naming both', () => {
      const r = negotiate(hello(), hello({ protocols: ['/dits/hello/1.0.0', '/dits/chunks/2.0.0'] }))
      assert.equal(r.ok, false)
      assert.match(!r.ok ? r.reason : '', /this node speaks \/dits\/chunks\/1\.0\.0 \(major 1\), the peer speaks \/dits\/chunks\/2\.0\.0/)
    })

    it('refuses limits that cannot carry a maximum-size block', () => {
      const l = localLimits()
      const r = negotiate(hello(), hello({ limits: { ...l, maxBlockBytes: 1024, maxInFlightBytes: BigInt(l.maxInFlightBytes) } }))
      assert.equal(r.ok, false)
      assert.match(!r.ok ? r.reason : '', /blocks of at most 1024 bytes/)
    })

    it('passes on the peer\'s reject reason', () => {
      const r = negotiate(hello(), hello({ reject: 'go away' }))
      assert.deepEqual(r, { ok: false, reason: 'peer refused the connection: go away' })
    })
  })

  describe('decodeHello', () => {
    it('bounds lists and strings', () => {
      assert.throws(() => decodeHello(Hello.encode(hello({ roles: Array.from({ length: 65 }, () => 'x') }))), { name: 'ProtocolViolationError' })
      assert.throws(() => decodeHello(Hello.encode(hello({ agent: 'x'.repeat(1025) }))), { name: 'ProtocolViolationError' })
      assert.throws(() => decodeHello(Uint8Array.from([0x0a, 0xff])), { name: 'ProtocolViolationError' })
      assert.equal(decodeHello(Hello.encode(hello())).agent, 'test')
    })
  })
})
