import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHeliaLight } from 'helia'
import type { Helia } from 'helia'
import { CarBlockIterator } from '@ipld/car/iterator'
import * as dagCbor from '@ipld/dag-cbor'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { from as hasherFrom } from 'multiformats/hashes/hasher'
import { CID } from 'multiformats/cid'
import { RepoOps } from '../../node/ops.ts'
import { Repo, initRepo } from '../../node/repo.ts'
import { parseCid, BLAKE3_CODE, equalBytes } from '../../src/cid.ts'
import { blake3 } from '../../src/hash/index.ts'
import { PROFILES } from '../../src/fastcdc/index.ts'
import { walkBlocks } from '../../src/manifest/index.ts'
import { pseudoRandomBytes } from '../src/fastcdc/testdata.ts'

/** What an IPFS implementation needs to read dits blocks: BLAKE3-256 (multihash 0x1e) and the dag-cbor codec. */
const blake3Hasher = hasherFrom({ name: 'blake3', code: BLAKE3_CODE, encode: (bytes: Uint8Array) => new Uint8Array(blake3(bytes)) })

async function bytesOf (chunks: AsyncIterable<Uint8Array> | Uint8Array): Promise<Uint8Array> {
  if (chunks instanceof Uint8Array) return chunks
  const pieces: Uint8Array[] = []
  for await (const piece of chunks) pieces.push(piece)
  return Buffer.concat(pieces)
}

describe('node/car: Helia reads an exported CAR', function () {
  this.timeout(60_000)
  let dir: string
  let repo: Repo
  let helia: Helia

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-car-helia-'))
    await initRepo(join(dir, 'repo'))
    repo = await Repo.open(join(dir, 'repo'), { write: true })
    helia = await createHeliaLight({
      blockstore: new MemoryBlockstore(),
      datastore: new MemoryDatastore(),
      hashers: [blake3Hasher],
      codecs: [dagCbor],
      start: false
    } as Parameters<typeof createHeliaLight>[0])
  })
  after(async () => {
    await helia.stop()
    await repo.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('takes every block into its blockstore, gives each back by CID with the same bytes, hashes them with the registered BLAKE3, decodes the manifests and pins the whole DAG offline', async () => {
    await mkdir(join(dir, 'src', 'sub'), { recursive: true })
    await writeFile(join(dir, 'src', 'a.bin'), pseudoRandomBytes(5 * 1024 * 1024, 3))
    await writeFile(join(dir, 'src', 'sub', 'b.txt'), 'dits and helia\n')
    const ops = new RepoOps(repo)
    const { root } = await ops.add({ paths: [join(dir, 'src')], profile: PROFILES.media, pin: true })
    const car = join(dir, 'tree.car')
    await ops.exportCar({ cid: root, out: car })

    const iterator = await CarBlockIterator.fromIterable(createReadStream(car))
    const [carRoot] = await iterator.getRoots()
    assert.equal(carRoot.toString(), root)
    const inCar: CID[] = []
    for await (const block of iterator) {
      await helia.blockstore.put(block.cid, block.bytes)
      inCar.push(block.cid)
    }

    const dag: string[] = []
    for await (const c of walkBlocks(async c => await repo.blocks.get(c), parseCid(root))) dag.push(c.toString())
    assert.deepEqual(inCar.map(c => c.toString()), dag)
    for (const cid of inCar) {
      const bytes = await bytesOf(helia.blockstore.get(cid) as AsyncIterable<Uint8Array> | Uint8Array)
      assert.ok(equalBytes(bytes, await repo.blocks.get(parseCid(cid.toString()))), `${cid} comes back from Helia with the bytes dits stored`)
      const hasher = await helia.getHasher(cid.multihash.code)
      assert.ok(equalBytes((await hasher.digest(bytes)).digest, cid.multihash.digest), `Helia's BLAKE3 of ${cid} matches its CID`)
      if (cid.code === dagCbor.code) {
        const codec = await helia.getCodec(cid.code)
        assert.equal(typeof codec.decode(bytes), 'object')
      }
    }
    // Helia's own DAG walk (its dag-cbor walker follows the manifests' links) reaches every block, offline
    const pinned: string[] = []
    for await (const c of helia.pins.add(CID.parse(root))) pinned.push(c.toString())
    assert.deepEqual([...pinned].sort(), [...dag].sort())
  })
})
