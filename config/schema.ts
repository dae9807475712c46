/**
 * The configuration schema: every key, its default, and the rule it must satisfy. Validation errors name the
 * key, the bad value and what is allowed.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { UsageError } from '../src/errors.ts'
import { defaultAccessTable, parseAccessTable } from '../src/state/index.ts'
import type { AccessTable } from '../src/state/index.ts'
import { DEFAULT_FOLLOW_INTERVAL_MS, DEFAULT_KEEP_VERSIONS, MAX_KEEP_VERSIONS } from '../src/seed/index.ts'
import { DEFAULT_WATCH_DEBOUNCE_MS, DEFAULT_WATCH_IGNORE, DEFAULT_WATCH_INCLUDE, DEFAULT_WATCH_MIN_BYTES, MAX_WATCH_PATTERNS, patternProblem } from '../src/watch/index.ts'

/** Directories one `watch.dirs` may list. */
export const MAX_WATCH_DIRS = 64

/** A seed's gc schedule: every 6 hours (gc runs beside everything, so the schedule costs no pause). */
export const DEFAULT_SEED_GC_INTERVAL_MS = 6 * 3600_000

/** How long a seed keeps a speculative chunk unless a pin takes it over (`speculative.ttl`): three days. */
export const DEFAULT_SPECULATIVE_TTL_MS = 72 * 3600_000
/** The longest `speculative.ttl` there can be: thirty days. */
export const MAX_SPECULATIVE_TTL_MS = 30 * 24 * 3600_000
/** Unexpired speculative bytes one peer may keep on a seed (`seed.speculativeQuotaBytes`): 20 GiB. */
export const DEFAULT_SPECULATIVE_QUOTA_BYTES = 20 * 1024 ** 3

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * A duration in config: a whole number of milliseconds, or text such as "72h", "30m", "1.5d", "500ms". Returns the
 * milliseconds, or undefined when it is neither.
 */
export function durationMs (v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined
  if (typeof v !== 'string') return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(v)
  return m == null ? undefined : Math.round(Number(m[1]) * DURATION_MS[m[2]])
}

/** `speculative.ttl` in milliseconds. */
export function speculativeTtlMs (config: Pick<Config, 'speculative'>): number {
  return durationMs(config.speculative.ttl) ?? DEFAULT_SPECULATIVE_TTL_MS
}

export class ConfigError extends UsageError {
  static override name = 'ConfigError'
  override name = 'ConfigError'
}

export type Role = 'peer' | 'seed'

