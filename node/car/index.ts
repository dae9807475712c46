/**
 * CAR files (CARv1, @ipld/car): `export` writes a root and every block under it into one file an IPFS node can
 * read; `import` reads one back, verifying every block against its CID before it is stored, and pins the root only
 * once the whole DAG is in the repo. Both stream: a block (4 MiB at most) and a few read ahead are in memory, never
 * the root.
 *
 * @example
 * ```ts
 * const exported = await exportCar(cid => repo.blocks.get(cid), root, '/tmp/root.car')
 * const imported = await importCar(otherRepo.blocks, otherRepo.pins, '/tmp/root.car')
 * ```
 */
import { createReadStream } from 'node:fs'
import { open, lstat, rename, unlink, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CarWriter } from '@ipld/car/writer'
import { asyncIterableReader, readHeader, readBlockHead } from '@ipld/car/decoder'
import type { CID } from 'multiformats/cid'
import { walkBlocks } from '../../src/manifest/index.ts'
import type { GetBlock } from '../../src/manifest/index.ts'
import { isDitsCid, verifyBlock } from '../../src/cid.ts'
import { NotFoundError } from '../../src/errors.ts'
import { MAX_BLOCK_BYTES } from '../../protocol/limits.ts'
import { writeFully, fsyncPath } from '../files.ts'
import { mapAhead } from '../limit.ts'
import { macrotask } from '../deferred.ts'
import { BlockSync } from '../block-sync.ts'
import type { DitsBlockstore } from '../blockstore.ts'
import type { Pins } from '../repo.ts'
import { CarFormatError, CarTruncatedError, CarBlockMismatchError, CarBlockTooLargeError, CarIncompleteError, CarOutputExistsError } from './errors.ts'

export { CarFormatError, CarTruncatedError, CarBlockMismatchError, CarBlockTooLargeError, CarIncompleteError, CarOutputExistsError }

/** Blocks read (and verified) from the repo ahead of the one being written: with 4 MiB blocks ~20 MiB in flight. */
export const DEFAULT_EXPORT_READ_AHEAD_BLOCKS = 4
/** Bytes read from a CAR file at a time. */
export const DEFAULT_IMPORT_READ_BYTES = 1024 * 1024
/** Largest CAR header read: a CARv1 header with one root is ~60 bytes; this bounds what a hostile length asks for. */
export const MAX_CAR_HEADER_BYTES = 64 * 1024
/** Missing blocks an incomplete import names. */
const MISSING_NAMED = 3

export interface CarProgress {
  /** block bytes written (export) or CAR bytes read (import) so far */
  bytes: number
  /** the CAR file's size (import), 0 when unknown (export) */
  total: number
}

export interface ExportCarOptions {
  /** replace an existing output file */
  force?: boolean
  signal?: AbortSignal
  onProgress?: (p: CarProgress) => void
  /** @default DEFAULT_EXPORT_READ_AHEAD_BLOCKS */
  readAhead?: number
}

export interface ExportCarResult {
  root: string
  out: string
  /** blocks written: the root's manifests and chunks, each once */
  blocks: number
  /** their bytes */
  bytes: number
  /** the CAR file's size */
  car_bytes: number
  duration_ms: number
}

/**
 * Write `root` and every block under it (each once, root first, depth-first in file order, so that a streaming reader
 * meets a manifest before what it links) to `outPath` as a CARv1 whose header names `root`. The file is written
 * beside `outPath` under a temporary name, fsynced and renamed into place: an export stopped at any point leaves no
 * partial file under the name. `getBlock` must verify what it returns (the repo's blockstore does).
 */
