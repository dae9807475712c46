/**
 * The daemon's API operations for `ref`, `lock`, `cluster` and `access` (DESIGN §8, §10), merged into its op table
 * (node/daemon.ts). Arguments arrive as JSON from the CLI; each operation's schema checks their shape, types and
 * ranges (node/api.ts `parseArgs`), and the state machine's codec then checks names, paths and CIDs in full.
 */
import { z } from 'zod'
import { UnavailableError } from '../../src/errors.ts'
import { ACCESS_ROLES, MAX_ACCESS_NAME_CHARS, MAX_CID_CHARS, MAX_LOCK_TTL_MS, MAX_LOCK_WAIT_MS, MAX_REASON_CHARS } from '../../src/state/index.ts'
import { MAX_PATH_BYTES } from '../../src/paths.ts'
import { rpc, NoArgs } from '../api.ts'
import { REQUEST_ID_PATTERN } from './service.ts'
import type { RpcOp } from '../api.ts'
import type { AccessRole } from '../../src/state/index.ts'
import type { ConsensusService } from './service.ts'

/** A ref name or lock path: the codec checks it segment by segment (src/paths.ts); this only bounds it. */
const PathArg = z.string().min(1).max(MAX_PATH_BYTES)
const CidArg = z.string().min(1).max(MAX_CID_CHARS)
/** A fencing token: a Raft log index, so at least 1. */
const TokenArg = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)
const TtlArg = z.number().int().min(1).max(MAX_LOCK_TTL_MS)
/** `peer id` or a multiaddr ending in `/p2p/<peer id>` */
const PeerArg = z.string().min(1).max(1024)
/** `--request-id`: a retry with the same id is the same command, applied once (service.ts requestSession) */
const RequestIdArg = z.string().regex(REQUEST_ID_PATTERN, 'must be 1-128 of A-Z a-z 0-9 . _ : -').optional().describe('--request-id')

export const RefSetArgs = z.strictObject({ name: PathArg, cid: CidArg, expect: CidArg.optional().describe('--expect'), expectNone: z.boolean().optional().describe('--expect-none'), token: TokenArg.optional().describe('--token'), requestId: RequestIdArg })
export const RefRmArgs = z.strictObject({ name: PathArg, expect: CidArg.describe('--expect'), token: TokenArg.optional().describe('--token'), requestId: RequestIdArg })
export const LockAcquireArgs = z.strictObject({ path: PathArg, shared: z.boolean().optional().describe('--shared'), ttlMs: TtlArg.optional().describe('--ttl'), waitMs: z.number().int().min(0).max(MAX_LOCK_WAIT_MS).optional().describe('--wait'), requestId: RequestIdArg })
const NameArgs = z.strictObject({ name: PathArg })
const PrefixArgs = z.strictObject({ prefix: z.string().max(MAX_PATH_BYTES).optional() })
const PeerArgs = z.strictObject({ peer: PeerArg })
const RoleArg = z.enum(ACCESS_ROLES as readonly [AccessRole, ...AccessRole[]])

export function consensusOps (service: () => ConsensusService | undefined): Record<string, RpcOp> {
  const s = (): ConsensusService => {
    const c = service()
    if (c === undefined) throw new UnavailableError('the consensus service is not running: start the daemon with `dits-node start`')
    return c
  }
  return {
    refGet: rpc(NameArgs, async (a) => await s().refGet(a)),
    refSet: rpc(RefSetArgs, async (a) => await s().refSet(a)),
    refRm: rpc(RefRmArgs, async (a) => await s().refRm(a)),
    refLs: rpc(PrefixArgs, async (a) => await s().refLs(a)),
    refLog: rpc(NameArgs, async (a) => await s().refLog(a)),
    lockAcquire: rpc(LockAcquireArgs, async (a) => await s().lockAcquire(a)),
    lockRelease: rpc(z.strictObject({ path: PathArg, requestId: RequestIdArg }), async (a) => await s().lockRelease(a)),
    lockRenew: rpc(z.strictObject({ path: PathArg, ttlMs: TtlArg.optional().describe('--ttl'), requestId: RequestIdArg }), async (a) => await s().lockRenew(a)),
    lockLs: rpc(PrefixArgs, async (a) => await s().lockLs(a)),
    lockBreak: rpc(z.strictObject({ path: PathArg, reason: z.string().min(1).max(MAX_REASON_CHARS).describe('--reason'), requestId: RequestIdArg }), async (a) => await s().lockBreak(a)),
    clusterStatus: rpc(NoArgs, async () => await s().clusterStatus()),
    clusterAdd: rpc(PeerArgs, async (a) => await s().clusterAdd(a)),
    clusterRemove: rpc(PeerArgs, async (a) => await s().clusterRemove(a)),
    accessLs: rpc(NoArgs, async () => await s().accessLs()),
    accessGrant: rpc(z.strictObject({ role: RoleArg, peer: PeerArg, name: z.string().min(1).max(MAX_ACCESS_NAME_CHARS).optional() }), async (a) => await s().accessGrant(a)),
    accessRevoke: rpc(z.strictObject({ role: RoleArg, peer: PeerArg }), async (a) => await s().accessRevoke(a))
  }
}
