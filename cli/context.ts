/**
 * What every verb needs: the repo path, the output mode, and a client — the running daemon through its API,
 * or, for verbs that can work without one, the repo opened directly.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Repo, API_FILE, API_TOKEN_FILE, LOCK_FILE, readLockHolder, resolveRepoPath, isAlive } from '../node/repo.ts'
import { RepoOps } from '../node/ops.ts'
import type { OpContext } from '../node/ops.ts'
import { ApiClient, parseArgs, DEFAULT_API_TIMEOUT_MS } from '../node/api.ts'
import type { OpTable } from '../node/api.ts'
import { opTable } from '../node/op-table.ts'
import { UnavailableError, UsageError } from '../src/errors.ts'

export interface GlobalOptions {
  repo?: string
  json?: boolean
}

export interface Client {
  /** true when a daemon serves the calls */
  readonly remote: boolean
  call<T>(op: string, args: unknown, ctx?: OpContext): Promise<T>
  stream(op: string, args: unknown, ctx?: OpContext): AsyncIterable<Uint8Array>
  close(): Promise<void>
}

/** How often a verb that needs the daemon looks for the URL of one that is starting. */
const STARTING_POLL_MS = 50

/** What a verb needs from the repo when no daemon runs. */
export type Access = 'read' | 'write' | 'daemon'

export class CliContext {
  readonly repoDir: string
  /** the repo was named (--repo or $DITS_REPO), not the default ~/.dits */
  readonly repoNamed: boolean
  readonly json: boolean

  constructor (globals: GlobalOptions) {
    this.repoDir = resolveRepoPath(globals.repo)
    this.repoNamed = globals.repo !== undefined || process.env.DITS_REPO !== undefined
    this.json = globals.json === true
  }

  /** Print a result: the JSON document with --json, else the text. */
  print (value: unknown, text: string | string[]): void {
    if (this.json) process.stdout.write(JSON.stringify(value, null, 2) + '\n')
    else {
      const lines = Array.isArray(text) ? text : [text]
      if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n')
    }
  }

  /** The daemon's API when one runs for this repo. */
  async daemon (): Promise<ApiClient | undefined> {
    let url: string
    let token: string
    try {
      url = (await readFile(join(this.repoDir, API_FILE), 'utf8')).trim()
      token = (await readFile(join(this.repoDir, API_TOKEN_FILE), 'utf8')).trim()
    } catch {
      return undefined
    }
    // An api file left by a killed daemon names nobody: the lock's holder tells.
    const holder = await readLockHolder(join(this.repoDir, LOCK_FILE))
    if (holder == null || !isAlive(holder.pid)) return undefined
    return new ApiClient(url, token, { pid: holder.pid, repo: this.repoDir, tokenFile: join(this.repoDir, API_TOKEN_FILE), timeoutMs: apiTimeoutMs() })
  }

  /**
   * The API of a daemon that holds the repo but has not written its URL yet (it is starting: the URL is written
   * once it listens), waited for up to DITS_API_TIMEOUT_MS; undefined when no daemon holds the repo.
   */
  private async startingDaemon (): Promise<ApiClient | undefined> {
    const timeoutMs = apiTimeoutMs() ?? DEFAULT_API_TIMEOUT_MS
    const until = performance.now() + timeoutMs
    for (;;) {
      const holder = await readLockHolder(join(this.repoDir, LOCK_FILE))
      if (holder == null || !holder.command.startsWith('dits-node start') || !isAlive(holder.pid)) return undefined
      const api = await this.daemon()
      if (api != null) return api
      if (performance.now() > until) throw new UnavailableError(`the daemon (pid ${holder.pid}) for repo ${this.repoDir} is starting but has not opened its API within ${timeoutMs / 1000} s`)
      await new Promise(resolve => setTimeout(resolve, STARTING_POLL_MS))
    }
  }

  async client (access: Access): Promise<Client> {
    // A verb that can run on the repo directly does so while a daemon starts; one that needs the daemon waits.
    const api = await this.daemon() ?? (access === 'daemon' ? await this.startingDaemon() : undefined)
    if (api != null) {
      return {
        remote: true,
        call: async (op, args, ctx) => await api.call(op, args, ctx),
        stream: (op, args, ctx) => api.stream(op, args, ctx),
        close: async () => {}
      }
    }
    if (access === 'daemon') throw new UnavailableError(`no daemon running for repo ${this.repoDir} — run \`dits-node start\``)
    const repo = await Repo.open(this.repoDir, { write: access === 'write' })
    const table: OpTable = opTable(new RepoOps(repo))
    return {
      remote: false,
      call: async (op, args, ctx = {}) => {
        const fn = table.rpc[op]
        if (fn === undefined) throw new UsageError(`${op} needs a running daemon: run \`dits-node start\``)
        return await fn.run(parseArgs(op, fn.args, args), ctx) as any
      },
      stream: (op, args, ctx = {}) => {
        const fn = table.stream[op]
        return fn.run(parseArgs(op, fn.args, args), ctx)
      },
      close: async () => { await repo.close() }
    }
  }
}

/** Run `fn` with a client, always closing it (releasing the repo lock). */
export async function withClient<T> (ctx: CliContext, access: Access, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await ctx.client(access)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/** `DITS_API_TIMEOUT_MS`: how long the CLI waits for a daemon that does not answer (node/api.ts ApiClientInit). */
function apiTimeoutMs (): number | undefined {
  const text = process.env.DITS_API_TIMEOUT_MS
  if (text === undefined || text === '') return undefined
  const ms = Number(text)
  if (!Number.isSafeInteger(ms) || ms < 1) throw new UsageError(`invalid DITS_API_TIMEOUT_MS "${text}": expected a whole number of milliseconds >= 1`)
  return ms
}
