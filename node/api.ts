/**
 * The daemon's local HTTP API (127.0.0.1 only). Every request carries `Authorization: Bearer <api.token>`.
 *
 * `GET /metrics` answers the daemon's metrics in the Prometheus text format (node/metrics), with the same token.
 *
 * `POST /rpc/<op>` with a JSON body of arguments answers NDJSON: zero or more `{"progress":…}` lines, then one
 * `{"result":…}` or `{"error":{"name","message","exitCode"}}`. `POST /stream/<op>` answers raw bytes
 * (`cat`); an error before the first byte is a JSON error body, a later one aborts the response.
 *
 * Trust model: the API is for the daemon's own user. Its token sits in the repo (0600), so whoever can read it
 * can already read the repo; a call runs with the daemon's rights. What the API refuses is everything that
 * does not come from such a local process: a `Host` other than the address it listens on (a web page that
 * rebinds a DNS name to 127.0.0.1), any request a browser sends with an `Origin`, CORS preflights; and every
 * body is checked against its operation's schema before the operation sees it (a 400 that names the field).
 *
 * The one exception is `/dashboard/…` (node/dashboard/server.ts), the page a browser shows: after the same `Host`
 * check it goes to the dashboard, which checks the `Origin` is its own and takes a session cookie instead of the
 * token — and serves nothing but read-only GETs. The cookie opens nothing here: `/rpc` and `/stream` take the token.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse, Server } from 'node:http'
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { DitsError, UnavailableError, NotFoundError } from '../src/errors.ts'
import type { ExitCode } from '../src/errors.ts'
import { InvalidArgumentError, BadRequestError, DaemonNotAnsweringError, RemoteError } from './api-errors.ts'
import type { OpContext, Progress } from './ops.ts'
import type { Scrape } from './metrics/listener.ts'
import type { Logger } from './log/index.ts'
import type { DashboardServer } from './dashboard/server.ts'

/** Request bodies are small JSON argument objects. */
export const MAX_REQUEST_BYTES = 1024 * 1024
/**
 * How long the CLI waits for a daemon to answer before it asks whether the daemon is alive at all, and how long
 * it waits for that answer: a stopped daemon (SIGSTOP, a hung machine) is reported after at most twice this.
 */
export const DEFAULT_API_TIMEOUT_MS = 10_000
/**
 * Longest line of an rpc answer the client takes, in characters: a result is one line (an `ls` of a directory of a
 * million entries is ~150 MB), and a daemon gone wrong must not grow the client without end.
 */
export const DEFAULT_MAX_ANSWER_LINE_CHARS = 512 * 1024 * 1024
/**
 * How long close() waits for the requests it aborted to finish their cleanup (a cancelled get removes its partial
 * output) before the daemon goes on stopping without them.
 */
export const DEFAULT_CLOSE_GRACE_MS = 5000
export { InvalidArgumentError, BadRequestError, DaemonNotAnsweringError, RemoteError }

/** Progress is advisory: at most this often a line. */
const PROGRESS_INTERVAL_MS = 100
/** Issues named in one 400 answer. */
const MAX_ISSUES_SHOWN = 5

/** One operation: the schema of its arguments and what it does with arguments that fit. */
export interface RpcOp<A = any> {
  args: z.ZodType<A>
  run: (args: A, ctx: OpContext) => Promise<unknown>
}

export interface StreamOp<A = any> {
  args: z.ZodType<A>
  run: (args: A, ctx: OpContext) => AsyncIterable<Uint8Array>
}

export interface OpTable {
  rpc: Record<string, RpcOp>
  stream: Record<string, StreamOp>
}

/** An operation: its schema and its body, typed together. */
export function rpc<S extends z.ZodType> (args: S, run: (args: z.output<S>, ctx: OpContext) => Promise<unknown>): RpcOp<z.output<S>> {
  return { args: args as z.ZodType<z.output<S>>, run }
}

