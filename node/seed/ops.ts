/**
 * The daemon's `push` operation (DESIGN §10): `push CID|REF [--to PEER]` asks each target seed to keep the root
 * (node/net/seed.ts `pushRoot`) and answers with what it cost. Merged into the daemon's op table (node/daemon.ts).
 */
import { z } from 'zod'
import { pushRoot } from '../net/seed.ts'
import { seedTargets, studioSeeds } from './targets.ts'
import { SeedRequestError } from '../net/errors.ts'
import { parseCidPath, resolvePath, readNode } from '../../src/manifest/index.ts'
import { parseCid, DAG_CBOR_CODE } from '../../src/cid.ts'
import { DitsError, UnavailableError, UsageError } from '../../src/errors.ts'
import type { ExitCode } from '../../src/errors.ts'
import { rpc } from '../api.ts'
import { CidArg } from '../ops.ts'
import type { CID } from 'multiformats/cid'
import type { RpcOp } from '../api.ts'
import type { OpContext, RepoOps } from '../ops.ts'
import type { DitsNetwork } from '../net/index.ts'
import type { PushStatus } from '../net/seed.ts'

/** Seeds one push names with --to, at most. */
export const MAX_PUSH_TARGETS = 16

export const PushArgs = z.strictObject({
  /** a CID, CID/sub/path, or a ref name (resolved through the consensus group) */
  target: CidArg,
  to: z.array(z.string().min(1).max(1024)).min(1).max(MAX_PUSH_TARGETS).optional().describe('--to')
})
export type PushArgs = z.output<typeof PushArgs>

/** The figures of one seed's push (`bytes_sent`: what the seed fetched for it). */
export interface SeedPushFigures {
  seed: string
  bytes_total: number
  bytes_sent: number
  bytes_already_on_seed: number
  chunks_total: number
  chunks_sent: number
  chunks_already_on_seed: number
  manifest_bytes_sent: number
  duration_ms: number
}

export interface PushResponse extends Omit<SeedPushFigures, 'seed'> {
  root: string
  /** the ref the root was read from, when a REF was given */
  ref?: string
  /** this node is the seed: nothing was pushed */
  noop: boolean
  message: string
  /** each seed's figures (the top-level ones are summed over them, bytes_total and chunks_total aside) */
  seeds: SeedPushFigures[]
}

export interface SeedOpsDeps {
  ops: RepoOps
  network(): DitsNetwork | undefined
  /** a ref's target, through the consensus group */
  refCid(name: string, ctx: OpContext): Promise<string>
}

export function seedOps (deps: SeedOpsDeps): Record<string, RpcOp> {
  return {
    push: rpc(PushArgs, async (a, c) => await push(deps, a, c))
  }
}

