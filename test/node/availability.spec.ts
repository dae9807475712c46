/**
 * `dits-node availability` (issue 17) end to end: a real daemon process (a consensus group of one, for the ref)
 * asks five real libp2p nodes on loopback, each with a blockstore on disk, which chunks of a 10,000-chunk root they
 * hold. The content's layout is built here chunk by chunk, so the exact share of every holder, and the chunks
 * nobody holds with their files and offsets, are known without the code under test.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { chunkCid } from '../../src/cid.ts'
import { blake3 } from '../../src/hash/blake3.ts'
import { FileManifestBuilder, buildDirectory } from '../../src/manifest/builder.ts'
import { DitsBlockstore } from '../../node/blockstore.ts'
import { createNetwork } from '../../node/net/index.ts'
import { dits } from '../helpers/cli.ts'
import { VoterCluster } from './consensus/cluster.ts'
import { waitFor } from './net/helpers.ts'
import type { CID } from 'multiformats/cid'
import type { DirEntry, EncodedBlock } from '../../src/manifest/format.ts'
import type { DitsNetwork, NetworkInit } from '../../node/net/index.ts'
import type { AvailabilityReport } from '../../node/availability.ts'

const CHUNK_BYTES = 512
const CHUNKS_PER_FILE = 1000

interface Chunk { cid: CID, bytes: Uint8Array, path: string, offset: number }
interface Tree {
  root: CID
  manifests: EncodedBlock[]
  /** every distinct chunk, in the order a depth-first walk of the tree meets it first */
  chunks: Chunk[]
}

/** A file of CHUNKS_PER_FILE fixed-size chunks (`data` random unless given), and its manifest blocks. */
function file (path: string, mtime: number, chunks?: Chunk[]): { chunks: Chunk[], blocks: EncodedBlock[], root: EncodedBlock, size: number } {
  const builder = new FileManifestBuilder({ name: 'test', min: CHUNK_BYTES, avg: CHUNK_BYTES, max: CHUNK_BYTES, normalization: 0 }, 256)
  const made: Chunk[] = chunks ?? Array.from({ length: CHUNKS_PER_FILE }, (_, i) => {
    const bytes = new Uint8Array(randomBytes(CHUNK_BYTES))
    return { cid: chunkCid(bytes), bytes, path, offset: i * CHUNK_BYTES }
  })
  const blocks: EncodedBlock[] = []
  const data = new Uint8Array(made.length * CHUNK_BYTES)
  for (const [i, c] of made.entries()) {
    data.set(c.bytes, i * CHUNK_BYTES)
    blocks.push(...builder.addChunk(c.cid, CHUNK_BYTES))
  }
  const { blocks: rest, root } = builder.finish(data.byteLength, blake3(data), { mode: 0o644, mtime })
  return { chunks: made, blocks: [...blocks, ...rest], root, size: data.byteLength }
}

/**
 * `audio.wav`, `clips/f0` … `clips/f8` (1,000 chunks each: 10,000 distinct chunks), and `copy-of-f0`: the chunks of
 * clips/f0 again under another mtime (another file manifest), which count once.
 */
function buildTree (): Tree {
  const manifests: EncodedBlock[] = []
  const chunks: Chunk[] = []
  const entry = (name: string, f: ReturnType<typeof file>): DirEntry => {
    manifests.push(...f.blocks, f.root)
    return [name, f.root.cid, f.size, 'file']
  }
  const audio = file('audio.wav', 1_000)
  chunks.push(...audio.chunks)
  const clips: DirEntry[] = []
  let f0: Chunk[] = []
  for (let i = 0; i < 9; i++) {
    const f = file(`clips/f${i}`, 2_000 + i)
    if (i === 0) f0 = f.chunks
    chunks.push(...f.chunks)
    clips.push(entry(`f${i}`, f))
  }
  const clipsDir = buildDirectory(clips)
  manifests.push(...clipsDir.blocks, clipsDir.root)
  const clipsBytes = clips.reduce((s, e) => s + e[2], 0)
  const top = buildDirectory([entry('audio.wav', audio), ['clips', clipsDir.root.cid, clipsBytes, 'dir'], entry('copy-of-f0', file('copy-of-f0', 9_999, f0))])
  manifests.push(...top.blocks, top.root)
  return { root: top.root.cid, manifests, chunks }
}

/** The blockstore of `dir` (made unless `existing`: a repo's, or one another node serves too). */
async function diskStore (dir: string, existing = false): Promise<DitsBlockstore> {
  const store = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
  if (!existing) await store.createShards()
  await store.open()
  return store
}

