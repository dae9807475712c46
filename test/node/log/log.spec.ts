import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDaemonLog, formatDebug, humanLine, RotatingFile, LOG_FILE } from '../../../node/log/index.ts'

describe('node/log', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-log-'))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  describe('RotatingFile', () => {
    it('rotates by size and keeps at most maxFiles files, the newest lines in dits.log', async () => {
      const file = new RotatingFile({ dir, maxFileBytes: 1000, maxFiles: 3 })
      for (let i = 0; i < 500; i++) file.write(`${JSON.stringify({ i, pad: 'x'.repeat(40) })}\n`)
      file.close()
      assert.deepEqual((await readdir(dir)).sort(), [LOG_FILE, `${LOG_FILE}.1`, `${LOG_FILE}.2`])
      for (const name of await readdir(dir)) assert.ok((await stat(join(dir, name))).size <= 1000, name)
      const lines = async (name: string): Promise<number[]> => (await readFile(join(dir, name), 'utf8')).trim().split('\n').map(l => JSON.parse(l).i)
      const [older, old, current] = [await lines(`${LOG_FILE}.2`), await lines(`${LOG_FILE}.1`), await lines(LOG_FILE)]
      assert.equal(current[current.length - 1], 499)
      // consecutive across the files, nothing lost between them
      assert.deepEqual([...older, ...old, ...current], Array.from({ length: older.length + old.length + current.length }, (_, k) => older[0] + k))
    })

    it('appends to the file a previous run left, and removes files beyond maxFiles', async () => {
      await writeFile(join(dir, LOG_FILE), 'earlier\n')
      await writeFile(join(dir, `${LOG_FILE}.5`), 'from a run that kept more files\n')
      const file = new RotatingFile({ dir, maxFileBytes: 1000, maxFiles: 2 })
      file.write('now\n')
      file.close()
      file.write('after close: dropped\n')
      assert.equal(await readFile(join(dir, LOG_FILE), 'utf8'), 'earlier\nnow\n')
      assert.deepEqual(await readdir(dir), [LOG_FILE])
    })

    it('cuts a line longer than a whole file, and with one file starts it again empty', async () => {
      const file = new RotatingFile({ dir, maxFileBytes: 100, maxFiles: 1 })
      file.write('a'.repeat(60) + '\n')
      file.write('b'.repeat(500) + '\n')
      file.close()
      const text = await readFile(join(dir, LOG_FILE), 'utf8')
      assert.equal(text, 'b'.repeat(99) + '\n')
    })
  })

  describe('createDaemonLog', () => {
    it('writes JSON lines at the level and above; a terminal gets the human form, a pipe nothing', async () => {
      const tty: string[] = []
      const pipe: string[] = []
      const log = createDaemonLog({ dir, level: 'info', stderr: { isTTY: true, write: (t: string) => tty.push(t) } })
      const quiet = createDaemonLog({ dir: join(dir, 'other'), level: 'info', stderr: { isTTY: false, write: (t: string) => pipe.push(t) } })
      log.logger.debug('not at info')
      log.logger.warn({ op: 'refSet', req: 7 }, 'ref set failed')
      quiet.logger.warn('to the file only')
      log.close()
      quiet.close()
      const lines = (await readFile(join(dir, LOG_FILE), 'utf8')).trim().split('\n').map(l => JSON.parse(l))
      assert.equal(lines.length, 1)
      assert.deepEqual([lines[0].level, lines[0].msg, lines[0].op, lines[0].req], [40, 'ref set failed', 'refSet', 7])
      assert.match(lines[0].time, /^\d{4}-\d\d-\d\dT/)
      assert.equal(tty.length, 1)
      assert.match(tty[0], /^\d\d:\d\d:\d\d\.\d{3} WARN  ref set failed {2}op=refSet req=7\n$/)
      assert.deepEqual(pipe, [])
      assert.equal((await readFile(join(dir, 'other', LOG_FILE), 'utf8')).split('\n').length, 2)
    })

    it('routes libp2p debug loggers: dits components at debug (errors at warn), libp2p\'s own at trace', async () => {
      const log = createDaemonLog({ dir, level: 'debug', stderr: { isTTY: false, write: () => {} } })
      const net = log.componentLogger.forComponent('dits:net')
      const dial = log.componentLogger.forComponent('libp2p:dialer')
      const kad = log.componentLogger.forComponent('dits:kad:routing-table')
      assert.equal(net.enabled, true)
      assert.equal(dial.enabled, false)
      net('seed %s unreachable: %s', '/ip4/10.0.0.2/tcp/4101', 'refused')
      net.error('hello with %p failed - %e', 'peerX', new Error('timeout'))
      dial('dialing %a', '/ip4/1.2.3.4/tcp/1')
      dial.error('dial failed - %e', new Error('refused'))
      kad.error('query failed')
      net.newScope('sub')('scoped')
      log.close()
      const lines = (await readFile(join(dir, LOG_FILE), 'utf8')).trim().split('\n').map(l => JSON.parse(l))
      assert.deepEqual(lines.map(l => [l.level, l.component, l.msg]), [
        [20, 'dits:net', 'seed /ip4/10.0.0.2/tcp/4101 unreachable: refused'],
        [40, 'dits:net', 'hello with peerX failed - Error: timeout'],
        [20, 'libp2p:dialer', 'dial failed - Error: refused'],
        [20, 'dits:kad:routing-table', 'query failed'],
        [20, 'dits:net:sub', 'scoped']
      ])
    })
  })

  it('formatDebug reads the debug module\'s specifiers and appends what is left over', () => {
    assert.equal(formatDebug('a %s b %d c %%', ['x', '42', 'extra']), 'a x b 42 c % extra')
    assert.equal(formatDebug('bytes %b, obj %o', [Uint8Array.of(1, 255), { k: [1, 2] }]), 'bytes 01ff, obj { k: [ 1, 2 ] }')
    assert.equal(formatDebug('missing %s and %s', ['one']), 'missing one and %s')
    assert.equal(formatDebug(new Error('boom'), []).startsWith('Error: boom'), true)
  })

  it('humanLine cuts long values and passes a line that is not JSON through', () => {
    const line = humanLine(JSON.stringify({ level: 50, time: '2026-12-07T21:55:01.123Z', pid: 1, component: 'dits:api', msg: 'm', big: 'y'.repeat(500) }) + '\n')
    assert.equal(line, `21:55:01.123 ERROR dits:api m  big=${'y'.repeat(200)}…\n`)
    assert.equal(humanLine('plain\n'), 'plain\n')
  })
})
