import assert from 'node:assert/strict'
import { request, createServer as createHttpServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { z } from 'zod'
import { ApiServer, ApiClient, parseArgs, rpc, stream, NoArgs, MAX_REQUEST_BYTES } from '../../node/api.ts'
import type { OpTable } from '../../node/api.ts'
import { opTable } from '../../node/op-table.ts'
import { consensusOps } from '../../node/consensus/index.ts'
import { seedOps } from '../../node/seed/ops.ts'
import { requireSeedOps } from '../../node/seed/require-seed.ts'
import { defaultConfig } from '../../config/index.ts'
import { RepoOps } from '../../node/ops.ts'
import { Repo, initRepo, API_TOKEN_FILE } from '../../node/repo.ts'
import { ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One raw HTTP request: node:http lets a test send any Host, Origin and method, as a hostile client would. */
async function http (url: string, init: { method?: string, path: string, headers?: Record<string, string>, body?: string | Buffer }): Promise<Answer> {
  const { port } = new URL(url)
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: init.method ?? 'POST', path: init.path, headers: init.headers }, res => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')))
    req.end(init.body)
  })
}

/** The last NDJSON line of an rpc answer, or the JSON error body of a refused one. */
function final (a: Answer): { result?: unknown, error?: { name: string, message: string, exitCode: number } } {
  return JSON.parse(a.body.trim().split('\n').at(-1) as string)
}

