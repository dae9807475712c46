/**
 * Roles for access (DESIGN §10, issue 14): which peers may read, write, lock and administer. Pure: the table,
 * its rules, and {@link admit} — the one place that turns a client's request into the command a voter
 * proposes, taking the identity from the authenticated connection (never from a field the client filled in)
 * and refusing a peer that lacks the role the command needs. The daemon's consensus server and the simulator
 * both call it, so the simulator checks the very code that guards the group.
 *
 * A role's list is either `null` — its default: every member of the private network for `read`, `write` and
 * `lock`, the current voters for `admin` — or an allow-list of peer ids. The first grant of a role turns its
 * default into an allow-list; revoking the last admin brings the voters back as admins (a group is never left
 * without one), while revoking the last holder of another role leaves it to nobody.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_ID_CHARS } from './constants.ts'
import { InvalidCommandError } from './errors.ts'
import { errorInfo } from './results.ts'
import type { ClientCommand, CommandType, Failure } from './types.ts'

export type AccessRole = 'read' | 'write' | 'lock' | 'admin'

export const ACCESS_ROLES: readonly AccessRole[] = ['read', 'write', 'lock', 'admin']

/** Most peers one role may list (a studio has tens of machines, not thousands). */
export const MAX_ACCESS_PEERS = 1024

/** Longest display name of a peer, in UTF-16 code units. */
export const MAX_ACCESS_NAME_CHARS = 64

export interface AccessTable {
  read: string[] | null
  write: string[] | null
  lock: string[] | null
  admin: string[] | null
  /** display names by peer id: a label for people, never an identity */
  names: Record<string, string>
}

/** Every role at its default: what a new studio starts with. */
export function defaultAccessTable (): AccessTable {
  return { read: null, write: null, lock: null, admin: null, names: {} }
}

/** The role each client command needs. */
export const COMMAND_ROLES: Readonly<Record<ClientCommand['type'], AccessRole>> = {
  'ref.set': 'write',
  'ref.rm': 'write',
  'lock.acquire': 'lock',
  'lock.release': 'lock',
  'lock.renew': 'lock',
  'lock.break': 'admin',
  'access.grant': 'admin',
  'access.revoke': 'admin'
}

/** Whether `peer` holds `role` under `table`, `voters` being the group's current voters. */
export function hasRole (table: AccessTable, peer: string, role: AccessRole, voters: readonly string[]): boolean {
  const list = table[role]
  if (list === null) return role === 'admin' ? voters.includes(peer) : true
  return list.includes(peer)
}

/** "12D3KooW… (ana-ws)": a peer as a refusal or a listing names it. */
export function describePeer (table: AccessTable, peer: string): string {
  const name = Object.hasOwn(table.names, peer) ? table.names[peer] : undefined
  return name === undefined ? peer : `${peer} (${name})`
}

/** The refusal for a peer without `role`: it names the peer and the missing role (exit 3). */
export function accessDenied (table: AccessTable, peer: string, role: AccessRole, what: string): Failure {
  const holders = role === 'admin' && table.admin === null ? 'the voters' : `${table[role]?.length ?? 0} peer(s)`
  return {
    ok: false,
    error: errorInfo('AccessDeniedError', `peer ${describePeer(table, peer)} lacks the ${role} role (${what}; the ${role} role is held by ${holders}: see \`dits-node access ls\`)`, { peer, role })
  }
}

/** A peer id in its string form, or a message saying why it is not one. */
export function checkPeerId (value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '' || value.length > MAX_ID_CHARS) return 'not a peer id string'
  try {
    if (peerIdFromString(value).toString() !== value) return 'not a peer id in its canonical form'
  } catch (err) {
    return `not a peer id (${(err as Error).message})`
  }
  return undefined
}

/**
 * The normal form of an access table (config `access`, a snapshot, a leader's stamped base), or an error
 * naming the key: `${where}.write[2]: not a peer id (…)`. Roles left out keep their default.
 */
