/**
 * The table of operations the local API serves, kept apart from the daemon so that the CLI, which runs the
 * same table on a repo it opens itself, does not load libp2p (~0.7 s of CPU per command) just to list it.
 * Each entry is the schema of its arguments and the operation: one table, checked the same way whether a
 * daemon serves the call or the CLI runs it (node/api.ts `parseArgs`).
 */
import { z } from 'zod'
import { UnavailableError } from '../src/errors.ts'
import { rpc, stream, NoArgs } from './api.ts'
import type { OpTable } from './api.ts'
import { AddArgs, GetArgs, CatArgs, CidArgs, PinRmArgs, VerifyArgs, GcArgs, ExportCarArgs, ImportCarArgs } from './ops.ts'
import type { RepoOps } from './ops.ts'
import type { DitsNetwork } from './net/index.ts'
import type { SeedStatus } from './seed/index.ts'
import { availability, AvailabilityArgs } from './availability.ts'

async function noRefs (name: string): Promise<string> {
  throw new UnavailableError(`cannot resolve the ref ${name}: the consensus service runs in the daemon (\`dits-node start\`)`)
}

/** Longest multiaddr `connect` takes, in characters. */
const MAX_MULTIADDR_CHARS = 1024

/**
 * The operations the API exposes: one entry per CLI verb. `network` is absent when the repo is opened
 * directly by the CLI; the network verbs then fail with exit 4. `seed` is the ref follower's status on a seed
 * (`status --json`'s `seed`). `resolveRef` gives a ref's target through the consensus group (the daemon's
 * ConsensusService), for the verbs that take a REF where a CID goes.
 */
export function opTable (ops: RepoOps, network: () => DitsNetwork | undefined = () => undefined, seed: () => SeedStatus | undefined = () => undefined, resolveRef: (name: string) => Promise<string> = noRefs): OpTable {
  const net = (): DitsNetwork => {
    const n = network()
    if (n == null) throw new UnavailableError(`no daemon running for repo ${ops.repo.dir} — run \`dits-node start\``)
    return n
  }
  return {
    rpc: {
      id: rpc(NoArgs, async () => await ops.id()),
      add: rpc(AddArgs, async (a, c) => await ops.add(a, c)),
      get: rpc(GetArgs, async (a, c) => await ops.get(a, c)),
      exportCar: rpc(ExportCarArgs, async (a, c) => await ops.exportCar(a, c)),
      importCar: rpc(ImportCarArgs, async (a, c) => await ops.importCar(a, c)),
      ls: rpc(CidArgs, async (a, c) => await ops.ls(a, c)),
      stat: rpc(CidArgs, async (a, c) => await ops.stat(a, c)),
      verify: rpc(VerifyArgs, async (a, c) => await ops.verify(a, c)),
      gc: rpc(GcArgs, async (a, c) => await ops.gc(a, c)),
      pinAdd: rpc(CidArgs, async (a, c) => await ops.pinAdd(a, c)),
      pinRm: rpc(PinRmArgs, async (a) => await ops.pinRm(a)),
      pinLs: rpc(NoArgs, async () => await ops.pinLs()),
      peers: rpc(NoArgs, async () => net().peers()),
      availability: rpc(AvailabilityArgs, async (a, c) => await availability({
        getBlock: async cid => await ops.repo.blocks.get(cid),
        has: async (cid, o) => await ops.repo.blocks.has(cid, o),
        pinReasons: async cid => await ops.repo.pins.reasons(cid),
        role: ops.repo.config.role,
        network: net,
        resolveRef: async name => await resolveRef(name)
      }, a, c)),
      connect: rpc(z.strictObject({ multiaddr: z.string().min(1).max(MAX_MULTIADDR_CHARS) }), async (a, c) => await net().connect(a.multiaddr, { signal: c.signal })),
      status: rpc(NoArgs, async () => {
        const n = network()
        if (n == null) return await ops.offlineStatus()
        const following = seed()
        return { ...n.status(), live: true, repo: await ops.repoStats(), ...(following !== undefined ? { seed: following } : {}) }
      })
    },
    stream: {
      cat: stream(CatArgs, (a, c) => ops.cat(a, c)),
      lsTree: stream(CidArgs, (a, c) => ops.lsTree(a, c))
    }
  }
}
