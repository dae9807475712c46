/**
 * The daemon's API operations for `ref`, `lock` and `cluster` (DESIGN §8), merged into its op table
 * (node/daemon.ts). Arguments arrive as JSON from the CLI; each is checked here and named in the error.
 */
import { UnavailableError, UsageError } from '../../src/errors.ts'
import type { Op } from '../api.ts'
import type { ConsensusService } from './service.ts'

export function consensusOps (service: () => ConsensusService | undefined): Record<string, Op> {
  const s = (): ConsensusService => {
    const c = service()
    if (c === undefined) throw new UnavailableError('the consensus service is not running: start the daemon with `dits-node start`')
    return c
  }
  return {
    refGet: async (a) => await s().refGet({ name: str(a, 'name') }),
    refSet: async (a) => await s().refSet({ name: str(a, 'name'), cid: str(a, 'cid'), expect: optStr(a, 'expect'), expectNone: optBool(a, 'expectNone'), token: optInt(a, 'token') }),
    refRm: async (a) => await s().refRm({ name: str(a, 'name'), expect: str(a, 'expect'), token: optInt(a, 'token') }),
    refLs: async (a) => await s().refLs({ prefix: optStr(a, 'prefix') }),
    refLog: async (a) => await s().refLog({ name: str(a, 'name') }),
    lockAcquire: async (a) => await s().lockAcquire({ path: str(a, 'path'), shared: optBool(a, 'shared'), ttlMs: optInt(a, 'ttlMs'), waitMs: optInt(a, 'waitMs') }),
    lockRelease: async (a) => await s().lockRelease({ path: str(a, 'path') }),
    lockRenew: async (a) => await s().lockRenew({ path: str(a, 'path'), ttlMs: optInt(a, 'ttlMs') }),
    lockLs: async (a) => await s().lockLs({ prefix: optStr(a, 'prefix') }),
    lockBreak: async (a) => await s().lockBreak({ path: str(a, 'path'), reason: str(a, 'reason') }),
    clusterStatus: async () => await s().clusterStatus(),
    clusterAdd: async (a) => await s().clusterAdd({ peer: str(a, 'peer') }),
    clusterRemove: async (a) => await s().clusterRemove({ peer: str(a, 'peer') })
  }
}

type Args = Record<string, unknown> | undefined

function str (a: Args, key: string): string {
  const v = a?.[key]
  if (typeof v !== 'string' || v === '') throw new UsageError(`argument ${key} must be a non-empty string`)
  return v
}

function optStr (a: Args, key: string): string | undefined {
  return a?.[key] == null ? undefined : str(a, key)
}

function optBool (a: Args, key: string): boolean | undefined {
  const v = a?.[key]
  if (v == null) return undefined
  if (typeof v !== 'boolean') throw new UsageError(`argument ${key} must be true or false`)
  return v
}

function optInt (a: Args, key: string): number | undefined {
  const v = a?.[key]
  if (v == null) return undefined
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new UsageError(`argument ${key} must be a whole number >= 0`)
  return v as number
}
