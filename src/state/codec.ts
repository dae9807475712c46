/**
 * Commands and reads on the wire: dag-cbor (DESIGN §1), validated on the way in and on the way out, so a
 * replica only ever applies a command in its normal form — paths normalized (src/paths.ts), CIDs in their
 * canonical string form, no unknown fields. Every refusal is an {@link InvalidCommandError} naming the
 * command type, the field and the rule.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { parseCid } from '../cid.ts'
import { normalizePath } from '../paths.ts'
import {
  MAX_CID_CHARS, MAX_COMMAND_BYTES, MAX_ID_CHARS, MAX_LOCK_TTL_MS, MAX_LOCK_WAIT_MS, MAX_REASON_CHARS,
  MAX_TIMESTAMP_MS
} from './constants.ts'
import { InvalidCommandError } from './errors.ts'
import { ACCESS_ROLES, checkName, checkPeerId, parseAccessTable } from './access.ts'
import type { AccessRole, AccessTable } from './access.ts'
import type {
  AccessGrantCommand, AccessRevokeCommand, Command, CommandType, LockAcquireCommand, LockMode, LockRenewCommand,
  Query, RefRmCommand, RefSetCommand
} from './types.ts'

type Fields = Record<string, unknown>

const COMMAND_FIELDS: Readonly<Record<CommandType, { required: readonly string[], optional: readonly string[] }>> = {
  'ref.set': { required: ['name', 'cid'], optional: ['expect', 'token'] },
  'ref.rm': { required: ['name', 'expect'], optional: ['token'] },
  'lock.acquire': { required: ['path', 'mode', 'ttlMs'], optional: ['waitMs'] },
  'lock.release': { required: ['path'], optional: [] },
  'lock.renew': { required: ['path'], optional: ['ttlMs'] },
  'lock.break': { required: ['path', 'reason'], optional: [] },
  'access.grant': { required: ['role', 'peer'], optional: ['name', 'base'] },
  'access.revoke': { required: ['role', 'peer'], optional: ['base'] },
  'lock.expire': { required: [], optional: [] }
}

const CLIENT_FIELDS = ['client', 'seq', 'now', 'owner'] as const

const QUERY_FIELDS: Readonly<Record<Query['type'], { required: readonly string[], optional: readonly string[] }>> = {
  'ref.get': { required: ['name'], optional: [] },
  'ref.ls': { required: [], optional: ['prefix'] },
  'ref.log': { required: ['name'], optional: [] },
  'lock.ls': { required: [], optional: ['prefix'] },
  'lock.audit': { required: [], optional: ['prefix'] },
  'access.ls': { required: [], optional: [] }
}

/**
 * The normal form of a command object, or an InvalidCommandError. Absent optional fields may also be
 * `undefined` on input (convenient for callers building objects from options); they are left out of the result.
 */
