/**
 * Partitions for the live runner, made with Linux network namespaces (iproute2 `ip netns`): each node gets a
 * namespace of its own, joined by a veth pair to a bridge in one more namespace — the "switch" — so that the
 * runner never touches the host's interfaces. A cut is a blackhole route in the sender's namespace (the kernel
 * refuses the packets at once, as a host-unreachable would), so cutting one direction makes an asymmetric link
 * and cutting both makes a partition; healing deletes the routes. Needs root and iproute2.
 */

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { LiveRunnerError } from '../errors.ts'

const run = promisify(execFile)

/** How long one `ip` invocation may take. */
const IP_TIMEOUT_MS = 10_000

export interface NamespaceNode {
  name: string
  /** the namespace it runs in */
  ns: string
  /** its address on the bridge */
  ip: string
  /** its interface on the bridge, inside `ns` */
  iface: string
}

async function ip (...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args, { timeout: IP_TIMEOUT_MS })
    return stdout
  } catch (err) {
    const e = err as Error & { stderr?: string }
    throw new LiveRunnerError(`ip ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`)
  }
}

/** Whether this process can make namespaces: root, and iproute2 on the PATH. */
export async function checkNamespaceSupport (): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new LiveRunnerError('the live runner partitions nodes with network namespaces (ip netns), which needs root: run it as root')
  }
  try {
    await run('ip', ['-V'], { timeout: IP_TIMEOUT_MS })
  } catch {
    throw new LiveRunnerError('the live runner needs iproute2 (the `ip` command) to create network namespaces')
  }
}

export class NamespaceNetwork {
  readonly nodes = new Map<string, NamespaceNode>()
  private readonly cut = new Set<string>()
  private readonly sw: string

  /**
   * @param prefix a short tag unique to this run: namespace and interface names start with it (interface names
   *   are limited to 15 characters by the kernel)
   * @param subnet the first three octets of the bridge's /24, e.g. "10.231.7"
   */
  private constructor (private readonly prefix: string, private readonly subnet: string) {
    this.sw = `${prefix}-sw`
  }

  /** Create the switch and one namespace per node. */
  static async create (prefix: string, subnet: string, names: readonly string[]): Promise<NamespaceNetwork> {
    const net = new NamespaceNetwork(prefix, subnet)
    try {
      await ip('netns', 'add', net.sw)
      await ip('-n', net.sw, 'link', 'add', 'br0', 'type', 'bridge')
      await ip('-n', net.sw, 'link', 'set', 'br0', 'up')
      for (const [i, name] of names.entries()) {
        const ns = `${prefix}-${name}`
        const address = `${subnet}.${i + 1}`
        const inner = `${prefix}v${i}`
        const outer = `${prefix}e${i}`
        await ip('netns', 'add', ns)
        await ip('link', 'add', inner, 'type', 'veth', 'peer', 'name', outer)
        await ip('link', 'set', inner, 'netns', ns)
        await ip('link', 'set', outer, 'netns', net.sw)
        await ip('-n', net.sw, 'link', 'set', outer, 'master', 'br0')
        await ip('-n', net.sw, 'link', 'set', outer, 'up')
        await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', inner)
        await ip('-n', ns, 'link', 'set', inner, 'up')
        await ip('-n', ns, 'link', 'set', 'lo', 'up')
        net.nodes.set(name, { name, ns, ip: address, iface: inner })
      }
    } catch (err) {
      await net.destroy()
      throw err
    }
    return net
  }

  node (name: string): NamespaceNode {
    const n = this.nodes.get(name)
    if (n === undefined) {
      throw new LiveRunnerError(`no node ${name} in the namespace network`)
    }
    return n
  }

  /** Packets from `from` to `to` are refused from now on. */
  async cutOneWay (from: string, to: string): Promise<void> {
    const key = `${from}>${to}`
    if (this.cut.has(key)) {
      return
    }
    await ip('-n', this.node(from).ns, 'route', 'add', 'blackhole', `${this.node(to).ip}/32`)
    this.cut.add(key)
  }

  /** A partition between two groups: every link across is cut both ways. */
  async partition (left: readonly string[], right: readonly string[]): Promise<void> {
    for (const a of left) {
      for (const b of right) {
        await this.cutOneWay(a, b)
        await this.cutOneWay(b, a)
      }
    }
  }

  /** Restore every link. */
  async heal (): Promise<void> {
    for (const key of [...this.cut]) {
      const [from, to] = key.split('>')
      await ip('-n', this.node(from).ns, 'route', 'del', 'blackhole', `${this.node(to).ip}/32`)
      this.cut.delete(key)
    }
  }

  /** Remove every namespace this run made (their interfaces go with them). */
  async destroy (): Promise<void> {
    const names = [...[...this.nodes.values()].map(n => n.ns), this.sw]
    const existing = await ip('netns', 'list').catch(() => '')
    for (const ns of names) {
      if (existing.split('\n').some(line => line.split(' ')[0] === ns)) {
        await ip('netns', 'del', ns).catch(() => {})
      }
    }
    this.nodes.clear()
  }

  /** `ip netns exec NS` + a command: how the runner starts a process inside a node's namespace. */
  execPrefix (name: string): string[] {
    return ['netns', 'exec', this.node(name).ns]
  }

  get tag (): string {
    return `${this.prefix} on ${this.subnet}.0/24`
  }
}
