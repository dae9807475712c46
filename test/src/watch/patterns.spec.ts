import assert from 'node:assert/strict'
import { PathPatterns, watchedFile, patternProblem, DEFAULT_WATCH_INCLUDE, DEFAULT_WATCH_IGNORE } from '../../../src/watch/index.ts'

describe('src/watch: which files the folder watcher takes', () => {
  const include = new PathPatterns(DEFAULT_WATCH_INCLUDE)
  const ignore = new PathPatterns(DEFAULT_WATCH_IGNORE)

  it('takes media and project files in any case, and whatever an autosave folder holds', () => {
    for (const parts of [['A001.MOV'], ['reel3', 'clip.mxf'], ['cut.prproj'], ['x', 'Adobe Premiere Pro Auto-Save', 'cut-2026.prproj.bak']]) {
      assert.ok(watchedFile(include, ignore, parts), parts.join('/'))
    }
  })

  it('leaves other files, and everything under an ignored directory even when included', () => {
    for (const parts of [['notes.txt'], ['.git', 'objects', 'a.mov'], ['proj', 'Media Cache Files', 'x.mov'], ['clip.mov.part'], ['.DS_Store'], ['mov']]) {
      assert.ok(!watchedFile(include, ignore, parts), parts.join('/'))
    }
  })

  it('refuses a pattern that is none of *.ext, name/ or name', () => {
    assert.equal(patternProblem('*.mov'), undefined)
    assert.equal(patternProblem('Cache/'), undefined)
    for (const bad of ['', '*', '**/x', 'a/b', '*.m*v', '/', '../']) assert.match(patternProblem(bad) ?? '', /./, bad)
    assert.throws(() => new PathPatterns(['a/b/']), RangeError)
  })
})