export function validateCommand (input: unknown): Command {
  const obj = plainObject(input, 'command')
  const type = obj.type
  if (typeof type !== 'string' || !Object.hasOwn(COMMAND_FIELDS, type)) {
    throw new InvalidCommandError(`invalid command: unknown type ${describe(type)} (expected one of ${Object.keys(COMMAND_FIELDS).join(', ')})`)
  }
  const t = type as CommandType
  const spec = COMMAND_FIELDS[t]
  const required = t === 'lock.expire' ? ['now'] : [...CLIENT_FIELDS, ...spec.required]
  const f = new FieldReader(`${t} command`, obj, required, t === 'lock.expire' ? spec.optional : [...spec.optional, 'user'])

  if (t === 'lock.expire') return { type: t, now: f.timestamp('now') }
  const base: { client: string, seq: number, now: number, owner: string, user?: string } = {
    client: f.id('client'),
    seq: f.integer('seq', 0, Number.MAX_SAFE_INTEGER),
    now: f.timestamp('now'),
    owner: f.id('owner')
  }
  if (f.has('user')) base.user = f.id('user')
  switch (t) {
    case 'ref.set': {
      const cmd: RefSetCommand = { type: t, ...base, name: f.path('name', false), cid: f.cid('cid') }
      if (f.has('expect')) cmd.expect = f.get('expect') === null ? null : f.cid('expect')
      if (f.has('token')) cmd.token = f.integer('token', 1, Number.MAX_SAFE_INTEGER)
      return cmd
    }
    case 'ref.rm': {
      const cmd: RefRmCommand = { type: t, ...base, name: f.path('name', false), expect: f.cid('expect') }
      if (f.has('token')) cmd.token = f.integer('token', 1, Number.MAX_SAFE_INTEGER)
      return cmd
    }
    case 'lock.acquire': {
      const cmd: LockAcquireCommand = { type: t, ...base, path: f.path('path', true), mode: f.mode('mode'), ttlMs: f.integer('ttlMs', 1, MAX_LOCK_TTL_MS) }
      if (f.has('waitMs')) cmd.waitMs = f.integer('waitMs', 0, MAX_LOCK_WAIT_MS)
      return cmd
    }
    case 'lock.release':
      return { type: t, ...base, path: f.path('path', true) }
    case 'lock.renew': {
      const cmd: LockRenewCommand = { type: t, ...base, path: f.path('path', true) }
      if (f.has('ttlMs')) cmd.ttlMs = f.integer('ttlMs', 1, MAX_LOCK_TTL_MS)
      return cmd
    }
    case 'lock.break':
      return { type: t, ...base, path: f.path('path', true), reason: f.text('reason', MAX_REASON_CHARS) }
    case 'access.grant': {
      const cmd: AccessGrantCommand = { type: t, ...base, role: f.role('role'), peer: f.peer('peer') }
      if (f.has('name')) cmd.name = f.name('name')
      if (f.has('base')) cmd.base = f.table('base')
      return cmd
    }
    case 'access.revoke': {
      const cmd: AccessRevokeCommand = { type: t, ...base, role: f.role('role'), peer: f.peer('peer') }
      if (f.has('base')) cmd.base = f.table('base')
      return cmd
    }
  }
}

/** A command as dag-cbor bytes, for `propose`. Validates first, so only normal forms enter the log. */
export function encodeCommand (command: Command): Uint8Array {
  return dagCbor.encode(validateCommand(command))
}

/** A command from the bytes of a log entry, validated and in normal form; InvalidCommandError otherwise. */
export function decodeCommand (bytes: Uint8Array): Command {
  return validateCommand(decodeBounded(bytes, 'command'))
}

/** The normal form of a read, or an InvalidCommandError. */
export function validateQuery (input: unknown): Query {
  const obj = plainObject(input, 'query')
  const type = obj.type
  if (typeof type !== 'string' || !Object.hasOwn(QUERY_FIELDS, type)) {
    throw new InvalidCommandError(`invalid query: unknown type ${describe(type)} (expected one of ${Object.keys(QUERY_FIELDS).join(', ')})`)
  }
  const t = type as Query['type']
  const spec = QUERY_FIELDS[t]
  const f = new FieldReader(`${t} query`, obj, spec.required, spec.optional)
  switch (t) {
    case 'ref.get':
    case 'ref.log':
      return { type: t, name: f.path('name', false) }
    case 'ref.ls':
    case 'lock.ls':
    case 'lock.audit':
      return { type: t, prefix: f.has('prefix') ? f.prefix('prefix') : '' }
    case 'access.ls':
      return { type: t }
  }
}

export function encodeQuery (query: Query): Uint8Array {
  return dagCbor.encode(validateQuery(query))
}

export function decodeQuery (bytes: Uint8Array): Query {
  return validateQuery(decodeBounded(bytes, 'query'))
}

function decodeBounded (bytes: Uint8Array, what: string): unknown {
  if (!(bytes instanceof Uint8Array)) throw new InvalidCommandError(`invalid ${what}: expected bytes, got ${describe(bytes)}`)
  if (bytes.byteLength > MAX_COMMAND_BYTES) {
    throw new InvalidCommandError(`invalid ${what}: ${bytes.byteLength} bytes is over the limit of ${MAX_COMMAND_BYTES}`)
  }
  try {
    return dagCbor.decode(bytes)
  } catch (err) {
    throw new InvalidCommandError(`invalid ${what}: not dag-cbor (${(err as Error).message})`, undefined, { cause: err })
  }
}

