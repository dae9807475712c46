/**
 * A newcomer's first hour with the CLI (issue 16): paths inside roots, `ls -r`, `get` without `-o`, `get --pin`,
 * messages in the user's terms, `status` and `id` without a daemon, and the small things of every verb's output.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile, mkdir, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { dits, ok, startDaemon } from '../helpers/cli.ts'

describe('dits-node: the first hour (real processes)', function () {
  this.timeout(180_000)
  let work: string
  let repo: string
  let root: string
  const clip = randomBytes(300_000)
  const r = (...args: string[]): string[] => ['--repo', repo, ...args]

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-first-hour-'))
    repo = join(work, 'repo')
    await ok(r('init'))
    const src = join(work, 'src')
    await mkdir(join(src, 'video', 'takes', 'b-roll'), { recursive: true })
    await writeFile(join(src, 'video', 'clip001.mov'), clip)
    await writeFile(join(src, 'video', 'takes', 'b-roll', 'sky.mov'), 'sky\n')
    await writeFile(join(src, 'notes.md'), 'notes\n')
    root = (await ok(r('add', '--profile', 'small', src))).trim().split('\n').at(-1) as string
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  describe('paths inside a root (CID/sub/path)', () => {
    it('ls, stat and cat take ROOT/sub/path', async () => {
      const entries = JSON.parse(await ok(r('--json', 'ls', `${root}/video`))) as Array<{ name: string, type: string }>
      assert.deepEqual(entries.map(e => `${e.name} ${e.type}`), ['clip001.mov file', 'takes dir'])
      const s = JSON.parse(await ok(r('--json', 'stat', `${root}/video/clip001.mov`))) as { type: string, size: number }
      assert.deepEqual([s.type, s.size], ['file', clip.byteLength])
      const cat = await dits(r('cat', `${root}/video/clip001.mov`, '--offset', '1000', '--length', '5000'))
      assert.equal(cat.code, 0, cat.stderr)
      assert.deepEqual(cat.stdoutBytes, clip.subarray(1000, 6000))
      const file = JSON.parse(await ok(r('--json', 'ls', `${root}/video/takes/b-roll/sky.mov`))) as Array<{ name: string }>
      assert.deepEqual(file.map(e => e.name), ['sky.mov'])
    })

    it('a path that is not there names the missing part', async () => {
      const missing = await dits(r('ls', `${root}/video/clip002.mov`))
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /\/video has no entry "clip002\.mov"/)
      const under = await dits(r('cat', `${root}/notes.md/x`))
      assert.equal(under.code, 1)
      assert.match(under.stderr, /notes\.md is a file, not a directory/)
      const climb = await dits(r('ls', `${root}/../x`))
      assert.equal(climb.code, 2)
    })

    it('ls -r lists the whole tree depth-first with paths; --json is one document', async () => {
      const text = await ok(r('ls', '-r', root))
      assert.deepEqual(text.trim().split('\n').map(l => l.split(/\s+/).slice(1).join(' ')), [
        'file 6 notes.md',
        'dir 300004 video/',
        `file ${clip.byteLength} video/clip001.mov`,
        'dir 4 video/takes/',
        'dir 4 video/takes/b-roll/',
        'file 4 video/takes/b-roll/sky.mov'
      ])
      const json = JSON.parse(await ok(r('--json', 'ls', '--recursive', `${root}/video/takes`))) as Array<{ name: string, type: string }>
      assert.deepEqual(json.map(e => e.name), ['b-roll', 'b-roll/sky.mov'])
    })

    it('get without -o writes ./NAME: the last part of the path, or the CID', async () => {
      await ok(r('get', `${root}/video/clip001.mov`), { cwd: work })
      assert.deepEqual(await readFile(join(work, 'clip001.mov')), clip)
      await ok(r('get', `${root}/video/takes`), { cwd: work })
      assert.equal(await readFile(join(work, 'takes', 'b-roll', 'sky.mov'), 'utf8'), 'sky\n')
      await ok(r('get', root), { cwd: work })
      assert.equal(await readFile(join(work, root, 'notes.md'), 'utf8'), 'notes\n')
    })
  })

  it('get --pin pins what it got (reason user) and gc keeps it; get --help says what gc may remove', async () => {
    const other = join(work, 'other.bin')
    await writeFile(other, randomBytes(100_000))
    const cid = (await ok(r('add', '--no-pin', other))).trim().split('\n').at(-1) as string
    const got = JSON.parse(await ok(r('--json', 'get', cid, '--pin', '-o', join(work, 'pinned.bin')))) as { pinned: boolean }
    assert.equal(got.pinned, true)
    const pins = JSON.parse(await ok(r('--json', 'pin', 'ls'))) as Array<{ cid: string, reasons: Record<string, string> }>
    assert.deepEqual(Object.keys(pins.find(p => p.cid === cid)?.reasons ?? {}), ['user'])
    await ok(r('gc'))
    await ok(r('get', cid, '-o', join(work, 'after-gc.bin')))
    const help = await ok(r('get', '--help'))
    assert.match(help, /--pin/)
    assert.match(help, /gc` may remove them/)
  })

  it('messages say what was wrong in the user\'s terms, not the library\'s', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [r('ls', 'bafyfoo'), 2, /invalid CID "bafyfoo": it is too short/],
      [r('stat', 'hello'), 2, /invalid CID "hello": not a CID: dits CIDs start with "b"/],
      [r('cat', `${root}x`), 2, /invalid CID ".*": it is too long/],
      [r('get', 'bafyr4i_x', '-o', join(work, 'x')), 2, /"_" at character 8 cannot be part of a CID/],
      [r('get', root, '-o', join(work, 'no', 'such', 'folder', 'out')), 2, /the folder .*no\/such\/folder does not exist/],
      [r('connect', 'hello'), 2, /"hello" is not a multiaddr/]
    ]
    for (const [args, code, re] of cases) {
      const res = await dits(args)
      assert.equal(res.code, code, `${args.slice(2).join(' ')} → ${res.code}: ${res.stderr}`)
      assert.match(res.stderr, re, args.slice(2).join(' '))
      assert.doesNotMatch(res.stderr, /Unexpected end of data|multibase decoder|Non-base32|ENOENT/)
    }
  })

  it('status without a daemon shows blocks, bytes, pins, repo and config, and says the network part needs one', async () => {
    const s = JSON.parse(await ok(r('--json', 'status'))) as { live: boolean, repo: { blocks: number, bytes: number, pins: number, dir: string }, config: { listen: string[] }, network: string }
    assert.equal(s.live, false)
    assert.ok(s.repo.blocks > 0 && s.repo.bytes > clip.byteLength)
    assert.ok(s.repo.pins >= 1)
    assert.equal(s.repo.dir, repo)
    assert.ok(s.config.listen.length > 0)
    const text = await ok(r('status'))
    assert.match(text, /stored +\d+ blocks/)
    assert.match(text, /network +no daemon is running .*dits-node start/)
  })

  it('id without a daemon prints the peer id and the configured listen addresses, marked as such', async () => {
    await ok(r('config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/4999"]'))
    const text = await ok(r('id'))
    assert.match(text, /^peer id +12D3KooW/)
    assert.match(text, /listen +\/ip4\/127\.0\.0\.1\/tcp\/4999 \(configured; the daemon is not running\)/)
    const json = JSON.parse(await ok(r('--json', 'id'))) as { live: boolean, listen: string[], addresses: string[] }
    assert.deepEqual([json.live, json.listen, json.addresses], [false, ['/ip4/127.0.0.1/tcp/4999'], []])
  })

  it('start creates only the default repo: a named one that does not exist is "no repo at …", and nothing is made', async () => {
    const named = join(work, 'typo')
    const flag = await dits(['--repo', named, 'start'])
    assert.equal(flag.code, 2)
    assert.match(flag.stderr, /no repo at .*typo: run `dits-node init`/)
    const env = await dits(['start'], { env: { DITS_REPO: named } })
    assert.equal(env.code, 2)
    assert.match(env.stderr, /no repo at .*typo/)
    await assert.rejects(stat(named), { code: 'ENOENT' })
    // the default repo (~/.dits) is made on first start
    const home = join(work, 'home')
    await mkdir(home)
    const d = await startDaemon(join(home, '.dits'), { HOME: home, DITS_CONFIG_ADDRESSES__LISTEN: '["/ip4/127.0.0.1/tcp/0"]' }, { defaultRepo: true })
    try {
      assert.match(d.info.peerId, /^12D3KooW/)
      await stat(join(home, '.dits', 'config.json'))
    } finally {
      await d.stop()
    }
  })

  it('every verb\'s --help lists --json; an empty pin ls says "no pins"', async () => {
    // a verb of each group (the setting is the program's, which every verb copies as it is made)
    const verbs = ['init', 'start', 'config set', 'id', 'add', 'get', 'cat', 'ls', 'verify', 'gc', 'pin ls', 'peers', 'ref set', 'lock acquire', 'cluster status']
    for (let i = 0; i < verbs.length; i += 4) {
      await Promise.all(verbs.slice(i, i + 4).map(async v => {
        const help = await ok([...v.split(' '), '--help'])
        assert.match(help, /--json +machine-readable output/, `${v} --help`)
      }))
    }
    const empty = join(work, 'empty')
    await ok(['--repo', empty, 'init'])
    assert.equal(await ok(['--repo', empty, 'pin', 'ls']), 'no pins\n')
    assert.deepEqual(JSON.parse(await ok(['--repo', empty, '--json', 'pin', 'ls'])), [])
  })
})
