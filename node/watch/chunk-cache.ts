/**
 * What the folder watcher has chunked (issue 18): per file path, the identity the file had when it was read (size,
 * mtime and ctime in nanoseconds, inode, device) and the file manifest its chunks went into. `add` of a file whose
 * identity is the same now reuses that manifest's chunk list instead of reading the file again (node/adder.ts).
 *
 * Durable, and bounded: `<repo>/watch-cache.json`, rewritten atomically (temp + fsync + rename) at every change, at
 * most `maxEntries` entries (the least recently used go first). Durable because what it names is on disk anyway —
 * the chunks in the blockstore, fsynced before an entry is recorded — and a daemon restarted between an editor's
 * save and the `add` (a reboot at the end of a day) should not read and upload a 100 GB file again. An entry is a
 * few hundred bytes whatever the file's size: the chunk list lives in the blockstore, as the manifest it is.
 *
 * The manifests named here are roots of the workstation's gc (node/ops.ts), so the chunks the watcher stored stay
 * until the entry goes (the file changes, is removed or leaves the watch set, `speculative clear`, or eviction).
 *
 * Correctness: an entry is used only when every field of the identity matches the file as it is now (ctime too: a
 * write that keeps the size and puts the mtime back still moves the ctime), and the watcher records one only for a
 * file whose identity was the same before and after its read and whose mtime was older than the debounce when the
 * read began (the "racy git" case: a write within the file system's timestamp granularity after the read would
 * otherwise leave the identity unchanged).
 */
import { readFile } from 'node:fs/promises'
import { writeDurable } from '../files.ts'
import { DitsError } from '../../src/errors.ts'
import type { BigIntStats } from 'node:fs'
import type { ChunkerProfile } from '../../src/fastcdc/index.ts'

/** Entries kept at most: a studio workstation's watched projects, with room to spare. */
export const DEFAULT_CHUNK_CACHE_MAX_ENTRIES = 10_000
/** The cache file is read only up to this size; a larger one (not written by this code) starts an empty cache. */
export const MAX_CHUNK_CACHE_FILE_BYTES = 64 * 1024 * 1024
const FORMAT_VERSION = 1

/** What identifies the bytes of a file without reading them. */
export interface FileIdentity {
  size: number
  mtimeNs: string
  ctimeNs: string
  ino: string
  dev: string
}

export interface ChunkCacheEntry extends FileIdentity {
  path: string
  /** the chunker profile the chunks were cut with (profileKey) */
  profile: string
  /** the file manifest the chunks went into (unpinned; a root of gc while the entry lasts) */
  root: string
  chunks: number
  /** every chunk is on each configured seed (a SPECULATE answered for all of them) */
  uploaded: boolean
  /** Date.now() of the last record or use, for eviction */
  usedAt: number
}

export class ChunkCacheError extends DitsError {
  static override name = 'ChunkCacheError'
  override name = 'ChunkCacheError'
}

export function identityOf (st: BigIntStats): FileIdentity {
  return { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString(), ino: st.ino.toString(), dev: st.dev.toString() }
}

export function sameIdentity (a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.dev === b.dev
}

/** The cut points depend on these alone: two profiles with the same key cut alike. */
export function profileKey (p: ChunkerProfile): string {
  return `${p.min}:${p.avg}:${p.max}:${p.normalization}:${p.seed ?? 0}`
}

export interface ChunkCacheInit {
  /** @default DEFAULT_CHUNK_CACHE_MAX_ENTRIES */
  maxEntries?: number
}

export class ChunkCache {
  private readonly file: string
  private readonly maxEntries: number
  /** by path, least recently used first */
  private readonly entries = new Map<string, ChunkCacheEntry>()
  private paused = false
  /** writes of the file, one after the other */
  private tail: Promise<void> = Promise.resolve()

  private constructor (file: string, maxEntries: number) {
    this.file = file
    this.maxEntries = maxEntries
  }

