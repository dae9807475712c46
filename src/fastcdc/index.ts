/**
 * Content-defined chunking: FastCDC 2020 (gear hash, normalized chunking), cut-point compatible with the
 * reference crate `fastcdc` v2020 (DESIGN §2). The WebAssembly engine does the work; the plain-JS engine
 * is the readable reference it is tested against.
 *
 * @example
 * ```ts
 * import { createReadStream } from 'node:fs'
 * import { chunkStream, parseChunkSize, resolveProfile } from './src/fastcdc/index.ts'
 *
 * const profile = resolveProfile('media')          // or parseChunkSize('256K:1M:4M')
 * for await (const chunk of chunkStream(createReadStream('clip.mov'), profile)) {
 *   console.log(chunk.length)
 * }
 * ```
 */
export {
  CHUNK_SIZE_LIMITS_BYTES,
  DEFAULT_NORMALIZATION_LEVEL,
  DEFAULT_PROFILE_NAME,
  MAX_NORMALIZATION_LEVEL,
  PROFILES,
  formatSize,
  parseChunkSize,
  resolveProfile,
  validateProfile
} from './profile.ts'
export { ChunkSplitter, DEFAULT_GEAR_ENGINE, WORKING_MEMORY_MAX_CHUNKS, chunkStream, cutPoints } from './chunker.ts'
export type { ChunkerProfile, ProfileName } from './profile.ts'
export type { ChunkPosition, ChunkerOptions, CutChunk, GearEngineName } from './chunker.ts'
