import assert from 'node:assert/strict'
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { initRepo, Repo } from '../../node/repo.ts'
import { RepoOps } from '../../node/ops.ts'
import { Daemon } from '../../node/daemon.ts'
import { PROFILES } from '../../src/fastcdc/index.ts'

/** Every path under `dir` whose mode is not 0700 (directories) or 0600 (files); symlinks (repo.lock) have none. */
async function notPrivate (dir: string): Promise<string[]> {
  const wrong: string[] = []
  const walk = async (path: string): Promise<void> => {
    const s = await lstat(path)
    if (s.isSymbolicLink()) return
    const mode = s.mode & 0o777
    if (s.isDirectory()) {
      if (mode !== 0o700) wrong.push(`${path} ${mode.toString(8)}`)
      for (const name of await readdir(path)) await walk(join(path, name))
    } else if (mode !== 0o600) wrong.push(`${path} ${mode.toString(8)}`)
  }
  await walk(dir)
  return wrong
}

async function count (dir: string): Promise<number> {
  let n = 0
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) n++
  return n
}

describe('node/repo file modes: the repo is its owner\'s alone (0700 directories, 0600 files)', function () {
  this.timeout(60_000)
  let work: string
  let umask: number

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-modes-'))
    // the usual umask: with it, files made without an explicit mode are 0644 and directories 0755
    umask = process.umask(0o022)
  })
  after(async () => {
    process.umask(umask)
    await rm(work, { recursive: true, force: true })
  })

  it('after init, add (pinned) and a voter daemon\'s start and stop', async () => {
    const dir = join(work, 'repo')
    await initRepo(dir, {
      voter: true,
      config: { addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, discovery: { mdns: false } }
    })
    assert.deepEqual(await notPrivate(dir), [], 'after init')

    const repo = await Repo.open(dir, { write: true, command: 'test add' })
    const src = join(work, 'src')
    await mkdir(join(src, 'sub'), { recursive: true })
    await writeFile(join(src, 'a.bin'), randomBytes(300_000))
    await writeFile(join(src, 'sub', 'b.bin'), randomBytes(100))
    try {
      await new RepoOps(repo).add({ paths: [src], profile: PROFILES.small, pin: true })
    } finally {
      await repo.close()
    }
    assert.ok(await count(join(dir, 'blocks')) >= 4, 'blocks were written')
    assert.ok(await count(join(dir, 'pins')) === 1, 'a pin was written')
    assert.deepEqual(await notPrivate(dir), [], 'after add')

    const daemon = await Daemon.start(dir)
    try {
      assert.ok(await count(join(dir, 'datastore')) > 0, 'the Raft storage was written')
      assert.deepEqual(await notPrivate(dir), [], 'while the daemon runs (api, api.token, Raft log)')
    } finally {
      await daemon.stop()
    }
    assert.deepEqual(await notPrivate(dir), [], 'after stop')
  })

  it('an older repo (0755, 0644 blocks): the writer closes its top directory; a reader changes nothing', async () => {
    const dir = join(work, 'old')
    await initRepo(dir)
    await chmod(dir, 0o755)
    const repo = await Repo.open(dir)
    await repo.close()
    assert.equal((await stat(dir)).mode & 0o777, 0o755, 'a reader does not touch modes')
    const writer = await Repo.open(dir, { write: true, command: 'test' })
    await writer.close()
    assert.equal((await stat(dir)).mode & 0o777, 0o700)
  })

  it('init into an empty folder made beforehand makes it private; a non-empty one is left alone', async () => {
    const empty = join(work, 'empty')
    await mkdir(empty, { mode: 0o755 })
    await initRepo(empty)
    assert.equal((await stat(empty)).mode & 0o777, 0o700)
    const shared = join(work, 'shared')
    await mkdir(shared, { mode: 0o1777 })
    await chmod(shared, 0o1777)
    await writeFile(join(shared, 'someone-elses'), 'x')
    await initRepo(shared)
    const writer = await Repo.open(shared, { write: true, command: 'test' })
    await writer.close()
    assert.equal((await stat(shared)).mode & 0o7777, 0o1777, 'a shared folder with the sticky bit (like /tmp) is never closed')
  })
})
