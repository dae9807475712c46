/**
 * Which files the folder watcher takes (issue 18, config `watch.include` and `watch.ignore`). A pattern is one of:
 * - `*.ext` — a file whose name ends in `.ext`, in any case (`*.mov` takes `A001.MOV`);
 * - `name/` — every file under a directory called `name`, at any depth (`.git/`, `Adobe Premiere Pro Auto-Save/`);
 * - `name` — a file called exactly `name` (`.DS_Store`).
 * No other glob syntax: these three cover media, project files, autosave folders and caches, and a pattern that is
 * none of them is refused when the config is read (patternProblem), not silently matched against nothing.
 */

/** Media and project files an editor's tools write, and their autosave folders. */
export const DEFAULT_WATCH_INCLUDE: readonly string[] = [
  '*.mov', '*.mp4', '*.mxf', '*.r3d', '*.braw', '*.ari', '*.prproj', '*.drp', '*.aep',
  'Adobe Premiere Pro Auto-Save/', 'Adobe After Effects Auto-Save/', 'Resolve Project Backups/'
]

/** What must not travel: repos, version control, the editors' caches, partial downloads. */
export const DEFAULT_WATCH_IGNORE: readonly string[] = [
  '.dits/', '.git/', 'node_modules/', 'Media Cache/', 'Media Cache Files/', 'Peak Files/', 'CacheClip/', 'Disk Cache/',
  '.Trash/', '*.tmp', '*.part', '*.crdownload', '.DS_Store'
]

/** A file is read only once nothing has changed it for this long (and its size and times held still across it). */
export const DEFAULT_WATCH_DEBOUNCE_MS = 1000
/** Files smaller than this are left to `add`: their upload would save nothing a push notices. */
export const DEFAULT_WATCH_MIN_BYTES = 64 * 1024
/** Patterns one list may hold, and the longest one. */
export const MAX_WATCH_PATTERNS = 256
export const MAX_WATCH_PATTERN_CHARS = 255

/** What is wrong with `pattern`, or undefined when it is one of the three forms. */
export function patternProblem (pattern: string): string | undefined {
  if (pattern.length === 0 || pattern.length > MAX_WATCH_PATTERN_CHARS) return `"${pattern}" must have 1–${MAX_WATCH_PATTERN_CHARS} characters`
  const body = pattern.startsWith('*.') ? pattern.slice(2) : pattern.endsWith('/') ? pattern.slice(0, -1) : pattern
  if (body === '' || body.includes('/') || body.includes('\0') || body.includes('*') || body === '.' || body === '..') {
    return `"${pattern}" is none of *.ext (an extension), name/ (a directory anywhere) or name (a file name)`
  }
  return undefined
}

/** A compiled list of patterns. */
export class PathPatterns {
  private readonly extensions = new Set<string>()
  private readonly dirs = new Set<string>()
  private readonly names = new Set<string>()

  constructor (patterns: readonly string[]) {
    for (const p of patterns) {
      const problem = patternProblem(p)
      if (problem !== undefined) throw new RangeError(problem)
      if (p.startsWith('*.')) this.extensions.add(p.slice(1).toLowerCase())
      else if (p.endsWith('/')) this.dirs.add(p.slice(0, -1))
      else this.names.add(p)
    }
  }

  /** `parts`: the path's names below the watched directory, the file's own last. */
  matchesFile (parts: readonly string[]): boolean {
    const name = parts[parts.length - 1]
    if (name === undefined) return false
    if (this.names.has(name)) return true
    const dot = name.lastIndexOf('.')
    if (dot > 0 && this.extensions.has(name.slice(dot).toLowerCase())) return true
    for (let i = 0; i < parts.length - 1; i++) if (this.dirs.has(parts[i])) return true
    return false
  }

  /** A directory called `name` whose whole subtree matches (an ignored cache: not even walked). */
  matchesDir (name: string): boolean {
    return this.dirs.has(name)
  }
}

/**
 * Whether the watcher takes the file at `parts` (below a watched directory): not ignored, and included. An ignored
 * directory anywhere above it wins over an included one.
 */
export function watchedFile (include: PathPatterns, ignore: PathPatterns, parts: readonly string[]): boolean {
  return !ignore.matchesFile(parts) && include.matchesFile(parts)
}
