import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { mkdtemp, rm, writeFile, readFile, mkdir, readdir } from 'node:fs/promises'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { dits, ok, startDaemon, ROOT } from '../helpers/cli.ts'
import { DEFAULT_STOP_TIMEOUT_MS } from '../../cli/verbs/start.ts'
import { SERVICE_STOP_MARGIN_S } from '../../node/service-unit.ts'
import { pseudoRandomBytes } from '../src/fastcdc/testdata.ts'

const LAUNCHER = realpathSync(join(ROOT, 'cli', 'launcher.cjs'))
const MiB = 1024 * 1024

/** systemd's own check of a unit file (it reads the file; nothing is given to the running systemd) */
function systemdAnalyze (): string | undefined {
  return ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find(p => existsSync(p))
}

describe('dits-node as a service: the systemd unit, and a clean stop on SIGTERM within a bound', function () {
  this.timeout(180_000)
  let work: string
  let repo: string
  const env = { DITS_CONFIG_ADDRESSES__LISTEN: '["/ip4/127.0.0.1/tcp/0"]' }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-service-'))
    repo = join(work, 'repo')
    await ok(['--repo', repo, 'init', '--role', 'seed'])
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('service install --print: ExecStart is the launcher\'s absolute path with start --repo, Restart=on-failure, a dedicated user, TimeoutStopSec past the stop bound, hardening', async () => {
    const unit = await ok(['--repo', repo, 'service', 'install', '--print'])
    const lines = new Set(unit.split('\n'))
    for (const line of [
      '[Service]', 'Type=simple', `ExecStart=${LAUNCHER} start --repo ${repo}`, 'Restart=on-failure', 'User=dits', 'Group=dits',
      `TimeoutStopSec=${DEFAULT_STOP_TIMEOUT_MS / 1000 + SERVICE_STOP_MARGIN_S}`, 'KillSignal=SIGTERM', 'NoNewPrivileges=yes',
      'ProtectSystem=strict', `ReadWritePaths=${repo}`, 'PrivateTmp=yes', 'WantedBy=multi-user.target'
    ]) assert.ok(lines.has(line), `the unit has ${line}:\n${unit}`)
    assert.match(unit, /^Environment=PATH=\/\S+node\S*:\/usr\/local\/bin:\/usr\/bin:\/bin$/m, 'the Node running now comes first on PATH')
    const analyze = systemdAnalyze()
    if (analyze !== undefined) {
      const file = join(work, 'dits-node.service')
      await writeFile(file, unit)
      execFileSync(analyze, ['verify', file], { stdio: 'pipe' })
    }

    // another bound, another user: both follow
    const r = await dits(['--repo', repo, 'service', 'install', '--print', '--user', 'seed'], { env: { DITS_STOP_TIMEOUT_MS: '12000' } })
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^TimeoutStopSec=17$/m)
    assert.match(r.stdout, /^Environment=DITS_STOP_TIMEOUT_MS=12000$/m)
    assert.match(r.stdout, /^User=seed$/m)
    const json = JSON.parse(await ok(['--repo', repo, '--json', 'service', 'install', '--print']))
    assert.equal(json.unit, unit)
    assert.equal(json.exec, LAUNCHER)
  })

  it('the package ships the unit of a standard install, as --print makes it', async () => {
    const shipped = await readFile(join(ROOT, 'service', 'dits-node.service'), 'utf8')
    assert.equal(shipped, await ok(['--repo', '/var/lib/dits', 'service', 'install', '--print', '--user', 'dits', '--exec', '/usr/local/bin/dits-node'], { env: { DITS_STOP_TIMEOUT_MS: '' } }))
    const files = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }).files
    assert.ok(files.includes('service/dits-node.service'))
  })

  it('service install -o FILE writes it and says what to run; without --print or -o it installs nothing and says how; bad options are exit 2', async () => {
    const file = join(work, 'out.service')
    const w = await ok(['--repo', repo, 'service', 'install', '-o', file])
    assert.match(w, /^wrote .*out\.service; to install it, as root:\n {2}cp .*out\.service \/etc\/systemd\/system\/dits-node\.service\n {2}systemctl daemon-reload\n {2}systemctl enable --now dits-node\n$/)
    assert.equal(await readFile(file, 'utf8'), await ok(['--repo', repo, 'service', 'install', '--print']))
    assert.equal((await dits(['--repo', repo, 'service', 'install', '-o', file])).code, 2, 'an existing file needs --force')
    await ok(['--repo', repo, 'service', 'install', '-o', file, '--force'])
    const say = await ok(['--repo', repo, 'service', 'install'])
    assert.match(say, /^nothing was installed/)
    assert.match(say, /service install --user dits --print > \/etc\/systemd\/system\/dits-node\.service/)
    assert.equal((await dits(['--repo', repo, 'service', 'install', '--user', 'Root; rm'])).code, 2)
    assert.equal((await dits(['--repo', repo, 'service', 'install', '--exec', 'dits-node'])).code, 2)
    assert.equal((await dits(['--repo', repo, 'service', 'install', '--print', '-o', file])).code, 2)
    assert.equal((await dits(['service', 'install', '--help'])).code, 0)
  })

  it('SIGTERM during an add and a get: the daemon exits 0 within the bound; after a restart what was acknowledged is there and verify is clean', async () => {
    await mkdir(join(work, 'kept'))
    await writeFile(join(work, 'kept', 'a.bin'), pseudoRandomBytes(5 * MiB, 1))
    await writeFile(join(work, 'kept', 'b.txt'), 'kept\n')
    await writeFile(join(work, 'big.bin'), pseudoRandomBytes(192 * MiB, 2))
    let daemon = await startDaemon(repo, env)
    const kept = (await ok(['--repo', repo, 'add', join(work, 'kept')])).trim().split('\n').at(-1) as string

    // an add of 192 MiB and a get, both through the daemon, and SIGTERM while they run
    const add = dits(['--repo', repo, '--json', 'add', join(work, 'big.bin')], { env })
    const get = dits(['--repo', repo, '--json', 'get', kept, '-o', join(work, 'got')], { env })
    await new Promise(resolve => setTimeout(resolve, 1500))
    const stopping = performance.now()
    const code = await daemon.stop('SIGTERM')
    const tookMs = performance.now() - stopping
    assert.equal(code, 0)
    assert.ok(tookMs < DEFAULT_STOP_TIMEOUT_MS, `stopped in ${tookMs} ms`)
    const [added, got] = await Promise.all([add, get])
    assert.deepEqual((await readdir(work)).filter(n => n.includes('dits-partial')), [], 'an interrupted get leaves no partial output')

    daemon = await startDaemon(repo, env)
    try {
      const verify = await dits(['--repo', repo, '--json', 'verify'])
      assert.equal(verify.code, 0, verify.stdout + verify.stderr)
      const pins = await ok(['--repo', repo, 'pin', 'ls'])
      assert.ok(pins.includes(kept))
      await ok(['--repo', repo, 'get', kept, '-o', join(work, 'again')])
      assert.equal(await readFile(join(work, 'again', 'b.txt'), 'utf8'), 'kept\n')
      // an add the CLI saw succeed is acknowledged: it must be there, pinned and whole
      if (added.code === 0) {
        const root = JSON.parse(added.stdout).root as string
        assert.ok(pins.includes(root))
        const out = join(work, 'big-again.bin')
        await ok(['--repo', repo, 'get', root, '-o', out])
        assert.equal(createHash('sha256').update(await readFile(out)).digest('hex'), createHash('sha256').update(await readFile(join(work, 'big.bin'))).digest('hex'))
      } else {
        assert.match(added.stderr, /shutting down|went away|closed|interrupted|cannot reach|ended the response/i)
      }
      if (got.code === 0) assert.equal(await readFile(join(work, 'got', 'b.txt'), 'utf8'), 'kept\n')
    } finally {
      await daemon.stop('SIGTERM')
    }
  })

  it('a stop that outlasts the bound (DITS_STOP_TIMEOUT_MS) ends the process anyway, saying so, and the next start recovers', async () => {
    const daemon = await startDaemon(repo, { ...env, DITS_STOP_TIMEOUT_MS: '1' })
    let stderr = ''
    daemon.child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    daemon.child.kill('SIGTERM')
    const [code] = await once(daemon.child, 'exit') as [number | null]
    assert.equal(code, 1)
    assert.match(stderr, /did not stop within 0\.001 s \(DITS_STOP_TIMEOUT_MS\): exiting now; the repo is safe, the next start recovers/)
    const again = await startDaemon(repo, env)
    try {
      assert.equal((await dits(['--repo', repo, 'verify'])).code, 0)
    } finally {
      assert.equal(await again.stop('SIGTERM'), 0)
    }
    assert.equal((await dits(['--repo', repo, 'start'], { env: { ...env, DITS_STOP_TIMEOUT_MS: 'soon' } })).code, 2)
  })
})