export async function exportCar (getBlock: GetBlock, root: CID, outPath: string, options: ExportCarOptions = {}): Promise<ExportCarResult> {
  const started = performance.now()
  const { signal } = options
  const exists = await lstat(outPath).then(() => true, () => false)
  if (exists && options.force !== true) throw new CarOutputExistsError(`${outPath} already exists; pass --force to replace it`)
  const tmp = join(dirname(outPath), `.${basename(outPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', 0o644)
  let blocks = 0
  let bytes = 0
  let carBytes = 0
  try {
    const { writer, out } = CarWriter.create([root])
    // The writer's put resolves once the consumer has taken its bytes, so this loop is the back pressure: the
    // block being written and the read-ahead window are all that is held. A write that fails is kept and the rest
    // drained, so that no put waits for a consumer that has stopped.
    let writeError: Error | undefined
    const drain = (async () => {
      for await (const piece of out) {
        if (writeError !== undefined) continue
        try {
          await writeFully(fh, piece, carBytes)
          carBytes += piece.byteLength
        } catch (err) {
          writeError = err as Error
        }
      }
    })()
    let closed = false
    try {
      const walk = walkBlocks(getBlock, root, { signal, pause: macrotask })
      for await (const [cid, block] of mapAhead(walk, options.readAhead ?? DEFAULT_EXPORT_READ_AHEAD_BLOCKS, async cid => await getBlock(cid))) {
        signal?.throwIfAborted()
        await writer.put({ cid, bytes: block })
        if (writeError !== undefined) throw writeError
        blocks++
        bytes += block.byteLength
        options.onProgress?.({ bytes, total: 0 })
      }
      closed = true
      await writer.close()
      await drain
      if (writeError !== undefined) throw writeError
    } finally {
      if (!closed) {
        // let the drain end (it waits on the channel the close ends), then leave the failure to the caller
        await writer.close().then(async () => await drain, () => {})
      }
    }
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fh.close()
  try {
    await rename(tmp, outPath)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  await fsyncPath(dirname(outPath))
  return { root: root.toString(), out: outPath, blocks, bytes, car_bytes: carBytes, duration_ms: Math.round(performance.now() - started) }
}

export interface ImportCarOptions {
  signal?: AbortSignal
  onProgress?: (p: CarProgress) => void
  /** @default DEFAULT_IMPORT_READ_BYTES */
  readBytes?: number
}

export interface ImportCarResult {
  root: string
  file: string
  /** blocks in the file */
  blocks: number
  /** of them, blocks the repo did not hold */
  blocks_new: number
  /** their bytes */
  bytes: number
  car_bytes: number
  /** always true: an import that returns pinned its root (reason user) */
  pinned: boolean
  duration_ms: number
}

/**
 * Read the CARv1 `file` into `blocks`: every block's CID must be a dits CID, its size within MAX_BLOCK_BYTES (checked
 * before its bytes are read) and its bytes must hash to it (checked before it is stored). Then every block under the
 * header's root must be in the repo (from this file or held before), made durable, and only then is the root pinned
 * (reason `user`). A file that fails any check is refused with an error naming the file, the byte offset and the
 * block; the blocks stored before the failure are verified and unpinned (gc removes them), and nothing is pinned.
 */
export async function importCar (blocks: DitsBlockstore, pins: Pins, file: string, options: ImportCarOptions = {}): Promise<ImportCarResult> {
  const started = performance.now()
  const { signal } = options
  const total = (await stat(file)).size
  const stream = createReadStream(file, { highWaterMark: options.readBytes ?? DEFAULT_IMPORT_READ_BYTES, signal })
  const reader = asyncIterableReader(stream as AsyncIterable<Uint8Array>)
  try {
    const header = await decoding(file, total, reader.pos, async () => await readHeader(boundedReader(reader, file), 1))
    if (header.roots.length !== 1) throw new CarFormatError(`${file} names ${header.roots.length} roots in its header; dits imports a CAR with exactly one root (what \`dits-node export\` writes)`)
    const root = header.roots[0]
    if (!isDitsCid(root)) throw new CarFormatError(`${file} has the root ${root.toString()}, not a dits CID (CIDv1, raw or dag-cbor, BLAKE3-256)`)
    let count = 0
    let fresh = 0
    let bytes = 0
    for (;;) {
      signal?.throwIfAborted()
      const at = reader.pos
      if ((await decoding(file, total, at, async () => await reader.upTo(8))).byteLength === 0) break
      const head = await decoding(file, total, at, async () => await readBlockHead(reader))
      if (!isDitsCid(head.cid)) throw new CarFormatError(`the block at byte ${at} of ${file} has the CID ${head.cid.toString()}, not a dits CID (CIDv1, raw or dag-cbor, BLAKE3-256)`)
      if (head.blockLength > MAX_BLOCK_BYTES) throw new CarBlockTooLargeError(`block ${head.cid.toString()} at byte ${at} of ${file} is ${head.blockLength} bytes, over the ${MAX_BLOCK_BYTES}-byte limit (protocol/limits.ts MAX_BLOCK_BYTES); refused before reading it`)
      if (head.blockLength < 0) throw new CarFormatError(`the section at byte ${at} of ${file} is shorter than the CID it starts with`)
      const block = await decoding(file, total, at, async () => await reader.exactly(head.blockLength, true))
      if (!verifyBlock(head.cid, block)) throw new CarBlockMismatchError(`block ${head.cid.toString()} at byte ${at} of ${file} does not match its CID: the BLAKE3 of its ${block.byteLength} bytes differs (the file is damaged or was altered); nothing was pinned`)
      // verified just now: the blockstore need not hash it again; a damaged copy already held is replaced
      if (await blocks.putChecked(head.cid, block, { trusted: true, direct: true, checkPresent: true, signal }) !== 'present') fresh++
      count++
      bytes += block.byteLength
      options.onProgress?.({ bytes: reader.pos, total })
    }
    // The whole DAG, durable, before the pin that promises it: every block under the root, from this file or held
    // before, is synced; the walk reads the manifests (verified) and names the chunks.
    const sync = new BlockSync(blocks)
    const missing: string[] = []
    let missingCount = 0
    const walk = walkBlocks(async cid => await blocks.get(cid, { signal }), root, { signal, pause: macrotask })
    try {
      for await (const cid of walk) {
        if (await blocks.has(cid)) await sync.add(cid)
        else if (++missingCount <= MISSING_NAMED) missing.push(cid.toString())
      }
    } catch (err) {
      // a manifest the file lacks: what lies below it cannot be named, the count is a lower bound
      if (!(err instanceof NotFoundError) || missingCount === 0) throw err
      throw incomplete(file, root, missingCount, missing, true)
    }
    if (missingCount > 0) throw incomplete(file, root, missingCount, missing, false)
    await sync.flush()
    await pins.add(root, 'user')
    return { root: root.toString(), file, blocks: count, blocks_new: fresh, bytes, car_bytes: reader.pos, pinned: true, duration_ms: Math.round(performance.now() - started) }
  } catch (err) {
    // the read stream reports a cancel as its own AbortError: the caller's reason says why
    throw signal?.aborted === true ? signal.reason : err
  } finally {
    stream.destroy()
  }
}

