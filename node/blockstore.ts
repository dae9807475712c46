/**
 * The on-disk blockstore: blockstore-fs (atomic temp + rename writes) with a sharding strategy that keeps
 * the whole CID in the file name, so the codec survives and listing works for BLAKE3 CIDs (DESIGN §1).
 * Every read is verified against the CID; a block that fails is moved to `quarantine/` and never returned.
 */
import { open, readFile, rename, mkdir, readdir, unlink } from 'node:fs/promises'
import { join, basename, dirname } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { CID } from 'multiformats/cid'
import { base32 } from 'multiformats/bases/base32'
import type { ShardingStrategy } from 'blockstore-fs/sharding'
import type { AbortOptions } from '@libp2p/interface'
import { verifyBlock } from '../src/cid.ts'
import { VerificationError, NotFoundError, DitsError } from '../src/errors.ts'
import { MAX_BLOCK_BYTES } from '../protocol/limits.ts'

const EXTENSION = '.data'
/** fsyncs in flight at once when making a batch of blocks durable */
const DEFAULT_SYNC_CONCURRENCY = 32

export class DiskFullError extends DitsError {
  static override name = 'DiskFullError'
  override name = 'DiskFullError'
}

/** `<shard>/<base32 cid>.data`, the shard being the next-to-last two characters (like go-ipfs' flatfs). */
export class WholeCidSharding implements ShardingStrategy {
  extension = EXTENSION

  encode (cid: CID): { dir: string, file: string } {
    const s = cid.toString(base32)
    return { dir: s.slice(-3, -1), file: s + EXTENSION }
  }

  decode (path: string): CID {
    return CID.parse(basename(path, EXTENSION), base32)
  }
}

export class DitsBlockstore {
  readonly dir: string
  private readonly quarantineDir: string
  private readonly fs: FsBlockstore
  private readonly sharding = new WholeCidSharding()

  constructor (dir: string, quarantineDir: string) {
    this.dir = dir
    this.quarantineDir = quarantineDir
    this.fs = new FsBlockstore(dir, { shardingStrategy: this.sharding })
  }

  async open (): Promise<void> {
    await this.fs.open()
  }

  path (cid: CID): string {
    const { dir, file } = this.sharding.encode(cid)
    return join(this.dir, dir, file)
  }

  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    return await this.fs.has(cid, options)
  }

  /** The verified bytes of `cid`. A corrupt block is quarantined and reported, never returned. */
  async get (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    options.signal?.throwIfAborted()
    const path = this.path(cid)
    let bytes: Uint8Array
    try {
      bytes = await readFile(path, { signal: options.signal })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`block ${cid} is not in the repo`)
      throw err
    }
    if (!verifyBlock(cid, bytes)) {
      const moved = await this.quarantine(cid)
      throw new VerificationError(`block ${cid} is corrupt (its BLAKE3 does not match; file ${path}); moved to ${moved}`)
    }
    return bytes
  }

  /**
   * Store a block. Unless the caller computed the CID from these very bytes (`trusted`), the bytes are
   * verified first: nothing that fails verification is ever stored.
   */
  async put (cid: CID, bytes: Uint8Array, options: AbortOptions & { trusted?: boolean } = {}): Promise<void> {
    if (bytes.byteLength > MAX_BLOCK_BYTES) throw new VerificationError(`block ${cid} is ${bytes.byteLength} bytes, over the ${MAX_BLOCK_BYTES}-byte limit`)
    if (options.trusted !== true && !verifyBlock(cid, bytes)) throw new VerificationError(`bytes offered for ${cid} do not match its BLAKE3 digest; not stored`)
    try {
      await this.fs.put(cid, bytes, options)
    } catch (err) {
      const text = String((err as Error).message)
      if (text.includes('ENOSPC')) throw new DiskFullError(`disk full while writing block ${cid} into ${this.dir}: free space and run the command again (blocks already written are reused; \`dits-node gc\` reclaims unpinned ones)`)
      throw new DitsError(`cannot write block ${cid} into ${this.dir}: ${text}`)
    }
  }

  async delete (cid: CID, options: AbortOptions = {}): Promise<void> {
    await this.fs.delete(cid, options)
  }

  /** Every CID stored, without reading the blocks. */
  async * cids (options: AbortOptions = {}): AsyncGenerator<CID> {
    for await (const { cid } of this.fs.getAll(options)) yield CID.asCID(cid) ?? CID.decode(cid.bytes)
  }

  /**
   * Make blocks durable: fsync each file and then their shard directories. Whatever makes a manifest, pin or
   * ref durable calls this first for the blocks it references (blockstore-fs itself does not fsync).
   */
  async sync (cids: Iterable<CID>, concurrency = DEFAULT_SYNC_CONCURRENCY): Promise<void> {
    const paths = [...cids].map(c => this.path(c))
    const dirs = new Set(paths.map(p => dirname(p)))
    await forEachLimit(paths, concurrency, fsyncPath)
    await forEachLimit([...dirs], concurrency, fsyncPath)
    await fsyncPath(this.dir)
  }

  /** Remove temp files left by a killed writer (steno's `.<name>.tmp`). Returns how many. */
  async removeTempFiles (): Promise<number> {
    let removed = 0
    for (const shard of await readdir(this.dir).catch(() => [])) {
      for (const f of await readdir(join(this.dir, shard)).catch(() => [])) {
        if (f.startsWith('.') && f.endsWith('.tmp')) {
          await unlink(join(this.dir, shard, f)).catch(() => {})
          removed++
        }
      }
    }
    return removed
  }

  private async quarantine (cid: CID): Promise<string> {
    await mkdir(this.quarantineDir, { recursive: true })
    const target = join(this.quarantineDir, `${cid.toString(base32)}.${process.pid}.${performance.now().toFixed(0)}${EXTENSION}`)
    await rename(this.path(cid), target).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
    return target
  }
}

export async function fsyncPath (path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

async function forEachLimit<T> (items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
