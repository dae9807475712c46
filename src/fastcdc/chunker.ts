/**
 * Streaming FastCDC 2020: `ChunkSplitter` turns pieces of a byte stream, however they are split, into the
 * crate's cut points; `chunkStream` and `cutPoints` are its async and in-memory faces.
 */
import { gearParams } from './gear.ts'
import { validateProfile } from './profile.ts'
import { ReferenceEngine } from './reference.ts'
import { WasmEngine } from './wasm.ts'
import type { GearEngine } from './gear.ts'
import type { ChunkerProfile } from './profile.ts'

export type GearEngineName = 'wasm' | 'reference'

export interface ChunkerOptions {
  /**
   * Which gear engine finds the cut points; both give identical results.
   * @default 'wasm'
   */
  engine?: GearEngineName
}

export const DEFAULT_GEAR_ENGINE: GearEngineName = 'wasm'

/**
 * The working memory holds this many maximum-size chunks. A cut needs max bytes ahead of it (or the end
 * of the stream); a second max of room means each refill copies at least max new bytes, so compaction
 * (moving the < max unconsumed bytes to the front) costs at most one extra copy per max bytes.
 */
export const WORKING_MEMORY_MAX_CHUNKS = 2

/**
 * Idle WebAssembly engines by profile: a splitter released after its stream leaves its engine here for the next
 * splitter of that profile. A new engine is a WORKING_MEMORY_MAX_CHUNKS × max memory (8 MiB for media) with its gear
 * tables; made for every file of an image sequence of small frames, they kept the garbage collector busy for most of
 * an add.
 */
const idleEngines = new Map<string, GearEngine[]>()
/** idle engines kept per profile: as many as streams are cut at once on one thread, in practice a few */
const IDLE_ENGINES_PER_PROFILE = 4

/** Where a chunk lies in its stream. */
export interface ChunkPosition {
  offset: number
  length: number
  /** the 64-bit gear hash at the cut, as the crate reports it */
  hash: bigint
}

export interface CutChunk extends ChunkPosition {
  /** a view into the splitter's working memory: valid only until the splitter is advanced; copy to keep */
  bytes: Uint8Array
}

/**
 * Cuts a stream fed piece by piece. Cut points equal those of the crate over the whole stream at once:
 * the crate's cut depends on at most max bytes ahead, so a cut is taken only once max bytes are buffered
 * or the stream has ended. Holds WORKING_MEMORY_MAX_CHUNKS × max bytes; iterate each generator that
 * `push` and `finish` return to completion before calling either again.
 */
export class ChunkSplitter {
  /** the bytes of stream the splitter holds at most */
  readonly capacityBytes: number
  private readonly engine: GearEngine
  private readonly maxSize: number
  /** where the engine goes back to at release (WebAssembly engines only) */
  private readonly poolKey: string | undefined
  private released = false
  /** first unconsumed byte in engine.memory */
  private start = 0
  /** end of the buffered bytes in engine.memory */
  private end = 0
  /** offset in the stream of engine.memory[start] */
  private offset = 0

  constructor (profile: ChunkerProfile, options: ChunkerOptions = {}) {
    const { min, avg, max, normalization, seed } = validateProfile(profile)
    this.capacityBytes = WORKING_MEMORY_MAX_CHUNKS * max
    this.maxSize = max
    const wasm = (options.engine ?? DEFAULT_GEAR_ENGINE) === 'wasm'
    this.poolKey = wasm ? `${min}:${avg}:${max}:${normalization}:${seed ?? 0}` : undefined
    this.engine = (this.poolKey !== undefined ? idleEngines.get(this.poolKey)?.pop() : undefined) ??
      (wasm ? new WasmEngine(gearParams(profile), this.capacityBytes) : new ReferenceEngine(gearParams(profile), this.capacityBytes))
  }

  /**
   * Done with this stream (after finish, once the chunks it yielded are used): the working memory goes to the next
   * splitter of the same profile. The splitter may not be used again.
   */
  release (): void {
    if (this.released) return
    this.released = true
    if (this.poolKey === undefined) return
    const idle = idleEngines.get(this.poolKey) ?? []
    if (idle.length < IDLE_ENGINES_PER_PROFILE) idle.push(this.engine)
    idleEngines.set(this.poolKey, idle)
  }

  /** Adds the next piece of the stream and yields every chunk that it completes. */
  * push (piece: Uint8Array): Generator<CutChunk> {
    this.assertHeld()
    const memory = this.engine.memory
    for (let read = 0; read < piece.length;) {
      if (this.end === memory.length) {
        memory.copyWithin(0, this.start, this.end)
        this.end -= this.start
        this.start = 0
      }
      const n = Math.min(piece.length - read, memory.length - this.end)
      memory.set(piece.subarray(read, read + n), this.end)
      this.end += n
      read += n
      while (this.end - this.start >= this.maxSize) {
        yield this.cutNext()
      }
    }
  }

  /** Ends the stream: yields the remaining chunks (the last may be shorter than min) and resets. */
  * finish (): Generator<CutChunk> {
    this.assertHeld()
    while (this.end > this.start) {
      yield this.cutNext()
    }
    this.start = 0
    this.end = 0
    this.offset = 0
  }

  private cutNext (): CutChunk {
    const length = this.engine.cut(this.start, this.end)
    const chunk = {
      offset: this.offset,
      length,
      hash: this.engine.lastHash(),
      bytes: this.engine.memory.subarray(this.start, this.start + length)
    }
    this.start += length
    this.offset += length
    return chunk
  }

  private assertHeld (): void {
    if (this.released) throw new Error('this ChunkSplitter was released: its working memory belongs to another')
  }
}

/** The cut points of `bytes` as one whole stream. */
export function cutPoints (bytes: Uint8Array, profile: ChunkerProfile, options: ChunkerOptions = {}): ChunkPosition[] {
  const splitter = new ChunkSplitter(profile, options)
  const positions: ChunkPosition[] = []
  for (const { offset, length, hash } of splitter.push(bytes)) positions.push({ offset, length, hash })
  for (const { offset, length, hash } of splitter.finish()) positions.push({ offset, length, hash })
  return positions
}

/**
 * The chunks of `source`, in order, each in its own buffer (safe to keep). Identical however the source
 * is split into pieces; holds about WORKING_MEMORY_MAX_CHUNKS × max bytes besides the current piece.
 */
export async function * chunkStream (source: AsyncIterable<Uint8Array>, profile: ChunkerProfile, options: ChunkerOptions = {}): AsyncGenerator<Uint8Array> {
  const splitter = new ChunkSplitter(profile, options)
  for await (const piece of source) {
    for (const chunk of splitter.push(piece)) {
      yield chunk.bytes.slice()
    }
  }
  for (const chunk of splitter.finish()) {
    yield chunk.bytes.slice()
  }
}
