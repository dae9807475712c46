/**
 * The repo stands alone: a clone with nothing beside it must pass `npm install && npm test` (DESIGN §2), so no
 * spec, bench, script or source file may name a path outside it. `.ci/run` proves it end to end by testing a
 * fresh clone in a temporary folder; this spec names the offending line at once.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './helpers/cli.ts'

describe('the repo', () => {
  it('reads nothing outside itself', () => {
    const files = execFileSync('git', ['ls-files', '-z', '--', 'test', 'scripts', '.ci', 'src', 'node', 'cli', 'config', 'sims', 'protocol', 'package.json', '.mocharc.json'], { cwd: ROOT })
      .toString('utf8').split('\0').filter(f => /\.(ts|mjs|js|json|sh)$|^\.ci\//.test(f) && !f.startsWith('test/vectors/'))
    assert.ok(files.length > 50, `expected the tracked sources, found ${files.length}`)
    const outside = /(['"`]|\s)\.\.\/shared\b|\/work\/shared|shared\/testdata/
    const found: string[] = []
    for (const f of files) {
      readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
        if (outside.test(line) && f !== 'test/repo.spec.ts') found.push(`${f}:${i + 1}: ${line.trim()}`)
      })
    }
    assert.deepEqual(found, [])
  })

  it('holds no merge conflict markers', () => {
    // git grep exits 1 when nothing matches
    const r = spawnSync('git', ['grep', '-n', '-I', '-E', '^(<<<<<<<|>>>>>>>) ', '--', '.'], { cwd: ROOT, encoding: 'utf8' })
    assert.equal(r.stdout.trim(), '')
    assert.equal(r.status, 1, r.stderr)
  })

  it('carries its conformance vectors', () => {
    for (const f of ['test/vectors/blake3/test_vectors.json', 'test/vectors/fastcdc/vectors.json', 'test/vectors/fastcdc/SekienAkashita.jpg', 'test/vectors/README.md']) {
      assert.ok(execFileSync('git', ['ls-files', f], { cwd: ROOT }).toString().trim() === f, `${f} is not tracked`)
    }
  })
})
