import assert from 'node:assert/strict'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { create as digest } from 'multiformats/hashes/digest'
import { CidSet, base32Cid, blockCid, chunkCid, DAG_CBOR_CODE } from '../../src/cid.ts'
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

  it('base32Cid is cid.toString(base32) for every digest length (0-64 bytes) and both codecs', () => {
    for (let len = 0; len <= 64; len++) {
      for (const code of [0x55, DAG_CBOR_CODE]) {
        const cid = CID.createV1(code, digest(0x1e, pseudoRandomBytes(len, 1000 + len)))
        assert.equal(base32Cid(cid), cid.toString(base32), `${len} bytes, codec ${code}`)
      }
    }
    for (let i = 0; i < 500; i++) {
      const cid = chunkCid(pseudoRandomBytes(32, i))
      assert.equal(base32Cid(cid), cid.toString(base32))
    }
  })
})
