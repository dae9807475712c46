import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { dits, ok, startDaemon } from '../helpers/cli.ts'
import { freePorts } from '../node/consensus/cluster.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import { makeFile, startNode, stopAll, LyingBlockstore, MiB } from '../node/net/helpers.ts'
import type { TestNode } from '../node/net/helpers.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { pushRoot, requestRootStatus } from '../../node/net/seed.ts'
import type { PushStatus } from '../../node/net/seed.ts'
import type { PrivateKey } from '@libp2p/interface'

const tcp = (d: RunningDaemon): string => {
  const a = d.info.addresses.find(x => x.includes('/tcp/')) as string
  return a.includes('/p2p/') ? a : `${a}/p2p/${d.info.peerId}`
}

/**
 * Issue 17's push on real daemons over loopback: a seed, a workstation that adds and pushes, a third node that then
 * gets the content from the seed alone; in-process pushers for the interrupted and the hostile push.
 */
describe('push: the seed keeps what a workstation pushes (real daemons)', function () {
  this.timeout(180_000)
  let work: string
  let seed: RunningDaemon
  let ws: RunningDaemon | undefined
  let third: RunningDaemon | undefined
  const nodes: TestNode[] = []
  const repos = { seed: '', ws: '', third: '' }
  /** the in-process pushers, whose peer ids the seed's access.write lists */
  const keys: Record<string, PrivateKey> = {}

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-push-'))
    // the seed is also the consensus group's one voter, for `push REF` (so at a port known before it starts)
    const [port] = await freePorts(1)
    for (const name of ['seed', 'ws', 'third'] as const) {
      repos[name] = join(work, name)
      await ok(['--repo', repos[name], 'init', ...(name === 'seed' ? ['--role', 'seed', '--voter'] : [])])
      await ok(['--repo', repos[name], 'config', 'set', 'addresses.listen', JSON.stringify([`/ip4/127.0.0.1/tcp/${name === 'seed' ? port : 0}`])])
    }
    // the third node may read but not write: the seed refuses its pushes
    const wsId = (JSON.parse(await ok(['--repo', repos.ws, '--json', 'id'])) as { peerId: string }).peerId
    const seedId = (JSON.parse(await ok(['--repo', repos.seed, '--json', 'id'])) as { peerId: string }).peerId
    for (const name of ['seed', 'ws', 'third'] as const) await ok(['--repo', repos[name], 'config', 'set', 'consensus.voters', JSON.stringify([`/ip4/127.0.0.1/tcp/${port}/p2p/${seedId}`])])
    for (const name of ['slow', 'fast', 'liar'] as const) keys[name] = await generateKeyPair('Ed25519')
    const inProcess = Object.values(keys).map(k => peerIdFromPrivateKey(k).toString())
    await ok(['--repo', repos.seed, 'config', 'set', 'access.write', JSON.stringify([wsId, seedId, ...inProcess])])
    seed = await startDaemon(repos.seed)
    for (const name of ['ws', 'third'] as const) await ok(['--repo', repos[name], 'config', 'set', 'seeds', JSON.stringify([tcp(seed)])])
    ws = await startDaemon(repos.ws)
  })

  after(async () => {
    await stopAll(nodes)
    for (const d of [ws, third, seed]) await d?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('a workstation adds and pushes; the seed holds and pins it (push); with the workstation stopped, a third node gets it byte-exact from the seed alone', async () => {
    const data = randomBytes(5 * MiB + 12345)
    const file = join(work, 'clip.mov')
    await writeFile(file, data)
    const root = (await ok(['--repo', repos.ws, 'add', '--profile', 'small', file])).trim().split('\n').at(-1) as string
    const pushed = JSON.parse(await ok(['--repo', repos.ws, '--json', 'push', root])) as Record<string, any>
    assert.equal(pushed.root, root)
    assert.equal(pushed.noop, false)
    assert.equal(pushed.bytes_total, data.byteLength)
    assert.equal(pushed.bytes_already_on_seed, 0)
    assert.equal(pushed.bytes_sent, data.byteLength, 'random data: every chunk distinct, every byte sent once')
    assert.ok(pushed.chunks_total > 10 && pushed.chunks_sent === pushed.chunks_total, `chunks: ${pushed.chunks_sent} of ${pushed.chunks_total}`)
    assert.ok(pushed.duration_ms > 0)
    assert.deepEqual(pushed.seeds.map((s: { seed: string }) => s.seed), [seed.info.peerId])

    const pins = JSON.parse(await ok(['--repo', repos.seed, '--json', 'pin', 'ls'])) as Array<{ cid: string, reasons: Record<string, string> }>
    assert.deepEqual(Object.keys(pins.find(p => p.cid === root)?.reasons ?? {}), ['push'])

    // pushed again: nothing to send, all of it already there
    const again = JSON.parse(await ok(['--repo', repos.ws, '--json', 'push', root])) as Record<string, number>
    assert.equal(again.bytes_sent, 0)
    assert.equal(again.bytes_already_on_seed, data.byteLength)

    await ws?.stop()
    ws = undefined
    const offline = await dits(['--repo', repos.ws, 'push', root])
    assert.equal(offline.code, 4)
    assert.match(offline.stderr, /push needs the daemon: run `dits-node start`/)
    third = await startDaemon(repos.third)
    const out = join(work, 'copy.mov')
    const got = JSON.parse(await ok(['--repo', repos.third, '--json', 'get', root, '-o', out])) as { sources: Record<string, number>, bytes_fetched: number }
    assert.ok((await readFile(out)).equals(data), 'byte-exact')
    assert.deepEqual(Object.keys(got.sources), [seed.info.peerId], 'from the seed alone')
    assert.equal(got.bytes_fetched, data.byteLength)

    // the seed's own account of the root (ROOT_STATUS), as another node asks for it
    const asker = await startNode()
    nodes.push(asker)
    const status = await requestRootStatus(asker.net.libp2p, tcp(seed), CID.parse(root))
    assert.deepEqual(status.reasons, ['push'])
    assert.equal(status.dag, 'complete')
    assert.equal(status.chunks_held, pushed.chunks_total)
    assert.equal(status.bytes_held, data.byteLength)
    assert.equal(status.chunks_missing + status.manifests_missing, 0)
  })

  it('a peer without the write role is refused (exit 3), naming the peer and the role; nothing is pinned', async () => {
    third ??= await startDaemon(repos.third)
    const file = join(work, 'refused.bin')
    await writeFile(file, randomBytes(300_000))
    const root = (await ok(['--repo', repos.third, 'add', file])).trim().split('\n').at(-1) as string
    const r = await dits(['--repo', repos.third, 'push', root])
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, new RegExp(`peer ${third.info.peerId}.* lacks the write role \\(push`))
    const pins = JSON.parse(await ok(['--repo', repos.seed, '--json', 'pin', 'ls'])) as Array<{ cid: string }>
    assert.ok(!pins.some(p => p.cid === root))
    // a seed that does not answer: exit 4, said
    const [closed] = await freePorts(1)
    const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const gone = await dits(['--repo', repos.third, 'push', root, '--to', `/ip4/127.0.0.1/tcp/${closed}/p2p/${nobody}`])
    assert.equal(gone.code, 4, gone.stderr)
    assert.match(gone.stderr, new RegExp(`seed /ip4/127\\.0\\.0\\.1/tcp/${closed}/p2p/${nobody} is unreachable`))
  })

  it('a push through the seed itself is a no-op that says so', async () => {
    const file = join(work, 'on-seed.bin')
    await writeFile(file, randomBytes(200_000))
    const root = (await ok(['--repo', repos.seed, 'add', file])).trim().split('\n').at(-1) as string
    const r = JSON.parse(await ok(['--repo', repos.seed, '--json', 'push', root])) as { noop: boolean, message: string, bytes_sent: number, bytes_total: number }
    assert.equal(r.noop, true)
    assert.equal(r.bytes_sent, 0)
    assert.equal(r.bytes_total, 200_000)
    assert.match(r.message, /is the seed/)
    assert.match(await ok(['--repo', repos.seed, 'push', root]), /is the seed: .* nothing to push/)
  })

  it('push REF pushes the ref\'s target, read through the consensus group; a name that is neither a CID nor a ref is a usage error', async () => {
    ws ??= await startDaemon(repos.ws)
    const file = join(work, 'cut.mov')
    const data = randomBytes(700_000)
    await writeFile(file, data)
    const root = (await ok(['--repo', repos.ws, 'add', file])).trim().split('\n').at(-1) as string
    await ok(['--repo', repos.ws, 'ref', 'set', 'projects/reel3/cut', root, '--expect-none'])
    const r = JSON.parse(await ok(['--repo', repos.ws, '--json', 'push', 'projects/reel3/cut'])) as { root: string, ref: string, bytes_total: number }
    assert.deepEqual([r.root, r.ref, r.bytes_total], [root, 'projects/reel3/cut', data.byteLength])
    const pins = JSON.parse(await ok(['--repo', repos.seed, '--json', 'pin', 'ls'])) as Array<{ cid: string, reasons: Record<string, string> }>
    assert.ok(pins.find(p => p.cid === root)?.reasons.push !== undefined, 'pinned for the push')
    const neither = await dits(['--repo', repos.ws, 'push', 'projects/reel3/nothing'])
    assert.equal(neither.code, 2, neither.stderr)
    assert.match(neither.stderr, /"projects\/reel3\/nothing" is not a CID .*as a ref it could not be read: ref projects\/reel3\/nothing does not exist/)
  })

  it('interrupted half way, a second push sends only the rest', async () => {
    const file = makeFile(64 * MiB, 256 * 1024, 64)
    // a pusher that serves at 16 MB/s, so that the push is under way for a few seconds
    const slow = await startNode({ privateKey: keys.slow, maxServeRateBytesPerSec: 16e6 })
    nodes.push(slow)
    slow.store.putAll(file.blocks)
    const stop = new AbortController()
    const seen: PushStatus[] = []
    await assert.rejects(pushRoot(slow.net.libp2p, tcp(seed), file.root, {
      signal: stop.signal,
      onProgress: p => {
        seen.push(p)
        if (p.bytes_fetched > 16 * MiB) stop.abort(new Error('stopped half way'))
      }
    }), /stopped half way/)
    assert.ok(seen.some(p => p.stage === 'chunks' && p.totals_known && p.bytes_total === 64 * MiB))
    const half = await requestRootStatus(slow.net.libp2p, tcp(seed), file.root)
    assert.equal(half.dag, 'incomplete')
    assert.deepEqual(half.reasons, [], 'not pinned')

    const fast = await startNode({ privateKey: keys.fast })
    nodes.push(fast)
    fast.store.putAll(file.blocks)
    const done = await pushRoot(fast.net.libp2p, tcp(seed), file.root)
    assert.equal(done.stage, 'done')
    assert.equal(done.bytes_total, 64 * MiB)
    assert.ok(done.bytes_already >= 16 * MiB && done.bytes_already < 64 * MiB, `already there: ${done.bytes_already}`)
    assert.equal(done.bytes_fetched + done.bytes_already, done.bytes_total, 'only the rest was sent')
    const full = await requestRootStatus(fast.net.libp2p, tcp(seed), file.root)
    assert.deepEqual([full.dag, full.reasons], ['complete', ['push']])
  })

  it('a hostile pusher that serves a wrong block gets nothing of it stored or pinned', async () => {
    const file = makeFile(4 * MiB, 256 * 1024)
    const liar = await startNode({ privateKey: keys.liar, store: new LyingBlockstore() })
    nodes.push(liar)
    liar.store.putAll(file.blocks)
    await assert.rejects(pushRoot(liar.net.libp2p, tcp(seed), file.root), (err: Error) => err.name === 'SeedRequestError')
    const asker = await startNode()
    nodes.push(asker)
    const status = await requestRootStatus(asker.net.libp2p, tcp(seed), file.root)
    assert.deepEqual(status.reasons, [], 'not pinned')
    assert.equal(status.chunks_held, 0, 'no chunk of the liar stored')
    assert.equal(status.chunks_missing, file.chunks.length)
  })
})
