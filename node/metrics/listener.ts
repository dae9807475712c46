/**
 * `metrics.listen`: an address the operator opts into where `GET /metrics` answers without the API token, for a
 * Prometheus server that cannot hold the token. It serves nothing else. A request with an `Origin` (a web page
 * that made a browser send it, e.g. after rebinding a DNS name to this address) is refused.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { UsageError } from '../../src/errors.ts'
import { parseHostPort } from '../../config/index.ts'

/** What a scrape answers: the body and its content type. */
export type Scrape = () => Promise<{ contentType: string, body: string }>


export class MetricsListener {
  private readonly server: Server
  private readonly scrape: Scrape

  constructor (scrape: Scrape) {
    this.scrape = scrape
    this.server = createServer((req, res) => { this.handle(req, res).catch(() => { res.destroy() }) })
  }

  /** Listen on `HOST:PORT`; resolves to the URL of its /metrics. */
  async listen (address: string): Promise<string> {
    const parsed = parseHostPort(address)
    if (parsed === undefined) throw new UsageError(`metrics.listen "${address}" is not HOST:PORT (e.g. "127.0.0.1:9464" or "[::1]:9464")`)
    const { host, port } = parsed
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.server.off('listening', onListening)
        reject(new UsageError(`metrics.listen: cannot listen on ${address}: ${err.message}`))
      }
      const onListening = (): void => {
        this.server.off('error', onError)
        resolve()
      }
      this.server.once('error', onError)
      this.server.once('listening', onListening)
      this.server.listen(port, host)
    })
    const bound = this.server.address() as AddressInfo
    return `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}/metrics`
  }

  async close (): Promise<void> {
    if (!this.server.listening) return
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.origin !== undefined) return plain(res, 403, 'forbidden: the metrics address does not serve browsers (the request has an Origin)\n')
    if ((req.url ?? '').split('?')[0] !== '/metrics') return plain(res, 404, 'only /metrics is served here\n')
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'use GET /metrics\n', { allow: 'GET, HEAD' })
    const { contentType, body } = await this.scrape()
    res.writeHead(200, { 'content-type': contentType })
    res.end(req.method === 'HEAD' ? undefined : body)
  }
}

function plain (res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers })
  res.end(text)
}
