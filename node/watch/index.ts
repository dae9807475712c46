/**
 * Speculative transport, the workstation's side (issue 18): the folder watcher, the background chunking, the chunk
 * cache `add` reuses, and the uploads of chunks to the seed(s) before a push asks for them.
 *
 * @example
 * ```ts
 * import { ChunkCache, SpeculativeService } from './index.ts'
 *
 * const cache = await ChunkCache.open(join(repo.dir, WATCH_CACHE_FILE))
 * const service = new SpeculativeService({ blocks, cache, busy: () => ops.busy, seeds, speculate, has }, {
 *   include: ['*.mov'], ignore: ['.git/'], debounceMs: 1000, minBytes: 65536, profile: PROFILES.media,
 *   enabled: true, maxRate: null, ttlMs: 72 * 3600_000
 * })
 * await service.start(['/home/ana/footage'])
 * service.status()   // { state: 'active', files: 3, chunks_uploaded: 2048, bytes_uploaded: 2147483648, queue_depth: 0, rate: 190000000, … }
 * ops.watched = { reuse: (path, now, profile) => cache.lookup(path, now, profile)?.root, roots: () => cache.roots() }
 * ```
 */
export { ChunkCache, ChunkCacheError, identityOf, sameIdentity, profileKey, DEFAULT_CHUNK_CACHE_MAX_ENTRIES, MAX_CHUNK_CACHE_FILE_BYTES } from './chunk-cache.ts'
export type { ChunkCacheEntry, FileIdentity, ChunkCacheInit } from './chunk-cache.ts'
export { FolderWatcher, DEFAULT_MAX_QUEUED_FILES, DEFAULT_SETTLE_TICK_MS, MAX_STATS_PER_TICK } from './watcher.ts'
export type { FolderWatcherInit } from './watcher.ts'
export { SpeculativeService, SpeculativeError, DEFAULT_UPLOAD_BATCH_CHUNKS, DEFAULT_UPLOAD_BATCH_BYTES, DEFAULT_UPLOAD_BATCH_SECONDS, DEFAULT_UPLOAD_RETRY_MIN_MS, DEFAULT_UPLOAD_RETRY_MAX_MS, DEFAULT_RACY_MS, FOREGROUND_POLL_MS } from './speculative.ts'
export type { SpeculativeComponents, SpeculativeInit, SpeculativeStatus, CoverageReport, SyncProgress, SpeculativeChunk, SpeculatedCounts, Seed } from './speculative.ts'
export { watchOps, WatchArgs, WatchRemoveArgs, CoverageArgs, SyncArgs } from './ops.ts'
export type { WatchResponse, WatchOpsDeps } from './ops.ts'
