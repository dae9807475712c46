import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runGcRace } from './race.ts'

describe('gc races adds, gets, pins and speculates and never deletes what is live (a fixed seed; `npm run gc-race` for long runs)', function () {
  this.timeout(180_000)
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dits-gc-race-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('8 rounds, seed 18: every pinned root whole and every unexpired speculative chunk there after each round, every get byte-exact, and the gcs did remove garbage', async () => {
    const r = await runGcRace({ seed: 18, rounds: 8, dir })
    assert.ok(r.gcs >= 16, `${r.gcs} gcs`)
    assert.ok(r.removed > 0, 'the gcs removed unpinned blocks (the race is not vacuous)')
    assert.ok(r.pinsChecked > 0)
    assert.ok(r.speculates > 0, 'speculates ran beside the gcs')
  })
})
