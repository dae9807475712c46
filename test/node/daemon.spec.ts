import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { access, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CliContext } from '../../cli/context.ts'
import { API_FILE, LOCK_FILE, readLockHolder } from '../../node/repo.ts'
import { dits, ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'

/** A port free a moment ago, for a daemon that must come back on the same one. */
async function freePort (): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as { port: number }
  s.close()
  await once(s, 'close')
  return port
}

describe('node/daemon: its local API across restarts and stops (real processes)', function () {
  this.timeout(180_000)
  let work: string
  let repo: string
  let daemon: RunningDaemon | undefined
  const env = { DITS_CONFIG_ADDRESSES__LISTEN: '["/ip4/127.0.0.1/tcp/0"]' }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-daemon-'))
    repo = join(work, 'repo')
    await ok(['--repo', repo, 'init'])
    // a fixed port: a restarted daemon is found at the URL a killed one left behind
    await ok(['--repo', repo, 'config', 'set', 'api.port', String(await freePort())])
  })
  afterEach(async () => {
    if (daemon?.child.pid !== undefined && daemon.child.exitCode === null) process.kill(daemon.child.pid, 'SIGCONT')
    await daemon?.stop()
    daemon = undefined
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  it('a client polling while the daemon is killed and restarted, stopped and restarted, never sees "unauthorized"', async () => {
    const refused: string[] = []
    let answered = 0
    let polling = true
    const poller = (async () => {
      while (polling) {
        // as the CLI does for every verb: find the daemon through <repo>/api and api.token, then call it
        const api = await new CliContext({ repo }).daemon().catch(() => undefined)
        if (api === undefined) {
          await new Promise(resolve => setImmediate(resolve))
          continue
        }
        await api.call('id', {}).then(() => { answered++ }, (err: Error) => { if (/unauthorized/.test(err.message)) refused.push(err.message) })
      }
    })()
    try {
      for (let i = 0; i < 4; i++) {
        daemon = await startDaemon(repo, env)
        const before = answered
        const until = Date.now() + 20_000
        while (answered === before && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 10))
        assert.ok(answered > before, `restart ${i}: the poller reached the daemon`)
        await daemon.stop(i % 2 === 0 ? 'SIGKILL' : 'SIGINT')
        daemon = undefined
      }
    } finally {
      polling = false
      await poller
    }
    assert.deepEqual(refused, [])
  })

  it('a verb that needs the daemon, run while the daemon starts (repo locked, no URL yet), waits for its API', async () => {
    const starting = startDaemon(repo, env)
    const until = Date.now() + 20_000
    let holder: Awaited<ReturnType<typeof readLockHolder>>
    for (;;) {
      holder = await readLockHolder(join(repo, LOCK_FILE))
      if (holder?.command === 'dits-node start') break
      assert.ok(Date.now() < until, 'the daemon took the repo')
      await new Promise(resolve => setTimeout(resolve, 2))
    }
    // held in its start (it owns the repo but has no URL yet) while the verb looks for it
    process.kill(holder.pid, 'SIGSTOP')
    const hasUrl = await access(join(repo, API_FILE)).then(() => true, () => false)
    const verb = dits(['--repo', repo, '--json', 'peers'])
    await new Promise(resolve => setTimeout(resolve, 1500))
    process.kill(holder.pid, 'SIGCONT')
    const r = await verb
    daemon = await starting
    assert.equal(hasUrl, false, 'stopped before it wrote its URL')
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), [])
  })

  it('a verb against a stopped daemon (SIGSTOP) exits 4 naming its pid, URL and repo; after SIGCONT it answers again', async () => {
    daemon = await startDaemon(repo, env)
    const pid = daemon.child.pid as number
    process.kill(pid, 'SIGSTOP')
    try {
      for (const verb of [['id'], ['cat', 'bafkr4ibtqqxw7lmmuf6rg4jqbe2tf3dngmz5pm3gpknzvmcmwdbr7g4s5y'], ['ref', 'ls']]) {
        const started = Date.now()
        const r = await dits(['--repo', repo, ...verb], { env: { DITS_API_TIMEOUT_MS: '500' }, timeoutMs: 30_000 })
        assert.equal(r.code, 4, `${verb.join(' ')}: ${r.stderr}`)
        assert.ok(r.stderr.includes(`the daemon (pid ${pid}) at ${daemon.info.api} for repo ${repo} did not answer`), r.stderr)
        assert.match(r.stderr, /what it was asked may still be done/)
        assert.ok(Date.now() - started < 20_000, `${verb.join(' ')} took ${Date.now() - started} ms`)
      }
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    const id = JSON.parse(await ok(['--repo', repo, '--json', 'id']))
    assert.equal(id.peerId, daemon.info.peerId)
  })
})