export function stream<S extends z.ZodType> (args: S, run: (args: z.output<S>, ctx: OpContext) => AsyncIterable<Uint8Array>): StreamOp<z.output<S>> {
  return { args: args as z.ZodType<z.output<S>>, run }
}

/** The schema of an operation that takes no arguments. */
export const NoArgs = z.strictObject({})

/**
 * `input` checked against the schema of operation `op`: its arguments, or an InvalidArgumentError naming every
 * field that is wrong (a wrong type, a missing or unknown field, a value out of range) and what is allowed.
 */
export function parseArgs<A> (op: string, schema: z.ZodType<A>, input: unknown): A {
  const r = schema.safeParse(input)
  if (r.success) return r.data
  const issues = r.error.issues.slice(0, MAX_ISSUES_SHOWN).map(i => describeIssue(schema, i))
  const more = r.error.issues.length - issues.length
  throw new InvalidArgumentError(`invalid arguments for ${op}: ${issues.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`)
}

function describeIssue (schema: z.ZodType, issue: z.core.$ZodIssue): string {
  const field = issue.path.map((p, i) => typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`).join('')
  if (issue.code === 'unrecognized_keys') {
    const at = field === '' ? '' : `${field}.`
    const allowed = field === '' && schema instanceof z.ZodObject ? Object.keys(schema.shape) : []
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(k => `"${at}${k}"`).join(', ')} (${allowed.length > 0 ? `allowed: ${allowed.join(', ')}` : 'no other fields are allowed'})`
  }
  const message = issue.message.replace(/^Invalid input: /, '')
  if (field === '') return `the body: ${message}`
  // a field whose schema is described with the CLI option that sets it names that option too
  const top = issue.path[0]
  const option = schema instanceof z.ZodObject && typeof top === 'string' ? (schema.shape[top] as z.ZodType | undefined)?.description : undefined
  const name = `"${field}"${option === undefined ? '' : ` (${option})`}`
  if (issue.code === 'invalid_type' && message.endsWith('received undefined')) return `${name} is missing (${message.replace(/, received undefined$/, '')})`
  return `${name}: ${message}`
}

export function newApiToken (): string {
  return randomBytes(32).toString('hex')
}

export interface ApiServerInit {
  /** what `GET /metrics` answers; 404 without it */
  scrape?: Scrape
  /** where every error the API answers is logged, with its context (op, request number, request id, arguments) */
  log?: Logger
  /** the dashboard's pages under `/dashboard/`; absent (config dashboard.enabled false): they answer 404 */
  dashboard?: DashboardServer
}

export class ApiServer {
  private readonly server: Server
  /** SHA-256 of the token: comparing digests takes the same time whatever the length of what was sent */
  private readonly tokenDigest: Buffer
  private readonly table: OpTable
  private readonly inflight = new Set<AbortController>()
  /** the handlers running, so that close() lets the aborted ones clean up */
  private readonly handling = new Set<Promise<void>>()
  private hosts = new Set<string>()
  private readonly scrape?: Scrape
  private readonly log?: Logger
  private readonly dashboard?: DashboardServer
  /** numbers the requests, for the logs and the `x-request-id` header */
  private requests = 0

  constructor (table: OpTable, token: string, init: ApiServerInit = {}) {
    this.table = table
    this.scrape = init.scrape
    this.log = init.log
    this.dashboard = init.dashboard
    this.tokenDigest = digest(token)
    this.server = createServer((req, res) => {
      const handled: Promise<void> = this.handle(req, res).catch(() => { res.destroy() }).finally(() => this.handling.delete(handled))
      this.handling.add(handled)
    })
  }

  async listen (port: number): Promise<string> {
    this.server.listen(port, '127.0.0.1')
    await once(this.server, 'listening')
    const { port: bound } = this.server.address() as AddressInfo
    this.hosts = new Set([`127.0.0.1:${bound}`, `localhost:${bound}`])
    return `http://127.0.0.1:${bound}`
  }

