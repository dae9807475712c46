import assert from 'node:assert/strict'
import { CidSet, blockCid, chunkCid, DAG_CBOR_CODE } from '../../src/cid.ts'
import { pseudoRandomBytes } from './fastcdc/testdata.ts'

describe('src/cid', () => {
  it('CidSet holds each CID once, tells codecs of one digest apart, and answers for equal CIDs from other objects', () => {
    const set = new CidSet()
    const bytes = pseudoRandomBytes(1000, 7)
    const raw = chunkCid(bytes)
    const cbor = blockCid(DAG_CBOR_CODE, bytes)
    assert.equal(set.add(raw), true)
    assert.equal(set.add(chunkCid(bytes)), false)
    assert.equal(set.has(cbor), false)
    assert.equal(set.add(cbor), true)
    assert.equal(set.size, 2)
    for (let i = 0; i < 1000; i++) set.add(chunkCid(pseudoRandomBytes(64, 100 + i)))
    assert.equal(set.size, 1002)
    assert.equal(set.has(chunkCid(pseudoRandomBytes(64, 100 + 999))), true)
    assert.equal(set.has(chunkCid(pseudoRandomBytes(64, 100 + 1000))), false)
  })
})
