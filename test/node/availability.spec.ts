/**
 * `dits-node availability` (issue 17) end to end: a real daemon process (a consensus group of one, for the ref)
 * asks five real libp2p nodes on loopback, each with a blockstore on disk, which chunks of a 10,000-chunk root they
 * hold (test/helpers/availability.ts). The tree is built chunk by chunk, so the exact share of every holder, and
 * the chunks nobody holds with their files and offsets, are known without the code under test.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dits } from '../helpers/cli.ts'
import { AvailabilityScene, CHUNK_BYTES, SCENE_REF } from '../helpers/availability.ts'
import type { PeerName } from '../helpers/availability.ts'
import { waitFor } from './net/helpers.ts'
import type { AvailabilityReport } from '../../node/availability.ts'

describe('node/availability: who holds what of a root (a daemon and five peers, TCP loopback)', function () {
  this.timeout(180_000)
  let work: string
  let scene: AvailabilityScene

  const availability = async (target: string): Promise<{ report: AvailabilityReport, ms: number }> => {
    const started = performance.now()
    const r = await scene.dits(['--json', 'availability', target])
    const ms = performance.now() - started
    assert.equal(r.code, 0, r.stderr)
    return { report: JSON.parse(r.stdout) as AvailabilityReport, ms }
  }
  const count = (has: (i: number) => boolean): { chunks: number, bytes: number } => {
    const chunks = scene.tree.chunks.filter((_, i) => has(i)).length
    return { chunks, bytes: chunks * CHUNK_BYTES }
  }
  const id = (name: PeerName): string => scene.peers[name]?.peerId ?? ''

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-availability-'))
    scene = await AvailabilityScene.create(work)
    assert.equal(scene.tree.chunks.length, 10_000)
  })

  after(async () => {
    await scene?.stop()
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  it('a ref: the exact share of this node, the seed and every peer; a peer that refuses is reported refused; nothing missing', async () => {
    const { report, ms } = await availability(SCENE_REF)
    console.log(`      availability of 10,000 chunks, 5 peers (manifests fetched first): ${ms.toFixed(0)} ms for the CLI call, ${report.duration_ms} ms in the daemon`)
    const again = await availability(SCENE_REF)
    console.log(`      and again: ${again.ms.toFixed(0)} ms for the CLI call, ${again.report.duration_ms} ms in the daemon`)
    assert.equal(report.root, scene.tree.root.toString())
    assert.equal(report.ref, SCENE_REF)
    assert.equal(report.chunks, 10_000)
    assert.equal(report.bytes, 10_000 * CHUNK_BYTES)
    const by = new Map(report.holders.map(h => [h.peer, h]))
    assert.equal(report.holders.length, 6)
    const self = report.holders[0]
    assert.deepEqual([self.peer, self.self, self.role, self.state], [scene.group.peerIds[0], true, 'peer', 'ok'])
    assert.deepEqual({ chunks: self.chunks, bytes: self.bytes }, count(i => scene.selfHas(i)))
    assert.deepEqual(self.pin, { pinned: false, reasons: [] })
    const expect = (name: PeerName, role: string, has: (i: number) => boolean): void => {
      const h = by.get(id(name))
      assert.ok(h !== undefined, `${name} is listed`)
      assert.deepEqual({ role: h.role, state: h.state, chunks: h.chunks, bytes: h.bytes }, { role, state: 'ok', ...count(has) }, name)
      assert.equal(h.percent, Math.floor(1000 * count(has).chunks / 10_000) / 10, name)
    }
    expect('full', 'peer', () => true)
    expect('seed', 'seed', i => scene.seedHas(i))
    expect('half', 'peer', i => scene.halfHas(i))
    expect('none', 'peer', () => false)
    // seeds first, with the seed's own pin of the root (ROOT_STATUS)
    assert.equal(report.holders[1].peer, id('seed'))
    assert.deepEqual(report.holders[1].pin, { pinned: true, reasons: ['push', 'ref'] })
    assert.equal(report.holders[1].pin_error, undefined)
    const refused = by.get(id('refused'))
    assert.equal(refused?.state, 'refused')
    assert.equal(refused?.chunks, 0)
    assert.match(refused?.error ?? '', /lacks the read role/)
    assert.equal(report.missing_chunks, 0)
    assert.deepEqual(report.missing, [])
    assert.deepEqual(again.report.holders, report.holders)
  })

  it('with the full peer gone: the chunks nobody holds, each with its file and offset, in file order; a sub-path counts its part', async () => {
    const fullId = id('full')
    await scene.stopPeer('full')
    const api = await scene.group.api(0)
    await waitFor(async () => (await api.call<Array<{ hello: string }>>('peers', {})).length === 4, 20_000, 'the daemon to see the full peer go')
    const { report } = await availability(scene.tree.root.toString())
    const expected = scene.tree.chunks
      .filter((_, i) => !scene.selfHas(i) && !scene.seedHas(i) && !scene.halfHas(i))
      .map(c => ({ cid: c.cid.toString(), path: c.path, offset: c.offset, length: CHUNK_BYTES }))
    assert.equal(expected.length, 60)
    assert.deepEqual(new Set(expected.map(m => m.path)), new Set(['clips/f3', 'clips/f8']))
    assert.equal(report.ref, null)
    assert.equal(report.missing_chunks, 60)
    assert.equal(report.missing_bytes, 60 * CHUNK_BYTES)
    assert.deepEqual(report.missing, expected)
    // a bootstrap peer that cannot be reached is listed as such
    assert.equal(report.holders.length, 6)
    const gone = report.holders.find(h => h.peer === fullId)
    assert.deepEqual([gone?.role, gone?.state, gone?.chunks], ['unknown', 'unreachable', 0])
    const human = await scene.dits(['availability', scene.tree.root.toString()])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^holder +role +chunks +% +bytes$/m)
    assert.match(human.stdout, new RegExp(`^${id('seed')} +seed +8,880 +88\\.8% +[0-9.]+ [KM]B +pinned \\(push, ref\\)$`, 'm'))
    assert.match(human.stdout, /^missing: 60 chunks \(30\.7 KB\) held by no reachable node$/m)
    assert.match(human.stdout, new RegExp(`^  ${expected[0].cid}  clips/f3 @ 0 `, 'm'))
    const sub = (await availability(`${scene.tree.root.toString()}/clips/f8`)).report
    assert.equal(sub.chunks, 1000)
    assert.equal(sub.path, 'clips/f8')
    assert.deepEqual(sub.missing, expected.filter(m => m.path === 'clips/f8'))
    const listed = JSON.parse((await scene.dits(['--json', 'availability', scene.tree.root.toString(), '--max-listed', '7'])).stdout) as AvailabilityReport
    assert.deepEqual([listed.missing_chunks, listed.missing], [60, expected.slice(0, 7)])
  })

  it('exits 4 when the root cannot be resolved, 2 for a bad option, 0 with --help', async () => {
    const absent = await scene.dits(['availability', 'reel/none'])
    assert.equal(absent.code, 4, absent.stderr)
    assert.match(absent.stderr, /reel\/none is neither a CID .* nor a ref that exists/)
    const bad = await scene.dits(['availability', SCENE_REF, '--max-listed', 'many'])
    assert.equal(bad.code, 2)
    const help = await scene.dits(['availability', '--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /--max-listed/)
    const offline = join(work, 'offline')
    assert.equal((await dits(['--repo', offline, 'init'])).code, 0)
    const noDaemon = await dits(['--repo', offline, 'availability', scene.tree.root.toString()])
    assert.equal(noDaemon.code, 4)
    assert.match(noDaemon.stderr, /no daemon running/)
  })
})
