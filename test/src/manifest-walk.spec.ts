import assert from 'node:assert/strict'
import { cacheManifests, MANIFEST_CACHE_ENTRY_BYTES, measureTree, walkChunks, walkChunkLinks, walkBlocks, walkDir, readFileNode, readNode, decodeNode, encodeNode, MANIFEST_VERSION } from '../../src/manifest/index.ts'
import type { DirNode, EncodedBlock } from '../../src/manifest/index.ts'
import { printableName, printableText } from '../../src/paths.ts'
import { MAX_DIR_DEPTH, MAX_PART_DEPTH } from '../../protocol/limits.ts'
import { dirChain, partChain, zipBomb, repeatedFile, namedEntries, memoryGetBlock, oneChunkFile, PiB, MiB } from '../helpers/hostile-trees.ts'

async function drain<T> (it: AsyncIterable<T>): Promise<number> {
  let n = 0
  for await (const _ of it) n++
  return n
}

describe('src/manifest walks over hostile trees', function () {
  this.timeout(60_000)

  it('a directory chain 32,000 deep is refused at MAX_DIR_DEPTH, having read only the levels up to it', async () => {
    const tree = dirChain(32_000)
    const s = memoryGetBlock(tree.blocks)
    await assert.rejects(measureTree(s.get, tree.root), (e: Error) => e.name === 'TreeLimitError' && e.message.includes(`deeper than ${MAX_DIR_DEPTH} directory levels (MAX_DIR_DEPTH)`) && e.message.includes('/d/d/d'))
    assert.ok(s.reads() <= MAX_DIR_DEPTH + 1, `${s.reads()} reads`)
    await assert.rejects(drain(walkChunkLinks(s.get, tree.root)), { name: 'TreeLimitError' })
    // a chain within the limit is fine
    const ok = dirChain(MAX_DIR_DEPTH)
    assert.deepEqual(await measureTree(memoryGetBlock(ok.blocks).get, ok.root), { bytes: 0, files: 1, dirs: MAX_DIR_DEPTH, chunks: 0 })
  })

  it('a part chain 10,000 deep is refused at MAX_PART_DEPTH by every walk, without recursion', async () => {
    const tree = partChain(10_000)
    const s = memoryGetBlock(tree.blocks)
    const file = await readFileNode(s.get, tree.root)
    await assert.rejects(drain(walkChunks(s.get, file, undefined, { cid: tree.root })), (e: Error) => e.name === 'TreeLimitError' && e.message.includes(`more than ${MAX_PART_DEPTH} levels of part nodes (MAX_PART_DEPTH)`) && e.message.includes(tree.root.toString()))
    await assert.rejects(measureTree(s.get, tree.root), { name: 'TreeLimitError' })
    await assert.rejects(drain(walkChunkLinks(s.get, tree.root)), { name: 'TreeLimitError' })
    // walkBlocks has no depth limit to keep (each block once, an explicit stack): it names all 10,002 blocks
    assert.equal(await drain(walkBlocks(s.get, tree.root)), 10_002)
    const ok = partChain(MAX_PART_DEPTH)
    const g = memoryGetBlock(ok.blocks)
    assert.equal(await drain(walkChunks(g.get, await readFileNode(g.get, ok.root))), 1)
  })

  it('a zip bomb (1000 x 1000 entries of one file) counts for the million files it lays out, from 3 reads', async () => {
    const tree = zipBomb(1000, 1000, 1)
    const s = memoryGetBlock(tree.blocks)
    assert.deepEqual(await measureTree(s.get, tree.root), { bytes: 1_000_000, files: 1_000_000, dirs: 1001, chunks: 1_000_000 })
    assert.equal(s.reads(), 3)
    // a check refuses it as soon as the count crosses its limit
    let seen = 0
    await assert.rejects(measureTree(s.get, tree.root, {
      check: (c) => {
        seen = c.files + c.dirs
        if (seen > 10_000) throw new Error('over')
      }
    }), /over/)
    assert.ok(seen > 10_000 && seen < 12_000, `stopped at ${seen}`)
    // a fetch needs each chunk once, a pin each block once
    assert.equal(await drain(walkChunkLinks(s.get, tree.root, { unique: true })), 1)
    assert.equal(await drain(walkBlocks(s.get, tree.root)), 4)
  })

  it('a 1 PiB file of one repeated chunk is measured at what it is, from its 3 manifest blocks; a size that disagrees is refused', async () => {
    const tree = repeatedFile()
    const s = memoryGetBlock(tree.blocks)
    const size = await measureTree(s.get, tree.root)
    assert.deepEqual(size, { bytes: PiB, files: 1, dirs: 0, chunks: PiB / MiB })
    assert.equal(s.reads(), 3)
    let pauses = 0
    await measureTree(s.get, tree.root, { pause: async () => { pauses++ } })
    assert.ok(pauses > 0, 'a long measure pauses for the event loop')
    const lying = repeatedFile(PiB, PiB - 1)
    await assert.rejects(measureTree(memoryGetBlock(lying.blocks).get, lying.root), (e: Error) => e.name === 'ManifestError' && e.message.includes(`declares ${PiB - 1} bytes`))
    const g = memoryGetBlock(lying.blocks)
    await assert.rejects(drain(walkChunks(g.get, await readFileNode(g.get, lying.root))), /declares \d+ bytes but its links add up to/)
    // a file whose one chunk is not what it declares
    const { file, chunk } = oneChunkFile(1000)
    const node = decodeNode(file.cid, file.bytes)
    const wrong = encodeNode({ ...node, size: 2000 } as typeof node)
    await assert.rejects(measureTree(memoryGetBlock([wrong, chunk]).get, wrong.cid), /declares 2000 bytes but its chunks add up to 1000/)
  })

  it('an aborted measure stops at its next step', async () => {
    const tree = repeatedFile()
    const s = memoryGetBlock(tree.blocks)
    const abort = new AbortController()
    await assert.rejects(measureTree(s.get, tree.root, { signal: abort.signal, pause: async () => { abort.abort(new Error('cancelled')) } }), /cancelled/)
  })

  it('a shard named twice in a directory is refused, not listed twice', async () => {
    const file = oneChunkFile(10)
    const shard: EncodedBlock = encodeNode({ v: MANIFEST_VERSION, type: 'dirpart', entries: [['a', file.file.cid, 10, 'file'], ['b', file.file.cid, 10, 'file']] })
    const d = encodeNode({ v: MANIFEST_VERSION, type: 'dir', size: 40, parts: [[shard.cid, 'a', 2], [shard.cid, 'a', 2]] })
    const s = memoryGetBlock([file.file, file.chunk, shard, d])
    await assert.rejects(drain(walkDir(s.get, await readNode(s.get, d.cid) as DirNode)), /repeats or reorders names/)
    await assert.rejects(measureTree(s.get, d.cid), /repeats or reorders names/)
  })

  it('entry names: NUL, "/", "..", non-NFC are refused when decoding; control characters are escaped for printing', async () => {
    for (const bad of ['a\0b', 'a/b', '..', 'e\u0301']) {
      const tree = namedEntries([bad])
      const d = tree.blocks[1]
      assert.throws(() => decodeNode(d.cid, d.bytes), (e: Error) => e.name === 'ManifestError' && e.message.includes('is not a normalized single path segment'), JSON.stringify(bad))
    }
    const fine = namedEntries(['a\nb', '\x1b[31mred', 'tab\there'])
    assert.equal((decodeNode(fine.blocks[1].cid, fine.blocks[1].bytes) as DirNode).entries?.length, 3)
    assert.equal(printableName('a\nb'), 'a\\nb')
    assert.equal(printableName('\x1b[31mred\x07'), '\\x1b[31mred\\x07')
    assert.equal(printableName('tab\there\r'), 'tab\\there\\r')
    assert.equal(printableName('back\\slash'), 'back\\\\slash')
    assert.equal(printableName('evil\u202egnp.exe'), 'evil\\u{202e}gnp.exe')
    assert.equal(printableName('café 日本'), 'café 日本')
    assert.equal(printableText('line one \x1b[2J\nline two \\ ok'), 'line one \\x1b[2J\nline two \\ ok')
  })

  it('cacheManifests reads a manifest once while it fits, evicts the least recently used beyond its memory (bytes and entry cost), and passes chunks through', async () => {
    const files = [1, 2, 3].map(fill => oneChunkFile(10, fill))
    const s = memoryGetBlock(files.flatMap(f => [f.file, f.chunk]))
    const size = files[0].file.bytes.byteLength
    const get = cacheManifests(s.get, 2 * (size + MANIFEST_CACHE_ENTRY_BYTES))
    for (const f of [files[0], files[1], files[0], files[1]]) assert.deepEqual(await get(f.file.cid), f.file.bytes)
    assert.equal(s.reads(), 2)
    await get(files[0].file.cid)
    await get(files[2].file.cid)
    // files[1] was the least recently used: it went; files[0] stayed
    await get(files[0].file.cid)
    assert.equal(s.reads(), 3)
    await get(files[1].file.cid)
    assert.equal(s.reads(), 4)
    await get(files[0].chunk.cid)
    await get(files[0].chunk.cid)
    assert.equal(s.reads(), 6)
  })
})