export interface Config {
  role: Role
  addresses: { listen: string[] }
  bootstrap: string[]
  /** the seeds (multiaddrs ending in /p2p/<peer id>): where `push` sends by default, and fetches' fallback of last resort */
  seeds: string[]
  discovery: { mdns: boolean }
  api: { port: number }
  dht: { announceChunks: boolean }
  consensus: {
    /** this node is one of the voters */
    voter: boolean
    /** the voters' multiaddrs, each ending in /p2p/<peer id> */
    voters: string[]
    heartbeatMs: number
    electionMs: number
    /** how long a client command may wait for a quorum before failing with exit 4 */
    requestTimeoutMs: number
    /** entries applied between two Raft snapshots (log compaction) */
    snapshotEntries: number
    /** `ref set` pushes its target to the seed(s) and commits only once they hold all of it; null: when `seeds` names one */
    requireSeed: boolean | null
  }
  /** what a seed keeps (role `seed`; README, "The seed follows refs") */
  seed: {
    /** versions of each ref whose targets the seed keeps pinned (reason `ref`) */
    keepVersions: number
    /** how often the seed reads the committed refs */
    followIntervalMs: number
    /** how often the seed runs gc by itself (0: never; peers run it when asked) */
    gcIntervalMs: number
    /** unexpired speculative bytes one peer may keep on this seed; a speculate beyond it is refused (README, "Speculative chunks") */
    speculativeQuotaBytes: number
  }
  /** speculative transport (issue 18; README, "Speculative chunks") */
  speculative: {
    /**
     * how long speculative chunks are kept unless a push or a ref pins a root over them: milliseconds, or a duration
     * such as "72h" (see `speculativeTtlMs`). A seed keeps them this long at most; a workstation asks for this long.
     */
    ttl: number | string
    /** a workstation uploads its watched files' chunks at all (the watcher still chunks, so that add reuses the work) */
    enabled: boolean
    /** bytes per second a workstation's uploads may average; null: no cap */
    maxRate: number | null
  }
  /** the private network (README, "Private network") */
  swarm: {
    /** a libp2p pnet key file (`dits-node swarm-key new`); relative paths are relative to the repo; null: an open network */
    keyFile: string | null
    /** refuse to start without a key */
    required: boolean
  }
  /**
   * Roles (DESIGN §10): peer ids allowed to read, write, lock and administer, and display names. A role left
   * null keeps its default (read/write/lock: every member of the network; admin: the voters). The voters
   * enforce it until the first `access grant|revoke`, which replicates it; from then on the replicated table wins.
   */
  access: AccessTable
  /** README "Metrics": `/metrics` is on the API (with its token); `listen` is an extra address that serves it without */
  metrics: {
    /** HOST:PORT where GET /metrics answers without the API token; null: only the API serves it */
    listen: string | null
  }
  /** README "Logs": JSON lines in <repo>/logs, rotated by size */
  log: {
    /** fatal, error, warn, info, debug, trace or silent; `start --log-level` overrides it */
    level: LogLevelName
    /** a log file is rotated before it would pass this size */
    maxFileBytes: number
    /** log files kept, the current one included */
    maxFiles: number
  }
  /** the web page the daemon serves on its API's address (README, "Dashboard") */
  dashboard: {
    /** serve `/dashboard/` and answer `dits-node dashboard` */
    enabled: boolean
  }
  /** what this node uploads to other nodes (README, "The swarm") */
  serve: {
    /** bytes per second served to all peers together; null: no cap */
    maxRate: number | null
    /** peers sent blocks at once (LAN peers first, a slot passed on every 2 s while others wait); null: every peer */
    slots: number | null
  }
  /** the folder watcher of speculative transport (README, "Instant push") */
  watch: {
    /** absolute paths of the directories watched (recursively) while the daemon runs; `dits-node watch` adds to them */
    dirs: string[]
    /** patterns of the files taken (src/watch/patterns.ts) */
    include: string[]
    /** patterns of the files and directories never taken; wins over include */
    ignore: string[]
    /** a file is read once nothing changed it for this long */
    debounceMs: number
    /** smaller files are not taken */
    minBytes: number
  }
}

export const LOG_LEVEL_NAMES = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevelName = typeof LOG_LEVEL_NAMES[number]
/** 10 MiB a file, 5 files: at most 50 MiB of logs per repo */
export const DEFAULT_LOG_MAX_FILE_BYTES = 10 * 1024 * 1024
export const DEFAULT_LOG_MAX_FILES = 5

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4101', '/ip4/0.0.0.0/udp/4101/webrtc-direct']
/** etcd's defaults: heartbeat 100 ms, election 1000 ms */
export const DEFAULT_HEARTBEAT_MS = 100
export const DEFAULT_ELECTION_MS = 1000
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000
/** etcd's default --snapshot-count */
export const DEFAULT_SNAPSHOT_ENTRIES = 10_000

