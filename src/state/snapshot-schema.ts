/**
 * The shape of a refs+locks snapshot (state-machine.ts `snapshot()`), checked before a replica restores one: a
 * snapshot arrives from the leader or from disk, and the tables keep its records as they are, so a field of the
 * wrong type would otherwise surface later, in the middle of an apply. Objects are loose (fields this build does
 * not know pass through untouched), every field it reads is typed and bounded.
 */
import { z } from 'zod'

const int = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
/** a session's floor: the highest sequence number forgotten, -1 before any */
const floor = z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER)
const text = z.string().max(64 * 1024)
const mode = z.enum(['shared', 'exclusive'])

/** the unverified user label a command carried, when it carried one */
const user = text.optional()
const grant = z.looseObject({ path: text, mode, owner: text, token: int, expires: int, ttlMs: int, grantedAt: int, user })
const waiter = z.looseObject({ path: text, mode, owner: text, client: text, seq: int, ttlMs: int, deadline: int, queuedAt: int, upgrade: z.boolean(), user })
const audit = z.looseObject({ kind: z.enum(['break', 'expire']), grant, by: text.nullable(), reason: text, when: int, index: int })
const ref = z.looseObject({ name: text, cid: text, index: int, when: int, who: text, token: int.nullable(), user })
const refLogEntry = z.looseObject({ old: text.nullable(), new: text.nullable(), who: text, when: int, token: int.nullable(), index: int, user })
/** the access table itself is parsed by access.ts `parseAccessTable`, which checks every peer id */
const accessChange = z.looseObject({ change: z.enum(['grant', 'revoke']), role: z.enum(['read', 'write', 'lock', 'admin']), peer: text, name: text.nullable(), by: text, user, when: int, index: int })
const result = z.looseObject({ ok: z.boolean() })

export const SNAPSHOT_SCHEMA = z.looseObject({
  appliedIndex: int,
  clock: int,
  // their ranges are the constructor's to check, with its own messages
  limits: z.looseObject({ maxSessions: z.number(), sessionWindow: z.number(), maxRefLogEntries: z.number(), maxAuditEntries: z.number() }),
  sessions: z.array(z.tuple([text, floor, z.array(z.tuple([int, result]))])),
  refs: z.looseObject({ refs: z.array(ref), logs: z.array(z.tuple([text, int, z.array(refLogEntry)])) }),
  locks: z.looseObject({ grants: z.array(grant), waiters: z.array(waiter), audit: z.array(audit), auditDropped: int }),
  // absent in a snapshot taken before access control: the access table was never set
  access: z.looseObject({ table: z.unknown(), audit: z.array(accessChange), dropped: int }).optional()
})
