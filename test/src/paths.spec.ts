import assert from 'node:assert/strict'
import {
  MAX_PATH_BYTES, MAX_PATH_SEGMENT_BYTES, covers, isDirectoryPath, isUnder, normalizePath, pathsConflict, sameEntry
} from '../../src/paths.ts'

function refused (input: unknown, rule: RegExp, opts?: { allowDirectory?: boolean }): void {
  assert.throws(() => normalizePath(input as string, opts), (err: Error) => {
    assert.equal(err.name, 'InvalidPathError')
    assert.match(err.message, rule)
    return true
  })
}

describe('paths', () => {
  describe('normalizePath', () => {
    it('keeps a normal path as it is', () => {
      assert.equal(normalizePath('projects/reel3/cut.prproj'), 'projects/reel3/cut.prproj')
      assert.equal(normalizePath('a'), 'a')
    })

    it('collapses duplicate slashes and `.` segments', () => {
      assert.equal(normalizePath('projects//reel3/./cut.prproj'), 'projects/reel3/cut.prproj')
      assert.equal(normalizePath('./a/./b'), 'a/b')
      assert.equal(normalizePath('a///b'), 'a/b')
    })

    it('puts names into Unicode NFC', () => {
      const nfd = 'Cafe\u0301/sce\u0300ne.mov'
      assert.equal(normalizePath(nfd), 'Caf\u00e9/sc\u00e8ne.mov')
      assert.equal(normalizePath(nfd), normalizePath(nfd.normalize('NFC')))
    })

    it('keeps non-ASCII names and well-formed astral characters', () => {
      assert.equal(normalizePath('映像/🎬 take 1.mov'), '映像/🎬 take 1.mov')
    })

    it('marks a directory with a trailing `/` only when allowed', () => {
      assert.equal(normalizePath('projects/reel3/', { allowDirectory: true }), 'projects/reel3/')
      assert.equal(normalizePath('projects//reel3//', { allowDirectory: true }), 'projects/reel3/')
      assert.equal(normalizePath('projects/reel3/.', { allowDirectory: true }), 'projects/reel3/')
      refused('projects/reel3/', /"projects\/reel3\/".*trailing '\/' names a directory/)
      refused('projects/reel3/.', /trailing '\/' names a directory/)
    })

    it('is idempotent', () => {
      for (const p of ['a//b/./c', 'x/y/', './z', 'Cafe\u0301/']) {
        const once = normalizePath(p, { allowDirectory: true })
        assert.equal(normalizePath(once, { allowDirectory: true }), once)
      }
    })

    it('refuses the empty path and the root', () => {
      refused('', /must not be empty/)
      refused('.', /"\.".*below the repo root/)
      refused('./', /below the repo root/, { allowDirectory: true })
      refused('//', /no leading '\/'/)
    })

    it('refuses `..` segments, naming the input', () => {
      refused('a/../b', /"a\/..\/b".*'\.\.' segments/)
      refused('..', /'\.\.' segments/)
      refused('a/..', /'\.\.' segments/)
      assert.equal(normalizePath('a/..b/c..'), 'a/..b/c..')
    })

    it('refuses absolute paths and drive prefixes', () => {
      refused('/etc/passwd', /"\/etc\/passwd".*relative to the repo \(no leading '\/'\)/)
      refused('C:/footage/a.mov', /no drive prefix 'C:'/)
      refused('d:reel', /no drive prefix 'd:'/)
      assert.equal(normalizePath('reel:3'), 'reel:3')
    })

    it('refuses backslashes', () => {
      refused('projects\\reel3', /must not contain '\\'; use '\/'/)
    })

    it('refuses NUL and other control characters, naming the code point', () => {
      refused('a\u0000b', /"a\\u0000b".*control characters \(found U\+0000 at offset 1\)/)
      refused('a\nb', /U\+000A/)
      refused('tab\there', /U\+0009/)
      refused('del\u007f', /U\+007F/)
      refused('c1\u0085', /U\+0085/)
    })

    it('refuses lone surrogates', () => {
      refused('a\ud800b', /lone surrogate/)
      refused('\udc00', /lone surrogate/)
    })

    it('refuses non-strings', () => {
      refused(42, /must be a string, got number/)
      refused(null, /got null/)
    })

    it('bounds segment and path length in UTF-8 bytes', () => {
      assert.equal(normalizePath('x'.repeat(MAX_PATH_SEGMENT_BYTES)).length, MAX_PATH_SEGMENT_BYTES)
      refused('x'.repeat(MAX_PATH_SEGMENT_BYTES + 1), /at most 255 bytes \(one is 256\)/)
      refused('é'.repeat(128), /one is 256/)
      const long = Array.from({ length: 18 }, () => 'y'.repeat(240)).join('/')
      refused(long, new RegExp(`at most ${MAX_PATH_BYTES} bytes`))
    })

    it('quotes only the start of a very long bad input', () => {
      assert.throws(() => normalizePath(`/${'z'.repeat(10_000)}`), (err: Error) => err.message.length < 300)
    })
  })

  describe('hierarchy', () => {
    it('isDirectoryPath', () => {
      assert.equal(isDirectoryPath('a/'), true)
      assert.equal(isDirectoryPath('a'), false)
    })

    it('isUnder: strictly beneath, with or without the trailing `/`', () => {
      assert.equal(isUnder('a/b/c', 'a/'), true)
      assert.equal(isUnder('a/b/', 'a'), true)
      assert.equal(isUnder('a/', 'a/'), false)
      assert.equal(isUnder('a', 'a/'), false)
      assert.equal(isUnder('ab', 'a'), false)
      assert.equal(isUnder('ab/c', 'a/'), false)
    })

    it('sameEntry: `reel3` and `reel3/` are one entry', () => {
      assert.equal(sameEntry('reel3', 'reel3/'), true)
      assert.equal(sameEntry('reel3', 'reel3'), true)
      assert.equal(sameEntry('reel3', 'reel'), false)
    })

    it('covers: a directory covers itself and everything beneath; a file only itself', () => {
      assert.equal(covers('projects/reel3/', 'projects/reel3/cut.prproj'), true)
      assert.equal(covers('projects/reel3/', 'projects/reel3/audio/mix.wav'), true)
      assert.equal(covers('projects/reel3/', 'projects/reel3'), true)
      assert.equal(covers('projects/reel3/', 'projects/reel30/cut'), false)
      assert.equal(covers('projects/reel3', 'projects/reel3'), true)
      assert.equal(covers('projects/reel3', 'projects/reel3/'), true)
      assert.equal(covers('projects/reel3', 'projects/reel3/audio'), false)
    })

    it('pathsConflict: directory vs anything beneath it, either way round', () => {
      assert.equal(pathsConflict('reels/r3/', 'reels/r3/cut.prproj'), true)
      assert.equal(pathsConflict('reels/r3/cut.prproj', 'reels/r3/'), true)
      assert.equal(pathsConflict('reels/', 'reels/r3/'), true)
      assert.equal(pathsConflict('reels/r3/', 'reels/r3/'), true)
    })

    it('pathsConflict: siblings never', () => {
      assert.equal(pathsConflict('reels/r3/cut.prproj', 'reels/r3/notes.txt'), false)
      assert.equal(pathsConflict('reels/r3/', 'reels/r4/'), false)
      assert.equal(pathsConflict('reels/r3/', 'reels/r30'), false)
    })

    it('pathsConflict: `reel3` the file and `reel3/` the directory conflict; the file does not reach beneath', () => {
      assert.equal(pathsConflict('reel3', 'reel3/'), true)
      assert.equal(pathsConflict('reel3', 'reel3/audio'), false)
      assert.equal(pathsConflict('reel3/', 'reel3/audio'), true)
    })
  })
})
