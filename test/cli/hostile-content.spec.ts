import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BIN, dits, ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import { startNode, stopAll, waitFor } from '../node/net/helpers.ts'
import type { TestNode } from '../node/net/helpers.ts'
import { dirChain, partChain, zipBomb, repeatedFile, namedEntries, oneChunkFile } from '../helpers/hostile-trees.ts'
import type { CraftedTree } from '../helpers/hostile-trees.ts'
import { decodeNode, encodeNode } from '../../src/manifest/index.ts'
import { ApiClient } from '../../node/api.ts'
import { API_FILE, API_TOKEN_FILE } from '../../node/repo.ts'
import type { LayoutProgress } from '../../node/output.ts'
import { MAX_DIR_DEPTH, MAX_PART_DEPTH } from '../../protocol/limits.ts'

/** The bar for a daemon's memory through every probe. */
const MAX_DAEMON_RSS_MIB = 512
/** The bar for a cancelled get: the daemon's work stops and its partial output is gone within this. */
const CANCEL_BAR_MS = 1000

/** Peak and current resident memory of a process, from /proc (Linux). */
async function rssMiB (pid: number): Promise<{ peak: number, now: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1])
  return { peak: kib('VmHWM') / 1024, now: kib('VmRSS') / 1024 }
}

async function partials (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(n => n.includes('.dits-partial-'))
}

/** Entries under the partial outputs in `dir` (one level down): how far a layout got. */
async function partialEntries (dir: string): Promise<number> {
  let n = 0
  for (const p of await partials(dir)) n += (await readdir(join(dir, p)).catch(() => [])).length
  return n
}

/** `dits-node get` as a child that the spec interrupts. */
function startGet (args: string[]): { child: ChildProcess, result: Promise<{ code: number | null, stderr: string }> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout?.resume()
  const result = (async () => {
    const [code] = await once(child, 'exit') as [number | null]
    return { code, stderr }
  })()
  return { child, result }
}

/** From `signal` sent until no partial output is left in `dir`: the time the cancellation took. */
async function timeUntilClean (dir: string, send: () => void): Promise<number> {
  const started = performance.now()
  send()
  await waitFor(async () => (await partials(dir)).length === 0, 15_000, 'the partial output to be removed')
  return performance.now() - started
}

