import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dits, ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import { LOG_FILE, LOGS_DIR } from '../../node/log/index.ts'

interface LogLine { level: number, time: string, msg: string, component?: string, [key: string]: unknown }

async function logLines (repo: string, name = LOG_FILE): Promise<LogLine[]> {
  const text = await readFile(join(repo, LOGS_DIR, name), 'utf8')
  return text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as LogLine)
}

/** Real daemons writing their logs: JSON lines in <repo>/logs, errors the API answers logged with their context, rotation. */
describe('logs: a daemon\'s JSON lines in <repo>/logs (CLI)', function () {
  this.timeout(90_000)
  let work: string
  let daemon: RunningDaemon | undefined

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-logs-'))
  })

  afterEach(async () => {
    await daemon?.stop()
    daemon = undefined
  })

  after(async () => {
    await rm(work, { recursive: true, force: true })
  })

  const newRepo = async (name: string): Promise<string> => {
    const repo = join(work, name)
    await ok(['--repo', repo, 'init'])
    await ok(['--repo', repo, 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
    return repo
  }

  it('logs the start, every error the API answers with its op, request number and arguments, and the stop; nothing below info', async () => {
    const repo = await newRepo('a')
    daemon = await startDaemon(repo)
    // a failing op: no consensus voters are configured (exit 2)
    const refSet = await dits(['--repo', repo, 'ref', 'set', 'projects/reel3/cut', 'bafyr4ibik57z44jtoay5bsfmvtn7ofkoudmxyc7vmfsca6qp6j7bf3d72q'])
    assert.equal(refSet.code, 2)
    // a request without the token, answered 401
    const res = await fetch(`${daemon.info.api}/rpc/id`, { method: 'POST', body: '{}' })
    assert.equal(res.status, 401)
    const req = Number(res.headers.get('x-request-id'))
    assert.ok(req >= 1)
    const token = (await readFile(join(repo, 'api.token'), 'utf8')).trim()
    assert.equal(await daemon.stop(), 0)
    daemon = undefined

    const lines = await logLines(repo)
    assert.ok(lines.every(l => l.level >= 30), 'a line below info at the default level')
    assert.ok(lines.every(l => typeof l.time === 'string' && typeof l.pid === 'number'))
    const started = lines.find(l => l.msg === 'daemon started')
    assert.ok(started !== undefined)
    assert.equal(started.peerId, JSON.parse(await ok(['--repo', repo, '--json', 'id'])).peerId)
    const failed = lines.find(l => l.op === 'refSet')
    assert.ok(failed !== undefined, 'the failed ref set is not logged')
    assert.equal(failed.level, 40)
    assert.equal(failed.component, 'dits:api')
    assert.equal(typeof failed.req, 'number')
    assert.deepEqual(failed.args, { name: 'projects/reel3/cut', cid: 'bafyr4ibik57z44jtoay5bsfmvtn7ofkoudmxyc7vmfsca6qp6j7bf3d72q' })
    assert.equal((failed.error as { name: string }).name, 'NoVotersError')
    assert.match(failed.msg, /^refSet failed: no consensus voters configured/)
    const refused = lines.find(l => l.req === req)
    assert.ok(refused !== undefined, 'the 401 is not logged')
    assert.equal(refused.status, 401)
    assert.equal(refused.url, '/rpc/id')
    assert.ok(!JSON.stringify(lines).includes(token), 'the API token is in the log')
    assert.equal(lines[lines.length - 1].msg, 'daemon stopped')
  })

  it('--log-level overrides log.level, and rotation caps the files at log.maxFiles × log.maxFileBytes', async () => {
    const repo = await newRepo('b')
    await ok(['--repo', repo, 'config', 'set', 'log.maxFileBytes', '8192'])
    await ok(['--repo', repo, 'config', 'set', 'log.maxFiles', '3'])
    daemon = await startDaemon(repo, {}, { startArgs: ['--log-level', 'trace'] })
    // a second node connecting makes libp2p log its dial, upgrade and identify at trace
    const other = await newRepo('c')
    const peer = await startDaemon(other)
    try {
      await ok(['--repo', other, 'connect', daemon.info.addresses[0]])
    } finally {
      await peer.stop()
    }
    assert.equal(await daemon.stop(), 0)
    daemon = undefined
    const names = (await readdir(join(repo, LOGS_DIR))).sort()
    assert.deepEqual(names, [LOG_FILE, `${LOG_FILE}.1`, `${LOG_FILE}.2`])
    let all: LogLine[] = []
    for (const name of names) {
      assert.ok((await stat(join(repo, LOGS_DIR, name))).size <= 8192, `${name} is over log.maxFileBytes`)
      all = all.concat(await logLines(repo, name))
    }
    assert.ok(all.some(l => l.level === 10 && typeof l.component === 'string' && l.component.startsWith('libp2p:')), 'no libp2p trace line')
    // the peer's own log (default level) has no trace or debug line
    assert.ok((await logLines(other)).every(l => l.level >= 30))
  })

  it('refuses a --log-level that is not a level (exit 2)', async () => {
    const repo = await newRepo('d')
    const r = await dits(['--repo', repo, 'start', '--log-level', 'loud'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /loud/)
  })
})
