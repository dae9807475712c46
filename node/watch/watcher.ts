/**
 * The folder watcher (issue 18): which watched files changed and have since settled. chokidar reports changes; a
 * changed file waits in `pending` until nothing has touched it for `debounceMs` and a stat then finds the same size
 * and mtime as the last one (and an mtime at least that old), and only then is it `ready` to be read. A file still
 * being written keeps moving its size or mtime, so it stays pending until the writer stops.
 *
 * Bounded: pending and ready together hold at most `maxQueued` paths. Past that, changes are not queued but the
 * watcher remembers it overflowed, and once the queue has drained walks its directories again (lazily, a directory
 * at a time, feeding the queue as room frees), as it does for each directory it starts watching: so a huge tree
 * costs a walk, never a queue of every file in it. Ignored directories (`.git/`, caches, the repo itself) are
 * neither watched nor walked.
 */
import { watch } from 'chokidar'
import type { FSWatcher } from 'chokidar'
import type { Stats } from 'node:fs'
import { lstat, opendir } from 'node:fs/promises'
import { basename, join, relative, sep } from 'node:path'
import { PathPatterns, watchedFile } from '../../src/watch/index.ts'
import { Pulse } from '../deferred.ts'

/** Paths queued (pending and ready) at most. */
export const DEFAULT_MAX_QUEUED_FILES = 10_000
/** Settled files are looked for at most this often (and at least every debounceMs / 4). */
export const DEFAULT_SETTLE_TICK_MS = 250
/** Stats of pending files one tick makes at most: a tick over a full queue does not hold the event loop. */
export const MAX_STATS_PER_TICK = 512

export interface FolderWatcherInit {
  include: readonly string[]
  ignore: readonly string[]
  debounceMs: number
  minBytes: number
  /** directories never watched nor walked (the repo) */
  exclude?: readonly string[]
  /** @default DEFAULT_MAX_QUEUED_FILES */
  maxQueued?: number
  /** a watched file (or directory) went: its chunk cache entries go too */
  onRemoved?: (path: string) => void
  log?: (message: string) => void
}

interface Pending {
  /** when it last changed (an event or a stat that differed) */
  at: number
  size?: number
  mtimeMs?: number
}

export class FolderWatcher {
  /** a path became ready, or the watcher went idle */
  readonly changed = new Pulse()
  private readonly include: PathPatterns
  private readonly ignore: PathPatterns
  private readonly debounceMs: number
  private readonly minBytes: number
  private readonly exclude: string[]
  private readonly maxQueued: number
  private readonly onRemoved?: (path: string) => void
  private readonly log: (message: string) => void
  private readonly watched = new Map<string, FSWatcher>()
  private readonly pending = new Map<string, Pending>()
  private readonly ready = new Set<string>()
  /** directory walks still feeding the queue, one after the other */
  private readonly walks: Array<AsyncGenerator<string>> = []
  private overflowed = false
  private timer?: ReturnType<typeof setInterval>
  private ticking = false
  private closed = false

  constructor (init: FolderWatcherInit) {
    this.include = new PathPatterns(init.include)
    this.ignore = new PathPatterns(init.ignore)
    this.debounceMs = init.debounceMs
    this.minBytes = init.minBytes
    this.exclude = [...init.exclude ?? []]
    this.maxQueued = init.maxQueued ?? DEFAULT_MAX_QUEUED_FILES
    this.onRemoved = init.onRemoved
    this.log = init.log ?? (() => {})
  }

  dirs (): string[] {
    return [...this.watched.keys()]
  }

  /** Paths pending or ready, and whether walks are still to feed more. */
  get queued (): number {
    return this.pending.size + this.ready.size
  }

  get idle (): boolean {
    return this.queued === 0 && this.walks.length === 0 && !this.overflowed
  }

  /** Start watching `dir` (recursively) and queue what it holds now (a walk: a file changed while no one watched). */
  async add (dir: string): Promise<void> {
    if (this.closed || this.watched.has(dir)) return
    const watcher = watch(dir, {
      ignoreInitial: true,
      followSymlinks: false,
      alwaysStat: true,
      ignorePermissionErrors: true,
      ignored: (path: string, stats?: Stats) => this.ignored(dir, path, stats)
    })
    watcher.on('add', (path, stats) => { this.touch(dir, path, stats) })
    watcher.on('change', (path, stats) => { this.touch(dir, path, stats) })
    watcher.on('unlink', path => { this.removed(path) })
    watcher.on('unlinkDir', path => { this.removed(path) })
    watcher.on('error', err => { this.log(`watching ${dir}: ${(err as Error).message}`) })
    this.watched.set(dir, watcher)
    await new Promise<void>(resolve => watcher.once('ready', () => resolve()))
    this.walk(dir)
    this.arm()
  }

  async remove (dir: string): Promise<boolean> {
    const watcher = this.watched.get(dir)
    if (watcher === undefined) return false
    this.watched.delete(dir)
    await watcher.close()
    const prefix = dir + sep
    for (const path of [...this.pending.keys(), ...this.ready]) {
      if (path.startsWith(prefix)) {
        this.pending.delete(path)
        this.ready.delete(path)
      }
    }
    return true
  }

  /** The next settled path, if any (the caller reads it). */
  take (): string | undefined {
    const path = this.ready.values().next().value
    if (path !== undefined) this.ready.delete(path)
    return path
  }

