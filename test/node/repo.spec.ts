import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pins, PinFileError } from '../../node/repo.ts'
import { chunkCid } from '../../src/cid.ts'

describe('node/repo Pins', () => {
  let dir: string
  let pins: Pins
  const a = chunkCid(new TextEncoder().encode('a'))
  const b = chunkCid(new TextEncoder().encode('b'))

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-pins-'))
    pins = new Pins(dir)
  })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('keeps every reason given, and the pin until its last reason is withdrawn', async () => {
    await Promise.all([pins.add(a, 'user'), pins.add(a, 'push'), pins.add(a, 'ref'), pins.add(b, 'ref')])
    assert.deepEqual(Object.keys(await pins.reasons(a)).sort(), ['push', 'ref', 'user'])
    assert.equal(await pins.rm(a, 'user'), true)
    assert.equal(await pins.rm(a, 'user'), false)
    assert.deepEqual(Object.keys(await pins.reasons(a)).sort(), ['push', 'ref'])
    assert.equal(await pins.rm(a, 'push'), true)
    assert.equal(await pins.rm(a, 'ref'), true)
    assert.equal(await pins.has(a), false)
    assert.deepEqual((await pins.ls()).map(String), [b.toString()])
    assert.equal(await pins.rm(b), true)
    assert.deepEqual(await pins.ls(), [])
  })

  it('a pin being written (its temporary file) is not listed', async () => {
    await pins.add(a, 'user')
    await writeFile(join(dir, `${b.toString()}.tmp-4242`), '{}')
    assert.deepEqual((await pins.ls()).map(String), [a.toString()])
  })

  it('reads a pin written before pins had several reasons', async () => {
    await writeFile(join(dir, a.toString()), JSON.stringify({ pinned: '2026-11-01T10:00:00.000Z', reason: 'user' }))
    assert.deepEqual(await pins.reasons(a), { user: '2026-11-01T10:00:00.000Z' })
    await pins.add(a, 'push')
    const file = JSON.parse(await readFile(join(dir, a.toString()), 'utf8'))
    assert.equal(file.reasons.user, '2026-11-01T10:00:00.000Z')
    assert.ok(file.reasons.push !== undefined)
  })

  it('refuses a pin file it did not write, naming it', async () => {
    await writeFile(join(dir, a.toString()), JSON.stringify({ reasons: { forever: 'x' } }))
    await assert.rejects(pins.reasons(a), (err: Error) => err instanceof PinFileError && err.message.includes(a.toString()))
    await writeFile(join(dir, b.toString()), 'x'.repeat(10_000))
    await assert.rejects(pins.reasons(b), /over 4096 bytes/)
  })
})