describe('hostile manifests from a real libp2p peer against a real daemon (issue 15)', function () {
  this.timeout(180_000)
  let work: string
  let repo: string
  let out: string
  let daemon: RunningDaemon | undefined
  let peer: TestNode | undefined
  const peaks: Record<string, number> = {}

  const r = (...args: string[]): string[] => ['--repo', repo, ...args]

  /** The hostile peer serves `tree` over /dits/chunks/1.0.0. */
  const serve = (tree: CraftedTree): string => {
    peer?.store.putAll(tree.blocks)
    return tree.root.toString()
  }

  /** The daemon's peak memory so far, recorded under `probe` and held to the bar. */
  const checkMemory = async (probe: string): Promise<void> => {
    const { peak } = await rssMiB(daemon?.child.pid as number)
    peaks[probe] = Math.round(peak)
    assert.ok(peak < MAX_DAEMON_RSS_MIB, `daemon peak RSS ${peak.toFixed(0)} MiB after ${probe}`)
  }

  /** A get of `root` fails with exit 1 and `message`, leaves nothing behind, and the daemon stays within its memory. */
  const refused = async (probe: string, root: string, message: RegExp, extra: string[] = []): Promise<{ ms: number, stderr: string }> => {
    const target = join(out, probe)
    const started = performance.now()
    const got = await dits(r('get', root, '-o', target, ...extra))
    const ms = performance.now() - started
    assert.equal(got.code, 1, got.stderr)
    assert.match(got.stderr, message)
    assert.deepEqual(await partials(out), [], 'no partial output')
    assert.ok(!(await readdir(out)).includes(probe), 'no output')
    await checkMemory(probe)
    return { ms, stderr: got.stderr }
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-hostile-'))
    repo = join(work, 'repo')
    out = join(work, 'out')
    await ok(['--repo', repo, 'init'])
    await ok(['--repo', repo, 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
    await mkdir(out)
    daemon = await startDaemon(repo)
    peer = await startNode()
    await ok(r('connect', peer.addr))
  })

  after(async () => {
    await daemon?.stop()
    await stopAll([peer])
    await rm(work, { recursive: true, force: true })
    // the figures of the note: the daemon's peak RSS after each probe
    console.log(`      daemon peak RSS (MiB) through the probes: ${JSON.stringify(peaks)}`)
  })

  it('a directory chain 32,000 deep is refused at MAX_DIR_DEPTH, naming the limit, the path and the CID', async () => {
    const tree = dirChain(32_000)
    const { stderr } = await refused('dir-chain', serve(tree), new RegExp(`deeper than ${MAX_DIR_DEPTH} directory levels \\(MAX_DIR_DEPTH\\)`))
    assert.match(stderr, / at d\/d\/d\/d/)
    assert.match(stderr, /directory bafyr4i\w+/)
  })

  it('a part chain 10,000 deep is refused at MAX_PART_DEPTH', async () => {
    await refused('part-chain', serve(partChain(10_000)), new RegExp(`more than ${MAX_PART_DEPTH} levels of part nodes \\(MAX_PART_DEPTH\\)`))
  })

  it('a zip bomb (1000 x 1000 entries of one file, 3 blocks) is refused before a file is written; --max-entries lets a smaller one through', async () => {
    const { ms } = await refused('zip-bomb', serve(zipBomb(1000, 1000)), /lays out more than 1,000,000 files and directories .*Pass --max-entries/)
    assert.ok(ms < 30_000, `refused in ${ms.toFixed(0)} ms`)
    await refused('zip-bomb-small', serve(zipBomb(10, 10)), /lays out more than 50 files and directories/, ['--max-entries', '50'])
    const fine = JSON.parse(await ok(r('--json', 'get', zipBomb(10, 10).root.toString(), '-o', join(out, 'small-tree'))))
    assert.equal(fine.files, 100)
    assert.equal(fine.dirs, 11)
    await checkMemory('zip-bomb')
  })

  it('a file of 1 PiB of repeated links is refused at once for the free disk space; a size that disagrees with its chunks is refused', async () => {
    const { ms } = await refused('one-pib', serve(repeatedFile()), /needs more space than .* has free: at least .* against .* free/)
    assert.ok(ms < 30_000, `refused in ${ms.toFixed(0)} ms`)
    const { file, chunk } = oneChunkFile(1000)
    const node = decodeNode(file.cid, file.bytes)
    const lying = encodeNode({ ...node, size: 2000 } as typeof node)
    await refused('size-lies', serve({ root: lying.cid, blocks: [lying, chunk] }), /declares 2000 bytes but its (chunks|links) add up to 1000/)
  })

  it('names with newlines and escape sequences are escaped by ls and in messages, kept by --json; names with NUL or .. are refused', async () => {
    const names = ['a\nb', '\x1b[31mred', 'tab\there']
    const root = serve(namedEntries(names))
    await ok(r('get', root, '-o', join(out, 'names')))
    const listed = await ok(r('ls', root))
    assert.ok(!listed.includes('\x1b'), 'no escape sequence reaches the terminal')
    assert.equal(listed.trim().split('\n').length, 3, 'one line per entry')
    for (const shown of ['a\\nb', '\\x1b[31mred', 'tab\\there']) assert.ok(listed.includes(shown), `${shown} in ${listed}`)
    const json = JSON.parse(await ok(r('--json', 'ls', root))) as Array<{ name: string }>
    assert.deepEqual(json.map(e => e.name).sort(), [...names].sort())
    await refused('nul-name', serve(namedEntries(['a\0b'])), /entry name "a\\u0000b" is not a normalized single path segment: it contains NUL/)
    await refused('dotdot-name', serve(namedEntries(['..'])), /entry name "\.\." is not a normalized single path segment/)
  })

  it('Ctrl-C on a get stops the daemon\'s layout within 1 s and removes its partial output; the daemon stays responsive', async () => {
    const root = serve(zipBomb(400, 500))
    const get = startGet(r('get', root, '-o', join(out, 'cancelled')))
    await waitFor(async () => await partialEntries(out) > 2, 30_000, 'the layout to start')
    const ms = await timeUntilClean(out, () => get.child.kill('SIGINT'))
    const { code, stderr } = await get.result
    assert.equal(code, 130, 'Ctrl-C exits 130')
    assert.match(stderr, /get interrupted \(SIGINT\)/)
    assert.ok(ms < CANCEL_BAR_MS, `partial output removed ${ms.toFixed(0)} ms after Ctrl-C`)
    // stopped, not only cleaned: nothing comes back
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.deepEqual(await partials(out), [])
    // the daemon answers at once
    await ok(r('status'))
    await checkMemory('cancel')
    console.log(`      Ctrl-C to partial output removed: ${ms.toFixed(0)} ms`)
  })

  it('the API\'s progress stream counts the tree, then the entries laid out; a closed request stops the layout within 1 s', async () => {
    const root = zipBomb(400, 500).root.toString()
    const api = new ApiClient((await readFile(join(repo, API_FILE), 'utf8')).trim(), (await readFile(join(repo, API_TOKEN_FILE), 'utf8')).trim())
    const layout: LayoutProgress[] = []
    const close = new AbortController()
    const call = api.call('get', { cid: root, out: join(out, 'through-api') }, {
      signal: close.signal,
      onProgress: p => { if ('phase' in p) layout.push(p) }
    })
    call.catch(() => {})
    await waitFor(() => layout.some(p => p.entries_total !== undefined && p.entries > 0), 30_000, 'layout progress with totals')
    const laidOut = layout.filter(p => p.entries_total !== undefined)
    assert.equal(laidOut[0].entries_total, 200_401)
    assert.ok(laidOut.every(p => p.entries <= 200_401 && p.bytes === 0), JSON.stringify(laidOut.slice(0, 3)))
    const ms = await timeUntilClean(out, () => close.abort(new Error('closed by the spec')))
    await assert.rejects(call, /closed by the spec/)
    assert.ok(ms < CANCEL_BAR_MS, `partial output removed ${ms.toFixed(0)} ms after the request closed`)
    await checkMemory('api-cancel')
  })

  it('SIGTERM to the daemon during a layout stops it within 1 s, removing the partial output; a local get (no daemon) cancelled by Ctrl-C cleans up too', async () => {
    const root = zipBomb(400, 500).root.toString()
    const get = startGet(r('get', root, '-o', join(out, 'terminated')))
    await waitFor(async () => await partialEntries(out) > 2, 30_000, 'the layout to start')
    const d = daemon as RunningDaemon
    const exited = once(d.child, 'exit')
    const ms = await timeUntilClean(out, () => d.child.kill('SIGTERM'))
    assert.ok(ms < CANCEL_BAR_MS, `partial output removed ${ms.toFixed(0)} ms after SIGTERM`)
    const [code] = await exited as [number | null]
    assert.equal(code, 0)
    assert.notEqual((await get.result).code, 0)
    daemon = undefined

    // the repo holds the tree's three manifests now: the CLI lays it out itself
    const local = startGet(r('get', root, '-o', join(out, 'local')))
    await waitFor(async () => await partialEntries(out) > 2, 30_000, 'the local layout to start')
    const localMs = await timeUntilClean(out, () => local.child.kill('SIGINT'))
    const result = await local.result
    assert.equal(result.code, 130)
    assert.match(result.stderr, /get interrupted \(SIGINT\)/)
    assert.ok(localMs < CANCEL_BAR_MS, `local partial output removed ${localMs.toFixed(0)} ms after Ctrl-C`)
    console.log(`      SIGTERM to partial output removed: ${ms.toFixed(0)} ms; local get Ctrl-C: ${localMs.toFixed(0)} ms`)
  })
})
