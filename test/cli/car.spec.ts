import assert from 'node:assert/strict'
import { createReadStream, existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile, mkdir, readFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { dits, ok, startDaemon, BIN } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import { pseudoRandomBytes } from '../src/fastcdc/testdata.ts'

async function treeDigest (dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : 1)) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      out.push(`${prefix}${e.name}/`, ...await treeDigest(p, `${prefix}${e.name}/`))
    } else {
      const h = createHash('sha256')
      for await (const piece of createReadStream(p)) h.update(piece as Buffer)
      out.push(`${prefix}${e.name} ${h.digest('hex')}`)
    }
  }
  return out
}

/** the blocks a repo's blockstore holds, temp files not counted */
async function countBlocks (repo: string): Promise<number> {
  let n = 0
  for (const shard of await readdir(join(repo, 'blocks'))) n += (await readdir(join(repo, 'blocks', shard))).filter(f => f.endsWith('.data') && !f.startsWith('.')).length
  return n
}

describe('dits-node export / import (CAR files, real processes)', function () {
  this.timeout(120_000)
  let work: string
  let a: string
  let b: string
  let daemon: RunningDaemon | undefined
  let root: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-cli-car-'))
    a = join(work, 'a')
    b = join(work, 'b')
    await ok(['--repo', a, 'init'])
    await ok(['--repo', b, 'init'])
    await ok(['--repo', b, 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
    await mkdir(join(work, 'src', 'shots', 'empty-dir'), { recursive: true })
    await writeFile(join(work, 'src', 'clip.mov'), pseudoRandomBytes(6 * 1024 * 1024 + 123, 5))
    await writeFile(join(work, 'src', 'shots', 'frame.exr'), pseudoRandomBytes(300_000, 6))
    await writeFile(join(work, 'src', 'shots', 'notes.txt'), 'take 3\n')
    root = (await ok(['--repo', a, 'add', join(work, 'src')])).trim().split('\n').at(-1) as string
  })
  after(async () => {
    await daemon?.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('round trip: export (no daemon), import into a fresh repo through its daemon, get: byte-exact', async () => {
    const car = join(work, 'tree.car')
    const exported = JSON.parse(await ok(['--repo', a, '--json', 'export', root, '-o', car]))
    assert.equal(exported.root, root)
    assert.equal(exported.out, car)
    assert.ok(exported.blocks > 3 && exported.car_bytes > exported.bytes)

    daemon = await startDaemon(b)
    const imported = JSON.parse(await ok(['--repo', b, '--json', 'import', car]))
    assert.deepEqual([imported.root, imported.blocks, imported.blocks_new, imported.pinned], [root, exported.blocks, exported.blocks, true])
    assert.ok((await ok(['--repo', b, 'pin', 'ls'])).includes(root))
    await ok(['--repo', b, 'get', root, '-o', join(work, 'out')])
    assert.deepEqual(await treeDigest(join(work, 'out')), await treeDigest(join(work, 'src')))

    // through the daemon: export of a path inside the root, imported again (all present)
    const sub = join(work, 'shots.car')
    const text = await ok(['--repo', b, 'export', `${root}/shots`, '-o', sub])
    assert.match(text, /^wrote .*shots\.car: b[a-z2-7]+, \d+ block\(s\)/)
    const again = JSON.parse(await ok(['--repo', b, '--json', 'import', sub]))
    assert.equal(again.blocks_new, 0)
  })

  it('a tampered CAR is refused with the block named (exit 1), and nothing is pinned', async () => {
    const car = join(work, 'tampered.car')
    await ok(['--repo', a, 'export', root, '-o', car])
    const bytes = await readFile(car)
    bytes[bytes.byteLength - 5000] ^= 0x01
    await writeFile(car, bytes)
    const fresh = join(work, 'c')
    await ok(['--repo', fresh, 'init'])
    const r = await dits(['--repo', fresh, 'import', car])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /block b[a-z2-7]+ at byte \d+ of .*tampered\.car does not match its CID/)
    const j = await dits(['--repo', fresh, '--json', 'import', car])
    assert.equal(j.code, 1)
    assert.equal(JSON.parse(j.stderr).error.name, 'CarBlockMismatchError')
    assert.equal((await ok(['--repo', fresh, 'pin', 'ls'])).trim(), 'no pins')
  })

  it('Ctrl-C stops an import, without a daemon and in the daemon (the closed request cancels it there): exit 130, nothing pinned', async () => {
    await writeFile(join(work, 'long.bin'), pseudoRandomBytes(256 * 1024 * 1024, 9))
    const long = (await ok(['--repo', a, 'add', join(work, 'long.bin')])).trim().split('\n').at(-1) as string
    const car = join(work, 'long.car')
    const { blocks } = JSON.parse(await ok(['--repo', a, '--json', 'export', long, '-o', car])) as { blocks: number }
    // the file's third chunk: once it is stored, the import is under way (and its handler of Ctrl-C in place)
    const third = (JSON.parse(await ok(['--repo', a, '--json', 'stat', long])) as { chunks: Array<{ cid: string }> }).chunks[2].cid
    const fresh = join(work, 'd')
    await ok(['--repo', fresh, 'init'])
    for (const repo of [fresh, b]) {
      const child = spawn(process.execPath, [BIN, '--repo', repo, 'import', car], { env: { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      const before = await countBlocks(repo)
      while (!existsSync(join(repo, 'blocks', third.slice(-3, -1), `${third}.data`))) await new Promise(resolve => setTimeout(resolve, 10))
      child.kill('SIGINT')
      const [code] = await once(child, 'exit') as [number | null]
      assert.equal(code, 130, stderr)
      assert.match(stderr, /import interrupted \(SIGINT\): nothing was pinned/)
      // the import stopped where it ran: no more blocks come (a daemon that went on would store the rest and pin)
      for (let last = -1, now = await countBlocks(repo); now !== last; last = now, now = await countBlocks(repo)) await new Promise(resolve => setTimeout(resolve, 1000))
      assert.ok(await countBlocks(repo) - before < blocks, `${await countBlocks(repo) - before} of the file's ${blocks} blocks were stored`)
      assert.ok(!(await ok(['--repo', repo, 'pin', 'ls'])).includes(long), 'not pinned')
    }
  })

  it('usage: an existing output without --force is exit 2, a missing file is exit 2, --help says what an IPFS node needs', async () => {
    const car = join(work, 'exists.car')
    await writeFile(car, 'x')
    const r = await dits(['--repo', a, 'export', root, '-o', car])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /already exists; pass --force/)
    assert.equal((await dits(['--repo', a, 'export', root])).code, 2, '-o is required')
    assert.equal((await dits(['--repo', a, 'import', join(work, 'nope.car')])).code, 2)
    for (const verb of ['export', 'import']) {
      const help = await dits([verb, '--help'])
      assert.equal(help.code, 0)
      assert.match(help.stdout, /--allow-big-block/)
      assert.match(help.stdout, /--json/)
    }
  })
})