export function parseAccessTable (input: unknown, where: string, fail: (message: string) => never): AccessTable {
  if (input === null || typeof input !== 'object' || Array.isArray(input) || input instanceof Uint8Array) fail(`${where}: expected an object with read, write, lock, admin and names`)
  const obj = input as Record<string, unknown>
  const table = defaultAccessTable()
  for (const key of Object.keys(obj)) {
    if (obj[key] === undefined) continue
    if (key === 'names') {
      table.names = parseNames(obj.names, `${where}.names`, fail)
    } else if ((ACCESS_ROLES as readonly string[]).includes(key)) {
      table[key as AccessRole] = parsePeerList(obj[key], `${where}.${key}`, fail)
    } else {
      fail(`${where}.${key}: unknown key (allowed: ${[...ACCESS_ROLES, 'names'].join(', ')})`)
    }
  }
  return table
}

function parsePeerList (value: unknown, where: string, fail: (message: string) => never): string[] | null {
  if (value === null) return null
  if (!Array.isArray(value)) fail(`${where}: expected a list of peer ids (or null for the default)`)
  if (value.length > MAX_ACCESS_PEERS) fail(`${where}: at most ${MAX_ACCESS_PEERS} peers, got ${value.length}`)
  const out: string[] = []
  value.forEach((v, i) => {
    const bad = checkPeerId(v)
    if (bad !== undefined) fail(`${where}[${i}]: ${bad}, got ${JSON.stringify(v)}`)
    if (!out.includes(v as string)) out.push(v as string)
  })
  return out
}

function parseNames (value: unknown, where: string, fail: (message: string) => never): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`${where}: expected an object {"<peer id>": "<name>"}`)
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > MAX_ACCESS_PEERS) fail(`${where}: at most ${MAX_ACCESS_PEERS} names, got ${entries.length}`)
  const out: Record<string, string> = {}
  for (const [peer, name] of entries.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    const bad = checkPeerId(peer)
    if (bad !== undefined) fail(`${where}: key ${JSON.stringify(peer)}: ${bad}`)
    const nameBad = checkName(name)
    if (nameBad !== undefined) fail(`${where}.${peer}: ${nameBad}`)
    out[peer] = name as string
  }
  return out
}

/** A display name, or why it is not one. */
export function checkName (name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return `expected a non-empty string, got ${JSON.stringify(name)}`
  if (name.length > MAX_ACCESS_NAME_CHARS) return `at most ${MAX_ACCESS_NAME_CHARS} characters, got ${name.length}`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'no control characters'
  return undefined
}

/** `table` with `peer` added to `role` (and named, when `name` is given). */
export function withGrant (table: AccessTable, role: AccessRole, peer: string, name?: string): AccessTable {
  const next = copyTable(table)
  const list = next[role] ?? []
  if (!list.includes(peer)) list.push(peer)
  next[role] = list
  if (name !== undefined) next.names[peer] = name
  return next
}

/**
 * `table` with `peer` removed from `role`, or a message when that cannot be said with an allow-list: a role at
 * its default is open to everyone (or the voters), so there is no entry to remove.
 */
export function withRevoke (table: AccessTable, role: AccessRole, peer: string): AccessTable | string {
  const list = table[role]
  if (list === null) {
    return role === 'admin'
      ? `the admin role is held by the voters (no admin is named): ${peer} cannot be revoked from it; remove it from the voters with \`cluster remove\`, or name the admins with \`access grant admin PEER\``
      : `the ${role} role is open to every member of the network: grant it to the peers that keep it first (\`access grant ${role} PEER\`), then revoke`
  }
  if (!list.includes(peer)) return `${peer} does not hold the ${role} role`
  const next = copyTable(table)
  const rest = list.filter(p => p !== peer)
  next[role] = role === 'admin' && rest.length === 0 ? null : rest
  return next
}