  /** Abort every request in flight, let them clean up (DEFAULT_CLOSE_GRACE_MS at most), then close. */
  async close (): Promise<void> {
    for (const c of this.inflight) c.abort(new UnavailableError('the daemon is shutting down'))
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.allSettled(this.handling),
      new Promise<void>(resolve => { timer = setTimeout(resolve, DEFAULT_CLOSE_GRACE_MS) })
    ])
    clearTimeout(timer)
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  private authorized (req: IncomingMessage): boolean {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
    return m != null && timingSafeEqual(digest(m[1]), this.tokenDigest)
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const context: RequestContext = { req: ++this.requests, method: req.method ?? '', url: (req.url ?? '').slice(0, MAX_LOGGED_CHARS) }
    res.setHeader('x-request-id', String(context.req))
    const refuse = (status: number, err: unknown): void => {
      this.logError(context, err, status)
      sendError(res, status, err)
    }
    // Before anything else, and before the token: these are the requests a web page can make a browser send.
    const host = req.headers.host ?? ''
    if (!this.hosts.has(host.toLowerCase())) return refuse(403, new DitsError(`forbidden: Host "${host}" is not this API's address (${[...this.hosts].join(' or ')})`))
    if (/^\/dashboard(?:[/?]|$)/.test(req.url ?? '')) {
      if (this.dashboard === undefined) return refuse(404, new DitsError('the dashboard is off (config dashboard.enabled is false)'))
      return await this.dashboard.handle(req, res, host.toLowerCase())
    }
    if (req.headers.origin !== undefined) return refuse(403, new DitsError('forbidden: the API does not serve browsers (the request has an Origin)'))
    if (req.method === 'OPTIONS') return refuse(403, new DitsError('forbidden: the API does not answer CORS preflights'))
    if (!this.authorized(req)) return refuse(401, new DitsError('unauthorized: the request lacks the token from <repo>/api.token'))
    if (req.url === '/metrics' && this.scrape !== undefined) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(405, new DitsError(`use GET /metrics, not ${req.method ?? ''}`))
      const { contentType, body } = await this.scrape()
      res.writeHead(200, { 'content-type': contentType })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    const m = /^\/(rpc|stream)\/([a-zA-Z]+)$/.exec(req.url ?? '')
    if (req.method !== 'POST' || m == null) return refuse(404, new DitsError(`no such endpoint: ${req.method ?? ''} ${req.url ?? ''}`))
    const [, kind, name] = m
    context.op = name
    const op = kind === 'rpc' ? this.table.rpc[name] : this.table.stream[name]
    if (op === undefined) return refuse(404, new DitsError(`the daemon has no operation "${name}"`))
    let args: unknown
    try {
      args = parseArgs(name, op.args, parseBody(await readBody(req)))
    } catch (err) {
      return refuse(400, err)
    }
    Object.assign(context, describeArgs(args))
    const controller = new AbortController()
    this.inflight.add(controller)
    res.on('close', () => { if (!res.writableFinished) controller.abort(new DitsError('the client went away')) })
    const onError = (err: unknown, status: number): void => { this.logError(context, err, status, controller.signal.aborted) }
    try {
      if (kind === 'rpc') await runRpc(op as RpcOp, args, res, controller.signal, onError)
      else await runStream(op as StreamOp, args, res, controller.signal, onError)
    } finally {
      this.inflight.delete(controller)
    }
  }

  /**
   * An error the API answers, logged with its request's context: `error` for a fault of the daemon (exit 1, HTTP
   * 500), `warn` for what the caller can act on (usage, conflict, unavailable, refused), `info` once the client
   * went away or the daemon stops (nobody reads the answer).
   */
  private logError (context: RequestContext, err: unknown, status: number, aborted = false): void {
    if (this.log === undefined) return
    const e = serializeError(err)
    const level = aborted ? 'info' : status === 500 || (status === 200 && e.exitCode === 1) || status === 422 ? 'error' : 'warn'
    const causes = (err as { errors?: unknown[] }).errors
    this.log[level]({
      ...context,
      status,
      error: e,
      ...(Array.isArray(causes) && causes.length > 0 ? { causes: causes.slice(0, MAX_LOGGED_CAUSES).map(c => String((c as Error).message ?? c).slice(0, MAX_LOGGED_CHARS)) } : {})
    }, `${context.op ?? `${context.method} ${context.url}`} failed: ${e.message.slice(0, MAX_LOGGED_CHARS)}`)
  }
}

