/**
 * Path names inside a repo's namespace, shared by directory manifests (the names of entries), refs and locks
 * (DESIGN §2, §7). One normal form everywhere, so that `Reel3/./cut.prproj` typed on one workstation and
 * `Reel3//cut.prproj` typed on another name the same lock and the same ref.
 *
 * The rules of {@link normalizePath}, in the order they are checked:
 * 1. the input is a non-empty string of well-formed Unicode (no lone surrogates);
 * 2. no control characters (U+0000–U+001F, U+007F–U+009F): they are invisible in a terminal and NUL ends a
 *    C string, so two names that print alike could differ;
 * 3. no backslash: on a Windows workstation it is a separator, on a POSIX one a file-name character, so
 *    `a\b` would name different things on different editors' machines;
 * 4. relative only: no leading `/` and no drive prefix (`C:`), because every path is relative to the repo;
 * 5. the string is put into Unicode NFC (macOS file systems hand out NFD names; a lock taken on the NFD
 *    spelling must block the NFC one);
 * 6. `/` is the only separator: empty segments (`a//b`) and `.` segments are dropped, a `..` segment is
 *    refused (it could climb out of the repo, and collapsing it would make `a/x/../b` and `a/b` differ by
 *    whether `x` exists);
 * 7. at least one segment must remain (the repo root itself is not a path);
 * 8. a trailing `/` (or `/.`) marks a directory; only allowed with `allowDirectory` (locks), never for
 *    manifest entry names or ref names;
 * 9. at most {@link MAX_PATH_BYTES} UTF-8 bytes in all and {@link MAX_PATH_SEGMENT_BYTES} per segment
 *    (POSIX PATH_MAX and NAME_MAX), so that a normalized path can always be created on disk.
 *
 * Hierarchy ({@link covers}, {@link pathsConflict}): a directory path `d/` covers the entry `d` itself and
 * every path beneath it; a file path `f` covers only `f`. `reel3` and `reel3/` name the same entry, so they
 * cover each other — when the two spellings meet, the safe reading wins. A file path never reaches beneath
 * itself, because ref names may be prefixes of each other (`reel3` and `reel3/audio` can both be refs) and a
 * lock on one must not block the other.
 */
import { InvalidPathError } from './errors.ts'

/** Longest normalized path, in UTF-8 bytes (POSIX PATH_MAX). */
export const MAX_PATH_BYTES = 4096

/** Longest single segment of a normalized path, in UTF-8 bytes (POSIX NAME_MAX). */
export const MAX_PATH_SEGMENT_BYTES = 255

/** How much of a bad input an error message quotes, in UTF-16 code units. */
const MAX_QUOTED_INPUT_CHARS = 120

export interface NormalizePathOptions {
  /**
   * Accept a trailing `/` that marks a directory (lock paths, prefixes). Manifest entry names and ref names
   * must name a file.
   *
   * @default false
   */
  allowDirectory?: boolean
}

// Lone surrogates only: with the `u` flag a well-formed pair is one code point and does not match.
const LONE_SURROGATE = /\p{Cs}/u
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/
const DRIVE_PREFIX = /^[A-Za-z]:/

const utf8 = new TextEncoder()

/**
 * The normal form of a repo-relative path, or an {@link InvalidPathError} naming the input and the rule it
 * broke. Idempotent: `normalizePath(normalizePath(p)) === normalizePath(p)`.
 */
export function normalizePath (input: string, opts: NormalizePathOptions = {}): string {
  if (typeof input !== 'string') {
    throw new InvalidPathError(`invalid path: a path must be a string, got ${input === null ? 'null' : typeof input}`)
  }
  const bad = (rule: string): never => {
    throw new InvalidPathError(`invalid path ${quote(input)}: ${rule}`)
  }
  if (input === '') bad('a path must not be empty')
  if (LONE_SURROGATE.test(input)) bad('a path must be well-formed Unicode (it contains a lone surrogate)')
  const control = CONTROL_CHARACTER.exec(input)
  if (control !== null) {
    bad(`a path must not contain control characters (found U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} at offset ${control.index})`)
  }
  if (input.includes('\\')) bad("a path must not contain '\\'; use '/' as the separator")
  if (input.startsWith('/')) bad("a path must be relative to the repo (no leading '/')")
  if (DRIVE_PREFIX.test(input)) bad(`a path must be relative to the repo (no drive prefix '${input.slice(0, 2)}')`)

  const raw = input.normalize('NFC').split('/')
  const segments: string[] = []
  for (const segment of raw) {
    if (segment === '..') bad("a path must not contain '..' segments")
    if (segment !== '' && segment !== '.') segments.push(segment)
  }
  if (segments.length === 0) bad('a path must name something below the repo root')
  const last = raw[raw.length - 1]
  const directory = last === '' || last === '.'
  if (directory && opts.allowDirectory !== true) bad("a trailing '/' names a directory, but a file name is expected here")

  for (const segment of segments) {
    const bytes = utf8.encode(segment).byteLength
    if (bytes > MAX_PATH_SEGMENT_BYTES) bad(`a path segment must be at most ${MAX_PATH_SEGMENT_BYTES} bytes (one is ${bytes})`)
  }
  const path = segments.join('/') + (directory ? '/' : '')
  const bytes = utf8.encode(path).byteLength
  if (bytes > MAX_PATH_BYTES) bad(`a path must be at most ${MAX_PATH_BYTES} bytes (this one is ${bytes})`)
  return path
}