async function push (deps: SeedOpsDeps, args: PushArgs, ctx: OpContext): Promise<PushResponse> {
  const network = deps.network()
  if (network == null) throw new UnavailableError('push needs the daemon: run `dits-node start`')
  const started = performance.now()
  const { root, ref } = await resolveTarget(deps, args.target, ctx)
  const self = network.peerId
  const config = deps.ops.repo.config
  const explicit = args.to !== undefined ? seedTargets(args.to, self) : undefined
  if ((explicit === undefined && config.role === 'seed') || explicit?.length === 0) {
    const bytes = await localSize(deps.ops, root)
    return {
      root: root.toString(),
      ...(ref !== undefined ? { ref } : {}),
      noop: true,
      message: `this node (${self}) is the seed: ${root.toString()} is already here, nothing to push`,
      bytes_total: bytes,
      bytes_sent: 0,
      bytes_already_on_seed: bytes,
      chunks_total: 0,
      chunks_sent: 0,
      chunks_already_on_seed: 0,
      manifest_bytes_sent: 0,
      duration_ms: Math.round(performance.now() - started),
      seeds: []
    }
  }
  const targets = explicit ?? studioSeeds(config.seeds, network)
  if (targets.length === 0) {
    throw new UnavailableError('no seed to push to: set config seeds (`dits-node config set seeds \'["/ip4/…/tcp/4101/p2p/12D3KooW…"]\'`), bootstrap a peer whose role is seed, or name one with --to PEER')
  }
  const outcomes = await Promise.allSettled(targets.map(async t => {
    const pushStarted = performance.now()
    const status = await pushRoot(network.libp2p, t.target, root, { signal: ctx.signal, onProgress: p => ctx.onProgress?.(p) })
    return figures(status, Math.round(performance.now() - pushStarted))
  }))
  const failures = outcomes.flatMap(o => o.status === 'rejected' ? [o.reason as Error] : [])
  if (failures.length > 0) {
    ctx.signal?.throwIfAborted()
    if (failures.length === 1) throw failures[0]
    throw new SeedRequestError(failures.map(f => f.message).join('; '), (failures[0] as Error & { exitCode?: ExitCode }).exitCode ?? 4, failures[0].name)
  }
  const seeds = outcomes.flatMap(o => o.status === 'fulfilled' ? [o.value] : [])
  const sum = (k: keyof Omit<SeedPushFigures, 'seed'>): number => seeds.reduce((n, s) => n + s[k], 0)
  return {
    root: root.toString(),
    ...(ref !== undefined ? { ref } : {}),
    noop: false,
    message: seeds.map(s => `seed ${s.seed} has all ${s.chunks_total} chunks of ${root.toString()}, pinned`).join('; '),
    bytes_total: seeds[0].bytes_total,
    bytes_sent: sum('bytes_sent'),
    bytes_already_on_seed: sum('bytes_already_on_seed'),
    chunks_total: seeds[0].chunks_total,
    chunks_sent: sum('chunks_sent'),
    chunks_already_on_seed: sum('chunks_already_on_seed'),
    manifest_bytes_sent: sum('manifest_bytes_sent'),
    duration_ms: Math.round(performance.now() - started),
    seeds
  }
}

function figures (s: PushStatus, ms: number): SeedPushFigures {
  return {
    seed: s.seed,
    bytes_total: s.bytes_total,
    bytes_sent: s.bytes_fetched,
    bytes_already_on_seed: s.bytes_already,
    chunks_total: s.chunks_total,
    chunks_sent: s.chunks_fetched,
    chunks_already_on_seed: s.chunks_already,
    manifest_bytes_sent: s.manifest_bytes_fetched,
    duration_ms: ms
  }
}

/** CID, CID/sub/path (resolved in this repo), or a ref name. */
async function resolveTarget (deps: SeedOpsDeps, target: string, ctx: OpContext): Promise<{ root: CID, ref?: string }> {
  let parsed
  try {
    parsed = parseCidPath(target)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    // not a CID: a ref
    let cid: string
    try {
      cid = await deps.refCid(target, ctx)
    } catch (refErr) {
      if (!(refErr instanceof DitsError)) throw refErr
      const why = `"${target}" is not a CID (${err.message}), and as a ref it could not be read: ${refErr.message}`
      // a ref the group does not have is a usage error; a group that cannot answer is unavailable
      throw refErr.exitCode === 4 ? new UnavailableError(why) : new UsageError(why)
    }
    return { root: parseCid(cid), ref: target }
  }
  if (parsed.path === '') return { root: parsed.root }
  const getBlock = async (cid: CID): Promise<Uint8Array> => await deps.ops.repo.blocks.get(cid, { signal: ctx.signal })
  if (!(await deps.ops.repo.blocks.has(parsed.root))) throw new UnavailableError(`${parsed.root.toString()} is not in this repo: push what this node holds (a path inside a root needs the root's manifests here)`)
  return { root: (await resolvePath(getBlock, parsed.root, parsed.path, { signal: ctx.signal })).cid }
}

/** The content bytes of a root held here (0 when it is not). */
async function localSize (ops: RepoOps, root: CID): Promise<number> {
  if (!(await ops.repo.blocks.has(root))) return 0
  const bytes = await ops.repo.blocks.get(root)
  if (root.code !== DAG_CBOR_CODE) return bytes.byteLength
  const node = await readNode(async () => bytes, root)
  return node.type === 'file' || node.type === 'dir' ? node.size : 0
}