/** What a log line says of the request an error answered. */
interface RequestContext {
  /** the request's number in this daemon (its `x-request-id` header) */
  req: number
  method: string
  url: string
  op?: string
  /** the caller's `--request-id`, for the commands that take one */
  requestId?: string
  /** the peer an operation names (cluster add, access grant, …) */
  peer?: string
  /** the other arguments, each cut to MAX_LOGGED_CHARS */
  args?: Record<string, unknown>
}

/** A logged argument or message is cut to this many characters, and at most this many causes are listed. */
const MAX_LOGGED_CHARS = 300
const MAX_LOGGED_CAUSES = 5
const MAX_LOGGED_ARGS = 12

function describeArgs (args: unknown): Pick<RequestContext, 'requestId' | 'peer' | 'args'> {
  if (args == null || typeof args !== 'object') return {}
  const out: Pick<RequestContext, 'requestId' | 'peer' | 'args'> = {}
  const rest: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(args).slice(0, MAX_LOGGED_ARGS)) {
    if (k === 'requestId' && typeof v === 'string') out.requestId = v
    else if (k === 'peer' && typeof v === 'string') out.peer = v
    else rest[k] = typeof v === 'string' ? v.slice(0, MAX_LOGGED_CHARS) : typeof v === 'object' && v !== null ? JSON.stringify(v).slice(0, MAX_LOGGED_CHARS) : v
  }
  if (Object.keys(rest).length > 0) out.args = rest
  return out
}

function digest (token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

type OnError = (err: unknown, status: number) => void

async function runRpc (op: RpcOp, args: unknown, res: ServerResponse, signal: AbortSignal, onError: OnError): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' })
  // The headers now, not with the first line: they tell the client the daemon took the call.
  res.flushHeaders()
  let last = 0
  const onProgress = (progress: Progress): void => {
    const now = performance.now()
    if (now - last < PROGRESS_INTERVAL_MS) return
    last = now
    res.write(JSON.stringify({ progress }) + '\n')
  }
  try {
    const result = await op.run(args, { signal, onProgress })
    res.end(JSON.stringify({ result: result ?? null }) + '\n')
  } catch (err) {
    onError(err, 200)
    res.end(JSON.stringify({ error: serializeError(err) }) + '\n')
  }
}

async function runStream (op: StreamOp, args: unknown, res: ServerResponse, signal: AbortSignal, onError: OnError): Promise<void> {
  let first: IteratorResult<Uint8Array>
  let it: AsyncIterator<Uint8Array>
  try {
    it = op.run(args, { signal })[Symbol.asyncIterator]()
    first = await it.next()
  } catch (err) {
    onError(err, statusOf(err))
    return sendError(res, statusOf(err), err)
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream' })
  try {
    for (let r = first; r.done !== true; r = await it.next()) {
      if (!res.write(r.value)) await once(res, 'drain')
    }
    res.end()
  } catch (err) {
    // the bytes so far went out: the client sees the stream cut
    onError(err, 200)
    res.destroy()
  }
}

/** The HTTP status of an operation's error, by its exit code: only a fault of the daemon itself is a 500. */
function statusOf (err: unknown): number {
  if (err instanceof NotFoundError) return 404
  switch ((err as { exitCode?: number }).exitCode) {
    case 2: return 400
    case 3: return 409
    case 4: return 503
    default: return err instanceof DitsError ? 422 : 500
  }
}

function serializeError (err: unknown): { name: string, message: string, exitCode: number } {
  const e = err as Error & { exitCode?: number }
  return { name: e.name ?? 'Error', message: e.message ?? String(err), exitCode: e.exitCode ?? 1 }
}

function sendError (res: ServerResponse, status: number, err: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: serializeError(err) }))
}

