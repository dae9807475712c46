import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { dits, ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'

const LOOPBACK = '["/ip4/127.0.0.1/tcp/0","/ip4/127.0.0.1/udp/0/webrtc-direct"]'

describe('dits-node private network (swarm keys, real processes on loopback)', function () {
  this.timeout(120_000)
  let work: string
  const daemons: RunningDaemon[] = []

  before(async () => { work = await mkdtemp(join(tmpdir(), 'dits-swarm-cli-')) })
  after(async () => {
    for (const d of daemons) await d.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('swarm-key new: the pnet format on stdout, -o writes 0600 and never overwrites, --json, --help', async () => {
    const printed = await ok(['swarm-key', 'new'])
    assert.match(printed, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    assert.notEqual(await ok(['swarm-key', 'new']), printed, 'a new key each time')
    const file = join(work, 'studio.key')
    const wrote = JSON.parse(await ok(['--json', 'swarm-key', 'new', '-o', file]))
    assert.equal(wrote.file, file)
    assert.match(wrote.keyFingerprint, /^[0-9a-f]{16}$/)
    assert.equal((await stat(file)).mode & 0o777, 0o600)
    const before = await readFile(file, 'utf8')
    const again = await dits(['swarm-key', 'new', '-o', file])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /studio\.key already exists: a swarm key is never overwritten/)
    assert.equal(await readFile(file, 'utf8'), before)
    const json = JSON.parse(await ok(['--json', 'swarm-key', 'new']))
    assert.match(json.key, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    const help = await dits(['swarm-key', 'new', '--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /--output <file>/)
  })

  it('init --swarm-key: copied into the repo (0600), swarm.keyFile set; a malformed key is refused naming the file, with no repo made', async () => {
    const key = join(work, 'k1')
    await ok(['swarm-key', 'new', '-o', key])
    const repo = join(work, 'init')
    const out = JSON.parse(await ok(['--repo', repo, '--json', 'init', '--swarm-key', key]))
    assert.equal(out.swarm.private, true)
    assert.equal((await stat(join(repo, 'swarm.key'))).mode & 0o777, 0o600)
    assert.equal(await readFile(join(repo, 'swarm.key'), 'utf8'), await readFile(key, 'utf8'))
    assert.equal((await ok(['--repo', repo, 'config', 'get', 'swarm.keyFile'])).trim(), '"swarm.key"')
    const id = JSON.parse(await ok(['--repo', repo, '--json', 'id']))
    assert.deepEqual(id.swarm, { private: true, keyFingerprint: out.swarm.keyFingerprint, transports: ['tcp'] })

    const bad = join(work, 'bad.key')
    await writeFile(bad, '/key/swarm/psk/1.0.0/\n/base16/\nnot-hex\n')
    const refused = await dits(['--repo', join(work, 'never'), 'init', '--swarm-key', bad])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /bad\.key: the key on the third line must be hexadecimal/)
    await assert.rejects(stat(join(work, 'never')), { code: 'ENOENT' })
  })

  it('same key: connect and get byte-exact, WebRTC-direct dropped with one line; another key: exit 4 saying why', async () => {
    const key = join(work, 'studio-a.key')
    const other = join(work, 'studio-b.key')
    await ok(['swarm-key', 'new', '-o', key])
    await ok(['swarm-key', 'new', '-o', other])
    const [a, b, c] = ['a', 'b', 'c'].map(n => join(work, n))
    for (const [repo, k] of [[a, key], [b, key], [c, other]]) {
      await ok(['--repo', repo, 'init', '--swarm-key', k])
      await ok(['--repo', repo, 'config', 'set', 'addresses.listen', LOOPBACK])
    }
    const da = await startDaemon(a)
    daemons.push(da)
    assert.deepEqual(da.info.addresses.filter(x => x.includes('webrtc')), [], 'no WebRTC-direct listener')
    const dropped = (da.info as unknown as { swarm: { dropped: string[] } }).swarm.dropped
    assert.deepEqual(dropped, ['/ip4/127.0.0.1/udp/0/webrtc-direct'])
    daemons.push(await startDaemon(b), await startDaemon(c))

    const data = randomBytes(3_000_000)
    await writeFile(join(work, 'clip.mov'), data)
    const root = (await ok(['--repo', a, 'add', '--profile', 'small', join(work, 'clip.mov')])).trim().split('\n').at(-1) as string
    const addr = da.info.addresses[0]
    await ok(['--repo', b, 'connect', addr])
    await ok(['--repo', b, 'get', root, '-o', join(work, 'copy.mov')])
    assert.ok((await readFile(join(work, 'copy.mov'))).equals(data), 'byte-exact through the private network')

    const status = JSON.parse(await ok(['--repo', b, '--json', 'status']))
    const keyText = await readFile(key, 'utf8')
    assert.equal(status.swarm.private, true)
    assert.equal(status.swarm.keyFingerprint, JSON.parse(await ok(['--repo', a, '--json', 'id'])).swarm.keyFingerprint)
    assert.equal(JSON.stringify(status).includes(keyText.split('\n')[2]), false, 'the key is never shown')
    assert.match(await ok(['--repo', b, 'status']), /network +private \(swarm key [0-9a-f]{16}; tcp only\)/)

    const refused = await dits(['--repo', c, 'connect', addr])
    assert.equal(refused.code, 4)
    assert.match(refused.stderr, /could not connect to .*This node is in a private network \(swarm key [0-9a-f]{16}\): only a node with the same swarm key can connect/)
    const peersOfA = JSON.parse(await ok(['--repo', a, '--json', 'peers'])) as Array<{ id: string }>
    assert.deepEqual(peersOfA.map(p => p.id), [daemons[1].info.peerId], 'only the node with the same key')
  })

  it('start: swarm.required without a key refuses (exit 2); a malformed key file is named (exit 2)', async () => {
    const repo = join(work, 'req')
    await ok(['--repo', repo, 'init'])
    await ok(['--repo', repo, 'config', 'set', 'swarm.required', 'true'])
    const refused = await dits(['--repo', repo, 'start'])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /swarm\.required is true but no swarm key is set \(swarm\.keyFile\)/)
    await writeFile(join(repo, 'broken.key'), '/key/swarm/psk/1.0.0/\n/base16/\nabcd\n')
    const set = await dits(['--repo', repo, 'config', 'set', 'swarm.keyFile', '"broken.key"'])
    assert.equal(set.code, 2, 'config set checks the key file')
    assert.match(set.stderr, /req\/broken\.key: the key on the third line must be 64 hexadecimal characters \(32 bytes\), found 4/)
    assert.equal((await ok(['--repo', repo, 'config', 'get', 'swarm.keyFile'])).trim(), 'null', 'and leaves the config as it was')
    const broken = await dits(['--repo', repo, 'start'], { env: { DITS_CONFIG_SWARM__KEYFILE: '"broken.key"' } })
    assert.equal(broken.code, 2)
    assert.match(broken.stderr, /req\/broken\.key: the key on the third line must be 64 hexadecimal characters \(32 bytes\), found 4/)
    const bad = await dits(['--repo', repo, 'config', 'set', 'swarm.required', '"yes"'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /invalid value for swarm\.required: "yes"; allowed: true or false/)
  })
})
