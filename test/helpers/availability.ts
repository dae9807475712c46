/**
 * The scene of the availability spec and bench (issue 17): a 10,000-chunk tree built chunk by chunk (so every
 * holder's share is known without the code under test), five real libp2p nodes on loopback, each a process of its
 * own (availability-peer.ts) with a blockstore on disk holding a different part of it, and a real daemon process (a
 * consensus group of one, for refs) that has them all as bootstrap peers.
 *
 * Holders: this node (audio.wav's chunks, no manifest), `full` (everything), `seed` (role seed: every manifest and
 * clips' chunks except the first 20 of clips/f3 and the last 100 of clips/f8; it pins the root for `push` and `ref`,
 * and answers ROOT_STATUS), `half` (every other chunk), `none`,
 * and `refused` (everything, but it refuses to serve the daemon: no read role).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chunkCid } from '../../src/cid.ts'
import { blake3 } from '../../src/hash/blake3.ts'
import { FileManifestBuilder, buildDirectory } from '../../src/manifest/builder.ts'
import { DitsBlockstore } from '../../node/blockstore.ts'
import { Pins } from '../../node/repo.ts'
import { dits } from './cli.ts'
import type { RunResult } from './cli.ts'
import { VoterCluster } from '../node/consensus/cluster.ts'
import type { CID } from 'multiformats/cid'
import type { DirEntry, EncodedBlock } from '../../src/manifest/format.ts'

export const CHUNK_BYTES = 512
export const CHUNKS_PER_FILE = 1000
/** the ref the scene sets to the tree's root */
export const SCENE_REF = 'reel/cut'

export interface Chunk { cid: CID, bytes: Uint8Array, path: string, offset: number }
export interface Tree {
  root: CID
  manifests: EncodedBlock[]
  /** every distinct chunk, in the order a depth-first walk of the tree meets it first */
  chunks: Chunk[]
}

/** A file of fixed-size chunks (CHUNKS_PER_FILE random ones unless `chunks` are given), and its manifest blocks. */
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
export function buildTree (): Tree {
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

/** A peer in a process of its own (availability-peer.ts), serving the store at `dir`. */
export interface ScenePeer {
  peerId: string
  addr: string
  child: ChildProcess
}

const PEER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'availability-peer.js')
/** A peer process must say where it listens within this. */
const PEER_START_TIMEOUT_MS = 30_000

async function startPeer (dir: string, role: 'peer' | 'seed', refused = '-'): Promise<ScenePeer> {
  const child = spawn(process.execPath, [PEER_SCRIPT, dir, role, refused], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  const first = await new Promise<{ peerId: string, addr: string }>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`peer of ${dir} did not start within ${PEER_START_TIMEOUT_MS} ms`)) }, PEER_START_TIMEOUT_MS)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      if (!out.includes('\n')) return
      clearTimeout(timer)
      resolve(JSON.parse(out.split('\n')[0]))
    })
    child.on('exit', code => { clearTimeout(timer); reject(new Error(`peer of ${dir} exited ${code}`)) })
  })
  return { ...first, child }
}

