/**
 * The recorded client history: one record per client call, with its invocation and completion in virtual
 * time. A call whose outcome the client never learned (every attempt timed out) has `output` and `return`
 * null: it may or may not have taken effect, and the linearizability checker treats it that way
 * (checkers/linearizability.ts). `--export-history FILE` writes these records as JSON lines.
 */

import { cidFromDigest, RAW_CODE } from '../src/cid.ts'

export type OpName = 'ref.get' | 'ref.set' | 'ref.rm' | 'lock.acquire' | 'lock.renew' | 'lock.release' | 'lock.break'

/** What a ref call returned, in the register model the checker uses. */
export type RefOutput =
  | { ok: true, value: string | null }
  | { ok: true, old: string | null }
  | { ok: false, error: string, current?: string | null }

export interface LockOutput {
  ok: boolean
  status?: 'granted' | 'queued'
  mode?: 'shared' | 'exclusive'
  token?: number
  error?: string
}

export interface HistoryRecord {
  client: string
  op: OpName
  /** the ref name or lock path */
  key: string
  input: Record<string, unknown>
  /** null when the outcome is unknown */
  output: RefOutput | LockOutput | null
  /** virtual ms */
  call: number
  /** virtual ms; null when the outcome is unknown */
  return: number | null
}

/** Errors after which a ref write certainly did not take effect, for a reason outside the register model. */
export const FENCED_ERRORS: ReadonlySet<string> = new Set(['RefLockedError', 'StaleTokenError', 'SessionExpiredError', 'InvalidCommandError', 'AccessDeniedError', 'Unavailable'])

const cidCache: string[] = []

/**
 * The i-th CID a simulated client writes: a well-formed dits CID (raw, BLAKE3-256 multihash) whose digest
 * spells `i`. Every write of a run uses a fresh one, so a value read back names the one write that put it there
 * — which is what lets the checker see a write applied twice or a read of a write that never happened.
 */
export function simCid (i: number): string {
  let cid = cidCache[i]
  if (cid === undefined) {
    const digest = new Uint8Array(32)
    new DataView(digest.buffer).setUint32(28, i)
    cid = cidFromDigest(RAW_CODE, digest).toString()
    cidCache[i] = cid
  }
  return cid
}

/** JSON lines, one record a line; `seed` is added when several runs go to one file. */
export function historyToJsonLines (records: readonly HistoryRecord[], seed?: number): string {
  let out = ''
  for (const r of records) {
    out += JSON.stringify(seed === undefined ? r : { seed, ...r }) + '\n'
  }
  return out
}