describe('node/api: the local API against hostile callers (a real daemon, real HTTP)', function () {
  this.timeout(120_000)
  let work: string
  let repo: string
  let daemon: RunningDaemon
  let url: string
  let token: string
  let host: string
  const answers: Answer[] = []

  /** `body` as JSON, or as it is when it is a Buffer */
  const call = async (op: string, body: unknown, headers: Record<string, string> = {}, kind = 'rpc'): Promise<Answer> => {
    const a = await http(url, { path: `/${kind}/${op}`, headers: { host, authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: Buffer.isBuffer(body) ? body : JSON.stringify(body) })
    answers.push(a)
    return a
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-api-'))
    repo = join(work, 'repo')
    await ok(['--repo', repo, 'init'])
    daemon = await startDaemon(repo, { DITS_CONFIG_ADDRESSES__LISTEN: '["/ip4/127.0.0.1/tcp/0"]' })
    url = daemon.info.api
    host = new URL(url).host
    token = (await readFile(join(repo, API_TOKEN_FILE), 'utf8')).trim()
  })
  after(async () => {
    await daemon?.stop()
    await rm(work, { recursive: true, force: true })
  })

  describe('bodies are checked against the operation\'s schema (400 naming the field)', () => {
    it('add {"paths":"/etc/hostname"} (a string, not a list) is refused; nothing is added', async () => {
      const a = await call('add', { paths: '/etc/hostname' })
      assert.equal(a.status, 400)
      const { error } = final(a)
      assert.equal(error?.name, 'InvalidArgumentError')
      assert.equal(error?.exitCode, 2)
      assert.match(error?.message ?? '', /"paths": expected array, received string/)
      const stored = (await readdir(join(repo, 'blocks'), { recursive: true, withFileTypes: true })).filter(e => e.isFile())
      assert.deepEqual(stored, [])
    })

    it('{"cid":{"x":1}} to every op that takes a CID is a 400 naming cid, not "input.trim is not a function"', async () => {
      for (const [op, kind, extra] of [['ls', 'rpc', {}], ['stat', 'rpc', {}], ['pinAdd', 'rpc', {}], ['pinRm', 'rpc', {}], ['verify', 'rpc', {}], ['get', 'rpc', { out: join(work, 'o') }], ['cat', 'stream', {}]] as const) {
        const a = await call(op, { cid: { x: 1 }, ...extra }, {}, kind)
        assert.equal(a.status, 400, `${op}: ${a.body}`)
        assert.match(final(a).error?.message ?? '', /"cid": expected string, received object/, op)
      }
    })

    it('a missing field, an unknown field, an out-of-range number, a body that is not an object', async () => {
      const cases: Array<[string, unknown, RegExp, string?]> = [
        ['ls', {}, /"cid" is missing \(expected string\)/],
        ['id', { verbose: true }, /unknown field "verbose" \(no other fields are allowed\)/],
        ['gc', { dryRun: true, force: true }, /unknown field "force" \(allowed: dryRun\)/],
        ['cat', { cid: 'x', offset: -1 }, /"offset" \(--offset\): Too small: expected number to be >=0/, 'stream'],
        ['cat', { cid: 'x', length: 1.5 }, /"length" \(--length\): expected int, received number/, 'stream'],
        ['lockAcquire', { path: 'a', ttlMs: 1e12 }, /"ttlMs" \(--ttl\): Too big: expected number to be <=86400000/],
        ['refSet', { name: 'a', cid: 'b', owner: 'someone-else' }, /unknown field "owner"/],
        ['add', { paths: ['/nonexistent-dits-api-spec'], profile: { name: 'x', min: 1, avg: 2, max: 3, normalization: 1 } }, /"profile" \(--profile or --chunk-size\): min chunk size 1 B is out of range: allowed 64 B\.\.1 MiB/],
        ['add', { paths: [] }, /"paths": Too small: expected array to have >=1 items/],
        ['pinLs', [], /the body: expected object, received array/],
        ['pinLs', null, /the body: expected object, received null/]
      ]
      for (const [op, body, message, kind] of cases) {
        const a = await call(op, body, {}, kind)
        assert.equal(a.status, 400, `${op} ${JSON.stringify(body)}: ${a.body}`)
        assert.match(final(a).error?.message ?? '', message)
      }
    })

    it('a body that is not JSON, or over the size limit, is a 400 that says so', async () => {
      const bad = await call('id', Buffer.from('{"a":'))
      assert.equal(bad.status, 400)
      assert.match(final(bad).error?.message ?? '', /the request body is not JSON/)
      const big = await call('id', { pad: 'x'.repeat(MAX_REQUEST_BYTES) })
      assert.equal(big.status, 400)
      assert.match(final(big).error?.message ?? '', /over the limit of 1048576 bytes/)
    })
  })

  describe('get -o through the daemon', () => {
    let root: string
    before(async () => {
      await mkdir(join(work, 'src'))
      await writeFile(join(work, 'src', 'clip.mov'), 'frames')
      root = (await ok(['--repo', repo, 'add', join(work, 'src', 'clip.mov')])).trim().split('\n').at(-1) as string
    })

    it('a relative output path is a 400 (the daemon\'s working folder is not the caller\'s)', async () => {
      const a = await call('get', { cid: root, out: 'clip.mov' })
      assert.equal(a.status, 400)
      assert.match(final(a).error?.message ?? '', /"out" \(-o\): must be an absolute path/)
    })

    it('a missing parent folder is named, not ENOENT … mkdir of a partial file', async () => {
      const out = join(work, 'no', 'such', 'clip.mov')
      const { error } = final(await call('get', { cid: root, out }))
      assert.equal(error?.name, 'InvalidPathError')
      assert.equal(error?.message, `cannot write ${out}: the folder ${join(work, 'no', 'such')} does not exist (create it first)`)
    })

    it('an existing output is refused without force, as a local get refuses it, and left as it was', async () => {
      const out = join(work, 'existing')
      await writeFile(out, 'mine')
      const { error } = final(await call('get', { cid: root, out }))
      assert.match(error?.message ?? '', /already exists; pass --force to replace it/)
      assert.equal(await readFile(out, 'utf8'), 'mine')
      const forced = final(await call('get', { cid: root, out, force: true }))
      assert.equal((forced.result as { out: string }).out, out)
      assert.equal(await readFile(out, 'utf8'), 'frames')
    })
  })

  describe('only a local process with the token is served', () => {
    it('a Host other than the address it listens on is 403 (DNS rebinding); 127.0.0.1 and localhost with its port are served', async () => {
      const { port } = new URL(url)
      for (const h of ['evil.example', `evil.example:${port}`, `127.0.0.1:${Number(port) + 1}`, '127.0.0.1', `localhost.evil.example:${port}`, `[::1]:${port}`]) {
        const a = await call('id', {}, { host: h })
        assert.equal(a.status, 403, h)
        assert.match(final(a).error?.message ?? '', /forbidden: Host/)
      }
      for (const h of [`127.0.0.1:${port}`, `localhost:${port}`]) assert.equal((await call('id', {}, { host: h })).status, 200, h)
    })

    it('a request with an Origin (a browser) is 403, with the token or not; OPTIONS is 403; no CORS header anywhere', async () => {
      const a = await call('id', {}, { origin: 'http://127.0.0.1:8080' })
      assert.equal(a.status, 403)
      assert.match(final(a).error?.message ?? '', /does not serve browsers/)
      assert.equal((await call('id', {}, { origin: 'null' })).status, 403)
      const pre = await http(url, { method: 'OPTIONS', path: '/rpc/id', headers: { host, origin: 'http://evil.example', 'access-control-request-method': 'POST' } })
      answers.push(pre)
      assert.equal(pre.status, 403)
      const plain = await http(url, { method: 'OPTIONS', path: '/rpc/id', headers: { host } })
      answers.push(plain)
      assert.equal(plain.status, 403)
      for (const x of answers) assert.deepEqual(Object.keys(x.headers).filter(h => h.startsWith('access-control-')), [])
    })

    it('a missing, wrong, shorter, longer or unprefixed token is 401', async () => {
      const without = await http(url, { path: '/rpc/id', headers: { host }, body: '{}' })
      assert.equal(without.status, 401)
      for (const auth of [`Bearer ${'0'.repeat(token.length)}`, `Bearer ${token.slice(1)}`, `Bearer ${token}0`, token, `Basic ${token}`, 'Bearer ']) {
        assert.equal((await call('id', {}, { authorization: auth })).status, 401, auth)
      }
      assert.equal((await call('id', {})).status, 200)
    })
  })

  describe('every op\'s schema against arbitrary JSON (fast-check)', () => {
    const table = ((): OpTable => {
      const t = opTable(undefined as unknown as RepoOps)
      Object.assign(t.rpc, consensusOps(() => undefined))
      Object.assign(t.rpc, seedOps({ ops: undefined as unknown as RepoOps, network: () => undefined, refCid: async () => '' }))
      Object.assign(t.rpc, requireSeedOps({ config: defaultConfig(), network: () => undefined, consensus: () => undefined }))
      return t
    })()
    const ops = [...Object.entries(table.rpc).map(([name, op]) => ({ name, kind: 'rpc', op })), ...Object.entries(table.stream).map(([name, op]) => ({ name, kind: 'stream', op }))]
    /** the fields an op knows, for bodies that get past the first check */
    const fields = (schema: z.ZodType): string[] => schema instanceof z.ZodObject ? Object.keys(schema.shape) : []
    const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }))
    const body = (schema: z.ZodType): fc.Arbitrary<unknown> => fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fields(schema).length === 0 ? fc.constant({}) : fc.dictionary(fc.constantFrom(...fields(schema), 'extra'), value, { maxKeys: 5 })
    )

    it('parseArgs answers every body with arguments or an InvalidArgumentError that names a field or the body', () => {
      for (const { name, op } of ops) {
        const known = fields(op.args)
        fc.assert(fc.property(body(op.args), input => {
          try {
            parseArgs(name, op.args, input)
          } catch (err) {
            assert.equal((err as Error).name, 'InvalidArgumentError', `${name} ${JSON.stringify(input)}: ${(err as Error).message}`)
            assert.ok(new RegExp(`the body|unknown field|"(${known.join('|')})`).test((err as Error).message), (err as Error).message)
          }
        }), { numRuns: 100 })
      }
    })

    it('through the daemon: never a 500 and never a crash — a 400 naming the field, or the op ran and answered with a named error or a result', async () => {
      // Only bodies the schema refuses are sent to ops that change things (add, gc, lock…): a random body
      // that fits could add "/" to the repo. The read-only ops get every body.
      const readOnly = new Set(['id', 'ls', 'stat', 'cat', 'pinLs', 'peers', 'status', 'refLs', 'lockLs'])
      for (const { name, kind, op } of ops) {
        await fc.assert(fc.asyncProperty(body(op.args), async input => {
          const fits = op.args.safeParse(input).success
          if (fits && !readOnly.has(name)) return
          const a = await call(name, input, {}, kind)
          assert.notEqual(a.status, 500, `${name} ${JSON.stringify(input)}: ${a.body}`)
          if (!fits) {
            assert.equal(a.status, 400)
            assert.equal(final(a).error?.name, 'InvalidArgumentError')
          } else if (a.status === 200 && kind === 'rpc') {
            const f = final(a)
            assert.ok(f.result !== undefined || /Error$/.test(f.error?.name ?? ''), a.body)
            assert.ok(!['TypeError', 'RangeError', 'SyntaxError', 'Error'].includes(f.error?.name ?? ''), a.body)
          }
        }), { numRuns: 15 })
      }
      assert.equal(daemon.child.exitCode, null, 'the daemon still runs')
      assert.equal((await call('id', {})).status, 200)
    })
  })
})