async function putAll (store: DitsBlockstore, blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<void> {
  for (const b of blocks) await store.put(b.cid, b.bytes, { trusted: true, inline: true })
  await store.close()
}

async function startDiskNode (store: DitsBlockstore, init: Partial<NetworkInit> = {}): Promise<{ net: DitsNetwork, addr: string }> {
  const net = await createNetwork({ privateKey: await generateKeyPair('Ed25519'), role: 'peer', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, ...init, blockstore: store })
  await net.start()
  return { net, addr: net.addresses().find(a => a.includes('/tcp/')) as string }
}

describe('node/availability: who holds what of a root (a daemon and five peers, TCP loopback)', function () {
  this.timeout(180_000)
  let work: string
  let tree: Tree
  let group: VoterCluster
  const peers: Record<'full' | 'seed' | 'half' | 'none' | 'refused', { net: DitsNetwork, addr: string } | undefined> = { full: undefined, seed: undefined, half: undefined, none: undefined, refused: undefined }
  /** positions (in tree.chunks) each holder has */
  const selfHas = (i: number): boolean => tree.chunks[i].path === 'audio.wav'
  // the seed lacks the first 20 chunks of clips/f3 and the last 100 of clips/f8
  const seedHas = (i: number): boolean => {
    const c = tree.chunks[i]
    if (c.path === 'audio.wav') return false
    if (c.path === 'clips/f3' && c.offset < 20 * CHUNK_BYTES) return false
    if (c.path === 'clips/f8' && c.offset >= (CHUNKS_PER_FILE - 100) * CHUNK_BYTES) return false
    return true
  }
  const halfHas = (i: number): boolean => i % 2 === 1

  const repo = (): string => group.repos[0]
  const availability = async (target: string): Promise<{ report: AvailabilityReport, ms: number }> => {
    const started = performance.now()
    const r = await dits(['--repo', repo(), '--json', 'availability', target])
    const ms = performance.now() - started
    assert.equal(r.code, 0, r.stderr)
    return { report: JSON.parse(r.stdout) as AvailabilityReport, ms }
  }
  const count = (has: (i: number) => boolean): { chunks: number, bytes: number } => {
    const chunks = tree.chunks.filter((_, i) => has(i)).length
    return { chunks, bytes: chunks * CHUNK_BYTES }
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-availability-'))
    tree = buildTree()
    assert.equal(tree.chunks.length, 10_000)
    group = new VoterCluster(join(work, 'group'), 1)
    await group.create(0)
    const daemonId = group.peerIds[0]
    // full and refused serve the same store on disk (serving only reads it)
    const everything = await diskStore(join(work, 'full'))
    await putAll(everything, [...tree.manifests, ...tree.chunks])
    const seedStore = await diskStore(join(work, 'seed'))
    await putAll(seedStore, [...tree.manifests, ...tree.chunks.filter((_, i) => seedHas(i))])
    const halfStore = await diskStore(join(work, 'half'))
    await putAll(halfStore, tree.chunks.filter((_, i) => halfHas(i)))
    peers.full = await startDiskNode(everything)
    peers.refused = await startDiskNode(await diskStore(join(work, 'full'), true), { refuseServing: peer => peer.toString() === daemonId ? `peer ${daemonId} lacks the read role (chunks)` : undefined })
    peers.seed = await startDiskNode(seedStore, { role: 'seed' })
    peers.half = await startDiskNode(halfStore)
    peers.none = await startDiskNode(await diskStore(join(work, 'none')))
    // this node holds audio.wav's chunks, not one manifest: it fetches those
    await putAll(await diskStore(repo(), true), tree.chunks.filter((_, i) => selfHas(i)))
    const configPath = join(repo(), 'config.json')
    const config = JSON.parse(await readFile(configPath, 'utf8'))
    config.bootstrap = Object.values(peers).map(p => `${p?.addr ?? ''}/p2p/${p?.net.peerId ?? ''}`)
    await writeFile(configPath, JSON.stringify(config, null, 2))
    await group.start(0)
    await group.leader(0)
    const set = await dits(['--repo', repo(), 'ref', 'set', 'reel/cut', tree.root.toString()])
    assert.equal(set.code, 0, set.stderr)
    const api = await group.api(0)
    await waitFor(async () => (await api.call<Array<{ hello: string }>>('peers', {})).filter(p => p.hello === 'ok').length === 5, 20_000, 'the daemon to reach its five peers')
  })

  after(async () => {
    await group?.stopAll()
    await Promise.all(Object.values(peers).map(async p => { await p?.net.stop() }))
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  it('a ref: the exact share of this node, the seed and every peer; a peer that refuses is reported refused; nothing missing', async () => {
    const { report, ms } = await availability('reel/cut')
    console.log(`      availability of 10,000 chunks, 5 peers: ${ms.toFixed(0)} ms for the CLI call, ${report.duration_ms} ms in the daemon`)
    assert.equal(report.root, tree.root.toString())
    assert.equal(report.ref, 'reel/cut')
    assert.equal(report.chunks, 10_000)
    assert.equal(report.bytes, 10_000 * CHUNK_BYTES)
    const by = new Map(report.holders.map(h => [h.peer, h]))
    assert.equal(report.holders.length, 6)
    const self = report.holders[0]
    assert.deepEqual([self.peer, self.self, self.role, self.state], [group.peerIds[0], true, 'peer', 'ok'])
    assert.deepEqual({ chunks: self.chunks, bytes: self.bytes }, count(selfHas))
    assert.deepEqual(self.pin, { pinned: false, reasons: [] })
    const expect = (name: keyof typeof peers, role: string, has: (i: number) => boolean): void => {
      const h = by.get(peers[name]?.net.peerId ?? '')
      assert.ok(h !== undefined, `${name} is listed`)
      assert.deepEqual({ role: h.role, state: h.state, chunks: h.chunks, bytes: h.bytes }, { role, state: 'ok', ...count(has) }, name)
      assert.equal(h.percent, Math.floor(1000 * count(has).chunks / 10_000) / 10, name)
    }
    expect('full', 'peer', () => true)
    expect('seed', 'seed', seedHas)
    expect('half', 'peer', halfHas)
    expect('none', 'peer', () => false)
    // seeds first
    assert.equal(report.holders[1].peer, peers.seed?.net.peerId)
    const refused = by.get(peers.refused?.net.peerId ?? '')
    assert.equal(refused?.state, 'refused')
    assert.equal(refused?.chunks, 0)
    assert.match(refused?.error ?? '', /lacks the read role/)
    assert.equal(report.missing_chunks, 0)
    assert.deepEqual(report.missing, [])
  })

  it('with the full peer gone: the chunks nobody holds, each with its file and offset, in file order; a sub-path counts its part', async () => {
    const fullId = peers.full?.net.peerId
    await peers.full?.net.stop()
    peers.full = undefined
    const api = await group.api(0)
    await waitFor(async () => (await api.call<Array<{ hello: string }>>('peers', {})).length === 4, 20_000, 'the daemon to see the full peer go')
    const { report } = await availability(tree.root.toString())
    const expected = tree.chunks
      .filter((_, i) => !selfHas(i) && !seedHas(i) && !halfHas(i))
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
    const human = await dits(['--repo', repo(), 'availability', tree.root.toString()])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /^holder +role +chunks +% +bytes$/m)
    assert.match(human.stdout, new RegExp(`^${peers.seed?.net.peerId ?? ''} +seed +8,880 +88\\.8%`, 'm'))
    assert.match(human.stdout, /^missing: 60 chunks \(30\.7 KB\) held by no reachable node$/m)
    assert.match(human.stdout, new RegExp(`^  ${expected[0].cid}  clips/f3 @ 0 `, 'm'))
    const sub = (await availability(`${tree.root.toString()}/clips/f8`)).report
    assert.equal(sub.chunks, 1000)
    assert.equal(sub.path, 'clips/f8')
    assert.deepEqual(sub.missing, expected.filter(m => m.path === 'clips/f8'))
  })

  it('exits 4 when the root cannot be resolved, 2 for a bad option, 0 with --help', async () => {
    const absent = await dits(['--repo', repo(), 'availability', 'reel/none'])
    assert.equal(absent.code, 4, absent.stderr)
    assert.match(absent.stderr, /reel\/none is neither a CID .* nor a ref that exists/)
    const bad = await dits(['--repo', repo(), 'availability', 'reel/cut', '--max-listed', 'many'])
    assert.equal(bad.code, 2)
    const help = await dits(['--repo', repo(), 'availability', '--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /--max-listed/)
    const offline = join(work, 'offline')
    assert.equal((await dits(['--repo', offline, 'init'])).code, 0)
    const noDaemon = await dits(['--repo', offline, 'availability', tree.root.toString()])
    assert.equal(noDaemon.code, 4)
    assert.match(noDaemon.stderr, /no daemon running/)
  })
})
