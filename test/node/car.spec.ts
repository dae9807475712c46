import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile, readFile, readdir, truncate } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { CarWriter } from '@ipld/car/writer'
import { CarBlockIterator } from '@ipld/car/iterator'
import { encode as encodeCbor } from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { varint } from 'multiformats'
import { RepoOps } from '../../node/ops.ts'
import { Repo, initRepo } from '../../node/repo.ts'
import { exportCar, importCar } from '../../node/car/index.ts'
import { parseCid, chunkCid, RAW_CODE } from '../../src/cid.ts'
import { PROFILES } from '../../src/fastcdc/index.ts'
import { walkBlocks } from '../../src/manifest/index.ts'
import { MAX_BLOCK_BYTES } from '../../protocol/limits.ts'
import { GC_CLOCK_SLACK_MS } from '../../node/blockstore.ts'
import { pseudoRandomBytes } from '../src/fastcdc/testdata.ts'

const MiB = 1024 * 1024

function uvarint (n: number): Buffer {
  const out = Buffer.alloc(varint.encodingLength(n))
  varint.encodeTo(n, out)
  return out
}

async function fileSha (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const piece of createReadStream(path)) h.update(piece as Buffer)
  return h.digest('hex')
}

async function treeDigest (dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : 1)) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(`${prefix}${e.name}/`, ...await treeDigest(p, `${prefix}${e.name}/`))
    else out.push(`${prefix}${e.name} ${await fileSha(p)}`)
  }
  return out
}

