/**
 * The table of operations the local API serves, kept apart from the daemon so that the CLI, which runs the
 * same table on a repo it opens itself, does not load libp2p (~0.7 s of CPU per command) just to list it.
 */
import { UnavailableError } from '../src/errors.ts'
import type { OpTable } from './api.ts'
import type { RepoOps } from './ops.ts'
import type { DitsNetwork } from './net/index.ts'

/**
 * The operations the API exposes: one entry per CLI verb. `network` is absent when the repo is opened
 * directly by the CLI; the network verbs then fail with exit 4.
 */
export function opTable (ops: RepoOps, network: () => DitsNetwork | undefined = () => undefined): OpTable {
  const net = (): DitsNetwork => {
    const n = network()
    if (n == null) throw new UnavailableError(`no daemon running for repo ${ops.repo.dir} — run \`dits-node start\``)
    return n
  }
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
      pinLs: async () => await ops.pinLs(),
      peers: async () => net().peers(),
      connect: async (a: { multiaddr: string }, c) => await net().connect(a.multiaddr, { signal: c.signal }),
      status: async () => ({ ...net().status(), repo: await ops.repoStats() })
    },
    stream: {
      cat: (a, c) => ops.cat(a, c)
    }
  }
}