function parseBody (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new BadRequestError(`the request body is not JSON: ${(err as Error).message}`)
  }
}

async function readBody (req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_REQUEST_BYTES) throw new BadRequestError(`the request body (${declared} bytes) is over the limit of ${MAX_REQUEST_BYTES} bytes`)
  let size = 0
  const parts: Buffer[] = []
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.byteLength
    if (size > MAX_REQUEST_BYTES) throw new BadRequestError(`the request body is over the limit of ${MAX_REQUEST_BYTES} bytes`)
    parts.push(part)
  }
  return Buffer.concat(parts).toString('utf8') || '{}'
}

export interface ApiClientInit {
  /** the daemon's pid, named when it does not answer */
  pid?: number
  /** the repo the daemon serves, named when it does not answer */
  repo?: string
  /** where the token is: read again when the daemon answers 401 (it restarted with a new one) */
  tokenFile?: string
  /**
   * How long to wait for any sign of the daemon (the answer's headers, a progress line, a byte) before asking
   * whether it is alive, and how long to wait for that answer.
   * @default DEFAULT_API_TIMEOUT_MS
   */
  timeoutMs?: number
  /** @default DEFAULT_MAX_ANSWER_LINE_CHARS */
  maxLineChars?: number
}

/** The CLI's side of the API. */
export class ApiClient {
  readonly url: string
  private token: string
  private readonly init: ApiClientInit
  private readonly timeoutMs: number
  private readonly maxLineChars: number

  constructor (url: string, token: string, init: ApiClientInit = {}) {
    this.url = url
    this.token = token
    this.init = init
    this.timeoutMs = init.timeoutMs ?? DEFAULT_API_TIMEOUT_MS
    this.maxLineChars = init.maxLineChars ?? DEFAULT_MAX_ANSWER_LINE_CHARS
  }

  async call<T> (op: string, args: unknown, ctx: OpContext = {}): Promise<T> {
    const watch = new Watchdog(this, op, ctx.signal)
    try {
      const res = await watch.guard(this.post(`/rpc/${op}`, args, watch.signal))
      if (res.body == null) throw new UnavailableError('the daemon closed the connection')
      // the current line in pieces: each piece is searched for the end of the line once, however long the line
      let pieces: string[] = []
      let pending = 0
      const decoder = new TextDecoder()
      const reader = res.body[Symbol.asyncIterator]()
      for (;;) {
        const next = await watch.guard(reader.next())
        if (next.done === true) break
        const text = decoder.decode(next.value, { stream: true })
        let start = 0
        for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
          pieces.push(text.slice(start, nl))
          const line = pieces.join('')
          pieces = []
          pending = 0
          start = nl + 1
          const msg = this.parseLine<T>(line, op)
          if (msg.progress !== undefined) ctx.onProgress?.(msg.progress)
          else if (msg.error !== undefined) throw new RemoteError(msg.error.name, msg.error.message, msg.error.exitCode)
          else return msg.result as T
        }
        pieces.push(text.slice(start))
        pending += text.length - start
        if (pending > this.maxLineChars) throw new UnavailableError(`${this.describe()} sent a line of over ${this.maxLineChars} characters in its answer to ${op}: not an answer of this API`)
      }
      throw new UnavailableError(`the daemon at ${this.url} ended the response to ${op} without a result (did it stop?)`)
    } finally {
      watch.done()
    }
  }

  async * stream (op: string, args: unknown, ctx: OpContext = {}): AsyncGenerator<Uint8Array> {
    const watch = new Watchdog(this, op, ctx.signal)
    try {
      const res = await watch.guard(this.post(`/stream/${op}`, args, watch.signal))
      if (res.body == null) return
      const reader = res.body[Symbol.asyncIterator]()
      for (;;) {
        // only the wait for the daemon is watched, not the time the consumer takes
        const next = await watch.guard(reader.next())
        if (next.done === true) return
        yield next.value
      }
    } finally {
      watch.done()
    }
  }

  private parseLine<T> (line: string, op: string): { progress?: Progress, result?: T, error?: { name: string, message: string, exitCode: ExitCode } } {
    try {
      return JSON.parse(line)
    } catch {
      throw new UnavailableError(`${this.describe()} answered ${op} with a line that is not JSON: ${JSON.stringify(line.slice(0, 80))}`)
    }
  }

  /** Whether the daemon answers at all (any HTTP answer will do) within the timeout. */
  async alive (): Promise<boolean> {
    try {
      await this.send('/rpc/id', {}, AbortSignal.timeout(this.timeoutMs))
      return true
    } catch {
      return false
    }
  }

  /** Who did not answer, in the words of an error. */
  describe (): string {
    return `the daemon${this.init.pid === undefined ? '' : ` (pid ${this.init.pid})`} at ${this.url}${this.init.repo === undefined ? '' : ` for repo ${this.init.repo}`}`
  }

  get waitMs (): number {
    return this.timeoutMs
  }

  private async post (path: string, args: unknown, signal: AbortSignal): Promise<Response> {
    let res = await this.send(path, args, signal)
    if (res.status === 401 && this.init.tokenFile !== undefined) {
      // A daemon that restarted has a new token: a 401 ran nothing, so the call may be sent again once.
      const token = (await readFile(this.init.tokenFile, 'utf8').catch(() => this.token)).trim()
      if (token !== this.token) {
        this.token = token
        await res.body?.cancel()
        res = await this.send(path, args, signal)
      }
    }
    if (res.status !== 200) {
      const body = await res.json().catch(() => ({})) as { error?: { name: string, message: string, exitCode: ExitCode } }
      const e = body.error ?? { name: 'DitsError', message: `the daemon answered HTTP ${res.status}`, exitCode: 1 }
      throw new RemoteError(e.name, e.message, e.exitCode)
    }
    return res
  }

  private async send (path: string, args: unknown, signal: AbortSignal): Promise<Response> {
    try {
      return await fetch(this.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(args),
        signal
      })
    } catch (err) {
      if (signal.aborted) throw signal.reason
      throw new UnavailableError(`cannot reach ${this.describe()}: ${((err as Error).cause as Error)?.message ?? (err as Error).message}`)
    }
  }
}

