import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile, readFile, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { generateKey } from '@libp2p/pnet'
import {
  formatSwarmKey, parseSwarmKey, newSwarmKey, readSwarmKeyFile, writeSwarmKeyFile, loadSwarmKey, swarmKeyPath,
  MAX_SWARM_KEY_FILE_BYTES, SWARM_KEY_BYTES
} from '../../../node/net/swarm-key.ts'
import { validateConfig } from '../../../config/schema.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const HEX = '0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0'

describe('node/net swarm keys (the libp2p pnet key format)', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'dits-swarm-key-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('a new key is the pnet format: header, /base16/, 64 hex characters; it reads back to the same key', async () => {
    const text = await newSwarmKey()
    assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    const k = parseSwarmKey(enc(text), 'k')
    assert.equal(k.key.byteLength, SWARM_KEY_BYTES)
    assert.equal(formatSwarmKey(k.key), text)
    assert.match(k.fingerprint, /^[0-9a-f]{16}$/)
    assert.notEqual(parseSwarmKey(enc(await newSwarmKey()), 'other').fingerprint, k.fingerprint)
  })

  it('reads what @libp2p/pnet generateKey writes, and Kubo-style files (upper-case hex, CRLF, no final line end)', () => {
    const bytes = new Uint8Array(95)
    generateKey(bytes)
    const fromLib = parseSwarmKey(bytes, 'lib')
    assert.equal(Buffer.from(fromLib.key).toString('hex'), new TextDecoder().decode(bytes).split('\n')[2])
    const kubo = parseSwarmKey(enc(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX.toUpperCase()}`), 'kubo')
    assert.equal(Buffer.from(kubo.key).toString('hex'), HEX)
    assert.equal(kubo.fingerprint, parseSwarmKey(enc(formatSwarmKey(kubo.key)), 'again').fingerprint, 'the fingerprint depends on the key alone')
    assert.equal(new TextDecoder().decode(kubo.psk), `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\n`, 'the protector gets the canonical form')
  })

  it('malformed keys: each error names the file and what is wrong, and never shows the key', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /^f\.key is not a swarm key file: its first line must be \/key\/swarm\/psk\/1\.0\.0\/, found nothing/],
      [`/key/swarm/psk/2.0.0/\n/base16/\n${HEX}\n`, /^f\.key is not a swarm key file: its first line must be .* found "\/key\/swarm\/psk\/2\.0\.0\/"/],
      [`/key/swarm/psk/1.0.0/\n/base64/\n${HEX}\n`, /^f\.key: the second line must be \/base16\/ \(the only key encoding supported\), found "\/base64\/"/],
      ['/key/swarm/psk/1.0.0/\n/base16/\n', /^f\.key: the third line must hold the key \(64 hexadecimal characters\), and there is none/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(0, 62)}\n`, /^f\.key: the key on the third line must be 64 hexadecimal characters \(32 bytes\), found 62/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(0, 63)}g\n`, /^f\.key: the key on the third line must be hexadecimal/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\nmore\n`, /^f\.key: unexpected content after the key, on line 4/],
      ['x'.repeat(MAX_SWARM_KEY_FILE_BYTES + 1), /^f\.key is not a swarm key file: it holds more than 1024 bytes/]
    ]
    for (const [text, message] of cases) {
      assert.throws(() => parseSwarmKey(enc(text), 'f.key'), (err: Error) => {
        assert.equal(err.name, 'SwarmKeyError')
        assert.match(err.message, message)
        assert.equal(err.message.includes(HEX.slice(0, 20)), false, 'the key is not in the message')
        assert.equal((err as Error & { exitCode: number }).exitCode, 2)
        return true
      })
    }
  })

  it('any 32 bytes round-trip; any other input is a SwarmKeyError or a 32-byte key (fast-check)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), key => {
      assert.deepEqual(parseSwarmKey(enc(formatSwarmKey(key)), 'p').key, key)
    }))
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string().map(s => enc(`/key/swarm/psk/1.0.0/\n/base16/\n${s}`))), bytes => {
      try {
        assert.equal(parseSwarmKey(bytes, 'p').key.byteLength, 32)
      } catch (err) {
        assert.equal((err as Error).name, 'SwarmKeyError')
      }
    }))
  })

  it('files: written 0600, never overwritten; read bounded; a missing file is named', async () => {
    const path = join(dir, 'studio.key')
    const text = await newSwarmKey()
    await writeSwarmKeyFile(path, text)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    await assert.rejects(writeSwarmKeyFile(path, await newSwarmKey()), { name: 'SwarmKeyError', message: /already exists: a swarm key is never overwritten/ })
    assert.equal(await readFile(path, 'utf8'), text, 'the first key is kept')
    assert.equal((await readSwarmKeyFile(path)).fingerprint, parseSwarmKey(enc(text), 'x').fingerprint)
    const big = join(dir, 'big')
    await writeFile(big, '')
    await truncate(big, 1024 ** 4) // a sparse terabyte: read whole, it would never end
    await assert.rejects(readSwarmKeyFile(big), { name: 'SwarmKeyError', message: new RegExp(`^${big} is not a swarm key file: it holds more than 1024 bytes`) })
    await assert.rejects(readSwarmKeyFile(join(dir, 'nope')), { name: 'SwarmKeyError', message: /cannot read the swarm key file .*nope: ENOENT/ })
  })

  it('config: swarm.keyFile relative to the repo; swarm.required without a key refuses; bad values name the key', async () => {
    assert.equal(swarmKeyPath('/r', 'swarm.key'), '/r/swarm.key')
    assert.equal(swarmKeyPath('/r', '/etc/k'), '/etc/k')
    await writeSwarmKeyFile(join(dir, 'rel.key'), await newSwarmKey())
    assert.equal((await loadSwarmKey(dir, { keyFile: 'rel.key', required: true }))?.key.byteLength, 32)
    assert.equal(await loadSwarmKey(dir, { keyFile: null, required: false }, {}), undefined)
    await assert.rejects(loadSwarmKey(dir, { keyFile: null, required: true }, {}), { name: 'SwarmKeyRequiredError', message: /swarm\.required is true but no swarm key is set \(swarm\.keyFile\)/ })
    await assert.rejects(loadSwarmKey(dir, { keyFile: null, required: false }, { LIBP2P_FORCE_PNET: '1' }), { name: 'SwarmKeyRequiredError', message: /^LIBP2P_FORCE_PNET=1 is set but no swarm key is set/ })
    assert.equal(await loadSwarmKey(dir, { keyFile: null, required: false }, { LIBP2P_FORCE_PNET: '0' }), undefined)
    assert.deepEqual(validateConfig({}, 'c').swarm, { keyFile: null, required: false })
    assert.throws(() => validateConfig({ swarm: { keyFile: 7 } }, 'c.json'), { name: 'ConfigError', message: /^c\.json: invalid value for swarm\.keyFile: 7; allowed: null .* or the path of a swarm key file/ })
    assert.throws(() => validateConfig({ swarm: { keyFile: '' } }, 'c.json'), { message: /invalid value for swarm\.keyFile: ""/ })
    assert.throws(() => validateConfig({ swarm: { required: 'yes' } }, 'c.json'), { message: /invalid value for swarm\.required: "yes"; allowed: true or false/ })
    assert.throws(() => validateConfig({ swarm: { key: 'x' } }, 'c.json'), { message: /unknown config key "swarm\.key"/ })
  })
})