function incomplete (file: string, root: CID, count: number, named: string[], atLeast: boolean): CarIncompleteError {
  return new CarIncompleteError(`${file} lacks ${atLeast ? 'at least ' : ''}${count} block(s) under its root ${root.toString()} (${named.join(', ')}${count > named.length ? ', …' : ''}), and the repo does not hold them either: nothing was pinned (the blocks it had are stored unpinned; \`dits-node gc\` removes them)`)
}

type BytesReader = ReturnType<typeof asyncIterableReader>

/** The reader, refusing to read more than MAX_CAR_HEADER_BYTES at once (the header's declared length). */
function boundedReader (reader: BytesReader, file: string): BytesReader {
  return {
    upTo: async (length) => await reader.upTo(length),
    exactly: async (length, seek) => {
      if (length > MAX_CAR_HEADER_BYTES) throw new CarFormatError(`${file} declares a header of ${length} bytes, over the ${MAX_CAR_HEADER_BYTES}-byte limit: not a CAR dits wrote`)
      return await reader.exactly(length, seek)
    },
    seek: (length) => { reader.seek(length) },
    get pos () { return reader.pos }
  }
}

/** Run a step of the decoder, naming what went wrong in the user's terms: a file cut short, or not a CAR. */
async function decoding<T> (file: string, total: number, at: number, step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (err) {
    if (err instanceof CarFormatError || (err as Error).name === 'AbortError') throw err
    const message = (err as Error).message
    if (/Unexpected end of data/.test(message)) throw new CarTruncatedError(`${file} ends inside the ${at === 0 ? 'header' : `section that starts at byte ${at}`} (the file is ${total} bytes): it was cut short`)
    throw new CarFormatError(`${file} is not a CARv1 dits can read (at byte ${at}): ${message}`)
  }
}
