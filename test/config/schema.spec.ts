import assert from 'node:assert/strict'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig, checkKey, defaultConfig, loadConfig, speculativeTtlMs, durationMs } from '../../config/index.ts'

describe('config', () => {
  it('fills defaults', () => {
    const c = validateConfig({}, 'x')
    assert.deepEqual(c, defaultConfig())
    assert.equal(c.consensus.heartbeatMs, 100)
    assert.equal(c.consensus.electionMs, 1000)
  })

  it('names the key, the value and what is allowed', () => {
    assert.throws(() => checkKey('discovery.mdns', 'yes'), (e: Error) => e.name === 'ConfigError' && /discovery\.mdns: "yes"; allowed: true or false/.test(e.message))
    assert.throws(() => checkKey('addresses.listen', ['/ip4/1.2.3.4/tcpx/1']), /invalid value for addresses\.listen/)
    assert.throws(() => checkKey('role', 'king'), /allowed: "peer" or "seed"/)
    assert.throws(() => checkKey('nope', 1), /unknown config key "nope"/)
    assert.throws(() => checkKey('consensus', {}), /it is a section/)
  })

  it('seed.*: keepVersions within what a ref log holds, followIntervalMs in range; consensus.requireSeed true, false or null', () => {
    const c = validateConfig({}, 'x')
    assert.equal(c.seed.keepVersions, 10)
    assert.equal(c.seed.followIntervalMs, 500)
    assert.equal(c.consensus.requireSeed, null)
    assert.equal(checkKey('consensus.requireSeed', true), true)
    assert.throws(() => checkKey('consensus.requireSeed', 'yes'), /invalid value for consensus\.requireSeed: "yes"; allowed: true, false, or null/)
    assert.equal(checkKey('seed.keepVersions', 256), 256)
    assert.throws(() => checkKey('seed.keepVersions', 257), /invalid value for seed\.keepVersions: 257; allowed: an integer 1–256/)
    assert.throws(() => checkKey('seed.keepVersions', 0), /seed\.keepVersions/)
    assert.throws(() => checkKey('seed.followIntervalMs', 10), /invalid value for seed\.followIntervalMs: 10; allowed: an integer 50–60000/)
  })

  it('speculative.ttl: milliseconds or a duration up to 30 days; seed.speculativeQuotaBytes a byte count (issue 18)', () => {
    const c = validateConfig({ speculative: { ttl: '1.5d' } }, 'x')
    assert.equal(speculativeTtlMs(c), 36 * 3600_000)
    assert.equal(speculativeTtlMs(validateConfig({}, 'x')), 72 * 3600_000)
    assert.equal(speculativeTtlMs(validateConfig({ speculative: { ttl: 500 } }, 'x')), 500)
    assert.equal(validateConfig({}, 'x').seed.speculativeQuotaBytes, 20 * 1024 ** 3)
    assert.equal(durationMs(' 30m '), 1_800_000)
    for (const bad of ['72', '3w', '', '-1h', 0, 1.5, '31d', 30 * 24 * 3600_000 + 1, null]) {
      assert.throws(() => checkKey('speculative.ttl', bad), /invalid value for speculative\.ttl: .*; allowed: milliseconds \(an integer 1–2592000000\) or a duration such as "72h"/, String(bad))
    }
    assert.throws(() => checkKey('seed.speculativeQuotaBytes', -1), /invalid value for seed\.speculativeQuotaBytes: -1; allowed: an integer 0–/)
  })

  it('serve.*: maxRate in bytes per second or null, slots 1–1024 or null (issue 19)', () => {
    const c = validateConfig({ serve: { maxRate: 12_500_000 } }, 'x')
    assert.deepEqual(c.serve, { maxRate: 12_500_000, slots: null })
    assert.equal(checkKey('serve.slots', 4), 4)
    assert.throws(() => checkKey('serve.slots', 0), /invalid value for serve\.slots: 0; allowed: null \(every peer at once\) or an integer 1–1024/)
    assert.throws(() => checkKey('serve.maxRate', '80MB/s'), /invalid value for serve\.maxRate: "80MB\/s"/)
  })

  it('watch.* and speculative.*: defaults (1 s debounce, uploads on, no rate cap), patterns of three forms, absolute dirs', () => {
    const c = validateConfig({}, 'x')
    assert.deepEqual(c.watch.dirs, [])
    assert.equal(c.watch.debounceMs, 1000)
    assert.ok(c.watch.include.includes('*.mov') && c.watch.ignore.includes('.git/'))
    assert.equal(c.speculative.enabled, true)
    assert.equal(c.speculative.maxRate, null)
    assert.deepEqual(checkKey('watch.include', ['*.mov', 'Auto-Save/']), ['*.mov', 'Auto-Save/'])
    assert.throws(() => checkKey('watch.include', ['*.mov', '**/x']), /invalid value for watch\.include: \[1\]: "\*\*\/x" is none of/)
    assert.throws(() => checkKey('watch.dirs', ['footage']), /watch\.dirs.*absolute directory paths/)
    assert.throws(() => checkKey('speculative.maxRate', 10), /speculative\.maxRate: 10; allowed: null \(no cap\)/)
    assert.equal(checkKey('speculative.maxRate', null), null)
    assert.throws(() => checkKey('speculative.enabled', 'yes'), /speculative\.enabled/)
  })

  it('knows only its own keys, not Object.prototype\'s (found by fuzzing: "rule.check is not a function")', () => {
    for (const key of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      assert.throws(() => checkKey(key, null), (e: Error) => e.name === 'ConfigError' && e.message.includes(`unknown config key "${key}"`))
    }
    assert.throws(() => validateConfig({ constructor: 1 }, 'config.json'), /unknown config key "constructor"/)
  })

  it('access: peer ids per role and names, each bad entry named by its key and position', () => {
    const A = '12D3KooWAhn3CQe7Tm8q7ug9GpKQYz6BvStUumXG7UuhyyrQ7m9D'
    const c = validateConfig({ access: { write: [A, A], names: { [A]: 'ana-ws' } } }, 'f')
    assert.deepEqual(c.access.write, [A, A])
    assert.equal(c.access.read, null)
    assert.equal(c.access.admin, null)
    assert.throws(() => validateConfig({ access: { write: [A, 'ana'] } }, 'f'), (e: Error) => e.name === 'ConfigError' && /access\.write: access\.write\[1\]: not a peer id/.test(e.message))
    assert.throws(() => checkKey('access.admin', A), /access\.admin: expected a list of peer ids/)
    assert.throws(() => checkKey('access.names', { nope: 'x' }), /access\.names: key "nope": not a peer id/)
    assert.throws(() => checkKey('access.names', { [A]: '' }), /access\.names\.12D3\S+: expected a non-empty string/)
    assert.throws(() => validateConfig({ access: { owner: [A] } }, 'f'), /unknown config key "access\.owner"/)
  })

  it('checks cross-key rules', () => {
    assert.throws(() => validateConfig({ consensus: { heartbeatMs: 500, electionMs: 1000 } }, 'f'), /at least 5 × consensus.heartbeatMs/)
  })

  it('lets the environment override the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dits-config-'))
    try {
      await writeFile(join(dir, 'config.json'), JSON.stringify({ discovery: { mdns: true } }))
      const c = await loadConfig(dir, { DITS_CONFIG_DISCOVERY__MDNS: 'false', DITS_CONFIG_API__PORT: '5001' })
      assert.equal(c.discovery.mdns, false)
      assert.equal(c.api.port, 5001)
      await assert.rejects(loadConfig(dir, { DITS_CONFIG_API__PORT: 'x' }), /must hold a JSON value/)
      await writeFile(join(dir, 'config.json'), '{oops')
      await assert.rejects(loadConfig(dir, {}), /is not valid JSON/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
