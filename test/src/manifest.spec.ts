import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { FileManifestBuilder, buildDirectory, decodeNode, encodeNode, walkChunks, walkDir, walkBlocks, readFileNode } from '../../src/manifest/index.ts'
import type { EncodedBlock, FileNode, DirNode, DirEntry } from '../../src/manifest/index.ts'
import { chunkCid, blockCid, DAG_CBOR_CODE, parseCid } from '../../src/cid.ts'
import { blake3 } from '../../src/hash/blake3.ts'

const PROFILE = { name: 'custom', min: 16, avg: 32, max: 64, normalization: 1 }

function store (): { put(b: EncodedBlock): void, get(cid: CID): Promise<Uint8Array>, reads: number } {
  const m = new Map<string, Uint8Array>()
  const s = {
    reads: 0,
    put (b: EncodedBlock) { m.set(b.cid.toString(), b.bytes) },
    async get (cid: CID) {
      s.reads++
      const v = m.get(cid.toString())
      if (v == null) throw new Error(`missing ${cid}`)
      return v
    }
  }
  return s
}

/** A file of `n` chunks of varying length, built with a tiny fan-out to force a deep tree. */
function buildFile (n: number, maxLinks: number): { root: EncodedBlock, s: ReturnType<typeof store>, chunks: Uint8Array[] } {
  const s = store()
  const b = new FileManifestBuilder(PROFILE, maxLinks)
  const chunks: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const bytes = randomBytes(1 + (i * 7) % 40)
    chunks.push(bytes)
    const cid = chunkCid(bytes)
    s.put({ cid, bytes })
    for (const part of b.addChunk(cid, bytes.byteLength)) s.put(part)
  }
  const whole = Buffer.concat(chunks)
  const { blocks, root } = b.finish(whole.byteLength, blake3(whole))
  for (const x of [...blocks, root]) s.put(x)
  return { root, s, chunks }
}