describe('node/car (export and import of CARv1 files)', function () {
  this.timeout(60_000)
  let dir: string
  let a: Repo
  let b: Repo
  let opsA: RepoOps
  let opsB: RepoOps
  let root: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-car-'))
    await initRepo(join(dir, 'a'))
    a = await Repo.open(join(dir, 'a'), { write: true })
    opsA = new RepoOps(a)
    await mkdir(join(dir, 'src', 'tree', 'deep'), { recursive: true })
    await writeFile(join(dir, 'src', 'a.bin'), pseudoRandomBytes(3 * MiB, 41))
    await writeFile(join(dir, 'src', 'tree', 'b.bin'), pseudoRandomBytes(MiB + 17, 42))
    await writeFile(join(dir, 'src', 'tree', 'deep', 'c.txt'), 'small\n')
    await writeFile(join(dir, 'src', 'tree', 'empty'), '')
    root = (await opsA.add({ paths: [join(dir, 'src')], profile: PROFILES.small, pin: true })).root
  })
  after(async () => {
    await a.close()
    await rm(dir, { recursive: true, force: true })
  })
  // a fresh repo to import into, for each case
  let fresh = 0
  beforeEach(async () => {
    const repo = join(dir, `b${fresh++}`)
    await initRepo(repo)
    b = await Repo.open(repo, { write: true })
    opsB = new RepoOps(b)
  })
  afterEach(async () => {
    await b.close()
    await rm(b.dir, { recursive: true, force: true })
    for (const name of await readdir(dir)) if (name.endsWith('.car') || name === 'out' || name === 'deep') await rm(join(dir, name), { recursive: true, force: true })
  })

  const blocksOf = async (repo: Repo, cid: string): Promise<string[]> => {
    const out: string[] = []
    for await (const c of walkBlocks(async c => await repo.blocks.get(c), parseCid(cid))) out.push(c.toString())
    return out
  }

  /** A CAR with `root` in its header and the given blocks, in this order. */
  async function writeCar (path: string, carRoot: CID, blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<void> {
    const { writer, out } = CarWriter.create([carRoot])
    const pieces: Uint8Array[] = []
    const drained = (async () => { for await (const p of out) pieces.push(p) })()
    for (const block of blocks) await writer.put(block)
    await writer.close()
    await drained
    await writeFile(path, Buffer.concat(pieces))
  }

  async function dagBlocks (repo: Repo, cid: string): Promise<Array<{ cid: CID, bytes: Uint8Array }>> {
    const out = []
    for (const c of await blocksOf(repo, cid)) out.push({ cid: parseCid(c), bytes: await repo.blocks.get(parseCid(c)) })
    return out
  }

  it('round trip: a tree exported from one repo and imported into a fresh one comes back byte-exact, pinned (reason user)', async () => {
    const car = join(dir, 'tree.car')
    const exported = await opsA.exportCar({ cid: root, out: car })
    const dag = await blocksOf(a, root)
    assert.equal(exported.blocks, dag.length)
    // a streaming reader meets the root first, and every block once, as the header says
    const seen: string[] = []
    const iterator = await CarBlockIterator.fromIterable(createReadStream(car))
    assert.deepEqual((await iterator.getRoots()).map(c => c.toString()), [root])
    for await (const block of iterator) seen.push(block.cid.toString())
    assert.deepEqual(seen, dag)
    assert.deepEqual((await readdir(dir)).filter(n => n.endsWith('.tmp')), [], 'no temp file is left beside it')

    const imported = await opsB.importCar({ file: car })
    assert.deepEqual([imported.root, imported.blocks, imported.blocks_new, imported.pinned], [root, dag.length, dag.length, true])
    assert.deepEqual((await b.pins.ls()).map(c => c.toString()), [root])
    assert.deepEqual(Object.keys(await b.pins.reasons(parseCid(root))), ['user'])
    await opsB.get({ cid: root, out: join(dir, 'out') })
    assert.deepEqual(await treeDigest(join(dir, 'out')), await treeDigest(join(dir, 'src')))
    assert.deepEqual((await opsB.verify({})).bad, [])

    // again: every block is there already
    const again = await opsB.importCar({ file: car })
    assert.equal(again.blocks_new, 0)
  })

  it('exports CID/sub/path: the entry is the CAR\'s root', async () => {
    const car = join(dir, 'sub.car')
    const r = await opsA.exportCar({ cid: `${root}/tree/deep`, out: car })
    const entry = (await opsA.stat({ cid: `${root}/tree/deep` })).cid
    assert.equal(r.root, entry)
    const imported = await opsB.importCar({ file: car })
    assert.equal(imported.root, entry)
    await opsB.get({ cid: entry, out: join(dir, 'deep') })
    assert.equal(await readFile(join(dir, 'deep', 'c.txt'), 'utf8'), 'small\n')
  })

  it('a tampered block is refused, named with its CID and offset, and nothing is pinned', async () => {
    const car = join(dir, 'tree.car')
    await opsA.exportCar({ cid: root, out: car })
    const bytes = await readFile(car)
    // a byte deep inside the file: inside a chunk (a.bin's data, the bulk of the file)
    const at = bytes.byteLength - 1000
    bytes[at] ^= 0xff
    await writeFile(car, bytes)
    const iterator = await CarBlockIterator.fromIterable(createReadStream(car))
    let victim = ''
    for await (const block of iterator) if (chunkCid(block.bytes).toString() !== block.cid.toString() && block.cid.code === RAW_CODE) victim = block.cid.toString()
    assert.notEqual(victim, '')
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => {
      assert.equal(err.name, 'CarBlockMismatchError')
      assert.ok(err.message.includes(victim), err.message)
      assert.match(err.message, /at byte \d+ of .*tree\.car does not match its CID/)
      return true
    })
    assert.deepEqual(await b.pins.ls(), [])
    assert.equal(await b.blocks.has(parseCid(victim)), false, 'the bad block is not stored')
  })

  it('a truncated file is refused as such (nothing pinned), in a block and in the header', async () => {
    const car = join(dir, 'tree.car')
    const r = await opsA.exportCar({ cid: root, out: car })
    await truncate(car, r.car_bytes - 100)
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarTruncatedError' && /ends inside the section that starts at byte \d+ .*cut short/.test(err.message))
    await truncate(car, 20)
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarTruncatedError' && /ends inside the header/.test(err.message))
    assert.deepEqual(await b.pins.ls(), [])
  })

  it('a CAR that lacks blocks under its root is refused, naming them; the root is not pinned', async () => {
    const all = await dagBlocks(a, root)
    const chunk = all.find(x => x.cid.code === RAW_CODE) as { cid: CID }
    const car = join(dir, 'partial.car')
    await writeCar(car, parseCid(root), all.filter(x => !x.cid.equals(chunk.cid)))
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => {
      assert.equal(err.name, 'CarIncompleteError')
      assert.ok(err.message.includes(chunk.cid.toString()), err.message)
      assert.match(err.message, /lacks 1 block\(s\) under its root/)
      return true
    })
    assert.deepEqual(await b.pins.ls(), [])
    // what it stored is unpinned: gc removes it (once it is older than gc's clock slack)
    await new Promise(resolve => setTimeout(resolve, GC_CLOCK_SLACK_MS + 100))
    assert.equal((await opsB.gc({})).removedCount, all.length - 1)

    // a manifest missing: what lies below it cannot be counted
    const manifest = all.find(x => x.cid.code !== RAW_CODE && x.cid.toString() !== root) as { cid: CID }
    await writeCar(car, parseCid(root), all.filter(x => !x.cid.equals(manifest.cid)))
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarIncompleteError' && /lacks at least 1 block/.test(err.message) && err.message.includes(manifest.cid.toString()))
    assert.deepEqual(await b.pins.ls(), [])
    await new Promise(resolve => setTimeout(resolve, GC_CLOCK_SLACK_MS + 100))
    assert.equal((await opsB.gc({})).removedCount, all.length - 1)

    // the repo holding the missing chunk already makes the DAG whole: pinned
    await b.blocks.put(chunk.cid, await a.blocks.get(chunk.cid))
    await writeCar(car, parseCid(root), all.filter(x => !x.cid.equals(chunk.cid)))
    assert.equal((await opsB.importCar({ file: car })).pinned, true)
    assert.deepEqual((await b.pins.ls()).map(c => c.toString()), [root])
  })

  it('an oversized block is refused from its declared length, before its bytes are read', async () => {
    const big = pseudoRandomBytes(MAX_BLOCK_BYTES + 1, 7)
    const car = join(dir, 'big.car')
    await writeCar(car, chunkCid(big), [{ cid: chunkCid(big), bytes: big }])
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarBlockTooLargeError' && err.message.includes(chunkCid(big).toString()))
    // a section that declares 1 TiB in a file of a few bytes: too large, not "truncated", and not read
    const cid = chunkCid(new Uint8Array([1]))
    const header = encodeCbor({ version: 1, roots: [cid] })
    const lie = Buffer.concat([uvarint(header.byteLength), header, uvarint(2 ** 40), cid.bytes, Buffer.from([1, 2, 3])])
    await writeFile(car, lie)
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarBlockTooLargeError' && /is 1099511627\d+ bytes, over the 4194304-byte limit/.test(err.message))
    // a header that declares 1 GiB
    await writeFile(car, Buffer.concat([uvarint(2 ** 30), Buffer.alloc(16)]))
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarFormatError' && /declares a header of 1073741824 bytes/.test(err.message))
    assert.deepEqual(await b.pins.ls(), [])
  })

  it('refuses a CAR with another hash, several roots, or that is not a CAR at all', async () => {
    const bytes = new TextEncoder().encode('hello')
    const sha = CID.createV1(RAW_CODE, await sha256.digest(bytes))
    const car = join(dir, 'x.car')
    await writeCar(car, sha, [{ cid: sha, bytes }])
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarFormatError' && /not a dits CID/.test(err.message))
    const ok = chunkCid(bytes)
    await writeCar(car, ok, [{ cid: sha, bytes }])
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarFormatError' && /block at byte \d+ .* has the CID .* not a dits CID/.test(err.message))
    const { writer, out } = CarWriter.create([ok, ok])
    const pieces: Uint8Array[] = []
    const drained = (async () => { for await (const p of out) pieces.push(p) })()
    await writer.close()
    await drained
    await writeFile(car, Buffer.concat(pieces))
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarFormatError' && /names 2 roots/.test(err.message))
    await writeFile(car, 'this is not a CAR file at all\n')
    await assert.rejects(opsB.importCar({ file: car }), (err: Error) => err.name === 'CarFormatError' || err.name === 'CarTruncatedError')
    assert.deepEqual(await b.pins.ls(), [])
  })

  it('export refuses an existing file without force, and a cancelled export leaves nothing behind', async () => {
    const car = join(dir, 'tree.car')
    await writeFile(car, 'mine')
    await assert.rejects(opsA.exportCar({ cid: root, out: car }), (err: Error) => err.name === 'CarOutputExistsError')
    assert.equal(await readFile(car, 'utf8'), 'mine')
    const cancel = new AbortController()
    let seen = 0
    await assert.rejects(exportCar(async c => await a.blocks.get(c), parseCid(root), car, {
      force: true,
      signal: cancel.signal,
      onProgress: () => { if (++seen === 2) cancel.abort(new Error('stop here')) }
    }), /stop here/)
    assert.equal(await readFile(car, 'utf8'), 'mine', 'the file it would have replaced is untouched')
    assert.deepEqual((await readdir(dir)).filter(n => n.endsWith('.tmp')), [])
    // and with force, replaced
    await opsA.exportCar({ cid: root, out: car, force: true })
    assert.equal((await opsB.importCar({ file: car })).root, root)
  })

  it('a cancelled import pins nothing', async () => {
    const car = join(dir, 'tree.car')
    await opsA.exportCar({ cid: root, out: car })
    const cancel = new AbortController()
    let seen = 0
    await assert.rejects(importCar(b.blocks, b.pins, car, { signal: cancel.signal, readBytes: 64 * 1024, onProgress: () => { if (++seen === 2) cancel.abort(new Error('stop here')) } }), /stop here/)
    assert.deepEqual(await b.pins.ls(), [])
  })

  it('without a daemon, exporting a root whose blocks are not all here is unavailable (exit 4), and leaves no file', async () => {
    const car = join(dir, 'whole.car')
    await opsA.exportCar({ cid: root, out: car })
    await opsB.importCar({ file: car })
    const chunk = (await dagBlocks(b, root)).find(x => x.cid.code === RAW_CODE) as { cid: CID }
    await b.pins.rm(parseCid(root))
    await b.blocks.delete(chunk.cid)
    await assert.rejects(opsB.exportCar({ cid: root, out: join(dir, 'x.car') }), (err: Error & { exitCode?: number }) => err.name === 'UnavailableError' && err.exitCode === 4 && err.message.includes(chunk.cid.toString()))
    assert.deepEqual((await readdir(dir)).filter(n => n.includes('x.car')), [])
  })
})