/**
 * Watches one call: while the client waits for the daemon, a timer runs; when it fires, the client asks the
 * daemon whether it is alive (a healthy daemon busy with a long `get` or a lock wait answers at once); if that
 * goes unanswered too, the call is aborted with a DaemonNotAnsweringError naming the daemon. Any sign of life
 * (headers, a progress line, bytes) restarts the timer.
 */
class Watchdog {
  private readonly client: ApiClient
  private readonly op: string
  private readonly controller = new AbortController()
  readonly signal: AbortSignal
  private timer?: NodeJS.Timeout
  private probing = false
  private finished = false

  constructor (client: ApiClient, op: string, caller?: AbortSignal) {
    this.client = client
    this.op = op
    this.signal = caller === undefined ? this.controller.signal : AbortSignal.any([caller, this.controller.signal])
  }

  /** `work`, watched: the timer runs until it settles. */
  async guard<T> (work: Promise<T>): Promise<T> {
    this.arm()
    try {
      return await work
    } catch (err) {
      throw this.signal.aborted ? this.signal.reason : err
    } finally {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  done (): void {
    this.finished = true
    clearTimeout(this.timer)
  }

  private arm (): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.check() }, this.client.waitMs)
  }

  private check (): void {
    if (this.probing || this.finished) return
    this.probing = true
    this.client.alive().then(alive => {
      this.probing = false
      if (this.finished) return
      if (!alive) {
        const secs = this.client.waitMs / 1000
        this.controller.abort(new DaemonNotAnsweringError(`${this.client.describe()} did not answer ${this.op} for ${secs} s nor a check that it is alive for ${secs} s more (is it stopped or hung?); if it resumes, what it was asked may still be done`))
      } else if (this.timer !== undefined) {
        this.arm()
      }
    }, () => { this.probing = false })
  }
}
