import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile, readFile, readdir, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { dits, ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'

/** the file of a stored block */
async function blockPath (repo: string, cid: string): Promise<string> {
  const blocks = join(repo, 'blocks')
  for (const shard of await readdir(blocks)) {
    if ((await readdir(join(blocks, shard))).includes(`${cid}.data`)) return join(blocks, shard, `${cid}.data`)
  }
  throw new Error(`block ${cid} is not in ${blocks}`)
}

interface Verified { ok: boolean, bad: Array<{ cid: string }>, missing: string[], missing_under_pins: Array<{ cid: string, pin: string, path: string }>, repaired?: number }

describe('dits-node verify sees what the pins need (real processes)', function () {
  this.timeout(120_000)
  let work: string
  const daemons: RunningDaemon[] = []

  before(async () => { work = await mkdtemp(join(tmpdir(), 'dits-verify-')) })
  after(async () => {
    for (const d of daemons) await d.stop()
    await rm(work, { recursive: true, force: true })
  })

  /** a pinned tree `shot/{a.mov,b.mov}` in a new repo: its root and the chunks of b.mov */
  const pinnedTree = async (repo: string): Promise<{ root: string, chunks: string[] }> => {
    await ok(['--repo', repo, 'init'])
    const tree = join(work, `${repo.split('/').at(-1) as string}-shot`)
    await mkdir(tree)
    await writeFile(join(tree, 'a.mov'), randomBytes(300_000))
    await writeFile(join(tree, 'b.mov'), randomBytes(400_000))
    const root = (await ok(['--repo', repo, 'add', '--profile', 'small', tree])).trim().split('\n').at(-1) as string
    const b = (JSON.parse(await ok(['--repo', repo, '--json', 'ls', root])) as Array<{ name: string, cid: string }>).find(e => e.name === 'b.mov')
    const chunks = (JSON.parse(await ok(['--repo', repo, '--json', 'stat', b?.cid as string])) as { chunks: Array<{ cid: string }> }).chunks.map(c => c.cid)
    return { root, chunks }
  }

  const verify = async (repo: string, ...args: string[]): Promise<{ code: number, r: Verified, stdout: string }> => {
    const res = await dits(['--repo', repo, '--json', 'verify', ...args])
    const human = await dits(['--repo', repo, 'verify', ...args.filter(a => a !== '--repair')])
    return { code: res.code, r: JSON.parse(res.stdout) as Verified, stdout: human.stdout }
  }

  it('a whole-repo verify after one that quarantined a chunk, or after a block file is deleted, lists it missing with its pin and path and exits 1', async () => {
    const repo = join(work, 'solo')
    const { root, chunks } = await pinnedTree(repo)
    const damaged = await blockPath(repo, chunks[1])
    const bytes = await readFile(damaged)
    bytes[0] ^= 1
    await writeFile(damaged, bytes)

    const first = await dits(['--repo', repo, '--json', 'verify'])
    assert.equal(first.code, 1)
    assert.deepEqual((JSON.parse(first.stdout) as Verified).bad.map(b => b.cid), [chunks[1]])

    const second = await verify(repo)
    assert.equal(second.code, 1, 'the quarantined chunk is still needed by the pin')
    assert.deepEqual(second.r.missing, [chunks[1]])
    assert.deepEqual(second.r.missing_under_pins, [{ cid: chunks[1], pin: root, path: 'b.mov' }])
    assert.match(second.stdout, new RegExp(`missing +${chunks[1]} \\(needed by pin ${root}, at b\\.mov\\)`))
    assert.match(second.stdout, /0 bad, 1 missing/)

    await unlink(await blockPath(repo, chunks[2]))
    const third = await verify(repo)
    assert.equal(third.code, 1)
    assert.deepEqual(third.r.missing.sort(), [chunks[1], chunks[2]].sort())
  })

  it('verify --repair through the daemon fetches a deleted and a quarantined chunk back from a peer, and the next verify is clean', async () => {
    const a = join(work, 'a')
    const b = join(work, 'b')
    const { root } = await pinnedTree(a)
    await ok(['--repo', b, 'init'])
    for (const repo of [a, b]) await ok(['--repo', repo, 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
    daemons.push(await startDaemon(a), await startDaemon(b))
    const addr = daemons[0].info.addresses.find(x => x.includes('/tcp/')) as string
    await ok(['--repo', b, 'connect', addr.includes('/p2p/') ? addr : `${addr}/p2p/${daemons[0].info.peerId}`])
    await ok(['--repo', b, 'pin', 'add', root])
    const bFile = (JSON.parse(await ok(['--repo', b, '--json', 'ls', root])) as Array<{ name: string, cid: string }>).find(e => e.name === 'b.mov')
    const chunks = (JSON.parse(await ok(['--repo', b, '--json', 'stat', bFile?.cid as string])) as { chunks: Array<{ cid: string }> }).chunks.map(c => c.cid)
    await unlink(await blockPath(b, chunks[0]))
    // quarantined by a first verify, so missing when the repair's verify runs
    const damaged = await blockPath(b, chunks[1])
    const bytes = await readFile(damaged)
    bytes[5] ^= 1
    await writeFile(damaged, bytes)
    assert.equal((await dits(['--repo', b, 'verify'])).code, 1)

    const repaired = await dits(['--repo', b, '--json', 'verify', '--repair'])
    const r = JSON.parse(repaired.stdout) as Verified
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr)
    assert.equal(r.repaired, 2)
    const after = await verify(b)
    assert.equal(after.code, 0)
    assert.deepEqual(after.r.missing, [])
    const out = join(work, 'b-out')
    await ok(['--repo', b, 'get', root, '-o', out])
    assert.ok((await readFile(join(out, 'b.mov'))).equals(await readFile(join(work, 'a-shot', 'b.mov'))))
  })
})
