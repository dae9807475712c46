/**
 * Test helpers for the network specs: an in-memory blockstore with the DitsBlockstore contract (verified
 * reads, corrupt blocks quarantined), fixed-size test files with real manifests, and nodes on loopback.
 */
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { chunkCid, verifyBlock } from '../../../src/cid.ts'
import { blake3 } from '../../../src/hash/blake3.ts'
import { VerificationError, NotFoundError } from '../../../src/errors.ts'
import { FileManifestBuilder } from '../../../src/manifest/builder.ts'
import { readFileNode, walkChunks } from '../../../src/manifest/reader.ts'
import { createNetwork } from '../../../node/net/index.ts'
import { varint } from '../../../node/net/framing.ts'
import type { AbortOptions, ComponentLogger, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { DitsNetwork, NetworkInit, NetworkBlockstore } from '../../../node/net/index.ts'

export const KiB = 1024
export const MiB = 1024 * KiB

/** One length-prefixed frame of `body`, as a hostile peer writes it by hand. */
export function frame (body: Uint8Array): Uint8Array {
  const prefix = varint(body.byteLength)
  const out = new Uint8Array(prefix.byteLength + body.byteLength)
  out.set(prefix)
  out.set(body, prefix.byteLength)
  return out
}

export class MemoryBlockstore implements NetworkBlockstore {
  readonly blocks = new Map<string, { cid: CID, bytes: Uint8Array }>()
  readonly quarantined: string[] = []
  puts = 0
  gets = 0

  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    return this.blocks.has(cid.toString())
  }

  async hold (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    return await this.has(cid, options)
  }

  beginWrite (): { end: () => void } {
    return { end: () => {} }
  }

  async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    options.signal?.throwIfAborted()
    this.gets++
    const b = this.blocks.get(cid.toString())
    if (b == null) throw new NotFoundError(`block ${cid} is not in the repo`)
    if (!verifyBlock(cid, b.bytes)) {
      this.blocks.delete(cid.toString())
      this.quarantined.push(cid.toString())
      throw new VerificationError(`block ${cid} is corrupt; quarantined`)
    }
    return b.bytes
  }

  async put (cid: CID, bytes: Uint8Array | Uint8ArrayList, options: AbortOptions & { trusted?: boolean } = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (options.trusted !== true && !verifyBlock(cid, bytes)) throw new VerificationError(`bytes for ${cid} do not match`)
    this.puts++
    this.blocks.set(cid.toString(), { cid, bytes: bytes instanceof Uint8Array ? Uint8Array.from(bytes) : bytes.slice() })
  }

  /** Flip a byte of a stored block, as a failing disk would. */
  corrupt (cid: CID): void {
    const b = this.blocks.get(cid.toString())
    if (b == null) throw new Error(`no block ${cid}`)
    b.bytes[0] ^= 0xff
  }

  putAll (blocks: Array<{ cid: CID, bytes: Uint8Array }>): void {
    for (const b of blocks) this.blocks.set(b.cid.toString(), { cid: b.cid, bytes: Uint8Array.from(b.bytes) })
  }
}

/** A blockstore that serves garbage for every chunk: the "corrupt peer" of the specs. */
export class LyingBlockstore extends MemoryBlockstore {
  override async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    options.signal?.throwIfAborted()
    const b = this.blocks.get(cid.toString())
    if (b == null) throw new NotFoundError(`block ${cid} is not in the repo`)
    if (cid.code !== 0x55) return b.bytes
    const bad = Uint8Array.from(b.bytes)
    bad[bad.length - 1] ^= 0x01
    return bad
  }
}

export interface TestFile {
  root: CID
  data: Uint8Array
  /** every block: chunks, part nodes and the root */
  blocks: Array<{ cid: CID, bytes: Uint8Array }>
  chunks: CID[]
}

/** A file (random unless `data` is given) cut into fixed-size chunks, with a manifest tree of `maxLinks` links per node. */
export function makeFile (size: number, chunkBytes = 256 * KiB, maxLinks = 16, data = new Uint8Array(randomBytes(size))): TestFile {
  const builder = new FileManifestBuilder({ name: 'test', min: chunkBytes, avg: chunkBytes, max: chunkBytes, normalization: 0 }, maxLinks)
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
  const chunks: CID[] = []
  for (let at = 0; at < size; at += chunkBytes) {
    const bytes = data.subarray(at, Math.min(size, at + chunkBytes))
    const cid = chunkCid(bytes)
    chunks.push(cid)
    blocks.push({ cid, bytes })
    blocks.push(...builder.addChunk(cid, bytes.byteLength))
  }
  const { blocks: rest, root } = builder.finish(size, blake3(data))
  blocks.push(...rest, root)
  return { root: root.cid, data, blocks, chunks }
}

/** Reassemble a file from a blockstore through its manifest, verifying every block. */
export async function readBack (store: NetworkBlockstore, root: CID): Promise<Uint8Array> {
  const getBlock = async (cid: CID): Promise<Uint8Array> => await store.get(cid)
  const file = await readFileNode(getBlock, root)
  const out = new Uint8Array(file.size)
  for await (const c of walkChunks(getBlock, file)) out.set(await store.get(c.cid), c.offset)
  return out
}

export interface TestNode {
  net: DitsNetwork
  store: MemoryBlockstore
  addr: string
}

/** A started node on 127.0.0.1 (TCP, port 0), mDNS off. */
export async function startNode (init: Partial<NetworkInit> & { store?: MemoryBlockstore } = {}): Promise<TestNode> {
  const store = init.store ?? new MemoryBlockstore()
  const net = await createNetwork({
    privateKey: await generateKeyPair('Ed25519'),
    role: 'peer',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: [],
    mdns: false,
    ...init,
    // a node over a repo's blockstore (init.blockstore) keeps the memory one only as `store`, unused
    blockstore: init.blockstore ?? store
  })
  await net.start()
  const addr = net.addresses().find(a => a.includes('/tcp/')) ?? net.addresses()[0]
  return { net, store, addr }
}

/**
 * A peer that serves corrupt bytes and an honest one, both holding `blocks`, and a downloader connected to both.
 * The honest peer serves at most `honestRate` bytes/s, so that the liar is asked for some of the chunks.
 */
export async function startLiarAndHonest (blocks: Array<{ cid: CID, bytes: Uint8Array }>, honestRate: number): Promise<{ liar: TestNode, honest: TestNode, d: TestNode }> {
  const liar = await startNode({ store: new LyingBlockstore() })
  const honest = await startNode({ maxServeRateBytesPerSec: honestRate })
  const d = await startNode()
  liar.store.putAll(blocks)
  honest.store.putAll(blocks)
  await d.net.connect(liar.addr)
  await d.net.connect(honest.addr)
  return { liar, honest, d }
}

export async function stopAll (nodes: Array<TestNode | undefined>): Promise<void> {
  await Promise.all(nodes.map(async n => { await n?.net.stop() }))
}

export async function waitFor (check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** A ComponentLogger that discards everything, for services built without a libp2p node. */
export function quietLogger (): ComponentLogger {
  const log = Object.assign(() => {}, { enabled: false, error: () => {}, trace: () => {}, newScope: () => log }) as unknown as Logger
  return { forComponent: () => log }
}
