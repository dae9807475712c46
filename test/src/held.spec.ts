import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { FileManifestBuilder, buildDirectory, heldShare } from '../../src/manifest/index.ts'
import type { EncodedBlock } from '../../src/manifest/index.ts'
import { chunkCid } from '../../src/cid.ts'
import { blake3 } from '../../src/hash/blake3.ts'

const PROFILE = { name: 'custom', min: 16, avg: 32, max: 64, normalization: 1 }

/** A file of chunks `sizes` (the same bytes for equal sizes: a repeated chunk), in a tree of fan-out `maxLinks`. */
function file (sizes: number[], maxLinks: number, blocks: Map<string, Uint8Array>): { root: EncodedBlock, chunks: Array<{ cid: CID, bytes: Uint8Array }> } {
  const b = new FileManifestBuilder(PROFILE, maxLinks)
  const chunks = sizes.map(n => {
    const bytes = new Uint8Array(n).fill(n % 251)
    return { cid: chunkCid(bytes), bytes }
  })
  for (const c of chunks) for (const part of b.addChunk(c.cid, c.bytes.byteLength)) blocks.set(part.cid.toString(), part.bytes)
  const whole = Buffer.concat(chunks.map(c => c.bytes))
  const { blocks: rest, root } = b.finish(whole.byteLength, blake3(whole))
  for (const x of [...rest, root]) blocks.set(x.cid.toString(), x.bytes)
  return { root, chunks }
}

describe('src/manifest heldShare', () => {
  const reader = (blocks: Map<string, Uint8Array>, held: Set<string>) => ({
    get: async (cid: CID) => blocks.get(cid.toString()),
    has: async (cid: CID) => held.has(cid.toString())
  })

  it('counts distinct chunk bytes through parts and directories, and those held', async () => {
    const blocks = new Map<string, Uint8Array>()
    // 40 and 50 repeat: they count once
    const a = file([40, 50, 60, 40, 50], 2, blocks)
    const b = file([30], 8, blocks)
    const oneCid = b.chunks[0].cid
    const { blocks: dirBlocks, root } = buildDirectory([['a.mov', a.root.cid, 240, 'file'], ['b.wav', b.root.cid, 30, 'file']])
    for (const x of [...dirBlocks, root]) blocks.set(x.cid.toString(), x.bytes)
    const held = new Set([a.chunks[0].cid.toString(), a.chunks[2].cid.toString()])
    const r = reader(blocks, held)
    assert.deepEqual(await heldShare(r.get, r.has, root.cid, { budget: 1000 }), { bytes: 40 + 50 + 60 + 30, held: 40 + 60, complete: true })
    held.add(oneCid.toString())
    held.add(a.chunks[1].cid.toString())
    assert.deepEqual(await heldShare(r.get, r.has, root.cid, { budget: 1000 }), { bytes: 180, held: 180, complete: true })
  })

  it('says it is incomplete when a manifest node is missing or the budget runs out', async () => {
    const blocks = new Map<string, Uint8Array>()
    const a = file([16, 17, 18, 19, 20, 21, 22, 23], 2, blocks)
    const held = new Set(a.chunks.map(c => c.cid.toString()))
    const r = reader(blocks, held)
    assert.deepEqual(await heldShare(r.get, r.has, a.root.cid, { budget: 1000 }), { bytes: 156, held: 156, complete: true })
    const small = await heldShare(r.get, r.has, a.root.cid, { budget: 5 })
    assert.equal(small.complete, false)
    assert.ok(small.bytes < 156)
    blocks.delete(a.root.cid.toString())
    assert.deepEqual(await heldShare(r.get, r.has, a.root.cid, { budget: 1000 }), { bytes: 0, held: 0, complete: false })
  })

  it('takes a raw root (a file of one chunk) as held or not known', async () => {
    const bytes = randomBytes(100)
    const cid = chunkCid(bytes)
    const blocks = new Map([[cid.toString(), bytes]])
    const r = reader(blocks, new Set([cid.toString()]))
    assert.deepEqual(await heldShare(r.get, r.has, cid, { budget: 10 }), { bytes: 100, held: 100, complete: true })
    blocks.clear()
    assert.deepEqual(await heldShare(r.get, r.has, cid, { budget: 10 }), { bytes: 0, held: 0, complete: false })
  })
})
