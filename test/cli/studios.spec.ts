/**
 * "Two studios on one LAN with mDNS on must not mix" (issue 14), shown with real daemons on a real LAN: four
 * network namespaces on one bridge (sims/live/netns.ts), mDNS on, studio A's two nodes with one swarm key and
 * studio B's with another. Needs root (CI runs as root); skipped with the reason otherwise.
 */
import assert from 'node:assert/strict'
import { spawn, execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN, ok } from '../helpers/cli.ts'
import { NamespaceNetwork, checkNamespaceSupport } from '../../sims/live/netns.ts'
import { LOGS_DIR, LOG_FILE } from '../../node/log/index.ts'
import type { ChildProcess } from 'node:child_process'

const run = promisify(execFile)
const NODES = ['a1', 'a2', 'b1', 'b2'] as const
const STUDIO = { a1: 'a', a2: 'a', b1: 'b', b2: 'b' } as const
/** How long mDNS and the dials it starts may take (the query repeats every 10 s) */
const SETTLE_TIMEOUT_MS = 60_000

interface NsDaemon { child: ChildProcess, peerId: string }

describe('two studios on one LAN, mDNS on, different swarm keys (network namespaces, real daemons)', function () {
  this.timeout(180_000)
  let work: string
  let net: NamespaceNetwork | undefined
  const daemons = new Map<string, NsDaemon>()

  before(async function () {
    try {
      await checkNamespaceSupport()
    } catch (err) {
      console.log(`      skipped: ${(err as Error).message}`)
      this.skip()
    }
    work = await mkdtemp(join(tmpdir(), 'dits-studios-'))
    const tag = (process.pid % 4096).toString(16)
    net = await NamespaceNetwork.create(`dp${tag}`, `10.232.${process.pid % 250}`, NODES)
    // mDNS sends to 224.0.0.251: a namespace without a default route needs a multicast route to its bridge
    for (const n of net.nodes.values()) await run('ip', ['-n', n.ns, 'route', 'add', '224.0.0.0/4', 'dev', n.iface])
  })

  after(async () => {
    await Promise.all([...daemons.values()].map(async d => {
      if (d.child.exitCode != null) return
      d.child.kill('SIGINT')
      await once(d.child, 'exit')
    }))
    await net?.destroy()
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  /** `dits-node ARGS` inside a node's namespace (the daemon's API is on that namespace's loopback). */
  async function inNs (node: string, args: string[]): Promise<string> {
    const { stdout } = await run('ip', [...(net as NamespaceNetwork).execPrefix(node), process.execPath, BIN, '--repo', join(work, node), ...args], { timeout: 30_000 })
    return stdout
  }

  async function startIn (node: string): Promise<NsDaemon> {
    // at debug, the daemon's log (<repo>/logs) has dits:net's lines: the dials of discovered peers among them
    const child = spawn('ip', [...(net as NamespaceNetwork).execPrefix(node), process.execPath, BIN, '--repo', join(work, node), '--json', 'start', '--log-level', 'debug'], {
      env: { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'true' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const peerId = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${node} did not start: ${stderr}`)) }, 60_000)
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString()
        try {
          resolve((JSON.parse(stdout) as { peerId: string }).peerId)
          clearTimeout(timer)
        } catch {}
      })
      child.on('exit', code => { clearTimeout(timer); reject(new Error(`${node} exited ${code}: ${stderr}`)) })
    })
    return { child, peerId }
  }

  it('each node connects to its own studio only, though mDNS finds the other studio too', async () => {
    const n = net as NamespaceNetwork
    const keys = { a: join(work, 'studio-a.key'), b: join(work, 'studio-b.key') }
    await ok(['swarm-key', 'new', '-o', keys.a])
    await ok(['swarm-key', 'new', '-o', keys.b])
    for (const node of NODES) {
      const repo = join(work, node)
      await ok(['--repo', repo, 'init', '--swarm-key', keys[STUDIO[node]]])
      await ok(['--repo', repo, 'config', 'set', 'addresses.listen', JSON.stringify([`/ip4/${n.node(node).ip}/tcp/4101`])])
      await ok(['--repo', repo, 'config', 'set', 'discovery.mdns', 'true'])
    }
    for (const [node, d] of await Promise.all(NODES.map(async node => [node, await startIn(node)] as const))) daemons.set(node, d)
    const id = (node: string): string => (daemons.get(node) as NsDaemon).peerId
    const partner = { a1: 'a2', a2: 'a1', b1: 'b2', b2: 'b1' } as const
    const others = { a1: ['b1', 'b2'], a2: ['b1', 'b2'], b1: ['a1', 'a2'], b2: ['a1', 'a2'] } as const

    // Settled: every node is connected to its partner (found by mDNS alone: nobody was told an address), and has
    // found each node of the other studio by mDNS and failed to connect to it (its log says so).
    const until = Date.now() + SETTLE_TIMEOUT_MS
    const pending = async (): Promise<string[]> => (await Promise.all(NODES.map(async node => {
      const log = await readFile(join(work, node, LOGS_DIR, LOG_FILE), 'utf8').catch(() => '')
      return others[node].filter(o => !new RegExp(`dialing discovered peer ${id(o)} failed`).test(log)).map(o => `${node} has not tried ${o}`)
    }))).flat()
    const peersOf = async (node: string): Promise<string[]> => (JSON.parse(await inNs(node, ['--json', 'peers'])) as Array<{ id: string }>).map(p => p.id).sort()
    for (;;) {
      const peers = await Promise.all(NODES.map(peersOf))
      const notYet = [...await pending(), ...NODES.filter((node, i) => !peers[i].includes(id(partner[node]))).map(node => `${node} not connected to ${partner[node]}`)]
      if (notYet.length === 0) break
      if (Date.now() > until) assert.fail(`not settled after ${SETTLE_TIMEOUT_MS} ms: ${notYet.join('; ')}`)
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
    for (const node of NODES) {
      assert.deepEqual(await peersOf(node), [id(partner[node])], `${node}'s peers are its own studio only`)
      const status = JSON.parse(await inNs(node, ['--json', 'status'])) as { swarm: { private: boolean, keyFingerprint: string } }
      assert.equal(status.swarm.private, true)
      const partnerStatus = JSON.parse(await inNs(partner[node], ['--json', 'id'])) as { swarm: { keyFingerprint: string } }
      assert.equal(status.swarm.keyFingerprint, partnerStatus.swarm.keyFingerprint)
    }
  })
})
