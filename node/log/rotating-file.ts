/**
 * A size-bounded, rotating log file: `dits.log` takes lines until the next would take it past `maxFileBytes`; it is
 * then renamed `dits.log.1` (`.1` to `.2`, …) and a new `dits.log` begins; the oldest beyond `maxFiles` files is
 * removed. So the logs of a daemon take at most maxFiles × maxFileBytes (a line longer than maxFileBytes is cut).
 *
 * Lines are written synchronously: a line is on its way to the disk when `write` returns, so the last lines before
 * a crash are there, and lines of several loggers keep their order. Logs at the default level are a few lines a
 * minute; at debug, libp2p's lines cost a few µs each.
 */
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** The current log file's name in the log directory. */
export const LOG_FILE = 'dits.log'

export interface RotatingFileInit {
  dir: string
  maxFileBytes: number
  maxFiles: number
}

export class RotatingFile {
  private readonly dir: string
  private readonly maxFileBytes: number
  private readonly maxFiles: number
  private fd: number
  private size: number
  private closed = false

  constructor (init: RotatingFileInit) {
    this.dir = init.dir
    this.maxFileBytes = init.maxFileBytes
    this.maxFiles = init.maxFiles
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    this.removeBeyond()
    this.fd = openSync(this.path(0), 'a', 0o600)
    this.size = statSync(this.path(0)).size
  }

  /** Append one line (pino's, newline included). */
  write (line: string): void {
    // a late line (a timer firing as the daemon stops) after close is dropped, not an error
    if (this.closed) return
    let bytes = Buffer.from(line)
    if (bytes.byteLength > this.maxFileBytes) bytes = Buffer.concat([bytes.subarray(0, this.maxFileBytes - 1), Buffer.from('\n')])
    if (this.size > 0 && this.size + bytes.byteLength > this.maxFileBytes) this.rotate()
    writeSync(this.fd, bytes)
    this.size += bytes.byteLength
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    closeSync(this.fd)
  }

  private rotate (): void {
    closeSync(this.fd)
    // rename replaces the file it renames onto: the oldest goes as the one before it takes its name
    for (let i = this.maxFiles - 1; i >= 1; i--) {
      try {
        renameSync(this.path(i - 1), this.path(i))
      } catch {}
    }
    // one file only: it starts again empty
    this.fd = openSync(this.path(0), this.maxFiles === 1 ? 'w' : 'a', 0o600)
    this.size = 0
  }

  /** Files left by a run with a larger maxFiles go, so that the cap holds from the start. */
  private removeBeyond (): void {
    for (const name of readdirSync(this.dir)) {
      const m = /^dits\.log\.(\d+)$/.exec(name)
      if (m != null && Number(m[1]) >= this.maxFiles) unlinkSync(join(this.dir, name))
    }
  }

  private path (i: number): string {
    return join(this.dir, i === 0 ? LOG_FILE : `${LOG_FILE}.${i}`)
  }
}
