/**
 * The dashboard (issue 20): a web page the daemon serves under `/dashboard/` on its API's address, live over
 * server-sent events — this node, its peers, transfers in flight, refs and the share of each held here, locks,
 * the consensus group, recent events and a throughput chart. `dits-node dashboard` asks the daemon (with the API
 * token) for a one-time login link; the browser trades the code for a session cookie and never sees the token.
 *
 * @example
 * ```ts
 * const dashboard = new Dashboard(sources)          // DashboardSources: what the daemon knows (sampler.ts)
 * const api = new ApiServer(table, token, { dashboard })
 * const url = await api.listen(0)
 * dashboard.login(url)                                // { url: 'http://127.0.0.1:PORT/dashboard/login?code=…', expires }
 * ```
 */
import { DashboardSampler } from './sampler.ts'
import type { DashboardSources, DashboardSamplerInit } from './sampler.ts'
import { DashboardServer } from './server.ts'
import type { DashboardServerInit } from './server.ts'

export { DashboardSampler, DashboardServer }
export type { DashboardSources }
export { DEFAULT_SAMPLE_MS, MAX_THROUGHPUT_POINTS, MAX_EVENTS, MAX_ROWS } from './sampler.ts'
export { MAX_EVENT_STREAMS } from './server.ts'
export { DEFAULT_LOGIN_CODE_TTL_MS, DEFAULT_SESSION_TTL_MS, MAX_LOGIN_CODES, MAX_SESSIONS } from './auth.ts'
export type * from './page/view.ts'

/** What `dits-node dashboard` prints: the login link and until when it is good. */
export interface DashboardLogin {
  url: string
  /** ms since the epoch */
  expires: number
}

export class Dashboard {
  readonly sampler: DashboardSampler
  readonly server: DashboardServer

  constructor (sources: DashboardSources, init: DashboardSamplerInit & DashboardServerInit = {}) {
    this.sampler = new DashboardSampler(sources, init)
    this.server = new DashboardServer(this.sampler, init)
  }

  /** A one-time login link for the API at `apiUrl` (`http://127.0.0.1:PORT`). */
  login (apiUrl: string): DashboardLogin {
    const { code, expires } = this.server.auth.issueCode()
    return { url: `${apiUrl}/dashboard/login?code=${code}`, expires }
  }

  async stop (): Promise<void> {
    this.server.close()
    await this.sampler.stop()
  }
}
