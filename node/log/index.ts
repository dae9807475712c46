/**
 * The daemon's structured logs (issue 20): pino, one JSON object a line, into `<repo>/logs/dits.log` with
 * size-based rotation (rotating-file.ts), and in a human form on stderr when stderr is a terminal. The level is
 * config `log.level`, or `start --log-level`.
 *
 * libp2p's debug loggers (and the dits components that use them: `dits:net`, `dits:chunks`, `dits:hello`,
 * `dits:advertiser`, `dits:consensus`) write here too, through `componentLogger`: a dits component's lines are
 * `debug` (its errors `warn`), libp2p's own (and the DHT's, `dits:kad`) `trace` (their errors `debug`), so the
 * default level `info` carries only what an operator acts on.
 *
 * @example
 * ```ts
 * const log = createDaemonLog({ dir: join(repo, 'logs'), level: 'info' })
 * log.logger.warn({ op: 'refSet', req: 7 }, 'ref set failed: …')
 * const libp2p = await createLibp2p({ logger: log.componentLogger, … })
 * log.close()
 * ```
 */
import { inspect } from 'node:util'
import { pino } from 'pino'
import { RotatingFile } from './rotating-file.ts'
import { DEFAULT_LOG_MAX_FILE_BYTES, DEFAULT_LOG_MAX_FILES } from '../../config/index.ts'
import type { LogLevelName } from '../../config/index.ts'
import type { ComponentLogger, Logger as Libp2pLogger } from '@libp2p/interface'

export { RotatingFile, LOG_FILE } from './rotating-file.ts'

export type LogLevel = LogLevelName
export type Logger = pino.Logger

/** The log directory inside the repo. */
export const LOGS_DIR = 'logs'
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'
/** A value longer than this in a human stderr line is cut (the JSON line keeps it whole). */
const MAX_HUMAN_VALUE_CHARS = 200

export interface DaemonLogInit {
  /** the log directory (`<repo>/logs`) */
  dir: string
  /** @default DEFAULT_LOG_LEVEL */
  level?: LogLevel
  /** @default DEFAULT_LOG_MAX_FILE_BYTES */
  maxFileBytes?: number
  /** @default DEFAULT_LOG_MAX_FILES */
  maxFiles?: number
  /** where the human form goes, when it is a terminal @default process.stderr */
  stderr?: { isTTY?: boolean, write(text: string): unknown }
}

export interface DaemonLog {
  readonly logger: Logger
  /** libp2p's `logger` option: its components' debug loggers, into `logger` */
  readonly componentLogger: ComponentLogger
  close(): void
}

export function createDaemonLog (init: DaemonLogInit): DaemonLog {
  const level = init.level ?? DEFAULT_LOG_LEVEL
  const file = new RotatingFile({ dir: init.dir, maxFileBytes: init.maxFileBytes ?? DEFAULT_LOG_MAX_FILE_BYTES, maxFiles: init.maxFiles ?? DEFAULT_LOG_MAX_FILES })
  const stderr = init.stderr ?? process.stderr
  const streams: pino.StreamEntry[] = [{ level: level === 'silent' ? 'fatal' : level, stream: file }]
  if (stderr.isTTY === true) streams.push({ level: level === 'silent' ? 'fatal' : level, stream: { write: line => { stderr.write(humanLine(line)) } } })
  const logger = pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.multistream(streams))
  return {
    logger,
    componentLogger: { forComponent: name => componentLog(logger, name) },
    close: () => { file.close() }
  }
}

/** A libp2p debug logger writing into `root` at the levels the module comment gives. */
function componentLog (root: Logger, name: string): Libp2pLogger {
  const ours = name.startsWith('dits:') && !name.startsWith('dits:kad')
  const base: pino.Level = ours ? 'debug' : 'trace'
  const failure: pino.Level = ours ? 'warn' : 'debug'
  const emit = (level: pino.Level, formatter: unknown, args: unknown[]): void => {
    if (!root.isLevelEnabled(level)) return
    root[level]({ component: name }, formatDebug(formatter, args))
  }
  return Object.assign((formatter: unknown, ...args: unknown[]) => { emit(base, formatter, args) }, {
    error: (formatter: unknown, ...args: unknown[]) => { emit(failure, formatter, args) },
    trace: (formatter: unknown, ...args: unknown[]) => { emit('trace', formatter, args) },
    enabled: root.isLevelEnabled(base),
    newScope: (scope: string) => componentLog(root, `${name}:${scope}`)
  })
}

/**
 * The `debug` module's format, as libp2p's loggers use it: `%s %d %i %f %j %o %O` as usual, and libp2p's own
 * `%p` (peer id), `%c` (CID), `%k` (key), `%a` (multiaddr), `%b` `%t` (bytes) as the value's text and `%e` as the
 * error's message; arguments left over are appended.
 */
export function formatDebug (formatter: unknown, args: unknown[]): string {
  if (typeof formatter !== 'string') return [formatter, ...args].map(a => text(a, 'o')).join(' ')
  let i = 0
  const out = formatter.replace(/%([a-zA-Z%])/g, (whole, c: string) => {
    if (c === '%') return '%'
    if (i >= args.length) return whole
    return text(args[i++], c)
  })
  return [out, ...args.slice(i).map(a => text(a, 'o'))].join(' ')
}

function text (value: unknown, spec: string): string {
  if (spec === 'e') return value instanceof Error ? `${value.name}: ${value.message}` : String(value)
  if (spec === 'd' || spec === 'i' || spec === 'f') return String(Number(value))
  if (spec === 'j' || spec === 'o' || spec === 'O') {
    if (typeof value === 'string') return value
    return inspect(value, { depth: 2, breakLength: Infinity, maxArrayLength: 10, maxStringLength: 500 })
  }
  if (value instanceof Uint8Array && (spec === 'b' || spec === 't')) return Buffer.from(value).toString('hex')
  return String(value)
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
const HIDDEN_FIELDS = new Set(['level', 'time', 'pid', 'msg', 'component'])

/** One pino JSON line in a form a person reads: `21:55:01.123 WARN  dits:api  message  key=value …`. */
export function humanLine (line: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line)
  } catch {
    return line
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : ''
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5)
  const component = typeof entry.component === 'string' ? ` ${entry.component}` : ''
  const fields = Object.entries(entry)
    .filter(([k]) => !HIDDEN_FIELDS.has(k))
    .map(([k, v]) => {
      const s = typeof v === 'string' ? v : JSON.stringify(v)
      return `${k}=${s.length > MAX_HUMAN_VALUE_CHARS ? `${s.slice(0, MAX_HUMAN_VALUE_CHARS)}…` : s}`
    })
  return `${time} ${level}${component} ${String(entry.msg ?? '')}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}\n`
}
