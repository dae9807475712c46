/**
 * The folder watcher's pure decisions (issue 18, speculative transport): which files it takes.
 *
 * @example
 * ```ts
 * import { PathPatterns, watchedFile, DEFAULT_WATCH_INCLUDE, DEFAULT_WATCH_IGNORE } from './index.ts'
 *
 * const include = new PathPatterns(DEFAULT_WATCH_INCLUDE)
 * const ignore = new PathPatterns(DEFAULT_WATCH_IGNORE)
 * watchedFile(include, ignore, ['reel3', 'A001.MOV'])          // true
 * watchedFile(include, ignore, ['.git', 'objects', 'a.mov'])   // false: ignored wins
 * ```
 */
export { PathPatterns, watchedFile, patternProblem, DEFAULT_WATCH_INCLUDE, DEFAULT_WATCH_IGNORE, DEFAULT_WATCH_DEBOUNCE_MS, DEFAULT_WATCH_MIN_BYTES, MAX_WATCH_PATTERNS, MAX_WATCH_PATTERN_CHARS } from './patterns.ts'
