/**
 * The dashboard's HTTP side, under `/dashboard/` on the daemon's API server (node/api.ts hands it every request
 * whose path starts so, after checking the `Host`). What it serves is read-only: GET (or HEAD) of the page, its
 * scripts and stylesheet, and the event stream; no request of a browser can change anything, so a forged request
 * (CSRF) has nothing to gain, and the `/rpc` operations never take the cookie, only the API token.
 *
 * Every request is checked before anything else: a browser's `Origin`, when sent, must be this server's own, and
 * `Sec-Fetch-Site` must say the request comes from this origin or from the user (a typed or opened URL); then
 * the session cookie, except for `/dashboard/login?code=…`, which spends a one-time code (auth.ts) and sets it.
 * Answers carry a strict Content-Security-Policy (scripts, styles and connections from this origin only; no
 * framing), no CORS header, and no caching.
 */
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { DashboardAuth } from './auth.ts'
import type { DashboardAuthInit } from './auth.ts'
import { STYLE_CSS } from './style.ts'
import type { DashboardSampler, Watcher } from './sampler.ts'
import type { Snapshot } from './page/view.ts'

/** Event streams open at once (pages watching); one more is refused with 503. */
export const MAX_EVENT_STREAMS = 8
/** Bytes an event stream may have waiting for a slow page before the stream is closed (the page reconnects). */
export const MAX_STREAM_BACKLOG_BYTES = 4 * 1024 * 1024
/** What the page's EventSource waits before reconnecting, ms. */
const RECONNECT_MS = 2000

/** The files of the page (compiled by `npm run build` into dist/node/dashboard/page/), by the name they are served under. */
const SCRIPTS = ['main.js', 'panels.js', 'chart.js', 'dom.js', 'format.js']

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store'
}

export interface DashboardServerInit extends DashboardAuthInit {
  /** where the page's files are @default the folder `page/` beside this module */
  pageDir?: URL
}

export class DashboardServer {
  readonly auth: DashboardAuth
  private readonly sampler: DashboardSampler
  private readonly pageDir: URL
  private scripts?: Promise<Map<string, Buffer>>
  private readonly streams = new Set<ServerResponse>()

  constructor (sampler: DashboardSampler, init: DashboardServerInit = {}) {
    this.sampler = sampler
    this.auth = new DashboardAuth(init)
    this.pageDir = init.pageDir ?? new URL('./page/', import.meta.url)
  }

  /** The name of this server's session cookie: cookies do not keep ports apart, so two daemons need two names. */
  cookieName (port: string): string {
    return `dits_dashboard_${port}`
  }

  /** Answer a request under `/dashboard`; `host` is the request's Host, already checked to be this server's. */
  async handle (req: IncomingMessage, res: ServerResponse, host: string): Promise<void> {
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${host}`) return deny(res, 403, `the dashboard answers its own page only (Origin ${origin})`)
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return deny(res, 403, `the dashboard answers its own page only (Sec-Fetch-Site ${String(site)})`)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      return deny(res, 405, 'the dashboard is read-only: GET only')
    }
    const url = new URL(req.url ?? '/', `http://${host}`)
    const cookie = this.cookieName(host.slice(host.lastIndexOf(':') + 1))
    if (url.pathname === '/dashboard') return redirect(res, '/dashboard/')
    if (url.pathname === '/dashboard/login') return this.login(res, url.searchParams.get('code') ?? '', cookie)
    // the stylesheet is no secret, and the login pages need it before there is a session
    if (url.pathname === '/dashboard/assets/style.css') return send(res, 'text/css; charset=utf-8', STYLE)
    if (!this.auth.valid(readCookie(req.headers.cookie, cookie))) {
      return page(res, 401, 'Log in to the dashboard', 'This browser is not logged in (or its session expired). Run <code>dits-node dashboard</code> on the machine of the daemon and open the link it prints: it logs this browser in once.')
    }
    if (url.pathname === '/dashboard/') return await this.shell(res)
    if (url.pathname === '/dashboard/events') return this.events(req, res, cookie)
    const script = /^\/dashboard\/assets\/([a-z]+\.js)$/.exec(url.pathname)?.[1]
    if (script !== undefined && SCRIPTS.includes(script)) return await this.script(res, script)
    return deny(res, 404, `no such page: ${url.pathname}`)
  }

  /** Close every event stream (the daemon is stopping). */
  close (): void {
    for (const res of this.streams) res.end()
    this.streams.clear()
  }