export function defaultConfig (): Config {
  return {
    role: 'peer',
    addresses: { listen: [...DEFAULT_LISTEN] },
    bootstrap: [],
    seeds: [],
    discovery: { mdns: true },
    api: { port: 0 },
    dht: { announceChunks: false },
    consensus: {
      voter: false,
      voters: [],
      heartbeatMs: DEFAULT_HEARTBEAT_MS,
      electionMs: DEFAULT_ELECTION_MS,
      requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
      snapshotEntries: DEFAULT_SNAPSHOT_ENTRIES,
      requireSeed: null
    },
    seed: { keepVersions: DEFAULT_KEEP_VERSIONS, followIntervalMs: DEFAULT_FOLLOW_INTERVAL_MS, gcIntervalMs: DEFAULT_SEED_GC_INTERVAL_MS, speculativeQuotaBytes: DEFAULT_SPECULATIVE_QUOTA_BYTES },
    speculative: { ttl: '72h', enabled: true, maxRate: null },
    swarm: { keyFile: null, required: false },
    access: defaultAccessTable(),
    metrics: { listen: null },
    log: { level: 'info', maxFileBytes: DEFAULT_LOG_MAX_FILE_BYTES, maxFiles: DEFAULT_LOG_MAX_FILES },
    dashboard: { enabled: true },
    serve: { maxRate: null, slots: null },
    watch: { dirs: [], include: [...DEFAULT_WATCH_INCLUDE], ignore: [...DEFAULT_WATCH_IGNORE], debounceMs: DEFAULT_WATCH_DEBOUNCE_MS, minBytes: DEFAULT_WATCH_MIN_BYTES }
  }
}

interface KeyRule {
  allowed: string
  check(value: unknown): boolean
  /** what exactly is wrong with a value `check` refused (e.g. which list item), when it can say */
  explain?(value: unknown): string | undefined
}

const isBool = (v: unknown): boolean => typeof v === 'boolean'
const isInt = (lo: number, hi: number) => (v: unknown): boolean => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi
const isMultiaddr = (v: unknown): boolean => {
  if (typeof v !== 'string') return false
  try {
    multiaddr(v)
    return true
  } catch {
    return false
  }
}
const isList = (item: (v: unknown) => boolean) => (v: unknown): boolean => Array.isArray(v) && v.every(item)
/** `HOST:PORT` (`[v6]:PORT` for IPv6) → its parts, or undefined when it is not that (config `metrics.listen`). */
export function parseHostPort (v: string): { host: string, port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(v)
  if (m == null || Number(m[3]) > 65535) return undefined
  return { host: m[1] ?? m[2], port: Number(m[3]) }
}
/** A list of watch patterns, each one of the three forms (src/watch/patterns.ts). */
const patternRule: KeyRule = {
  allowed: `a list of at most ${MAX_WATCH_PATTERNS} patterns, each "*.ext" (an extension), "name/" (a directory anywhere) or "name" (a file name)`,
  check: v => Array.isArray(v) && v.length <= MAX_WATCH_PATTERNS && v.every(p => typeof p === 'string' && patternProblem(p) === undefined),
  explain: v => Array.isArray(v) ? v.map((p, i) => typeof p !== 'string' ? `[${i}] is not a string` : patternProblem(p) === undefined ? undefined : `[${i}]: ${patternProblem(p) as string}`).find(x => x !== undefined) : undefined
}
const isAbsoluteDir = (v: unknown): boolean => typeof v === 'string' && v.startsWith('/') && !v.includes('\0') && v.length <= 4096
const isVoterAddr = (v: unknown): boolean => isMultiaddr(v) && /\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(v as string)

/** A rule for one key of `access`, checked by the table's own parser so that the error names the item. */
const accessRule = (key: 'read' | 'write' | 'lock' | 'admin' | 'names'): KeyRule => {
  const explain = (v: unknown): string | undefined => {
    try {
      parseAccessTable({ [key]: v }, 'access', message => { throw new ConfigError(message) })
      return undefined
    } catch (err) {
      return (err as Error).message
    }
  }
  return {
    allowed: key === 'names' ? 'an object {"<peer id>": "<name>"}' : 'a list of peer ids, or null for the default',
    check: v => explain(v) === undefined,
    explain
  }
}