/** True when the normalized `path` names a directory (ends with `/`). */
export function isDirectoryPath (path: string): boolean {
  return path.endsWith('/')
}

/**
 * True when the normalized `path` lies strictly beneath the directory `dir` (with or without its trailing
 * `/`): `isUnder('a/b/c', 'a/')` and `isUnder('a/b/', 'a')` hold; `isUnder('a/', 'a/')` and `isUnder('ab', 'a')`
 * do not.
 */
export function isUnder (path: string, dir: string): boolean {
  // Compared in place rather than by building `dir + '/'`: the lock table calls this for every grant it checks.
  const n = entryLength(dir)
  return path.length > n + 1 && path.charCodeAt(n) === SLASH && path.startsWith(dir)
}

/** True when `a` and `b` name the same entry, one perhaps spelled as a directory (`reel3` and `reel3/`). */
export function sameEntry (a: string, b: string): boolean {
  if (a.length === b.length) return a === b
  // lengths differ: equal only if the longer is the shorter plus a trailing '/'
  const [short, long] = a.length < b.length ? [a, b] : [b, a]
  return long.length === short.length + 1 && long.charCodeAt(short.length) === SLASH && long.startsWith(short)
}

/**
 * True when a lock on the normalized path `lockPath` covers the normalized `path`: the same entry, or, for a
 * directory lock, anything beneath it.
 */
export function covers (lockPath: string, path: string): boolean {
  return sameEntry(lockPath, path) || (isDirectoryPath(lockPath) && isUnder(path, lockPath))
}

/**
 * True when locks on the normalized paths `a` and `b` overlap, i.e. one covers the other: a directory and
 * anything beneath it, or two spellings of one entry. Siblings never conflict, and neither do a file and a
 * path that merely starts with its name (`reel3` and `reel3/audio`).
 */
export function pathsConflict (a: string, b: string): boolean {
  return covers(a, b) || covers(b, a)
}

const SLASH = 0x2f

function entryLength (path: string): number {
  return isDirectoryPath(path) ? path.length - 1 : path.length
}

// C0, DEL and C1 controls, and the invisible characters that reorder or break a line (bidi embeddings,
// overrides and isolates, LRM/RLM, the line and paragraph separators): what a terminal acts on instead of showing
const UNSAFE_TO_PRINT = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/g
const C_ESCAPES: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\\': '\\\\' }

/**
 * A name from a manifest as a terminal may show it, the way `ls -b` and git quote: a backslash doubled,
 * newline, tab and carriage return as `\n`, `\t`, `\r`, any other control character as `\xHH` (ESC is `\x1b`,
 * so no escape sequence reaches the terminal), and the bidi and line-separator characters as `\u{HHHH}`.
 * Anything else, non-ASCII letters included, is shown as it is. Only for human output: `--json` keeps the name.
 */
export function printableName (name: string): string {
  return name.replace(UNSAFE_TO_PRINT, c => {
    const known = C_ESCAPES[c]
    if (known !== undefined) return known
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`
  })
}

/**
 * A message that may quote names, as a terminal may show it: every line of it through printableName's escapes,
 * except that backslashes stay single and the line breaks stay.
 */
export function printableText (text: string): string {
  return text.split('\n').map(line => line.replace(UNSAFE_TO_PRINT, c => c === '\\' ? c : printableName(c))).join('\n')
}

function quote (input: string): string {
  const shown = input.length > MAX_QUOTED_INPUT_CHARS ? `${input.slice(0, MAX_QUOTED_INPUT_CHARS)}…` : input
  return JSON.stringify(shown)
}
