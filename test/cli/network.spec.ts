import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile, readFile, readdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { dits, ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'

describe('two daemons on loopback (real processes)', function () {
  this.timeout(120_000)
  let work: string
  const daemons: RunningDaemon[] = []

  before(async () => { work = await mkdtemp(join(tmpdir(), 'dits-net-cli-')) })
  after(async () => {
    for (const d of daemons) await d.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('keeps the WebRTC-direct certificate in the repo (0600): the certhash of its address is the same after a restart, and peers reach it there', async () => {
    const repo = join(work, 'webrtc')
    const peer = join(work, 'webrtc-peer')
    for (const r of [repo, peer]) await ok(['--repo', r, 'init'])
    await ok(['--repo', repo, 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/udp/0/webrtc-direct"]'])
    await ok(['--repo', peer, 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
    const certhash = (addrs: string[]): string => (addrs.find(a => a.includes('/webrtc-direct/')) as string).match(/\/certhash\/([^/]+)/)?.[1] as string
    const first = await startDaemon(repo)
    const hash = certhash(first.info.addresses)
    assert.match(hash, /^u/)
    await first.stop()
    assert.equal((await stat(join(repo, 'webrtc-direct.json'))).mode & 0o777, 0o600)
    const second = await startDaemon(repo)
    const other = await startDaemon(peer).catch(async (err: Error) => { await second.stop(); throw err })
    try {
      assert.equal(certhash(second.info.addresses), hash, 'the same certhash after a restart')
      const addr = second.info.addresses.find(a => a.includes('/webrtc-direct/')) as string
      const connected = JSON.parse(await ok(['--repo', peer, '--json', 'connect', addr.includes('/p2p/') ? addr : `${addr}/p2p/${second.info.peerId}`]))
      assert.equal(connected.id, second.info.peerId)
    } finally {
      await other.stop()
      await second.stop()
    }
  })

  it('add on one, get on the other by CID, byte-exact, with per-source bytes; network verbs need the daemon', async () => {
    const a = join(work, 'a')
    const b = join(work, 'b')
    for (const repo of [a, b]) {
      await ok(['--repo', repo, 'init'])
      await ok(['--repo', repo, 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
    }
    const offline = await dits(['--repo', b, 'peers'])
    assert.equal(offline.code, 4)
    assert.match(offline.stderr, /no daemon running for repo .* — run `dits-node start`/)

    daemons.push(await startDaemon(a), await startDaemon(b))
    const [da] = daemons
    const file = join(work, 'clip.mov')
    const data = randomBytes(6_000_000)
    await writeFile(file, data)
    const root = (await ok(['--repo', a, 'add', '--profile', 'small', file])).trim().split('\n').at(-1) as string

    const addr = `${da.info.addresses.find(x => x.includes('/tcp/')) as string}`
    const connected = JSON.parse(await ok(['--repo', b, '--json', 'connect', addr.includes('/p2p/') ? addr : `${addr}/p2p/${da.info.peerId}`]))
    assert.equal(connected.id, da.info.peerId)
    const peers = JSON.parse(await ok(['--repo', b, '--json', 'peers'])) as Array<{ id: string, lan: boolean }>
    assert.ok(peers.some(p => p.id === da.info.peerId && p.lan))

    // cat of a range fetches only the chunks under it (small profile: 16-256 KiB chunks)
    const piece = await dits(['--repo', b, 'cat', root, '--offset', '3000000', '--length', '5000'])
    assert.equal(piece.code, 0, piece.stderr)
    assert.ok(piece.stdoutBytes.equals(data.subarray(3_000_000, 3_005_000)), 'the range, byte-exact')

    const out = join(work, 'copy.mov')
    const got = JSON.parse(await ok(['--repo', b, '--json', 'get', root, '-o', out]))
    assert.ok((await readFile(out)).equals(data), 'byte-exact')
    assert.equal(got.bytes_total, data.byteLength)
    assert.ok(got.bytes_local >= 5000 && got.bytes_local <= 2 * 256 * 1024, `the range's chunks were held: ${got.bytes_local} bytes`)
    assert.equal(got.bytes_fetched, data.byteLength - got.bytes_local)
    assert.equal(got.sources[da.info.peerId], got.bytes_fetched)
    assert.equal(got.bytes_dedup, 0)

    // Held now: a second get is all local.
    const again = JSON.parse(await ok(['--repo', b, '--json', 'get', root, '-o', join(work, 'copy2.mov')]))
    assert.equal(again.bytes_fetched, 0)
    assert.equal(again.bytes_local, data.byteLength)
    assert.match(await ok(['--repo', b, 'get', root, '-o', join(work, 'copy3.mov')]), /^wrote .*copy3\.mov \(6\.0 MB: 6\.0 MB local, 0 B fetched\) in \d+\.\d s \(.*\/s\)\n$/)
    // a tree holding the clip twice: the second copy is written from the first, and the counts add up
    const tree = join(work, 'tree')
    await mkdir(tree)
    await writeFile(join(tree, 'take1.mov'), data)
    await writeFile(join(tree, 'take1-copy.mov'), data)
    const treeRoot = (await ok(['--repo', a, 'add', '--profile', 'small', tree])).trim().split('\n').at(-1) as string
    const both = JSON.parse(await ok(['--repo', b, '--json', 'get', treeRoot, '-o', join(work, 'tree-copy')]))
    assert.equal(both.bytes_total, 2 * data.byteLength)
    assert.equal(both.bytes_dedup, data.byteLength)
    assert.equal(both.bytes_fetched + both.bytes_local + both.bytes_dedup, both.bytes_total)
    // the manifests phase is part of the report: the new directory's manifest, and its time
    assert.ok(both.manifest_bytes_fetched > 0, `manifest bytes: ${both.manifest_bytes_fetched}`)
    assert.ok(both.duration_ms > 0)
    assert.ok((await readFile(join(work, 'tree-copy', 'take1-copy.mov'))).equals(data))

    const status = JSON.parse(await ok(['--repo', b, '--json', 'status']))
    assert.ok(status.peers >= 1)
    // the counts the daemon keeps as blocks arrive are those of the files on disk
    const onDisk = { blocks: 0, bytes: 0 }
    for (const shard of await readdir(join(b, 'blocks'))) {
      for (const f of await readdir(join(b, 'blocks', shard))) {
        onDisk.blocks++
        onDisk.bytes += (await stat(join(b, 'blocks', shard, f))).size
      }
    }
    assert.ok(onDisk.blocks > 0)
    assert.deepEqual(status.repo, { ...onDisk, pins: 0, counting: false })
  })
})
