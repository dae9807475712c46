/**
 * The daemon's local HTTP API (127.0.0.1 only). Every request carries `Authorization: Bearer <api.token>`.
 *
 * `POST /rpc/<op>` with a JSON body of arguments answers NDJSON: zero or more `{"progress":…}` lines, then one
 * `{"result":…}` or `{"error":{"name","message","exitCode"}}`. `POST /stream/<op>` answers raw bytes
 * (`cat`); an error before the first byte is a JSON error body, a later one aborts the response.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse, Server } from 'node:http'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { DitsError, UnavailableError } from '../src/errors.ts'
import type { ExitCode } from '../src/errors.ts'
import type { OpContext, Progress } from './ops.ts'

/** Request bodies are small JSON argument objects. */
const MAX_REQUEST_BYTES = 1024 * 1024
/** How long the CLI waits to reach a daemon that the api file names. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000

export type Op = (args: any, ctx: OpContext) => Promise<unknown>
export type StreamOp = (args: any, ctx: OpContext) => AsyncIterable<Uint8Array>

export interface OpTable {
  rpc: Record<string, Op>
  stream: Record<string, StreamOp>
}

/** An error that crossed the API: keeps the daemon-side name, message and exit code. */
export class RemoteError extends DitsError {
  static override name = 'RemoteError'
  override readonly exitCode: ExitCode

  constructor (name: string, message: string, exitCode: ExitCode) {
    super(message)
    this.name = name
    this.exitCode = exitCode
  }
}

export function newApiToken (): string {
  return randomBytes(32).toString('hex')
}

export class ApiServer {
  private readonly server: Server
  private readonly token: Buffer
  private readonly table: OpTable
  private readonly inflight = new Set<AbortController>()

  constructor (table: OpTable, token: string) {
    this.table = table
    this.token = Buffer.from(token)
    this.server = createServer((req, res) => { this.handle(req, res).catch(() => res.destroy()) })
  }

  async listen (port: number): Promise<string> {
    this.server.listen(port, '127.0.0.1')
    await once(this.server, 'listening')
    const { port: bound } = this.server.address() as AddressInfo
    return `http://127.0.0.1:${bound}`
  }

  /** Abort every request in flight, then close. */
  async close (): Promise<void> {
    for (const c of this.inflight) c.abort(new UnavailableError('the daemon is shutting down'))
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  private authorized (req: IncomingMessage): boolean {
    const given = Buffer.from((req.headers.authorization ?? '').replace(/^Bearer /, ''))
    return given.length === this.token.length && timingSafeEqual(given, this.token)
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.authorized(req)) return sendError(res, 401, new DitsError('unauthorized: the request lacks the token from <repo>/api.token'))
    const m = /^\/(rpc|stream)\/([a-zA-Z]+)$/.exec(req.url ?? '')
    if (req.method !== 'POST' || m == null) return sendError(res, 404, new DitsError(`no such endpoint: ${req.method ?? ''} ${req.url ?? ''}`))
    const [, kind, name] = m
    const op = kind === 'rpc' ? this.table.rpc[name] : this.table.stream[name]
    if (op === undefined) return sendError(res, 404, new DitsError(`the daemon has no operation "${name}"`))
    let args: unknown
    try {
      args = JSON.parse(await readBody(req))
    } catch (err) {
      return sendError(res, 400, new DitsError(`bad request body: ${(err as Error).message}`))
    }
    const controller = new AbortController()
    this.inflight.add(controller)
    res.on('close', () => { if (!res.writableFinished) controller.abort(new DitsError('the client went away')) })
    try {
      if (kind === 'rpc') await runRpc(op as Op, args, res, controller.signal)
      else await runStream(op as StreamOp, args, res, controller.signal)
    } finally {
      this.inflight.delete(controller)
    }
  }
}

async function runRpc (op: Op, args: unknown, res: ServerResponse, signal: AbortSignal): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' })
  let last = 0
  const onProgress = (progress: Progress): void => {
    // Progress is advisory: at most ~10 lines a second.
    const now = performance.now()
    if (now - last < 100) return
    last = now
    res.write(JSON.stringify({ progress }) + '\n')
  }
  try {
    const result = await op(args, { signal, onProgress })
    res.end(JSON.stringify({ result: result ?? null }) + '\n')
  } catch (err) {
    res.end(JSON.stringify({ error: serializeError(err) }) + '\n')
  }
}

async function runStream (op: StreamOp, args: unknown, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const it = op(args, { signal })[Symbol.asyncIterator]()
  let first: IteratorResult<Uint8Array>
  try {
    first = await it.next()
  } catch (err) {
    return sendError(res, 500, err)
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream' })
  try {
    for (let r = first; r.done !== true; r = await it.next()) {
      if (!res.write(r.value)) await once(res, 'drain')
    }
    res.end()
  } catch {
    res.destroy()
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

async function readBody (req: IncomingMessage): Promise<string> {
  let size = 0
  const parts: Buffer[] = []
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.byteLength
    if (size > MAX_REQUEST_BYTES) throw new Error(`request body over ${MAX_REQUEST_BYTES} bytes`)
    parts.push(part)
  }
  return Buffer.concat(parts).toString('utf8') || '{}'
}

/** The CLI's side of the API. */
export class ApiClient {
  readonly url: string
  private readonly token: string

  constructor (url: string, token: string) {
    this.url = url
    this.token = token
  }

  async call<T> (op: string, args: unknown, ctx: OpContext = {}): Promise<T> {
    const res = await this.post(`/rpc/${op}`, args, ctx.signal)
    if (res.body == null) throw new UnavailableError('the daemon closed the connection')
    let buffered = ''
    const decoder = new TextDecoder()
    for await (const piece of res.body) {
      buffered += decoder.decode(piece, { stream: true })
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        const msg = JSON.parse(line) as { progress?: Progress, result?: T, error?: { name: string, message: string, exitCode: ExitCode } }
        if (msg.progress !== undefined) ctx.onProgress?.(msg.progress)
        else if (msg.error !== undefined) throw new RemoteError(msg.error.name, msg.error.message, msg.error.exitCode)
        else return msg.result as T
      }
    }
    throw new UnavailableError(`the daemon at ${this.url} ended the response to ${op} without a result (did it stop?)`)
  }

  async * stream (op: string, args: unknown, ctx: OpContext = {}): AsyncGenerator<Uint8Array> {
    const res = await this.post(`/stream/${op}`, args, ctx.signal)
    if (res.body == null) return
    for await (const piece of res.body) yield piece
  }

  private async post (path: string, args: unknown, signal?: AbortSignal): Promise<Response> {
    let res: Response
    try {
      res = await fetch(this.url + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(args),
        signal
      })
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err
      throw new UnavailableError(`cannot reach the daemon at ${this.url}: ${((err as Error).cause as Error)?.message ?? (err as Error).message}`)
    }
    if (res.status !== 200) {
      const body = await res.json().catch(() => ({})) as { error?: { name: string, message: string, exitCode: ExitCode } }
      const e = body.error ?? { name: 'DitsError', message: `the daemon answered HTTP ${res.status}`, exitCode: 1 }
      throw new RemoteError(e.name, e.message, e.exitCode)
    }
    return res
  }
}
