import assert from 'node:assert/strict'
import { appendFile, mkdir, mkdtemp, open, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { dits, ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import { ApiClient } from '../../node/api.ts'
import type { SpeculativeStatus, CoverageReport } from '../../node/watch/index.ts'

const MiB = 1024 * 1024
/** the workstation's debounce: short, so that the specs take seconds */
const DEBOUNCE_MS = 200

const tcp = (d: RunningDaemon): string => {
  const a = d.info.addresses.find(x => x.includes('/tcp/')) as string
  return a.includes('/p2p/') ? a : `${a}/p2p/${d.info.peerId}`
}

async function until<T> (what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * Speculative transport on real daemons over loopback (issue 18): a seed, and a workstation that watches a folder,
 * chunks what settles there, uploads it to the seed as speculative chunks, and reuses the chunks in `add`.
 */
describe('watch: speculative transport from a workstation — watch, chunk, upload, reuse (real daemons)', function () {
  this.timeout(180_000)
  let work: string
  let footage: string
  let seed: RunningDaemon
  let ws: RunningDaemon
  let api: ApiClient
  const repos = { seed: '', ws: '' }

  const status = async (): Promise<SpeculativeStatus> => await api.call<SpeculativeStatus>('speculativeStatus', {})
  const idle = async (): Promise<SpeculativeStatus> => await until('the watcher to be idle', async () => {
    const s = await status()
    return s.idle ? s : undefined
  })
  const wsCli = async (args: string[]): Promise<any> => JSON.parse(await ok(['--repo', repos.ws, '--json', ...args]))

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-spec-'))
    footage = join(work, 'footage')
    await mkdir(footage)
    for (const name of ['seed', 'ws'] as const) {
      repos[name] = join(work, name)
      await ok(['--repo', repos[name], 'init', ...(name === 'seed' ? ['--role', 'seed'] : [])])
      await ok(['--repo', repos[name], 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
    }
    seed = await startDaemon(repos.seed)
    await ok(['--repo', repos.ws, 'config', 'set', 'seeds', JSON.stringify([tcp(seed)])])
    await ok(['--repo', repos.ws, 'config', 'set', 'watch.debounceMs', String(DEBOUNCE_MS)])
    await ok(['--repo', repos.ws, 'config', 'set', 'watch.minBytes', String(64 * 1024)])
    ws = await startDaemon(repos.ws)
    api = new ApiClient(ws.info.api, (await readFile(join(repos.ws, 'api.token'), 'utf8')).trim())
    const watched = await wsCli(['watch', footage])
    assert.deepEqual(watched.dirs, [footage])
  })

  after(async () => {
    await ws?.stop()
    await seed?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('a file written into a watched folder is chunked and uploaded: coverage 100% once idle, and its push sends no chunk', async () => {
    const file = join(footage, 'A001.mov')
    const data = randomBytes(6 * MiB + 4321)
    await writeFile(file, data)
    // ignored and too small: never taken
    await writeFile(join(footage, 'notes.txt'), randomBytes(MiB))
    await writeFile(join(footage, 'tiny.mov'), randomBytes(1000))
    await until('the file to be uploaded', async () => (await status()).files_uploaded >= 1 ? true : undefined)
    const s = await idle()
    assert.equal(s.state, 'active')
    assert.equal(s.files, 1, 'only A001.mov was taken')
    assert.equal(s.bytes_uploaded, data.byteLength, `uploaded ${s.chunks_uploaded} chunks, ${s.bytes_uploaded} bytes`)
    assert.equal(s.queue_depth, 0)
    const cov = await wsCli(['speculative', 'coverage', file]) as CoverageReport
    assert.equal(cov.cached, true)
    assert.equal(cov.percent, 100)
    assert.equal(cov.chunks_on_seed, cov.chunks)
    assert.equal(s.chunks_uploaded, cov.chunks, 'every chunk uploaded once')
    assert.equal(cov.bytes_remaining, 0)
    const added = await wsCli(['add', file])
    assert.equal(added.bytes_reused, data.byteLength, 'add took the chunk list from the watcher')
    const pushed = await wsCli(['push', added.root])
    assert.equal(pushed.bytes_sent, 0, 'every chunk was on the seed already')
    assert.equal(pushed.bytes_already_on_seed, data.byteLength)
  })

  it('a file still being written is not taken half-way: it is read (and uploaded) once it settles, and again when it changes', async () => {
    const file = join(footage, 'A002.mov')
    const before = (await status()).files
    // an editor's render: pieces faster than the debounce
    const fh = await open(file, 'w')
    const pieces: Buffer[] = []
    try {
      for (let i = 0; i < 8; i++) {
        const piece = randomBytes(MiB)
        pieces.push(piece)
        await fh.write(piece)
        await fh.datasync()
        await sleep(DEBOUNCE_MS / 4)
        assert.equal((await status()).files, before, `taken while still written (piece ${i})`)
      }
    } finally {
      await fh.close()
    }
    await until('the settled file to be uploaded', async () => (await status()).files_uploaded >= 2 ? true : undefined)
    let cov = await wsCli(['speculative', 'coverage', file]) as CoverageReport
    assert.equal(cov.size, 8 * MiB, 'what was read is the whole file')
    assert.equal(cov.cached, true)
    assert.equal(cov.percent, 100)
    // more written after it settled: read again, and the cache holds the new file, not the old one
    const tail = randomBytes(3 * MiB)
    await appendFile(file, tail)
    await until('the grown file to be chunked', async () => (await status()).files >= before + 2 ? true : undefined)
    await idle()
    cov = await wsCli(['speculative', 'coverage', file]) as CoverageReport
    assert.equal(cov.size, 11 * MiB)
    assert.equal(cov.cached, true)
    assert.equal(cov.percent, 100)
    const added = await wsCli(['add', file])
    assert.equal(added.bytes_reused, 11 * MiB)
    const cat = await dits(['--repo', repos.ws, 'cat', added.root])
    assert.ok(cat.stdoutBytes.equals(Buffer.concat([...pieces, tail])), 'the added root is the file as it is')
  })

  it('add reuses the chunk cache only while the file is unchanged: a same-size rewrite with its mtime put back is read', async () => {
    const file = join(footage, 'A003.mov')
    await writeFile(file, randomBytes(3 * MiB))
    // a whole second, which utimes puts back exactly
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 5000)
    await utimes(file, mtime, mtime)
    await until('the file to be chunked', async () => (await api.call<SpeculativeStatus>('speculativeStatus', {})).files_cached >= 3 ? true : undefined)
    await idle()
    const first = await wsCli(['add', '--no-pin', file])
    assert.equal(first.bytes_reused, 3 * MiB)
    // the watcher must not catch up before the add: paused
    await wsCli(['speculative', 'pause'])
    try {
      const st = await stat(file, { bigint: true })
      const changed = randomBytes(3 * MiB)
      const fh = await open(file, 'r+')
      await fh.write(changed, 0, changed.byteLength, 0)
      await fh.close()
      await utimes(file, mtime, mtime)
      const now = await stat(file, { bigint: true })
      assert.deepEqual([now.size, now.mtimeNs, now.ino], [st.size, st.mtimeNs, st.ino], 'same size, same mtime, same inode')
      const second = await wsCli(['add', '--no-pin', file])
      assert.equal(second.bytes_reused, 0, 'the changed file was read')
      assert.notEqual(second.root, first.root)
      const cat = await dits(['--repo', repos.ws, 'cat', second.root])
      assert.ok(cat.stdoutBytes.equals(changed))
    } finally {
      await wsCli(['speculative', 'resume'])
    }
  })

  it('pause holds the work (across nothing but resume), resume takes it up, clear forgets the cache so that gc may reclaim its chunks', async () => {
    const paused = await wsCli(['speculative', 'pause']) as SpeculativeStatus
    assert.equal(paused.state, 'paused')
    const before = paused.files
    const file = join(footage, 'A004.mov')
    await writeFile(file, randomBytes(2 * MiB))
    await sleep(DEBOUNCE_MS * 6)
    const held = await wsCli(['speculative', 'status']) as SpeculativeStatus
    assert.equal(held.state, 'paused')
    assert.equal(held.files, before, 'nothing chunked while paused')
    assert.ok(held.queue_depth >= 1, 'the settled file waits')
    const resumed = await wsCli(['speculative', 'resume']) as SpeculativeStatus
    assert.equal(resumed.state, 'active')
    await until('the file to be chunked after resume', async () => (await status()).files > before ? true : undefined)
    await idle()
    // past gc's clock slack: only the chunk cache keeps the watcher's unpinned chunks now
    await sleep(1500)
    await wsCli(['gc'])
    assert.equal((await wsCli(['add', '--no-pin', file])).bytes_reused, 2 * MiB, 'gc kept the unpinned chunks the chunk cache names')
    const cleared = await wsCli(['speculative', 'clear']) as SpeculativeStatus & { files_forgotten: number }
    assert.ok(cleared.files_forgotten >= 4)
    assert.equal(cleared.files_cached, 0)
    assert.equal(cleared.files, 0)
    await sleep(1500)
    const swept = await wsCli(['gc'])
    assert.ok(swept.removedCount > 0, 'the chunks the cache kept are garbage once it is cleared')
    const again = await wsCli(['add', '--no-pin', file])
    assert.equal(again.bytes_reused, 0, 'nothing cached: the file is read')
  })

  it('each verb says --help, and a bad argument is exit 2', async () => {
    for (const args of [['watch'], ['speculative', 'coverage'], ['speculative', 'sync']]) {
      const r = await dits([...args, '--help'])
      assert.equal(r.code, 0, args.join(' '))
      assert.match(r.stdout, /Exit codes/)
    }
    assert.equal((await dits(['--repo', repos.ws, 'watch', join(work, 'nope')])).code, 2)
    assert.equal((await dits(['--repo', repos.ws, 'speculative', 'coverage', join(work, 'nope.mov')])).code, 2)
  })
})
