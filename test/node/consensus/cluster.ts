/**
 * A group of real `dits-node start` voter processes on loopback, for the integration specs and the bench:
 * repos created in a temp dir, fixed free TCP ports chosen at start (the voters' multiaddrs must be known
 * before any of them starts), mDNS off, and every process it starts stopped (or killed) by it.
 */
import { createServer } from 'node:net'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { initRepo, Repo, API_FILE, API_TOKEN_FILE } from '../../../node/repo.ts'
import { ApiClient } from '../../../node/api.ts'
import { startDaemon } from '../../helpers/cli.ts'
import type { RunningDaemon } from '../../helpers/cli.ts'

/** Ports the kernel just handed out and released: free at the time of the call. */
export async function freePorts (n: number): Promise<number[]> {
  const servers = []
  for (let i = 0; i < n; i++) {
    const s = createServer()
    s.listen(0, '127.0.0.1')
    await once(s, 'listening')
    servers.push(s)
  }
  const ports = servers.map(s => (s.address() as { port: number }).port)
  await Promise.all(servers.map(async s => { s.close(); await once(s, 'close') }))
  return ports
}

export interface VoterClusterInit {
  /** consensus.* overrides, e.g. { snapshotEntries: 50 } */
  consensus?: Record<string, unknown>
  /** extra environment for every daemon */
  env?: NodeJS.ProcessEnv
}

export class VoterCluster {
  readonly dir: string
  readonly size: number
  readonly repos: string[] = []
  readonly peerIds: string[] = []
  readonly addrs: string[] = []
  private readonly init: VoterClusterInit
  private readonly daemons = new Map<number, RunningDaemon>()

  constructor (dir: string, size: number, init: VoterClusterInit = {}) {
    this.dir = dir
    this.size = size
    this.init = init
  }

  /** Create the voters' repos (and `extra` non-voter repos) configured with each other as consensus.voters. */
  async create (extra = 0): Promise<void> {
    const ports = await freePorts(this.size + extra)
    for (let i = 0; i < this.size + extra; i++) {
      const repo = join(this.dir, i < this.size ? `voter${i}` : `peer${i - this.size}`)
      await initRepo(repo, { voter: i < this.size })
      const r = await Repo.open(repo)
      this.repos.push(repo)
      const { peerId } = await r.identity()
      this.peerIds.push(peerId)
      this.addrs.push(`/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${peerId}`)
      await r.close()
    }
    const voters = this.addrs.slice(0, this.size)
    for (let i = 0; i < this.repos.length; i++) {
      const path = join(this.repos[i], 'config.json')
      const config = JSON.parse(await readFile(path, 'utf8'))
      config.addresses = { listen: [this.addrs[i].replace(/\/p2p\/.*$/, '')] }
      config.discovery = { mdns: false }
      config.consensus = { ...config.consensus, voters, ...this.init.consensus }
      await writeFile(path, JSON.stringify(config, null, 2))
    }
  }

  async start (i: number): Promise<RunningDaemon> {
    if (this.daemons.has(i)) throw new Error(`node ${i} already runs`)
    const d = await startDaemon(this.repos[i], this.init.env)
    this.daemons.set(i, d)
    return d
  }

  async startAll (): Promise<void> {
    await Promise.all(this.repos.map(async (_r, i) => await this.start(i)))
  }

  running (i: number): boolean {
    return this.daemons.has(i)
  }

  pid (i: number): number | undefined {
    return this.daemons.get(i)?.child.pid
  }

  /** SIGKILL (no clean shutdown), or SIGINT for a clean stop. */
  async kill (i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const d = this.daemons.get(i)
    if (d === undefined) return
    this.daemons.delete(i)
    await d.stop(signal)
  }

  async stopAll (): Promise<void> {
    await Promise.all([...this.daemons.keys()].map(async i => await this.kill(i, 'SIGINT')))
  }

  /** The local API of node `i` (the daemon must run). */
  async api (i: number): Promise<ApiClient> {
    const url = (await readFile(join(this.repos[i], API_FILE), 'utf8')).trim()
    const token = (await readFile(join(this.repos[i], API_TOKEN_FILE), 'utf8')).trim()
    return new ApiClient(url, token)
  }

  /** Index of the voter the group follows, polled through the API of node `via`. */
  async leader (via: number, timeoutMs = 15_000): Promise<number> {
    const until = Date.now() + timeoutMs
    const api = await this.api(via)
    while (Date.now() < until) {
      const s = await api.call<{ leader: string | null }>('clusterStatus', {}).catch(() => ({ leader: null }))
      const i = s.leader === null ? -1 : this.peerIds.indexOf(s.leader)
      if (i >= 0 && this.running(i)) return i
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    throw new Error(`no leader seen from node ${via} within ${timeoutMs} ms`)
  }
}