  /** Queue `path` ready at once, without the debounce (`speculative sync`); false when the queue is full. */
  readyNow (path: string): boolean {
    if (this.ready.has(path)) return true
    if (this.queued >= this.maxQueued && !this.pending.has(path)) return false
    this.pending.delete(path)
    this.ready.add(path)
    this.changed.notify()
    return true
  }

  /** Queue `path` again as if it had just changed (it changed while being read). */
  again (path: string): void {
    this.enqueue(path, { at: Date.now() })
    this.arm()
  }

  /** Whether the watcher takes the file `path` under the watched `dir` (include, ignore, not the repo). */
  takes (dir: string, path: string): boolean {
    if (this.isExcluded(path)) return false
    const parts = relative(dir, path).split(sep)
    return parts[0] !== '..' && watchedFile(this.include, this.ignore, parts)
  }

  /** Drop everything queued and every walk. */
  clear (): void {
    this.pending.clear()
    this.ready.clear()
    for (const w of this.walks.splice(0)) void w.return(undefined)
    this.overflowed = false
    this.changed.notify()
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    this.clear()
    for (const w of this.watched.values()) await w.close()
    this.watched.clear()
  }

  /** Every file under `dir` the watcher takes, lazily: a directory's entries at a time. */
  async * files (dir: string): AsyncGenerator<string> {
    const stack = [dir]
    while (stack.length > 0) {
      const at = stack.pop() as string
      if (this.isExcluded(at)) continue
      let handle
      try {
        handle = await opendir(at)
      } catch (err) {
        this.log(`cannot read ${at}: ${(err as Error).message}`)
        continue
      }
      for await (const entry of handle) {
        const path = join(at, entry.name)
        if (entry.isDirectory()) {
          if (!this.ignore.matchesDir(entry.name)) stack.push(path)
        } else if (entry.isFile() && this.takes(dir, path)) {
          yield path
        }
      }
    }
  }

  /** chokidar's filter: ignored directories are not even watched; a file is decided again when it changes. */
  private ignored (dir: string, path: string, stats?: Stats): boolean {
    if (path === dir) return false
    if (this.isExcluded(path)) return true
    if (stats === undefined || stats.isDirectory()) return this.ignore.matchesDir(basename(path))
    return !this.takes(dir, path)
  }

  private isExcluded (path: string): boolean {
    return this.exclude.some(x => path === x || path.startsWith(x + sep))
  }

  private touch (dir: string, path: string, stats?: Stats): void {
    if (!this.takes(dir, path)) return
    this.enqueue(path, { at: Date.now(), size: stats?.size, mtimeMs: stats?.mtimeMs })
    this.arm()
  }

  private enqueue (path: string, p: Pending): void {
    if (this.ready.has(path)) return
    if (!this.pending.has(path) && this.queued >= this.maxQueued) {
      this.overflowed = true
      return
    }
    this.pending.set(path, p)
  }

  private removed (path: string): void {
    this.pending.delete(path)
    this.ready.delete(path)
    const prefix = path + sep
    for (const p of [...this.pending.keys()]) if (p.startsWith(prefix)) this.pending.delete(p)
    for (const p of [...this.ready]) if (p.startsWith(prefix)) this.ready.delete(p)
    this.onRemoved?.(path)
  }

  private walk (dir: string): void {
    this.walks.push(this.files(dir))
  }

  private arm (): void {
    if (this.timer !== undefined || this.closed) return
    const tick = Math.max(10, Math.min(DEFAULT_SETTLE_TICK_MS, Math.floor(this.debounceMs / 4)))
    this.timer = setInterval(() => { void this.tick() }, tick)
  }

  /** Feed walks into the queue, move settled files to ready; stop the timer once there is nothing to do. */
  private async tick (): Promise<void> {
    if (this.ticking) return
    this.ticking = true
    try {
      if (this.overflowed && this.queued === 0 && this.walks.length === 0) {
        this.overflowed = false
        this.log('the watch queue overflowed: walking the watched directories again')
        for (const dir of this.watched.keys()) this.walk(dir)
      }
      await this.feed()
      await this.settle()
      if (this.idle) {
        clearInterval(this.timer)
        this.timer = undefined
        this.changed.notify()
      }
    } catch (err) {
      this.log(`watch tick: ${(err as Error).message}`)
    } finally {
      this.ticking = false
    }
  }

  private async feed (): Promise<void> {
    while (this.walks.length > 0 && this.queued < this.maxQueued) {
      const next = await this.walks[0].next()
      if (next.done === true) this.walks.shift()
      else if (!this.pending.has(next.value) && !this.ready.has(next.value)) this.pending.set(next.value, { at: 0 })
    }
  }

  private async settle (): Promise<void> {
    const now = Date.now()
    let stats = 0
    for (const [path, p] of [...this.pending]) {
      if (now - p.at < this.debounceMs) continue
      if (stats++ >= MAX_STATS_PER_TICK) break
      const st = await lstat(path).catch(() => undefined)
      if (this.pending.get(path) !== p) continue
      if (st === undefined || !st.isFile()) {
        this.pending.delete(path)
        continue
      }
      if (st.size !== p.size || st.mtimeMs !== p.mtimeMs || now - st.mtimeMs < this.debounceMs) {
        // still being written (or first seen by a walk): wait for another quiet period
        this.pending.set(path, { at: p.at === 0 ? now - this.debounceMs + Math.min(this.debounceMs, DEFAULT_SETTLE_TICK_MS) : now, size: st.size, mtimeMs: st.mtimeMs })
        continue
      }
      this.pending.delete(path)
      if (st.size < this.minBytes) continue
      this.ready.add(path)
      this.changed.notify()
    }
  }
}