export function copyTable (t: AccessTable): AccessTable {
  return {
    read: t.read === null ? null : [...t.read],
    write: t.write === null ? null : [...t.write],
    lock: t.lock === null ? null : [...t.lock],
    admin: t.admin === null ? null : [...t.admin],
    names: { ...t.names }
  }
}

// ---- admission ---------------------------------------------------------------------------------------------

/**
 * Deliberately broken admissions, for the simulator's checkers (sims/mutants.ts): each removes one check.
 * Every branch one enables is marked `MUTANT(<name>)`.
 */
export type AccessMutant = 'trust-claimed-owner' | 'skip-role-check'

export const ACCESS_MUTANT_DESCRIPTIONS: Readonly<Record<AccessMutant, string>> = {
  'trust-claimed-owner': 'takes `owner` from the field a client filled in instead of the authenticated connection -> identity (a committed command acts for the peer that sent it)',
  'skip-role-check': 'proposes a command whatever roles its sender holds -> access (a committed command\'s owner held the role it needs)'
}

export const ACCESS_MUTANTS: readonly AccessMutant[] = Object.keys(ACCESS_MUTANT_DESCRIPTIONS) as AccessMutant[]

/** Fields of a command that the voter sets, never a client. */
export const STAMPED_FIELDS = ['owner', 'now', 'base'] as const

/** A command as a voter proposes it, before the leader stamps `now`. */
export type AdmittedCommand = ClientCommand extends infer C ? C extends ClientCommand ? Omit<C, 'now'> : never : never

/** A request body as a client sends it: a command without `now`, `owner` and `base` (a voter sets those). */
export type RequestBody = Record<string, unknown> & { type: CommandType }

export interface AdmitContext {
  /** the authenticated remote peer of the connection the request came over (this node's own id for a local call) */
  from: string
  /** the access table in effect on this voter */
  table: AccessTable
  voters: readonly string[]
  /** the replicated access table has never been set: an access change carries `table` as its base */
  unset: boolean
  mutant?: AccessMutant
}

/**
 * The command to propose for a client's request, or the refusal to answer it with. `owner` is `ctx.from`; a
 * request that names an owner (or any field a voter stamps) is malformed — it is refused, never believed.
 */
export function admit (body: RequestBody, ctx: AdmitContext): { command: AdmittedCommand } | Failure {
  const claimed = body.owner
  // MUTANT(trust-claimed-owner): a claimed owner is believed.
  const trustClaim = ctx.mutant === 'trust-claimed-owner' && typeof claimed === 'string'
  for (const field of STAMPED_FIELDS) {
    if (body[field] !== undefined && !(field === 'owner' && trustClaim)) {
      return { ok: false, error: errorInfo('InvalidCommandError', `invalid ${body.type} command: field '${field}': set by the voter (the owner is the authenticated peer of the connection, ${ctx.from}), not by a client`, {}) }
    }
  }
  if (body.type === 'lock.expire') {
    return { ok: false, error: errorInfo('InvalidCommandError', 'invalid command: lock.expire is proposed by the leader only', {}) }
  }
  const owner = trustClaim ? claimed : ctx.from
  const role = COMMAND_ROLES[body.type]
  // MUTANT(skip-role-check): the sender's roles are not looked at.
  if (ctx.mutant !== 'skip-role-check' && !hasRole(ctx.table, owner, role, ctx.voters)) {
    return accessDenied(ctx.table, owner, role, body.type)
  }
  const command = { ...body, owner } as unknown as AdmittedCommand
  if ((command.type === 'access.grant' || command.type === 'access.revoke') && ctx.unset) command.base = copyTable(ctx.table)
  return { command }
}

/** InvalidCommandError for a table that does not parse: the codec's way of failing. */
export function invalidTable (message: string): never {
  throw new InvalidCommandError(`invalid access table: ${message}`)
}