async function stopPeerProcess (peer: ScenePeer): Promise<void> {
  if (peer.child.exitCode !== null || peer.child.signalCode !== null) return
  const exited = once(peer.child, 'exit')
  peer.child.kill('SIGTERM')
  const timer = setTimeout(() => peer.child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

export type PeerName = 'full' | 'seed' | 'half' | 'none' | 'refused'

export class AvailabilityScene {
  readonly tree: Tree
  readonly group: VoterCluster
  readonly peers: Partial<Record<PeerName, ScenePeer>> = {}

  private constructor (tree: Tree, group: VoterCluster) {
    this.tree = tree
    this.group = group
  }

  /** Build the tree, fill the stores under `work`, start the five peers and the daemon, set SCENE_REF. */
  static async create (work: string, env: NodeJS.ProcessEnv = {}): Promise<AvailabilityScene> {
    const scene = new AvailabilityScene(buildTree(), new VoterCluster(join(work, 'group'), 1, { env }))
    try {
      await scene.setUp(work)
    } catch (err) {
      await scene.stop()
      throw err
    }
    return scene
  }

  /** What each holder has, by position in tree.chunks. */
  selfHas (i: number): boolean {
    return this.tree.chunks[i].path === 'audio.wav'
  }

  seedHas (i: number): boolean {
    const c = this.tree.chunks[i]
    if (c.path === 'audio.wav') return false
    if (c.path === 'clips/f3' && c.offset < 20 * CHUNK_BYTES) return false
    if (c.path === 'clips/f8' && c.offset >= (CHUNKS_PER_FILE - 100) * CHUNK_BYTES) return false
    return true
  }

  halfHas (i: number): boolean {
    return i % 2 === 1
  }

  get repo (): string {
    return this.group.repos[0]
  }

  async dits (args: string[]): Promise<RunResult> {
    return await dits(['--repo', this.repo, ...args])
  }

  /** Stop one of the peers (its connections close). */
  async stopPeer (name: PeerName): Promise<void> {
    const peer = this.peers[name]
    this.peers[name] = undefined
    if (peer !== undefined) await stopPeerProcess(peer)
  }

  async stop (): Promise<void> {
    await this.group.stopAll()
    await Promise.all(Object.values(this.peers).map(async p => { if (p !== undefined) await stopPeerProcess(p) }))
  }

  private async setUp (work: string): Promise<void> {
    const { tree } = this
    await this.group.create(0)
    const daemonId = this.group.peerIds[0]
    // full and refused serve the same store on disk (serving only reads it)
    const everything = await diskStore(join(work, 'full'))
    await putAll(everything, [...tree.manifests, ...tree.chunks])
    const seedStore = await diskStore(join(work, 'seed'))
    await putAll(seedStore, [...tree.manifests, ...tree.chunks.filter((_, i) => this.seedHas(i))])
    // the seed keeps the root for a push and a ref (as if pushed, then followed)
    await mkdir(join(work, 'seed', 'pins'), { recursive: true })
    const seedPins = new Pins(join(work, 'seed', 'pins'))
    await seedPins.add(tree.root, 'push')
    await seedPins.add(tree.root, 'ref')
    const halfStore = await diskStore(join(work, 'half'))
    await putAll(halfStore, tree.chunks.filter((_, i) => this.halfHas(i)))
    await diskStore(join(work, 'none'))
    const [full, refused, seed, half, none] = await Promise.all([
      startPeer(join(work, 'full'), 'peer'),
      startPeer(join(work, 'full'), 'peer', daemonId),
      startPeer(join(work, 'seed'), 'seed'),
      startPeer(join(work, 'half'), 'peer'),
      startPeer(join(work, 'none'), 'peer')
    ])
    Object.assign(this.peers, { full, refused, seed, half, none })
    // this node holds audio.wav's chunks, not one manifest: it fetches those
    await putAll(await diskStore(this.repo, true), tree.chunks.filter((_, i) => this.selfHas(i)))
    const configPath = join(this.repo, 'config.json')
    const config = JSON.parse(await readFile(configPath, 'utf8'))
    config.bootstrap = Object.values(this.peers).map(p => `${p?.addr ?? ''}/p2p/${p?.peerId ?? ''}`)
    await writeFile(configPath, JSON.stringify(config, null, 2))
    await this.group.start(0)
    await this.group.leader(0)
    const set = await this.dits(['ref', 'set', SCENE_REF, tree.root.toString()])
    if (set.code !== 0) throw new Error(`ref set exited ${set.code}: ${set.stderr}`)
    const api = await this.group.api(0)
    const until = Date.now() + 20_000
    while ((await api.call<Array<{ hello: string }>>('peers', {})).filter(p => p.hello === 'ok').length < 5) {
      if (Date.now() > until) throw new Error('the daemon did not reach its five peers within 20 s')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
}
