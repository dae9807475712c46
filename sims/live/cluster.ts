/**
 * Real `dits-node` processes for the live runner: repos made with the node's own `initRepo`, configured to
 * listen on their namespace's address with the voters and the seed as the configuration says (DESIGN §8 keys),
 * each daemon started inside its namespace with `ip netns exec`, plus an agent per node for API calls
 * (agent.ts) and a way to run the CLI there as a user would.
 */

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { initRepo, Repo } from '../../node/repo.ts'
import { LiveRunnerError } from '../errors.ts'
import type { NamespaceNetwork } from './netns.ts'
import type { ChildProcess } from 'node:child_process'

/** The CLI, as built (dist/cli/bin.js). */
export const BIN = fileURLToPath(new URL('../../cli/bin.js', import.meta.url))
const AGENT = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './agent.ts' : './agent.js', import.meta.url))

/** The TCP port every daemon listens on (each in its own namespace, so they do not collide). */
export const LIVE_PORT = 4101
/** How long a daemon may take to print its ready line. */
export const DEFAULT_START_TIMEOUT_MS = 30_000
/** How long a daemon may take to stop on SIGINT before it is killed. */
const STOP_TIMEOUT_MS = 10_000

export interface LiveTiming {
  heartbeatMs: number
  electionMs: number
  /** consensus.requestTimeoutMs: how long a command waits for a quorum before exit 4 */
  requestTimeoutMs: number
}

export interface LiveNodeSpec {
  name: string
  role: 'peer' | 'seed'
  voter: boolean
}

export type AgentReply =
  | { ok: true, value: unknown }
  | { ok: false, name: string, message: string, exitCode: number }

export interface CliResult {
  code: number
  stdout: string
  stderr: string
  ms: number
}

/** The runner's end of an agent (agent.ts) running in a node's namespace. */
class Agent {
  private nextId = 1
  private readonly pending = new Map<number, (reply: AgentReply) => void>()
  readonly ready: Promise<void>

  constructor (private readonly child: ChildProcess) {
    let resolveReady: () => void = () => {}
    this.ready = new Promise(resolve => { resolveReady = resolve })
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', line => {
      const msg = JSON.parse(line) as AgentReply & { id: number }
      if (msg.id === 0) {
        resolveReady()
        return
      }
      this.pending.get(msg.id)?.(msg)
      this.pending.delete(msg.id)
    })
    child.on('exit', () => {
      for (const settle of this.pending.values()) {
        settle({ ok: false, name: 'AgentExited', message: 'the agent exited', exitCode: 1 })
      }
      this.pending.clear()
    })
  }

  async call (op: string, args: unknown, timeoutMs: number): Promise<AgentReply> {
    const id = this.nextId++
    const reply = new Promise<AgentReply>(resolve => this.pending.set(id, resolve))
    this.child.stdin?.write(JSON.stringify({ id, op, args, timeoutMs }) + '\n')
    return await reply
  }

  async close (): Promise<void> {
    if (this.child.exitCode !== null) {
      return
    }
    this.child.stdin?.end()
    this.child.kill('SIGTERM')
    await once(this.child, 'exit')
  }
}

export class LiveNode {
  peerId = ''
  daemon: ChildProcess | undefined
  agent: Agent | undefined

  constructor (readonly spec: LiveNodeSpec, readonly repo: string, readonly ip: string) {}

  get name (): string {
    return this.spec.name
  }

  get addr (): string {
    return `/ip4/${this.ip}/tcp/${LIVE_PORT}/p2p/${this.peerId}`
  }
}

export class LiveCluster {
  readonly nodes: LiveNode[] = []

  constructor (private readonly dir: string, private readonly net: NamespaceNetwork, private readonly timing: LiveTiming) {}

  node (name: string): LiveNode {
    const n = this.nodes.find(x => x.name === name)
    if (n === undefined) {
      throw new LiveRunnerError(`no node ${name}`)
    }
    return n
  }

