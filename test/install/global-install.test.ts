/**
 * `npm run test:install` (not part of `npm test`: a global install takes about a minute even from npm's cache).
 * Packs the package, installs it globally into a temporary prefix as a user would (`npm install -g`), and runs the
 * installed command with this machine's system Node first on PATH: it must work through the Node 22 the package
 * brings. Needs `npm run build` first (the script does it) and the registry or npm's cache for the dependencies.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, readFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname, delimiter } from 'node:path'
import { promisify } from 'node:util'
import { ROOT, systemNodeOlderThan22 } from '../helpers/cli.ts'

const run = promisify(execFile)
const INSTALL_TIMEOUT_MS = 5 * 60_000

describe('a global install (npm pack, npm install -g --prefix TMP)', function () {
  this.timeout(INSTALL_TIMEOUT_MS + 60_000)
  let work: string
  let command: string
  let env: NodeJS.ProcessEnv
  let version: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-install-'))
    version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
    const old = systemNodeOlderThan22()
    // the system Node first on PATH (else the pinned one npm runs this under), and no npm_* variables of this run
    const path = [...(old === undefined ? [] : [dirname(old.path)]), ...(process.env.PATH ?? '').split(delimiter).filter(d => !d.includes('node_modules'))].join(delimiter)
    env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')))
    env.PATH = path
    env.DITS_CONFIG_DISCOVERY__MDNS = 'false'
    // `dist` is built: pack without running prepare (a second build)
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, env, timeout: INSTALL_TIMEOUT_MS })
    const tgz = (await readdir(work)).find(f => f.endsWith('.tgz')) as string
    await run('npm', ['install', '--global', '--prefix', join(work, 'prefix'), '--prefer-offline', '--no-audit', '--no-fund', join(work, tgz)], { cwd: work, env, timeout: INSTALL_TIMEOUT_MS })
    command = join(work, 'prefix', 'bin', 'dits-node')
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('runs `dits-node --version` with the system Node first on PATH', async () => {
    const { stdout, stderr } = await run(command, ['--version'], { env, timeout: 30_000 })
    assert.equal(stderr, '')
    assert.equal(stdout.trim(), version)
  })

  it('runs verbs from any folder: init, then id on the new repo', async () => {
    const repo = join(work, 'repo')
    await run(command, ['--repo', repo, 'init'], { cwd: tmpdir(), env, timeout: 30_000 })
    const started = performance.now()
    const { stdout } = await run(command, ['--repo', repo, '--json', 'id'], { cwd: tmpdir(), env, timeout: 30_000 })
    process.stdout.write(`      (dits-node id through the installed command: ${Math.round(performance.now() - started)} ms)\n`)
    assert.match((JSON.parse(stdout) as { peerId: string }).peerId, /^12D3KooW/)
  })
})