/** Every leaf key of the config, with its rule. */
export const RULES: Record<string, KeyRule> = {
  role: { allowed: '"peer" or "seed"', check: v => v === 'peer' || v === 'seed' },
  'addresses.listen': { allowed: 'a list of multiaddrs, e.g. ["/ip4/127.0.0.1/tcp/4101"]', check: isList(isMultiaddr) },
  bootstrap: { allowed: 'a list of multiaddrs ending in /p2p/<peer id>', check: isList(isVoterAddr) },
  seeds: { allowed: 'a list of multiaddrs ending in /p2p/<peer id>', check: isList(isVoterAddr) },
  'discovery.mdns': { allowed: 'true or false', check: isBool },
  'api.port': { allowed: 'an integer port 0–65535 (0 picks a free port)', check: isInt(0, 65535) },
  'dht.announceChunks': { allowed: 'true or false', check: isBool },
  'consensus.voter': { allowed: 'true or false', check: isBool },
  'consensus.voters': { allowed: 'a list of 0, 1, 3 or 5 multiaddrs ending in /p2p/<peer id>', check: v => isList(isVoterAddr)(v) && [0, 1, 3, 5].includes((v as unknown[]).length) },
  'consensus.heartbeatMs': { allowed: 'an integer 10–10000 (milliseconds)', check: isInt(10, 10_000) },
  'consensus.electionMs': { allowed: 'an integer 50–60000 (milliseconds), at least 5 × consensus.heartbeatMs', check: isInt(50, 60_000) },
  'consensus.requestTimeoutMs': { allowed: 'an integer 100–600000 (milliseconds)', check: isInt(100, 600_000) },
  'consensus.snapshotEntries': { allowed: 'an integer 10–10000000 (log entries between snapshots)', check: isInt(10, 10_000_000) },
  'seed.keepVersions': { allowed: `an integer 1–${MAX_KEEP_VERSIONS} (versions of each ref a seed keeps; a ref's log holds its newest ${MAX_KEEP_VERSIONS} changes)`, check: isInt(1, MAX_KEEP_VERSIONS) },
  'seed.followIntervalMs': { allowed: 'an integer 50–60000 (milliseconds between two reads of the refs by a seed)', check: isInt(50, 60_000) },
  'seed.gcIntervalMs': { allowed: 'an integer 0–604800000 (milliseconds between two gcs a seed runs by itself; 0: never)', check: isInt(0, 604_800_000) },
  'seed.speculativeQuotaBytes': { allowed: 'an integer 0–1125899906842624 (unexpired speculative bytes one peer may keep on this seed; 0: none)', check: isInt(0, 1024 ** 5) },
  'speculative.ttl': { allowed: `milliseconds (an integer 1–${MAX_SPECULATIVE_TTL_MS}) or a duration such as "72h", "30m", "1.5d", "500ms", of at most 30 days`, check: v => { const ms = durationMs(v); return ms !== undefined && ms >= 1 && ms <= MAX_SPECULATIVE_TTL_MS } },
  'consensus.requireSeed': { allowed: 'true, false, or null (true when config seeds names a seed)', check: v => v === null || isBool(v) },
  'swarm.keyFile': { allowed: 'null (an open network) or the path of a swarm key file, relative to the repo or absolute, e.g. "swarm.key"', check: v => v === null || (typeof v === 'string' && v.trim() !== '' && !v.includes('\0')) },
  'swarm.required': { allowed: 'true or false', check: isBool },
  'access.read': accessRule('read'),
  'access.write': accessRule('write'),
  'access.lock': accessRule('lock'),
  'access.admin': accessRule('admin'),
  'access.names': accessRule('names'),
  'metrics.listen': { allowed: 'null (metrics only on the API, with its token) or "HOST:PORT" where GET /metrics answers without the token, e.g. "127.0.0.1:9464" or "[::1]:9464"', check: v => v === null || (typeof v === 'string' && parseHostPort(v) !== undefined) },
  'log.level': { allowed: LOG_LEVEL_NAMES.map(l => `"${l}"`).join(', '), check: v => (LOG_LEVEL_NAMES as readonly unknown[]).includes(v) },
  'log.maxFileBytes': { allowed: 'an integer 4096–1073741824 (bytes a log file reaches before it is rotated)', check: isInt(4096, 1024 * 1024 * 1024) },
  'log.maxFiles': { allowed: 'an integer 1–100 (log files kept, the current one included)', check: isInt(1, 100) },
  'dashboard.enabled': { allowed: 'true or false', check: isBool },
  'serve.maxRate': { allowed: 'null (no cap) or an integer 1000–1000000000000 (bytes per second this node serves to all peers together, e.g. 12500000 for 100 Mb/s)', check: v => v === null || isInt(1000, 1e12)(v) },
  'serve.slots': { allowed: 'null (every peer at once) or an integer 1–1024 (peers sent blocks at once; LAN peers first)', check: v => v === null || isInt(1, 1024)(v) },
  'watch.dirs': { allowed: `a list of at most ${MAX_WATCH_DIRS} absolute directory paths, e.g. ["/home/ana/footage"]`, check: v => isList(isAbsoluteDir)(v) && (v as unknown[]).length <= MAX_WATCH_DIRS },
  'watch.include': patternRule,
  'watch.ignore': patternRule,
  'watch.debounceMs': { allowed: 'an integer 50–600000 (milliseconds a file must stay unchanged before it is read)', check: isInt(50, 600_000) },
  'watch.minBytes': { allowed: 'an integer 0–1099511627776 (files smaller than this are not taken)', check: isInt(0, 2 ** 40) },
  'speculative.enabled': { allowed: 'true or false', check: isBool },
  'speculative.maxRate': { allowed: 'null (no cap) or an integer 65536–10000000000 (bytes per second the uploads may average)', check: v => v === null || isInt(65_536, 10_000_000_000)(v) }
}

