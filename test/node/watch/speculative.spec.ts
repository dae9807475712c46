import assert from 'node:assert/strict'
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Repo, initRepo, WATCH_CACHE_FILE } from '../../../node/repo.ts'
import { ChunkCache, SpeculativeService } from '../../../node/watch/index.ts'
import { PROFILES } from '../../../src/fastcdc/index.ts'
import { readFileNode } from '../../../src/manifest/index.ts'
import { parseCid } from '../../../src/cid.ts'

const MiB = 1024 * 1024

/** The background chunker alone (no seed, no network): a file that changes while it is read is not recorded as read. */
describe('node/watch: SpeculativeService', function () {
  this.timeout(60_000)
  let dir: string
  let repo: Repo
  let service: SpeculativeService | undefined

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-watch-'))
    await initRepo(join(dir, 'repo'))
    repo = await Repo.open(join(dir, 'repo'), { write: true })
    await mkdir(join(dir, 'footage'))
  })

  afterEach(async () => {
    await service?.stop()
    await repo.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('a file written to while it is read is read again once it settles, and only the settled file is recorded', async () => {
    const file = join(dir, 'footage', 'clip.mov')
    await writeFile(file, randomBytes(6 * MiB))
    const cache = await ChunkCache.open(join(repo.dir, WATCH_CACHE_FILE))
    let appended = false
    service = new SpeculativeService({
      blocks: repo.blocks,
      cache,
      // asked between chunks: the first time, the editor writes on while the file is being read
      busy: () => {
        if (!appended) {
          appended = true
          void appendFile(file, randomBytes(MiB))
        }
        return false
      },
      seeds: () => [],
      speculate: async () => { throw new Error('no seed') },
      has: async () => { throw new Error('no seed') }
    }, { include: ['*.mov'], ignore: [], debounceMs: 100, minBytes: 1, profile: PROFILES.small, enabled: true, maxRate: null, ttlMs: 60_000, racyMs: 0 })
    await service.start([])
    await service.sync(join(dir, 'footage'))
    const s = service.status()
    assert.equal(s.rereads, 1, 'the read that saw the file change was thrown away')
    assert.equal(s.files, 1)
    const entry = cache.get(file)
    assert.equal(entry?.size, 7 * MiB, 'the entry is the settled file')
    const node = await readFileNode(async cid => await repo.blocks.get(cid), parseCid(entry.root))
    assert.equal(node.size, 7 * MiB)
  })
})
