/**
 * The installed `dits-node` command (package.json `bin`) runs on whatever `node` is first on PATH. These specs run
 * it on this machine's system Node when that is older than 22 (the case that crashed), and on Node 22.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, mkdir, copyFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, systemNodeOlderThan22 } from '../helpers/cli.ts'

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string, bin: Record<string, string> }
const COMMAND = join(ROOT, pkg.bin['dits-node'])

interface Run { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

async function run (node: string, script: string, args: string[], onSpawn?: (pid: number, stdout: () => string) => void): Promise<Run> {
  const child = spawn(node, [script, ...args], { env: { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  onSpawn?.(child.pid as number, () => stdout)
  const [code, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null]
  clearTimeout(timer)
  return { code, signal, stdout, stderr }
}

describe('the installed dits-node command (launcher)', function () {
  this.timeout(120_000)
  let work: string
  const old = systemNodeOlderThan22()

  before(async () => { work = await mkdtemp(join(tmpdir(), 'dits-launcher-')) })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('is a script that the system Node (< 22) runs, through the Node 22 the package brings', async function () {
    if (old === undefined) this.skip()
    const r = await run(old.path, COMMAND, ['--version'])
    assert.equal(r.stderr, '')
    assert.equal(r.code, 0)
    assert.equal(r.stdout.trim(), pkg.version)
  })

  it('passes on exit codes and arguments unchanged', async function () {
    if (old === undefined) this.skip()
    const r = await run(old.path, COMMAND, ['--repo', join(work, 'none'), 'pin', 'ls'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^dits-node: no repo at .*none/)
  })

  it('passes on a stop signal sent to its pid: the daemon stops cleanly', async function () {
    if (old === undefined) this.skip()
    const repo = join(work, 'repo')
    await run(process.execPath, COMMAND, ['--repo', repo, 'init'])
    const r = await run(old.path, COMMAND, ['--repo', repo, 'start'], (pid, stdout) => {
      const poll = setInterval(() => {
        if (!stdout().includes('ready')) return
        clearInterval(poll)
        process.kill(pid, 'SIGTERM')
      }, 50)
    })
    assert.equal(r.signal, null)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /stopping \(SIGTERM\)…\nstopped\n$/)
  })

  it('says in one line which Node it needs when it finds no Node 22, exit 1', async function () {
    if (old === undefined) this.skip()
    // the launcher alone, where no node package can be resolved
    await mkdir(join(work, 'alone', 'cli'), { recursive: true })
    const alone = join(work, 'alone', 'cli', 'launcher.cjs')
    await copyFile(COMMAND, alone)
    const r = await run(old.path, alone, ['--version'])
    assert.equal(r.code, 1)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr, `dits-node needs Node.js >= 22; found ${old.version}\n`)
  })

  it('runs the CLI in its own process on Node 22', async () => {
    const r = await run(process.execPath, COMMAND, ['--version'])
    assert.equal(r.code, 0)
    assert.equal(r.stdout.trim(), pkg.version)
  })
})