function plainObject (input: unknown, what: string): Fields {
  if (input === null || typeof input !== 'object' || Array.isArray(input) || input instanceof Uint8Array) {
    throw new InvalidCommandError(`invalid ${what}: expected a map, got ${describe(input)}`)
  }
  return input as Fields
}

/** Reads the fields of one command, each check naming the command, the field and the rule. */
class FieldReader {
  constructor (
    private readonly what: string,
    private readonly obj: Fields,
    required: readonly string[],
    private readonly optional: readonly string[]
  ) {
    const known = new Set(['type', ...required, ...optional])
    for (const key of Object.keys(obj)) {
      if (!known.has(key) && obj[key] !== undefined) this.fail(key, `unknown field (allowed: ${[...known].join(', ')})`)
    }
    for (const key of required) {
      if (obj[key] === undefined) this.fail(key, 'missing')
    }
  }

  has (key: string): boolean {
    return this.optional.includes(key) && this.obj[key] !== undefined
  }

  get (key: string): unknown {
    return this.obj[key]
  }

  fail (key: string, rule: string): never {
    throw new InvalidCommandError(`invalid ${this.what}: field '${key}': ${rule}`)
  }

  integer (key: string, min: number, max: number): number {
    const v = this.obj[key]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer from ${min} to ${max}, got ${describe(v)}`)
    }
    return v
  }

  timestamp (key: string): number {
    return this.integer(key, 0, MAX_TIMESTAMP_MS)
  }

  id (key: string): string {
    return this.text(key, MAX_ID_CHARS)
  }

  text (key: string, maxChars: number): string {
    const v = this.obj[key]
    if (typeof v !== 'string' || v === '') this.fail(key, `must be a non-empty string, got ${describe(v)}`)
    if (v.length > maxChars) this.fail(key, `must be at most ${maxChars} characters, got ${v.length}`)
    return v
  }

  mode (key: string): LockMode {
    const v = this.obj[key]
    if (v !== 'shared' && v !== 'exclusive') this.fail(key, `must be 'shared' or 'exclusive', got ${describe(v)}`)
    return v
  }

  role (key: string): AccessRole {
    const v = this.obj[key]
    if (typeof v !== 'string' || !(ACCESS_ROLES as readonly string[]).includes(v)) this.fail(key, `must be one of ${ACCESS_ROLES.join(', ')}, got ${describe(v)}`)
    return v as AccessRole
  }

  peer (key: string): string {
    const v = this.obj[key]
    const bad = checkPeerId(v)
    if (bad !== undefined) this.fail(key, `${bad}, got ${describe(v)}`)
    return v as string
  }

  name (key: string): string {
    const bad = checkName(this.obj[key])
    if (bad !== undefined) this.fail(key, bad)
    return this.obj[key] as string
  }

  table (key: string): AccessTable {
    return parseAccessTable(this.obj[key], key, message => this.fail(key, message))
  }

  cid (key: string): string {
    const v = this.obj[key]
    if (typeof v !== 'string') this.fail(key, `must be a CID string, got ${describe(v)}`)
    if (v.length > MAX_CID_CHARS) this.fail(key, `must be at most ${MAX_CID_CHARS} characters, got ${v.length}`)
    try {
      return parseCid(v).toString()
    } catch (err) {
      this.fail(key, (err as Error).message)
    }
  }

  path (key: string, allowDirectory: boolean): string {
    const v = this.obj[key]
    if (typeof v !== 'string') this.fail(key, `must be a path string, got ${describe(v)}`)
    try {
      return normalizePath(v, { allowDirectory })
    } catch (err) {
      this.fail(key, (err as Error).message)
    }
  }

  /** A listing prefix: '' (everything) or a path, kept with its trailing '/' if it has one. */
  prefix (key: string): string {
    const v = this.obj[key]
    if (v === '') return ''
    return this.path(key, true)
  }
}

function describe (value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)
  if (typeof value === 'object') return 'a map'
  return `${typeof value} ${String(value)}`
}