describe('src/manifest', () => {
  describe('file manifests', () => {
    it('lists chunks inline when they fit one node', async () => {
      const { root, s, chunks } = buildFile(5, 8)
      const node = decodeNode(root.cid, root.bytes) as FileNode
      assert.equal(node.chunks?.length, 5)
      const refs = []
      for await (const c of walkChunks(s.get, node)) refs.push(c)
      assert.deepEqual(refs.map(r => r.length), chunks.map(c => c.byteLength))
      assert.equal(refs[4].offset, chunks.slice(0, 4).reduce((a, c) => a + c.byteLength, 0))
    })

    for (const n of [9, 64, 65, 200, 513]) {
      it(`builds a tree for ${n} chunks with fan-out 4 and walks it in order`, async () => {
        const { root, s, chunks } = buildFile(n, 4)
        const node = await readFileNode(s.get, root.cid)
        assert.ok(node.parts != null)
        let offset = 0
        let i = 0
        for await (const c of walkChunks(s.get, node)) {
          assert.equal(c.offset, offset)
          assert.equal(c.cid.toString(), chunkCid(chunks[i]).toString())
          offset += c.length
          i++
        }
        assert.equal(i, n)
        assert.equal(offset, node.size)
      })
    }

    it('range walks read only the parts that overlap the range', async () => {
      const { root, s, chunks } = buildFile(256, 4)
      const node = await readFileNode(s.get, root.cid)
      const offsets = chunks.reduce<number[]>((a, c, i) => { a.push(i === 0 ? 0 : a[i - 1] + chunks[i - 1].byteLength); return a }, [])
      s.reads = 0
      const got = []
      for await (const c of walkChunks(s.get, node, { offset: offsets[100] + 1, length: 2 })) got.push(c)
      assert.equal(got.length, 1)
      assert.equal(got[0].offset, offsets[100])
      assert.ok(s.reads <= 4, `read ${s.reads} manifest nodes for a 2-byte range`)
    })

    it('an empty file has no chunks', () => {
      const b = new FileManifestBuilder(PROFILE)
      const { root, blocks } = b.finish(0, blake3(new Uint8Array(0)))
      assert.equal(blocks.length, 0)
      const node = decodeNode(root.cid, root.bytes) as FileNode
      assert.deepEqual(node.chunks, [])
      assert.equal(node.size, 0)
    })

    it('refuses a size that disagrees with the chunks', () => {
      const b = new FileManifestBuilder(PROFILE)
      b.addChunk(chunkCid(new Uint8Array(3)), 3)
      assert.throws(() => b.finish(4, blake3(new Uint8Array(4))), { name: 'ManifestError' })
    })

    it('is deterministic: the same chunks give the same root', () => {
      const a = new FileManifestBuilder(PROFILE, 4)
      const b = new FileManifestBuilder(PROFILE, 4)
      const bytes = randomBytes(10)
      for (let i = 0; i < 20; i++) {
        a.addChunk(chunkCid(bytes), 10)
        b.addChunk(chunkCid(bytes), 10)
      }
      assert.equal(a.finish(200, blake3(bytes)).root.cid.toString(), b.finish(200, blake3(bytes)).root.cid.toString())
    })
  })

  describe('directory manifests', () => {
    const file = (name: string, size: number): DirEntry => [name, blockCid(DAG_CBOR_CODE, Buffer.from(name)), size, 'file']

    it('sorts entries and sums sizes', async () => {
      const { root } = buildDirectory([file('b', 2), file('ä', 3), file('a', 1)])
      const node = decodeNode(root.cid, root.bytes) as DirNode
      assert.deepEqual(node.entries?.map(e => e[0]), ['a', 'b', 'ä'])
      assert.equal(node.size, 6)
    })

    it('shards large directories and walks every entry in order', async () => {
      const s = store()
      const entries = Array.from({ length: 25 }, (_, i) => file(`f${String(i).padStart(3, '0')}`, i))
      const { root, blocks } = buildDirectory(entries, 10)
      for (const b of [...blocks, root]) s.put(b)
      assert.equal(blocks.length, 3)
      const node = decodeNode(root.cid, root.bytes) as DirNode
      const names = []
      for await (const e of walkDir(s.get, node)) names.push(e[0])
      assert.deepEqual(names, entries.map(e => e[0]))
    })

    it('refuses duplicate names', () => {
      assert.throws(() => buildDirectory([file('x', 1), file('x', 2)]), { name: 'ManifestError' })
    })
  })

  describe('decoding', () => {
    const cidOf = (v: unknown): CID => blockCid(DAG_CBOR_CODE, dagCbor.encode(v))
    const bad = (v: unknown, re: RegExp): void => {
      const bytes = dagCbor.encode(v)
      assert.throws(() => decodeNode(cidOf(v), bytes), (err: Error) => err.name === 'ManifestError' && re.test(err.message))
    }

    it('rejects malformed nodes with a reason', () => {
      bad({ v: 3, type: 'file' }, /unsupported version 3 \(this node reads versions 1, 2\)/)
      bad({ v: 1, type: 'nope' }, /unknown type nope/)
      bad({ v: 1, type: 'file', size: -1 }, /size/)
      bad({ v: 1, type: 'part' }, /exactly one of chunks or parts/)
      bad({ v: 1, type: 'part', chunks: [[1, 2]] }, /not a raw chunk CID/)
      bad({ v: 1, type: 'dirpart', entries: [['../x', cidOf(1), 1, 'file']] }, /not a normalized single path segment/)
      bad({ v: 1, type: 'dirpart', entries: [['b', cidOf(1), 1, 'file'], ['a', cidOf(1), 1, 'file']] }, /not sorted/)
      assert.throws(() => decodeNode(cidOf(1), new Uint8Array([0xff, 0x00])), { name: 'ManifestError' })
      assert.throws(() => decodeNode(chunkCid(new Uint8Array(1)), new Uint8Array(1)), /raw chunk, not a manifest/)
    })

    it('reads a version 1 file and directory (no mode, no mtime), and refuses metadata in one', async () => {
      const bytes = new TextEncoder().encode('abc')
      const file = { v: 1, type: 'file', size: 3, blake3: blake3(bytes), chunker: PROFILE, chunks: [[chunkCid(bytes), 3]] }
      const fileCid = cidOf(file)
      const node = decodeNode(fileCid, dagCbor.encode(file)) as FileNode
      assert.equal(node.v, 1)
      assert.equal(node.mode, undefined)
      assert.equal(node.mtime, undefined)
      const chunks = []
      for await (const c of walkChunks(async () => { throw new Error('inline chunks need no read') }, node)) chunks.push(c)
      assert.deepEqual(chunks.map(c => [c.cid.toString(), c.offset, c.length]), [[chunkCid(bytes).toString(), 0, 3]])
      const dir = { v: 1, type: 'dir', size: 3, entries: [['abc.txt', fileCid, 3, 'file']] }
      assert.equal((decodeNode(cidOf(dir), dagCbor.encode(dir)) as DirNode).entries?.[0][0], 'abc.txt')
      bad({ ...file, mode: 0o644 }, /a version 1 node has no mode or mtime/)
    })

    it('keeps mode and mtime in version 2 files and directories, and refuses ones out of range', () => {
      const bytes = new TextEncoder().encode('abc')
      const b = new FileManifestBuilder(PROFILE)
      b.addChunk(chunkCid(bytes), 3)
      const { root } = b.finish(3, blake3(bytes), { mode: 0o755, mtime: 1_577_934_245_678 })
      const node = decodeNode(root.cid, root.bytes) as FileNode
      assert.deepEqual([node.v, node.mode, node.mtime], [2, 0o755, 1_577_934_245_678])
      const later = new FileManifestBuilder(PROFILE)
      later.addChunk(chunkCid(bytes), 3)
      assert.notEqual(later.finish(3, blake3(bytes), { mode: 0o755, mtime: 1_577_934_245_679 }).root.cid.toString(), root.cid.toString(), 'another mtime, another manifest')
      const dir = buildDirectory([['abc.txt', root.cid, 3, 'file']], undefined, { mode: 0o700, mtime: -1000 }).root
      assert.deepEqual([(decodeNode(dir.cid, dir.bytes) as DirNode).mode, (decodeNode(dir.cid, dir.bytes) as DirNode).mtime], [0o700, -1000])
      const plain = { v: 2, type: 'dir', size: 0, entries: [] }
      bad({ ...plain, mode: 0o4755 }, /mode 2541 is not permission bits/)
      bad({ ...plain, mtime: 1.5 }, /mtime 1.5 is not whole milliseconds/)
    })

    it('never emits a block over the 4 MiB limit', () => {
      const huge = Array.from({ length: 120_000 }, (_, i) => [chunkCid(Buffer.from(String(i))), 1] as [CID, number])
      assert.throws(() => encodeNode({ v: 1, type: 'part', chunks: huge }), /exceeds the 4194304-byte block limit/)
    })
  })

  it('walkBlocks names every block root-first without reading chunks', async () => {
    const { root, s } = buildFile(30, 4)
    s.reads = 0
    const all = []
    for await (const c of walkBlocks(s.get, root.cid)) all.push(c)
    assert.equal(all[0].toString(), root.cid.toString())
    assert.equal(all.filter(c => c.code === 0x55).length, 30)
    assert.equal(s.reads, all.filter(c => c.code === DAG_CBOR_CODE).length)
  })

  it('parseCid names what is wrong', () => {
    assert.throws(() => parseCid('hello'), (e: Error) => e.name === 'InvalidCIDError' && /invalid CID "hello"/.test(e.message))
    assert.throws(() => parseCid('QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR'), /dits CIDs are CIDv1/)
    const ok = chunkCid(new Uint8Array([1]))
    assert.equal(parseCid(ok.toString()).toString(), ok.toString())
  })
})