  private login (res: ServerResponse, code: string, cookie: string): void {
    const session = this.auth.redeem(code)
    if (session === undefined) return page(res, 401, 'Login link used or expired', 'This login link was already used or has expired (a link is good once, for a minute). Run <code>dits-node dashboard</code> again for a new one.')
    const maxAge = Math.floor((session.expires - Date.now()) / 1000)
    res.setHeader('set-cookie', `${cookie}=${session.session}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`)
    // the code leaves the address bar at once: the page's own URL has none
    redirect(res, '/dashboard/')
  }

  private async shell (res: ServerResponse): Promise<void> {
    send(res, 'text/html; charset=utf-8', Buffer.from(SHELL))
  }

  private async script (res: ServerResponse, name: string): Promise<void> {
    const bytes = (await this.loadScripts()).get(name)
    if (bytes === undefined) return deny(res, 500, `the dashboard's ${name} is missing from ${this.pageDir.pathname}: build the package (npm run build)`)
    send(res, 'text/javascript; charset=utf-8', bytes)
  }

  /** The page's scripts, read once (a few tens of KB): a file missing stays missing until the daemon restarts. */
  private async loadScripts (): Promise<Map<string, Buffer>> {
    this.scripts ??= (async () => {
      const files = new Map<string, Buffer>()
      for (const name of SCRIPTS) {
        const bytes = await readFile(new URL(name, this.pageDir)).catch(() => undefined)
        if (bytes !== undefined) files.set(name, bytes)
      }
      return files
    })()
    return await this.scripts
  }

  private events (req: IncomingMessage, res: ServerResponse, cookie: string): void {
    if (this.streams.size >= MAX_EVENT_STREAMS) return deny(res, 503, `${MAX_EVENT_STREAMS} dashboard pages are open already: close one`)
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    this.streams.add(res)
    const send = (event: string, data: unknown): void => {
      if (res.writableLength > MAX_STREAM_BACKLOG_BYTES) {
        res.end()
        return
      }
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
    }
    const watcher: Watcher = (snapshot: Snapshot) => {
      // a session that expires while its page is open stops getting data
      if (!this.auth.valid(readCookie(req.headers.cookie, cookie))) {
        send('logout', {})
        res.end()
        return
      }
      send('snapshot', snapshot)
    }
    res.on('close', () => {
      this.sampler.unwatch(watcher)
      this.streams.delete(res)
    })
    res.write(`retry: ${RECONNECT_MS}\n\n`)
    send('history', this.sampler.watch(watcher))
  }
}

/** The value of cookie `name` in a Cookie header. */
function readCookie (header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

const STYLE = Buffer.from(STYLE_CSS)

function send (res: ServerResponse, type: string, bytes: Buffer): void {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': bytes.byteLength })
  res.end(bytes)
}

function redirect (res: ServerResponse, location: string): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location })
  res.end()
}

function deny (res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' })
  res.end(message + '\n')
}

/** A page of text (fixed HTML: nothing from the request is put into it). */
function page (res: ServerResponse, status: number, title: string, html: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' })
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · dits-node</title><link rel="stylesheet" href="/dashboard/assets/style.css"></head><body><main class="message"><h1>${title}</h1><p>${html}</p></main></body></html>`)
}

/** The page: its panels are custom elements (page/panels.ts) that fill themselves from the event stream. */
const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dits-node dashboard</title>
<link rel="stylesheet" href="/dashboard/assets/style.css">
<script type="module" src="/dashboard/assets/main.js"></script>
</head>
<body>
<header class="top">
  <h1>dits-node</h1>
  <p id="connection" class="badge" role="status" aria-live="polite">connecting…</p>
</header>
<main class="grid">
  <dits-node-panel class="card" aria-labelledby="h-node"></dits-node-panel>
  <dits-cluster-panel class="card" aria-labelledby="h-cluster"></dits-cluster-panel>
  <dits-throughput-panel class="card wide" aria-labelledby="h-throughput"></dits-throughput-panel>
  <dits-transfers-panel class="card wide" aria-labelledby="h-transfers"></dits-transfers-panel>
  <dits-peers-panel class="card wide" aria-labelledby="h-peers"></dits-peers-panel>
  <dits-refs-panel class="card wide" aria-labelledby="h-refs"></dits-refs-panel>
  <dits-locks-panel class="card wide" aria-labelledby="h-locks"></dits-locks-panel>
  <dits-events-panel class="card wide" aria-labelledby="h-events"></dits-events-panel>
</main>
</body>
</html>
`