  /** Make and configure a repo per node: voters know each other, everyone knows the seed. */
  async create (specs: readonly LiveNodeSpec[]): Promise<void> {
    for (const spec of specs) {
      const repo = join(this.dir, spec.name)
      await initRepo(repo, { role: spec.role, voter: spec.voter })
      const r = await Repo.open(repo)
      const node = new LiveNode(spec, repo, this.net.node(spec.name).ip)
      node.peerId = (await r.identity()).peerId
      await r.close()
      this.nodes.push(node)
    }
    const voters = this.nodes.filter(n => n.spec.voter).map(n => n.addr)
    const seeds = this.nodes.filter(n => n.spec.role === 'seed').map(n => n.addr)
    for (const n of this.nodes) {
      const path = join(n.repo, 'config.json')
      const config = JSON.parse(await readFile(path, 'utf8'))
      config.addresses = { listen: [`/ip4/${n.ip}/tcp/${LIVE_PORT}`] }
      config.bootstrap = n.spec.role === 'seed' ? [] : seeds
      config.discovery = { mdns: false }
      config.consensus = {
        ...config.consensus,
        voter: n.spec.voter,
        voters,
        heartbeatMs: this.timing.heartbeatMs,
        electionMs: this.timing.electionMs,
        requestTimeoutMs: this.timing.requestTimeoutMs
      }
      await writeFile(path, JSON.stringify(config, null, 2))
    }
  }

  /** Start every daemon in its namespace, then an agent beside each. */
  async startAll (): Promise<void> {
    await mkdir(join(this.dir, 'logs'), { recursive: true })
    await Promise.all(this.nodes.map(async n => await this.start(n)))
  }

  async start (n: LiveNode): Promise<void> {
    const log = createWriteStream(join(this.dir, 'logs', `${n.name}.log`), { flags: 'a' })
    const child = spawn('ip', [...this.net.execPrefix(n.name), process.execPath, BIN, '--repo', n.repo, '--json', 'start'], {
      env: { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    child.stderr.pipe(log)
    n.daemon = child
    await new Promise<void>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new LiveRunnerError(`${n.name}: the daemon did not print its ready line within ${DEFAULT_START_TIMEOUT_MS} ms (log: ${join(this.dir, 'logs', `${n.name}.log`)})`)), DEFAULT_START_TIMEOUT_MS)
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        try {
          JSON.parse(out)
          clearTimeout(timer)
          resolve()
        } catch {
          // not the whole ready document yet
        }
      })
      child.once('exit', code => {
        clearTimeout(timer)
        reject(new LiveRunnerError(`${n.name}: the daemon exited with ${String(code)} while starting (log: ${join(this.dir, 'logs', `${n.name}.log`)})`))
      })
    })
    const agent = spawn('ip', [...this.net.execPrefix(n.name), process.execPath, AGENT, n.repo], { stdio: ['pipe', 'pipe', 'inherit'] })
    n.agent = new Agent(agent)
    await n.agent.ready
  }

  /** Stop every daemon cleanly (SIGINT), killing those that do not stop in time. */
  async stopAll (): Promise<void> {
    await Promise.all(this.nodes.map(async n => {
      await n.agent?.close()
      const d = n.daemon
      if (d === undefined || d.exitCode !== null || d.signalCode !== null) {
        return
      }
      d.kill('SIGINT')
      const timer = setTimeout(() => d.kill('SIGKILL'), STOP_TIMEOUT_MS)
      await once(d, 'exit')
      clearTimeout(timer)
    }))
  }

  /** An API call on node `name` (through its agent). */
  async call (name: string, op: string, args: unknown, timeoutMs: number): Promise<AgentReply> {
    const agent = this.node(name).agent
    if (agent === undefined) {
      throw new LiveRunnerError(`${name} has no agent: is its daemon running?`)
    }
    return await agent.call(op, args, timeoutMs)
  }

  /** Run `dits-node --repo <its repo> ARGS` inside node `name`'s namespace, as a user there would. */
  async cli (name: string, args: string[], timeoutMs: number): Promise<CliResult> {
    const n = this.node(name)
    const started = performance.now()
    const child = spawn('ip', [...this.net.execPrefix(name), process.execPath, BIN, '--repo', n.repo, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    const [code] = await once(child, 'close') as [number | null]
    clearTimeout(timer)
    return { code: code ?? -1, stdout, stderr, ms: Math.round(performance.now() - started) }
  }
}
