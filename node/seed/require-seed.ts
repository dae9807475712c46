/**
 * Commit after replicate (issue 17): `ref set NAME CID` with `--require-seed` (or config `consensus.requireSeed`,
 * by default on when config `seeds` names one) first pushes CID to the seed(s) (node/net/seed.ts `pushRoot`: the
 * seed answers once every block under CID is durable there and pinned), waiting at most `--wait`, and only then
 * proposes the `ref.set`. If a seed cannot get there, nothing is proposed: the command fails (exit 4) saying how far
 * the seed got, "seed 12D3… has 812 of 840 chunks of <cid>: <why>; the ref was not set". A studio can then trust
 * that every ref set this way resolves on the seed.
 */
import { z } from 'zod'
import { pushRoot, pushStanding } from '../net/seed.ts'
import { studioSeeds } from './targets.ts'
import { AccessRefusedError } from '../net/errors.ts'
import { RefSetArgs } from '../consensus/ops.ts'
import { parseCid } from '../../src/cid.ts'
import { UnavailableError } from '../../src/errors.ts'
import { rpc } from '../api.ts'
import type { RpcOp } from '../api.ts'
import type { OpContext } from '../ops.ts'
import type { Config } from '../../config/index.ts'
import type { ConsensusService } from '../consensus/index.ts'
import type { DitsNetwork } from '../net/index.ts'
import type { PushStatus } from '../net/seed.ts'
import type { CID } from 'multiformats/cid'

/** How long a `ref set` that requires the seed waits for it, without `--wait`. */
export const DEFAULT_REQUIRE_SEED_WAIT_MS = 10 * 60_000
/** The longest `--wait` taken. */
export const MAX_REQUIRE_SEED_WAIT_MS = 24 * 60 * 60_000

export const RefSetRequiringSeedArgs = RefSetArgs.extend({
  requireSeed: z.boolean().optional().describe('--require-seed / --no-require-seed'),
  waitMs: z.number().int().min(1).max(MAX_REQUIRE_SEED_WAIT_MS).optional().describe('--wait')
})
export type RefSetRequiringSeedArgs = z.output<typeof RefSetRequiringSeedArgs>

/** The seed did not get every block of the target durable: the ref was not set. */
export class RefNotReplicatedError extends UnavailableError {
  static override name = 'RefNotReplicatedError'
  override name = 'RefNotReplicatedError'
}

/** What each seed held of the target once it had all of it (`ref set --json`'s `seeds`). */
export interface SeedHolding {
  seed: string
  chunks_total: number
  bytes_total: number
  /** bytes the seed fetched for this ref set (the rest it held already) */
  bytes_sent: number
  duration_ms: number
}

export interface RequireSeedDeps {
  config: Pick<Config, 'role' | 'seeds' | 'consensus'>
  network(): DitsNetwork | undefined
  consensus(): ConsensusService | undefined
}

/** Whether a `ref set` pushes to the seed first: the flag, else config `consensus.requireSeed`, else whether `seeds` names one. */
export function requiresSeed (config: RequireSeedDeps['config'], flag: boolean | undefined): boolean {
  return flag ?? config.consensus.requireSeed ?? config.seeds.length > 0
}

/** The `refSet` operation, pushing to the seed(s) first when required. */
export function requireSeedOps (deps: RequireSeedDeps): Record<string, RpcOp> {
  return {
    refSet: rpc(RefSetRequiringSeedArgs, async (a, c) => await refSet(deps, a, c))
  }
}

async function refSet (deps: RequireSeedDeps, args: RefSetRequiringSeedArgs, ctx: OpContext): Promise<unknown> {
  const consensus = deps.consensus()
  if (consensus === undefined) throw new UnavailableError('the consensus service is not running: start the daemon with `dits-node start`')
  const { requireSeed, waitMs, ...set } = args
  if (!requiresSeed(deps.config, requireSeed)) return await consensus.refSet(set)
  const root = parseCid(args.cid)
  const seeds = await pushToSeeds(deps, root, waitMs ?? DEFAULT_REQUIRE_SEED_WAIT_MS, ctx)
  return { ...await consensus.refSet(set), seeds }
}

/** Push `root` to every seed, all at once; resolves once each has all of it, or fails naming how far each got. */
async function pushToSeeds (deps: RequireSeedDeps, root: CID, waitMs: number, ctx: OpContext): Promise<SeedHolding[]> {
  const network = deps.network()
  if (network === undefined) throw new UnavailableError('ref set --require-seed needs the daemon\'s network: run `dits-node start`')
  const targets = studioSeeds(deps.config.seeds, network)
  if (targets.length === 0) {
    throw new RefNotReplicatedError(`ref set requires a seed (--require-seed or consensus.requireSeed) and there is none to push ${root.toString()} to: set config seeds, bootstrap a peer whose role is seed, or pass --no-require-seed; the ref was not set`)
  }
  const wait = new AbortController()
  const timer = setTimeout(() => { wait.abort(new Error(`it did not finish within --wait ${formatWait(waitMs)}`)) }, waitMs)
  const signal = ctx.signal !== undefined ? AbortSignal.any([ctx.signal, wait.signal]) : wait.signal
  try {
    const outcomes = await Promise.allSettled(targets.map(async ({ id, target }) => {
      const started = performance.now()
      let last: PushStatus | undefined
      try {
        const done = await pushRoot(network.libp2p, target, root, { signal, onProgress: p => { last = p; ctx.onProgress?.(p) } })
        return { seed: done.seed, chunks_total: done.chunks_total, bytes_total: done.bytes_total, bytes_sent: done.bytes_fetched, duration_ms: Math.round(performance.now() - started) }
      } catch (err) {
        ctx.signal?.throwIfAborted()
        // a push that ran out of --wait is cut by its signal: say how far it got, as a failure from the seed does
        if (wait.signal.aborted) throw new RefNotReplicatedError(`${pushStanding(id, root, last)}: ${(wait.signal.reason as Error).message}`)
        throw err
      }
    }))
    const failures = outcomes.flatMap(o => o.status === 'rejected' ? [o.reason as Error] : [])
    if (failures.length > 0) {
      const message = `${failures.map(f => f.message).join('; ')}; the ref was not set`
      throw failures.every(f => f instanceof AccessRefusedError) ? new AccessRefusedError(message) : new RefNotReplicatedError(message)
    }
    return outcomes.flatMap(o => o.status === 'fulfilled' ? [o.value] : [])
  } finally {
    clearTimeout(timer)
  }
}

/** config `seeds`, or else the connected peers whose hello says they are seeds (bootstrap seeds); never this node. */
function formatWait (ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}
