/**
 * The seed's record of speculative chunks (DESIGN §10, issue 18): chunks a workstation uploaded ahead of a push,
 * kept unpinned until an expiry. One small file per chunk, `<repo>/speculative/<shard>/<cid>`, sharded as the
 * blockstore shards its blocks, holding `<expires at, ms> <bytes> <peer id>`: a lookup by CID (a push's promotion, a
 * root status, a renewal) is one file read; gc reads a shard at a time; nothing loads the whole record. In memory
 * there is only each peer's unexpired bytes, by minute of expiry (its quota), rebuilt by `open` from the files.
 *
 * A record is lost only with its file: a chunk whose record a crash lost goes at the next gc, which is the safe side
 * for a record of what no one has committed to (the workstation still holds it, and a push sends it again).
 *
 * @example
 * ```ts
 * const record = new SpeculativeRecord(join(repo.dir, 'speculative'))
 * await record.open()
 * record.usedBytes(peer, Date.now())           // the peer's unexpired speculative bytes
 * await record.record(peer, chunks, expiresAt) // after the chunks are durable
 * for await (const e of record.sweep(Date.now(), cid => live.has(cid))) …   // gc: the unexpired ones, and drop the rest
 * ```
 */
import { mkdir, readFile, readdir, rename, stat, unlink, open as openFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { base32 } from 'multiformats/bases/base32'
import { base32Cid } from '../../src/cid.ts'
import { WholeCidSharding } from '../blockstore.ts'
import { fsyncPath, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../files.ts'
import { forEachLimit } from '../limit.ts'
import { macrotask } from '../deferred.ts'

/** A peer's quota counts its bytes by minute of expiry: at most ttl / 1 min numbers a peer, whatever it uploads. */
const BUCKET_MS = 60_000
/** An entry file is one short line; a longer one is not ours. */
const MAX_ENTRY_BYTES = 256
/** files read or written at once */
const IO_CONCURRENCY = 16

export interface SpeculativeEntry {
  cid: CID
  expiresAt: number
  bytes: number
  /** the peer whose quota it counts in */
  peer: string
}

export class SpeculativeRecord {
  readonly dir: string
  /** per peer: bytes by bucket of expiry (floor(expiresAt / BUCKET_MS)) */
  private readonly buckets = new Map<string, Map<number, number>>()
  /** changes to an entry, one at a time per CID */
  private readonly turns = new Map<string, Promise<unknown>>()

  constructor (dir: string) {
    this.dir = dir
  }

  /** Create the directory and count every unexpired entry into its peer's quota. */
  async open (now = Date.now()): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE })
    this.buckets.clear()
    for (const shard of await this.shards()) {
      await this.readShard(shard, async e => {
        if (e.expiresAt > now) this.account(e, 1)
      })
      await macrotask()
    }
  }

  /** Whether some peer has unexpired speculative bytes (to the minute): when not, no lookup can find a live entry. */
  get empty (): boolean {
    return this.buckets.size === 0
  }

  /** `peer`'s speculative bytes that expire after `now` (to the minute: an entry counts up to a minute past its expiry). */
  usedBytes (peer: string, now: number): number {
    const mine = this.buckets.get(peer)
    if (mine === undefined) return 0
    let used = 0
    const current = Math.floor(now / BUCKET_MS)
    for (const [bucket, bytes] of mine) {
      if (bucket < current) mine.delete(bucket)
      else used += bytes
    }
    if (mine.size === 0) this.buckets.delete(peer)
    return used
  }

  /** The entry of `cid`, expired or not; undefined when there is none. */
  async get (cid: CID): Promise<SpeculativeEntry | undefined> {
    const text = await readFile(this.path(cid), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined
      throw err
    })
    return text === undefined ? undefined : parseEntry(cid, text)
  }

  /** Of `chunks`, the bytes no unexpired entry covers: what recording them would charge. */
  async uncovered (chunks: Array<{ cid: CID, bytes: number }>, now: number): Promise<number> {
    let bytes = 0
    await forEachLimit(chunks, IO_CONCURRENCY, async c => {
      const e = await this.get(c.cid)
      if (e === undefined || e.expiresAt <= now) bytes += c.bytes
    })
    return bytes
  }

  /**
   * Record `chunks` (durable on this node already) as `peer`'s until `expiresAt`, durably. A chunk another peer has
   * recorded stays in that peer's quota, its expiry moved out if this one is later; `peer`'s own is renewed. Returns
   * the bytes newly charged to `peer`.
   */
  async record (peer: string, chunks: Array<{ cid: CID, bytes: number }>, expiresAt: number, now = Date.now()): Promise<number> {
    let charged = 0
    const shards = new Set<string>()
    await forEachLimit(chunks, IO_CONCURRENCY, async c => {
      await this.inTurn(c.cid, async () => {
        const old = await this.get(c.cid)
        const live = old !== undefined && old.expiresAt > now
        if (live && old.expiresAt >= expiresAt) return
        const entry: SpeculativeEntry = live ? { ...old, expiresAt } : { cid: c.cid, expiresAt, bytes: c.bytes, peer }
        await this.write(entry)
        if (old !== undefined) this.account(old, -1)
        this.account(entry, 1)
        if (!live) charged += c.bytes
        shards.add(this.shardOf(c.cid))
      })
    })
    await forEachLimit([...shards], IO_CONCURRENCY, async shard => { await fsyncPath(join(this.dir, shard)) })
    return charged
  }

  /**
   * For gc: every unexpired entry whose chunk `pinned` does not cover, shard by shard. Entries that expired by `now`
   * and entries of chunks a pin covers now (promoted: the pin keeps them, and their peer's quota is freed) are
   * dropped as the walk passes them, unless `dryRun`.
   */
  async * sweep (now: number, pinned: (cid: CID) => boolean, options: { dryRun?: boolean, signal?: AbortSignal } = {}): AsyncGenerator<SpeculativeEntry> {
    for (const shard of await this.shards()) {
      options.signal?.throwIfAborted()
      const keep: SpeculativeEntry[] = []
      const drop: SpeculativeEntry[] = []
      await this.readShard(shard, async e => {
        if (pinned(e.cid) || e.expiresAt <= now) drop.push(e)
        else keep.push(e)
      })
      if (options.dryRun !== true) await forEachLimit(drop, IO_CONCURRENCY, async e => { await this.drop(e) })
      yield * keep
    }
  }

  /** Remove `e`'s file, unless it changed since it was read (renewed meanwhile: then it stays). */
  private async drop (e: SpeculativeEntry): Promise<void> {
    await this.inTurn(e.cid, async () => {
      const now = await this.get(e.cid)
      if (now === undefined || now.expiresAt !== e.expiresAt || now.peer !== e.peer) return
      await unlink(this.path(e.cid)).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
      this.account(e, -1)
    })
  }

  /** Count `e` in (or out of) its peer's bytes; out of a bucket already pruned (expired), it changes nothing. */
  private account (e: SpeculativeEntry, sign: 1 | -1): void {
    const bucket = Math.floor(e.expiresAt / BUCKET_MS)
    let mine = this.buckets.get(e.peer)
    if (mine === undefined) {
      if (sign < 0) return
      mine = new Map()
      this.buckets.set(e.peer, mine)
    }
    const bytes = (mine.get(bucket) ?? 0) + sign * e.bytes
    if (bytes > 0) mine.set(bucket, bytes)
    else mine.delete(bucket)
    if (mine.size === 0) this.buckets.delete(e.peer)
  }

  private async write (e: SpeculativeEntry): Promise<void> {
    const path = this.path(e.cid)
    const tmp = `${path}.tmp-${process.pid}`
    await mkdir(join(this.dir, this.shardOf(e.cid)), { recursive: true, mode: PRIVATE_DIR_MODE })
    const fh = await openFile(tmp, 'w', PRIVATE_FILE_MODE)
    try {
      await fh.writeFile(`${e.expiresAt} ${e.bytes} ${e.peer}\n`)
      await fh.datasync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  }

  private async inTurn<T> (cid: CID, op: () => Promise<T>): Promise<T> {
    const key = cid.toString()
    const before = this.turns.get(key) ?? Promise.resolve()
    const run = before.catch(() => {}).then(op)
    this.turns.set(key, run)
    try {
      return await run
    } finally {
      if (this.turns.get(key) === run) this.turns.delete(key)
    }
  }

  private async shards (): Promise<string[]> {
    const present = new Set(await readdir(this.dir).catch(() => [] as string[]))
    return WholeCidSharding.shards.filter(s => present.has(s))
  }

  /**
   * Every entry of a shard; a file that is not an entry is skipped, or removed when it is a temp file an earlier
   * process left. This process's own temp files are writes under way (a record beside the gc reading this shard).
   */
  private async readShard (shard: string, fn: (e: SpeculativeEntry) => Promise<void>): Promise<void> {
    const dir = join(this.dir, shard)
    const names = await readdir(dir).catch(() => [] as string[])
    await forEachLimit(names, IO_CONCURRENCY, async name => {
      if (name.includes('.tmp-')) {
        if (!name.endsWith(`.tmp-${process.pid}`)) await unlink(join(dir, name)).catch(() => {})
        return
      }
      let cid: CID
      try {
        cid = CID.parse(name, base32)
      } catch {
        return
      }
      const text = await readFile(join(dir, name), 'utf8').catch(() => undefined)
      const e = text === undefined ? undefined : parseEntry(cid, text)
      if (e !== undefined) await fn(e)
    })
  }

  private shardOf (cid: CID): string {
    return new WholeCidSharding().encode(cid).dir
  }

  private path (cid: CID): string {
    return join(this.dir, this.shardOf(cid), base32Cid(cid))
  }
}

/** The record in `dir`, opened; undefined when the repo has none (a node that never was a seed, or never speculated). */
export async function openSpeculativeRecord (dir: string): Promise<SpeculativeRecord | undefined> {
  const there = await stat(dir).then(s => s.isDirectory(), () => false)
  if (!there) return undefined
  const record = new SpeculativeRecord(dir)
  await record.open()
  return record
}

function parseEntry (cid: CID, text: string): SpeculativeEntry | undefined {
  if (text.length > MAX_ENTRY_BYTES) return undefined
  const m = /^(\d+) (\d+) (\S+)\n$/.exec(text)
  if (m == null) return undefined
  return { cid, expiresAt: Number(m[1]), bytes: Number(m[2]), peer: m[3] }
}
