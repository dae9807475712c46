import assert from 'node:assert/strict'
import { PROFILES, parseChunkSize, resolveProfile, validateProfile } from '../../../src/fastcdc/index.ts'
import type { ChunkerProfile } from '../../../src/fastcdc/index.ts'

const KiB = 1024
const MiB = 1024 * KiB

function rejects (fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: Error) => {
    assert.equal(err.name, 'InvalidChunkerError')
    assert.match(err.message, message)
    return true
  })
}

describe('fastcdc', () => {
  describe('profiles', () => {
    it('defines media and small as in DESIGN §2', () => {
      assert.deepEqual(PROFILES.media, { name: 'media', min: 256 * KiB, avg: 1 * MiB, max: 4 * MiB, normalization: 1 })
      assert.deepEqual(PROFILES.small, { name: 'small', min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB, normalization: 1 })
    })

    describe('resolveProfile', () => {
      it('returns a copy of a named profile', () => {
        const media = resolveProfile('media')
        media.min = 1
        assert.equal(PROFILES.media.min, 256 * KiB)
        assert.deepEqual(resolveProfile('media'), PROFILES.media)
        assert.deepEqual(resolveProfile('small'), PROFILES.small)
      })

      it('names the known profiles when given an unknown one', () => {
        rejects(() => resolveProfile('huge'), /unknown chunker profile "huge": use media or small/)
        rejects(() => resolveProfile('toString'), /unknown chunker profile/)
      })
    })

    describe('parseChunkSize', () => {
      it('accepts plain bytes and K, KiB, M, MiB suffixes (binary units)', () => {
        assert.deepEqual(parseChunkSize('256K:1M:4M'), { name: 'custom', min: 256 * KiB, avg: MiB, max: 4 * MiB, normalization: 1 })
        assert.deepEqual(parseChunkSize('16KiB:64kib:256KIB'), { name: 'custom', min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB, normalization: 1 })
        assert.deepEqual(parseChunkSize('4096:16384:65535'), { name: 'custom', min: 4096, avg: 16384, max: 65535, normalization: 1 })
        assert.deepEqual(parseChunkSize('64 : 256 : 1MiB'), { name: 'custom', min: 64, avg: 256, max: MiB, normalization: 1 })
        assert.deepEqual(parseChunkSize('1M:4M:4M'), { name: 'custom', min: MiB, avg: 4 * MiB, max: 4 * MiB, normalization: 1 })
      })

      it('rejects a spec that is not MIN:AVG:MAX', () => {
        rejects(() => parseChunkSize('1M'), /must be MIN:AVG:MAX, e\.g\. 256K:1M:4M/)
        rejects(() => parseChunkSize('1:2:3:4'), /must be MIN:AVG:MAX/)
        rejects(() => parseChunkSize(''), /must be MIN:AVG:MAX/)
      })

      it('rejects sizes that are not whole numbers with a known suffix', () => {
        rejects(() => parseChunkSize('1.5K:1M:4M'), /min chunk size "1\.5K" .* use a whole number of bytes, optionally with K, KiB, M or MiB/)
        rejects(() => parseChunkSize('256K:1G:4M'), /avg chunk size "1G"/)
        rejects(() => parseChunkSize('256K:1M:-4M'), /max chunk size "-4M"/)
        rejects(() => parseChunkSize('256K::4M'), /avg chunk size ""/)
        rejects(() => parseChunkSize('256K:1M:99999999999999999M'), /max chunk size .* too large/)
      })

      it('states the allowed range of a size out of range', () => {
        rejects(() => parseChunkSize('32:1K:4K'), /min chunk size 32 B is out of range: allowed 64 B\.\.1 MiB/)
        rejects(() => parseChunkSize('2M:2M:4M'), /min chunk size 2 MiB is out of range: allowed 64 B\.\.1 MiB/)
        rejects(() => parseChunkSize('64:128:4K'), /avg chunk size 128 B is out of range: allowed 256 B\.\.4 MiB/)
        rejects(() => parseChunkSize('64:256:512'), /max chunk size 512 B is out of range: allowed 1 KiB\.\.4 MiB/)
        rejects(() => parseChunkSize('1M:4M:8M'), /max chunk size 8 MiB is out of range: allowed 1 KiB\.\.4 MiB/)
      })

      it('requires min <= avg <= max', () => {
        rejects(() => parseChunkSize('1M:512K:4M'), /min <= avg <= max, got min 1 MiB, avg 512 KiB, max 4 MiB/)
        rejects(() => parseChunkSize('256K:2M:1M'), /min <= avg <= max, got min 256 KiB, avg 2 MiB, max 1 MiB/)
      })
    })

    describe('validateProfile', () => {
      const base: ChunkerProfile = { name: 't', min: 4096, avg: 16384, max: 65536, normalization: 1 }

      it('accepts normalization 0..3 and a seed', () => {
        for (const normalization of [0, 1, 2, 3]) validateProfile({ ...base, normalization })
        validateProfile({ ...base, seed: 666 })
        validateProfile({ ...base, seed: 0 })
      })

      it('rejects a normalization level outside 0..3', () => {
        rejects(() => validateProfile({ ...base, normalization: 4 }), /normalization level 4 is out of range: allowed 0\.\.3/)
        rejects(() => validateProfile({ ...base, normalization: 1.5 }), /normalization level 1\.5/)
      })

      it('rejects a negative or fractional seed', () => {
        rejects(() => validateProfile({ ...base, seed: -1 }), /gear seed -1 is out of range/)
        rejects(() => validateProfile({ ...base, seed: 0.5 }), /gear seed 0\.5/)
      })

      it('rejects fractional sizes', () => {
        rejects(() => validateProfile({ ...base, min: 4096.5 }), /min chunk size 4096\.5 B is out of range/)
      })
    })
  })
})