export function getKey (obj: unknown, key: string): unknown {
  let at = obj
  for (const part of key.split('.')) {
    if (at == null || typeof at !== 'object' || !Object.hasOwn(at, part)) return undefined
    at = (at as Record<string, unknown>)[part]
  }
  return at
}

export function setKey (obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.')
  let at = obj
  for (const part of parts.slice(0, -1)) {
    if (at[part] == null || typeof at[part] !== 'object') at[part] = {}
    at = at[part] as Record<string, unknown>
  }
  at[parts[parts.length - 1]] = value
}

/** Check one key; returns the value or throws naming key, value and what is allowed. */
export function checkKey (key: string, value: unknown): unknown {
  // own keys only: `toString` or `__proto__` must be unknown keys, not Object.prototype's members
  const rule = Object.hasOwn(RULES, key) ? RULES[key] : undefined
  if (rule === undefined) {
    const known = Object.keys(RULES)
    const prefix = known.filter(k => k.startsWith(key + '.'))
    const hint = prefix.length > 0 ? ` (it is a section; its keys are ${prefix.join(', ')})` : ''
    throw new ConfigError(`unknown config key "${key}"${hint}; known keys: ${known.join(', ')}`)
  }
  if (!rule.check(value)) {
    const why = rule.explain?.(value)
    throw new ConfigError(`invalid value for ${key}: ${why ?? JSON.stringify(value)}; allowed: ${rule.allowed}`)
  }
  return value
}

/** Validate a whole config object (a file's contents merged over defaults). Unknown keys are errors. */
export function validateConfig (raw: unknown, source: string): Config {
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${source}: the config must be a JSON object`)
  const merged = defaultConfig() as unknown as Record<string, unknown>
  for (const key of leafKeys(raw as Record<string, unknown>)) {
    try {
      setKey(merged, key, checkKey(key, getKey(raw, key)))
    } catch (err) {
      throw new ConfigError(`${source}: ${(err as Error).message}`)
    }
  }
  const config = merged as unknown as Config
  if (config.consensus.electionMs < 5 * config.consensus.heartbeatMs) {
    throw new ConfigError(`${source}: consensus.electionMs (${config.consensus.electionMs}) must be at least 5 × consensus.heartbeatMs (${config.consensus.heartbeatMs}) so that a few lost heartbeats do not start an election`)
  }
  return config
}

function leafKeys (obj: Record<string, unknown>, prefix = ''): string[] {
  const keys: string[] = []
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix === '' ? k : `${prefix}.${k}`
    if (v != null && typeof v === 'object' && !Array.isArray(v) && !Object.hasOwn(RULES, key)) keys.push(...leafKeys(v as Record<string, unknown>, key))
    else keys.push(key)
  }
  return keys
}
