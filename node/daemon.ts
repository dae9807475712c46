/**
 * `dits-node start`: opens the repo (taking its lock), serves the local API, and runs until asked to stop.
 * Writes `<repo>/api` (its URL) and `<repo>/api.token` (0600) while it runs and removes them on the way out.
 */
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Repo, API_FILE, API_TOKEN_FILE, writeDurable } from './repo.ts'
import { RepoOps } from './ops.ts'
import { ApiServer, newApiToken } from './api.ts'
import type { OpTable } from './api.ts'

export interface DaemonInfo {
  peerId: string
  api: string
  addresses: string[]
  roles: string[]
  repo: string
}

export class Daemon {
  readonly repo: Repo
  readonly ops: RepoOps
  private readonly api: ApiServer
  private apiUrl = ''
  private stopping?: Promise<void>

  private constructor (repo: Repo) {
    this.repo = repo
    this.ops = new RepoOps(repo)
    this.api = new ApiServer(opTable(this.ops), this.token)
  }

  private readonly token = newApiToken()

  static async start (repoDir: string): Promise<Daemon> {
    const repo = await Repo.open(repoDir, { write: true, command: 'dits-node start' })
    const daemon = new Daemon(repo)
    try {
      daemon.apiUrl = await daemon.api.listen(repo.config.api.port)
      await writeDurable(join(repo.dir, API_TOKEN_FILE), daemon.token, 0o600)
      await writeDurable(join(repo.dir, API_FILE), daemon.apiUrl + '\n')
    } catch (err) {
      await daemon.stop()
      throw err
    }
    return daemon
  }

  async info (): Promise<DaemonInfo> {
    const id = await this.ops.id()
    return { peerId: id.peerId, api: this.apiUrl, addresses: id.addresses, roles: id.roles, repo: this.repo.dir }
  }

  /** Stop serving, remove the api files, release the repo. Idempotent. */
  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      await this.api.close()
      await unlink(join(this.repo.dir, API_FILE)).catch(() => {})
      await unlink(join(this.repo.dir, API_TOKEN_FILE)).catch(() => {})
      await this.repo.close()
    })()
    await this.stopping
  }
}

/** The operations the API exposes: one entry per CLI verb that a running daemon serves. */
export function opTable (ops: RepoOps): OpTable {
  return {
    rpc: {
      id: async () => await ops.id(),
      add: async (a, c) => await ops.add(a, c),
      get: async (a, c) => await ops.get(a, c),
      ls: async (a) => await ops.ls(a),
      stat: async (a) => await ops.stat(a),
      verify: async (a, c) => await ops.verify(a, c),
      gc: async (a, c) => await ops.gc(a, c),
      pinAdd: async (a, c) => await ops.pinAdd(a, c),
      pinRm: async (a) => await ops.pinRm(a),
      pinLs: async () => await ops.pinLs()
    },
    stream: {
      cat: (a, c) => ops.cat(a, c)
    }
  }
}