  /** The cache of `file`; a missing, oversized or unreadable file gives an empty cache (it is only a cache). */
  static async open (file: string, init: ChunkCacheInit = {}): Promise<ChunkCache> {
    const cache = new ChunkCache(file, init.maxEntries ?? DEFAULT_CHUNK_CACHE_MAX_ENTRIES)
    const text = await readFile(file, 'utf8').catch(() => undefined)
    if (text !== undefined && text.length <= MAX_CHUNK_CACHE_FILE_BYTES) {
      try {
        const doc = JSON.parse(text) as { version?: unknown, paused?: unknown, entries?: unknown }
        if (doc.version === FORMAT_VERSION && Array.isArray(doc.entries)) {
          cache.paused = doc.paused === true
          const valid = (doc.entries as unknown[]).filter(isEntry).sort((a, b) => a.usedAt - b.usedAt)
          for (const e of valid.slice(-cache.maxEntries)) cache.entries.set(e.path, e)
        }
      } catch {}
    }
    return cache
  }

  get size (): number {
    return this.entries.size
  }

  /** `speculative pause` survives a restart: it is kept here, with the entries. */
  get isPaused (): boolean {
    return this.paused
  }

  async setPaused (paused: boolean): Promise<void> {
    this.paused = paused
    await this.save()
  }

  get (path: string): ChunkCacheEntry | undefined {
    return this.entries.get(path)
  }

  /** The entry for `path` when the file is now exactly as it was read, with the same profile; it is marked used. */
  lookup (path: string, now: FileIdentity, profile: ChunkerProfile): ChunkCacheEntry | undefined {
    const e = this.entries.get(path)
    if (e === undefined || e.profile !== profileKey(profile) || !sameIdentity(e, now)) return undefined
    e.usedAt = Date.now()
    this.entries.delete(path)
    this.entries.set(path, e)
    return e
  }

  /** Record (or replace) `path`'s entry, durably; the least recently used go past maxEntries. */
  async record (entry: Omit<ChunkCacheEntry, 'usedAt'>): Promise<void> {
    this.entries.delete(entry.path)
    this.entries.set(entry.path, { ...entry, usedAt: Date.now() })
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string)
    await this.save()
  }

  /** Mark `path`'s entry uploaded, if it still names `root`. */
  async markUploaded (path: string, root: string): Promise<void> {
    const e = this.entries.get(path)
    if (e === undefined || e.root !== root || e.uploaded) return
    e.uploaded = true
    await this.save()
  }

  async drop (path: string): Promise<void> {
    if (this.entries.delete(path)) await this.save()
  }

  /** Drop every entry at or under `dir`. */
  async dropUnder (dir: string): Promise<number> {
    const prefix = dir.endsWith('/') ? dir : dir + '/'
    let n = 0
    for (const path of [...this.entries.keys()]) {
      if (path === dir || path.startsWith(prefix)) {
        this.entries.delete(path)
        n++
      }
    }
    if (n > 0) await this.save()
    return n
  }

  async clear (): Promise<number> {
    const n = this.entries.size
    this.entries.clear()
    await this.save()
    return n
  }

  /** Every entry, least recently used first. */
  list (): ChunkCacheEntry[] {
    return [...this.entries.values()]
  }

  /** The manifests whose chunks gc must keep. */
  roots (): string[] {
    return [...this.entries.values()].map(e => e.root)
  }

  private async save (): Promise<void> {
    const doc = JSON.stringify({ version: FORMAT_VERSION, paused: this.paused, entries: [...this.entries.values()] })
    const write = this.tail.then(async () => {
      try {
        await writeDurable(this.file, doc)
      } catch (err) {
        throw new ChunkCacheError(`cannot write the watcher's chunk cache ${this.file}: ${(err as Error).message}`)
      }
    })
    this.tail = write.catch(() => {})
    await write
  }
}

const DIGITS = /^\d{1,30}$/

function isEntry (v: unknown): v is ChunkCacheEntry {
  if (v == null || typeof v !== 'object') return false
  const e = v as Record<string, unknown>
  return typeof e.path === 'string' && e.path.startsWith('/') && Number.isSafeInteger(e.size) && (e.size as number) >= 0 &&
    [e.mtimeNs, e.ctimeNs, e.ino, e.dev].every(x => typeof x === 'string' && DIGITS.test(x)) &&
    typeof e.profile === 'string' && typeof e.root === 'string' && Number.isSafeInteger(e.chunks) &&
    typeof e.uploaded === 'boolean' && typeof e.usedAt === 'number'
}