describe('node/api: ApiClient against a live, slow or stopped server (in-process, real sockets)', function () {
  this.timeout(60_000)
  let dir: string
  let repoHandle: Repo
  let server: ApiServer | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dits-api-client-'))
    await initRepo(join(dir, 'repo'))
    repoHandle = await Repo.open(join(dir, 'repo'))
  })
  after(async () => {
    await repoHandle.close()
    await rm(dir, { recursive: true, force: true })
  })
  afterEach(async () => { await server?.close() })

  const slowTable: OpTable = {
    rpc: {
      slow: rpc(z.strictObject({ ms: z.number() }), async (a, c) => { await new Promise(resolve => setTimeout(resolve, a.ms)); c.onProgress?.({ checked: 1 }); return 'done' }),
      id: rpc(NoArgs, async () => ({ alive: true }))
    },
    stream: {
      late: stream(NoArgs, async function * () { await new Promise(resolve => setTimeout(resolve, 700)); yield new Uint8Array([1]); await new Promise(resolve => setTimeout(resolve, 700)); yield new Uint8Array([2]) })
    }
  }

  it('a long op that sends nothing for several timeouts is not cut while the daemon answers that it is alive', async () => {
    server = new ApiServer(slowTable, 't0k')
    const url = await server.listen(0)
    const client = new ApiClient(url, 't0k', { timeoutMs: 200 })
    assert.equal(await client.call('slow', { ms: 1200 }), 'done')
    const bytes: number[] = []
    for await (const piece of client.stream('late', {})) bytes.push(...piece)
    assert.deepEqual(bytes, [1, 2])
  })

  it('a 401 from a daemon that restarted with a new token is retried once with the token file\'s new one', async () => {
    await writeFile(join(dir, 'token'), 'new-token\n')
    server = new ApiServer(slowTable, 'new-token')
    const url = await server.listen(0)
    const client = new ApiClient(url, 'old-token', { tokenFile: join(dir, 'token') })
    assert.deepEqual(await client.call('id', {}), { alive: true })
    const stale = new ApiClient(url, 'old-token')
    await assert.rejects(stale.call('id', {}), /unauthorized/)
  })

  it('an answer that is not of this API (an endless line, a line that is not JSON) is an error, not unbounded memory', async () => {
    const rogue = createHttpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      if (req.url === '/rpc/garbage') return res.end('<html>\n')
      const piece = 'x'.repeat(64 * 1024)
      const pump = (): void => { while (!res.destroyed && res.write(piece)); if (!res.destroyed) res.once('drain', pump) }
      pump()
    })
    rogue.listen(0, '127.0.0.1')
    await once(rogue, 'listening')
    try {
      const client = new ApiClient(`http://127.0.0.1:${(rogue.address() as AddressInfo).port}`, 't', { maxLineChars: 1024 * 1024 })
      await assert.rejects(client.call('endless', {}), { name: 'UnavailableError', message: /sent a line of over 1048576 characters in its answer to endless/ })
      await assert.rejects(client.call('garbage', {}), { name: 'UnavailableError', message: /answered garbage with a line that is not JSON: "<html>"/ })
    } finally {
      rogue.closeAllConnections()
      rogue.close()
    }
  })

  it('the CLI\'s direct calls (no daemon) check the same schemas', async () => {
    const table = opTable(new RepoOps(repoHandle))
    assert.throws(() => parseArgs('add', table.rpc.add.args, { paths: '/etc/hostname' }), { name: 'InvalidArgumentError', message: /"paths": expected array/ })
  })
})
