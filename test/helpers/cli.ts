/**
 * Run the real `dits-node` binary as a child process (the tests about processes use real processes).
 */
import { spawn, execFileSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'
import { join, dirname, delimiter } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))
/** dist/test/helpers → the repo root */
export const ROOT = join(here, '..', '..', '..')
export const BIN = join(ROOT, 'dist', 'cli', 'bin.js')

export interface RunResult {
  code: number
  stdout: string
  stderr: string
  stdoutBytes: Buffer
}

const DEFAULT_RUN_TIMEOUT_MS = 60_000

export async function dits (args: string[], options: { env?: NodeJS.ProcessEnv, timeoutMs?: number, cwd?: string } = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const out: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => out.push(d))
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS)
  const [code] = await once(child, 'close') as [number | null]
  clearTimeout(timer)
  const stdoutBytes = Buffer.concat(out)
  return { code: code ?? -1, stdout: stdoutBytes.toString(), stderr, stdoutBytes }
}

/** Run and insist on exit 0, returning stdout. */
export async function ok (args: string[], options: { env?: NodeJS.ProcessEnv, cwd?: string } = {}): Promise<string> {
  const r = await dits(args, options)
  if (r.code !== 0) throw new Error(`dits-node ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

export interface RunningDaemon {
  child: ChildProcess
  info: { peerId: string, api: string, addresses: string[], roles: string[] }
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * Start `dits-node start --json` and wait for its ready line. With `defaultRepo`, neither --repo nor $DITS_REPO
 * names the repo: `repo` must then be the default (~/.dits of `env.HOME`). `startArgs`: options of `start`.
 */
export async function startDaemon (repo: string, env: NodeJS.ProcessEnv = {}, options: { defaultRepo?: boolean, startArgs?: string[] } = {}): Promise<RunningDaemon> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false', ...env }
  if (options.defaultRepo === true) delete childEnv.DITS_REPO
  const child = spawn(process.execPath, [BIN, ...(options.defaultRepo === true ? [] : ['--repo', repo]), '--json', 'start', ...(options.startArgs ?? [])], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const info = await new Promise<RunningDaemon['info']>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`daemon did not start in time: ${stderr}`)) }, 30_000)
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      try {
        const parsed = JSON.parse(stdout)
        clearTimeout(timer)
        resolve(parsed)
      } catch {}
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`daemon exited ${code}: ${stderr}`)) })
  })
  return {
    child,
    info,
    async stop (signal: NodeJS.Signals = 'SIGINT') {
      if (child.exitCode != null) return child.exitCode
      child.kill(signal)
      const [code] = await once(child, 'exit') as [number | null]
      return code
    }
  }
}

/** The first `node` on PATH outside any node_modules (npm puts the pinned one first), when it is older than 22. */
export function systemNodeOlderThan22 (): { path: string, version: string } | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue
    const path = join(dir, 'node')
    if (!existsSync(path)) continue
    const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '')
    return Number(version.split('.')[0]) < 22 ? { path, version } : undefined
  }
  return undefined
}
