import assert from 'node:assert/strict'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, writeFile, mkdir, readFile, readdir, symlink, stat, lstat, appendFile, chmod, utimes, open } from 'node:fs/promises'
import { execFileSync, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { promisify } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes, createHash } from 'node:crypto'
import { dits, ok, startDaemon, BIN } from '../helpers/cli.ts'
import { GC_CLOCK_SLACK_MS } from '../../node/blockstore.ts'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** a file's sha256, read as a stream (a sparse file of hundreds of MiB is not held in memory) */
async function fileSha (path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const piece of createReadStream(path)) h.update(piece as Buffer)
  return h.digest('hex')
}

async function treeDigest (dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name)
    const s = await stat(p)
    if (s.isDirectory()) out.push(`${prefix}${name}/`, ...await treeDigest(p, `${prefix}${name}/`))
    else out.push(`${prefix}${name} ${sha(await readFile(p))}`)
  }
  return out
}

describe('dits-node content verbs (real processes)', function () {
  this.timeout(120_000)
  let work: string
  let repo: string
  const r = (...args: string[]): string[] => ['--repo', repo, ...args]

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-cli-'))
    repo = join(work, 'repo')
    await ok(r('init'))
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  /** the file of a stored block */
  const blockPath = async (cid: string): Promise<string> => {
    const blocks = join(repo, 'blocks')
    for (const shard of await readdir(blocks)) {
      if ((await readdir(join(blocks, shard))).includes(`${cid}.data`)) return join(blocks, shard, `${cid}.data`)
    }
    throw new Error(`block ${cid} is not in ${blocks}`)
  }

  it('init refuses an existing repo and verbs without a repo say how to make one', async () => {
    const again = await dits(r('init'))
    assert.equal(again.code, 2)
    assert.match(again.stderr, /a repo already exists/)
    const none = await dits(['--repo', join(work, 'nothing'), 'ls', 'x'])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /no repo at .*run `dits-node init`/)
  })

  it('adds and gets a tree with nested folders, an empty file and non-ASCII names, byte-exact', async () => {
    const src = join(work, 'src')
    await mkdir(join(src, 'reels', 'reel 3', 'ünïcödé'), { recursive: true })
    await writeFile(join(src, 'reels', 'reel 3', 'take1.mov'), randomBytes(3_000_000))
    await writeFile(join(src, 'reels', 'reel 3', 'ünïcödé', '日本語.wav'), randomBytes(200_000))
    await writeFile(join(src, 'empty.txt'), '')
    await mkdir(join(src, 'empty-dir'))
    await writeFile(join(src, 'notes.md'), 'hello\n')
    const out = await ok(r('add', src, '--profile', 'small'))
    const root = out.trim().split('\n').at(-1) as string
    assert.match(root, /^b[a-z2-7]+$/)
    await ok(r('get', root, '-o', join(work, 'copy')))
    assert.deepEqual(await treeDigest(join(work, 'copy')), await treeDigest(src))

    const entries = JSON.parse(await ok(r('--json', 'ls', root))) as Array<{ name: string, type: string }>
    assert.deepEqual(entries.map(e => `${e.name}:${e.type}`), ['empty-dir:dir', 'empty.txt:file', 'notes.md:file', 'reels:dir'])
  })

  it('get restores the modes and mtimes of files and directories (--no-metadata does not); the same bytes with another mtime share every chunk', async () => {
    const src = join(work, 'meta')
    await mkdir(join(src, 'bin'), { recursive: true })
    await writeFile(join(src, 'bin', 'render.sh'), '#!/bin/sh\necho render\n')
    await writeFile(join(src, 'clip.mov'), randomBytes(300_000))
    await chmod(join(src, 'bin', 'render.sh'), 0o755)
    await chmod(join(src, 'clip.mov'), 0o640)
    await chmod(join(src, 'bin'), 0o750)
    await utimes(join(src, 'bin', 'render.sh'), new Date('2020-01-02T03:04:05.678Z'), new Date('2020-01-02T03:04:05.678Z'))
    await utimes(join(src, 'clip.mov'), new Date('2021-06-07T08:09:10.111Z'), new Date('2021-06-07T08:09:10.111Z'))
    await utimes(join(src, 'bin'), new Date('2019-03-04T05:06:07Z'), new Date('2019-03-04T05:06:07Z'))
    await utimes(src, new Date('2018-01-01T00:00:00Z'), new Date('2018-01-01T00:00:00Z'))
    const root = (await ok(r('add', '--profile', 'small', src))).trim().split('\n').at(-1) as string
    const meta = async (p: string): Promise<string> => {
      const st = await stat(p)
      return `${(st.mode & 0o777).toString(8)} ${new Date(Math.round(st.mtimeMs)).toISOString()}`
    }
    const paths = ['', 'bin', 'bin/render.sh', 'clip.mov']
    const out = join(work, 'meta-out')
    await ok(r('get', root, '-o', out))
    assert.deepEqual(await Promise.all(paths.map(async p => await meta(join(out, p)))), await Promise.all(paths.map(async p => await meta(join(src, p)))))
    const plain = join(work, 'meta-plain')
    const before = Date.now()
    await ok(r('get', root, '-o', plain, '--no-metadata'))
    const st = await stat(join(plain, 'bin', 'render.sh'))
    assert.equal(st.mode & 0o111, 0, 'not executable without metadata')
    assert.ok(st.mtimeMs >= before - 1000, 'the time of the get')
    // a get's output, added again, is the same root: the metadata round-trips exactly
    assert.equal((await ok(r('add', '--profile', 'small', out))).trim().split('\n').at(-1), root)
    await utimes(join(src, 'clip.mov'), new Date('2022-01-01T00:00:00Z'), new Date('2022-01-01T00:00:00Z'))
    const touched = JSON.parse(await ok(r('--json', 'add', '--profile', 'small', join(src, 'clip.mov'))))
    const first = (JSON.parse(await ok(r('--json', 'ls', root))) as Array<{ name: string, cid: string }>).find(e => e.name === 'clip.mov')
    assert.notEqual(touched.root, first?.cid, 'another mtime, another file manifest')
    assert.equal(touched.bytes_new, 0, 'the same chunks')
  })

  it('get writes chunks of zeros as holes: a sparse file comes back sparse and byte-exact, a file of zeros too', async () => {
    const sparse = join(work, 'sparse.img')
    const size = 256 * 1024 * 1024
    const fh = await open(sparse, 'w')
    await fh.write(randomBytes(1024 * 1024), 0, 1024 * 1024, 100 * 1024 * 1024)
    await fh.write(randomBytes(1000), 0, 1000, 200 * 1024 * 1024 + 12_345)
    await fh.truncate(size)
    await fh.close()
    const zeros = join(work, 'zeros.bin')
    await writeFile(zeros, new Uint8Array(300_000))
    for (const [src, profile] of [[sparse, 'media'], [zeros, 'small']]) {
      const root = (await ok(r('add', '--profile', profile, src))).trim().split('\n').at(-1) as string
      const out = `${src}.out`
      await ok(r('get', root, '-o', out))
      const st = await stat(out)
      assert.equal(st.size, (await stat(src)).size)
      assert.equal(await fileSha(out), await fileSha(src), `${src} byte-exact`)
      assert.ok(st.blocks * 512 <= (await stat(src)).blocks * 512 + 8 * 1024 * 1024, `${out}: ${st.blocks * 512} bytes allocated for ${st.size}`)
    }
    assert.ok((await stat(`${sparse}.out`)).blocks * 512 < size / 16, 'far below the size')
  })

  it('add --json reports root, size, chunks and new vs deduplicated bytes; stat --json lists chunks with offsets', async () => {
    const f = join(work, 'dedup.bin')
    const data = randomBytes(1_500_000)
    await writeFile(f, data)
    const first = JSON.parse(await ok(r('--json', 'add', '--profile', 'small', f)))
    assert.equal(first.size, data.byteLength)
    assert.equal(first.bytes_new, data.byteLength)
    assert.equal(first.bytes_dedup, 0)
    assert.ok(first.chunks > 5)
    await appendFile(f, randomBytes(10))
    const second = JSON.parse(await ok(r('--json', 'add', '--profile', 'small', f)))
    assert.ok(second.bytes_dedup > data.byteLength * 0.8, `only ${second.bytes_dedup} bytes deduplicated`)

    const s = JSON.parse(await ok(r('--json', 'stat', first.root)))
    assert.equal(s.cid, first.root)
    assert.equal(s.size, data.byteLength)
    let offset = 0
    for (const c of s.chunks) {
      assert.equal(c.offset, offset)
      offset += c.length
    }
    assert.equal(offset, data.byteLength)
  })

  it('cat reads whole files and ranges', async () => {
    const f = join(work, 'cat.bin')
    const data = randomBytes(700_000)
    await writeFile(f, data)
    const root = (await ok(r('add', '--chunk-size', '16K:64K:256K', f))).trim().split('\n').at(-1) as string
    const whole = await dits(r('cat', root))
    assert.equal(whole.code, 0)
    assert.ok(whole.stdoutBytes.equals(data))
    for (const [offset, length] of [[0, 1], [65_535, 70_000], [699_990, 100], [123_456, 0]]) {
      const part = await dits(r('cat', root, '--offset', String(offset), '--length', String(length)))
      assert.equal(part.code, 0)
      assert.ok(part.stdoutBytes.equals(data.subarray(offset, offset + length)), `range ${offset}+${length}`)
    }
  })

  it('cat writes all its output before it exits, to a reader that is not keeping up', async () => {
    const f = join(work, 'slow-reader.bin')
    const data = randomBytes(600_000)
    await writeFile(f, data)
    const root = (await ok(r('add', '--chunk-size', '128K:256K:512K', f))).trim().split('\n').at(-1) as string
    const boundary = (JSON.parse(await ok(r('--json', 'stat', root))) as { chunks: Array<{ offset: number }> }).chunks[1].offset
    // The first piece (64 KiB, the end of chunk 0) fills the pipe; the last (1,000 bytes of chunk 1) must wait in
    // the process for the reader, who sleeps through the moment cat is done.
    const offset = boundary - 65_536
    const script = `"${process.execPath}" "${BIN}" --repo "${repo}" cat ${root} --offset ${offset} --length 66536 | (sleep 1; cat)`
    const { stdout } = await promisify(execFile)('sh', ['-c', script], { encoding: 'buffer', env: { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' } })
    assert.equal(stdout.byteLength, 66_536)
    assert.ok(stdout.equals(data.subarray(offset, offset + 66_536)))
  })

  it('cat stops quietly, exit code 1, when its reader goes away (`cat X | head`)', async () => {
    const f = join(work, 'head.bin')
    await writeFile(f, randomBytes(3_000_000))
    const root = (await ok(r('add', '--profile', 'small', f))).trim().split('\n').at(-1) as string
    const child = spawn(process.execPath, [BIN, ...r('cat', root)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' } })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const closed = once(child, 'close')
    await once(child.stdout, 'readable')
    child.stdout.destroy()
    const [code] = await closed as [number]
    assert.equal(code, 1)
    assert.equal(stderr, '')
  })

  it('verify finds a corrupted chunk, exits non-zero naming it, and quarantines it', async () => {
    const f = join(work, 'rot.bin')
    await writeFile(f, randomBytes(400_000))
    const root = (await ok(r('add', '--profile', 'small', f))).trim().split('\n').at(-1) as string
    const s = JSON.parse(await ok(r('--json', 'stat', root)))
    const victim = s.chunks[2].cid as string
    const victimPath = await blockPath(victim)
    await writeFile(victimPath, randomBytes(100))
    const v = await dits(r('verify', root))
    assert.equal(v.code, 1)
    assert.match(v.stdout, new RegExp(`bad +${victim}`))
    const v2 = JSON.parse((await dits(r('--json', 'verify', root))).stdout)
    assert.deepEqual(v2.missing, [victim])
    const g = await dits(r('get', root, '-o', join(work, 'rot.out')))
    assert.notEqual(g.code, 0)
    assert.equal(await stat(join(work, 'rot.out')).then(() => true, () => false), false, 'no half-written output')
  })

  it('add of a file whose chunk the repo holds damaged in place replaces it: add --json says bytes_repaired, verify is clean, get is byte-exact', async () => {
    const f = join(work, 'readd.bin')
    const data = randomBytes(600_000)
    await writeFile(f, data)
    const root = (await ok(r('add', '--profile', 'small', f))).trim().split('\n').at(-1) as string
    const victim = (JSON.parse(await ok(r('--json', 'stat', root))) as { chunks: Array<{ cid: string, length: number }> }).chunks[1]
    const path = await blockPath(victim.cid)
    const damaged = await readFile(path)
    damaged[10] ^= 0x55
    await writeFile(path, damaged)
    const again = JSON.parse(await ok(r('--json', 'add', '--profile', 'small', f)))
    assert.equal(again.root, root)
    assert.equal(again.bytes_repaired, victim.length)
    assert.equal(again.bytes_new, 0)
    assert.equal((await dits(r('verify', root))).code, 0)
    await ok(r('get', root, '-o', join(work, 'readd.out')))
    assert.ok((await readFile(join(work, 'readd.out'))).equals(data))
  })

  it('gc keeps pinned content and removes unpinned content (once it is older than the clock slack)', async () => {
    const f = join(work, 'gc.bin')
    await writeFile(f, randomBytes(300_000))
    const root = (await ok(r('add', '--no-pin', f))).trim().split('\n').at(-1) as string
    // blocks written within GC_CLOCK_SLACK_MS of a gc's start are kept by it (a file system's clock may trail)
    await new Promise(resolve => setTimeout(resolve, GC_CLOCK_SLACK_MS + 200))
    const dry = JSON.parse(await ok(r('--json', 'gc', '--dry-run')))
    assert.ok(dry.removed.includes(root))
    assert.equal((await dits(r('stat', root))).code, 0)
    await ok(r('gc'))
    const gone = await dits(r('stat', root))
    assert.equal(gone.code, 4)
    assert.match(gone.stderr, /is not in the repo/)
    const pins = JSON.parse(await ok(r('--json', 'pin', 'ls'))) as Array<{ cid: string }>
    const pinnedRoot = pins[0].cid
    assert.equal((await dits(r('stat', pinnedRoot))).code, 0)
    await ok(r('pin', 'rm', pinnedRoot))
    await ok(r('gc'))
    assert.equal((await dits(r('stat', pinnedRoot))).code, 4)
  })

  it('bad input gets a clear message and the right exit code', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [r('add', join(work, 'does-not-exist')), 2, /no such file or directory/],
      [r('get', 'not-a-cid', '-o', join(work, 'x')), 2, /invalid CID "not-a-cid"/],
      [r('cat', 'bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4'), 4, /is not in the repo/],
      [r('add', '--chunk-size', '1:2:3', join(work, 'gc.bin')), 2, /min/],
      [r('add', '--profile', 'huge', join(work, 'gc.bin')), 2, /huge/],
      [r('config', 'set', 'discovery.mdns', '"yes"'), 2, /discovery\.mdns.*allowed: true or false/],
      [r('config', 'set', 'nope.key', '1'), 2, /unknown config key "nope.key"/],
      [r('frobnicate'), 2, /unknown command/],
      [r('get'), 2, /missing required argument/]
    ]
    for (const [args, code, re] of cases) {
      const res = await dits(args)
      assert.equal(res.code, code, `${args.slice(2).join(' ')} → ${res.code}: ${res.stderr}`)
      assert.match(res.stderr, re, args.slice(2).join(' '))
    }
  })

  it('refuses symlink loops and special files, naming them, and writes nothing', async () => {
    const loop = join(work, 'loop')
    await mkdir(join(loop, 'a'), { recursive: true })
    await symlink(loop, join(loop, 'a', 'back'))
    const l = await dits(r('add', loop))
    assert.equal(l.code, 2)
    assert.match(l.stderr, /symlink loop/)
    const fifoDir = join(work, 'fifo')
    await mkdir(fifoDir)
    execFileSync('mkfifo', [join(fifoDir, 'pipe')])
    const f = await dits(r('add', fifoDir))
    assert.equal(f.code, 2)
    assert.match(f.stderr, /pipe is a FIFO/)
  })

  it('add of a folder holding a name that is not valid UTF-8 says so, naming it with its bytes escaped', async () => {
    const folder = join(work, 'latin1')
    await mkdir(folder)
    await writeFile(join(folder, 'ok.txt'), 'fine')
    await writeFile(Buffer.concat([Buffer.from(`${folder}/caf`), Buffer.from([0xe9]), Buffer.from('.mov')]), 'bytes')
    const res = await dits(r('add', folder))
    assert.equal(res.code, 2, res.stderr)
    assert.match(res.stderr, /latin1\/caf\\xe9\.mov: the name is not valid UTF-8/)
  })

  it('a second writer gets an error naming the holder of the repo lock', async () => {
    await symlink(`${process.pid} 2026-01-01T00:00:00Z a test`, join(repo, 'repo.lock'))
    try {
      const res = await dits(r('add', join(work, 'gc.bin')))
      assert.equal(res.code, 1)
      assert.match(res.stderr, new RegExp(`in use by pid ${process.pid} \\(a test, since 2026-01-01`))
    } finally {
      await rm(join(repo, 'repo.lock'))
    }
  })

  it('config show/get/set round-trip', async () => {
    await ok(r('config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'))
    assert.deepEqual(JSON.parse(await ok(r('config', 'get', 'addresses.listen'))), ['/ip4/127.0.0.1/tcp/0'])
    const all = JSON.parse(await ok(r('config', 'show')))
    assert.equal(all.role, 'peer')
  })

  it('start serves the verbs through its API, and stops cleanly on SIGINT', async () => {
    const d = await startDaemon(repo)
    try {
      assert.match(d.info.api, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.equal((await stat(join(repo, 'api.token'))).mode & 0o777, 0o600)
      const id = JSON.parse(await ok(r('--json', 'id')))
      assert.equal(id.peerId, d.info.peerId)
      const f = join(work, 'via-daemon.bin')
      await writeFile(f, randomBytes(100_000))
      const root = (await ok(r('add', f))).trim().split('\n').at(-1) as string
      const back = await dits(r('cat', root))
      assert.ok(back.stdoutBytes.equals(await readFile(f)))
    } finally {
      assert.equal(await d.stop('SIGINT'), 0)
    }
    assert.equal(await stat(join(repo, 'api')).then(() => true, () => false), false, 'api file removed')
    assert.equal(await lstat(join(repo, 'repo.lock')).then(() => true, () => false), false, 'lock released')
  })
})
