/**
 * Chunker profiles: the min/avg/max chunk sizes, the normalization level and the gear seed that together
 * fix every cut point (DESIGN §2). The profile used for a file is recorded in its manifest, so a profile
 * is plain data and every consumer validates it through `validateProfile`.
 */
import { InvalidChunkerError } from '../errors.ts'
import { MAX_BLOCK_BYTES } from '../../protocol/limits.ts'

export interface ChunkerProfile {
  name: string
  /** no chunk but the last of a stream is shorter */
  min: number
  /** the expected chunk length; its rounded log2 selects the masks */
  avg: number
  /** no chunk is longer */
  max: number
  /** normalized chunking level 0–3 (FastCDC 2020 §3.5); 1 is the default */
  normalization: number
  /** XOR-ed into the gear table as the reference crate does; 0 or absent is the standard table */
  seed?: number
}

const KiB = 1024
const MiB = 1024 * KiB

/** Normalization level 1 keeps most chunks near `avg` without the larger spread of level 0 (FastCDC 2020 §3.5). */
export const DEFAULT_NORMALIZATION_LEVEL = 1
export const MAX_NORMALIZATION_LEVEL = 3

/**
 * Allowed sizes in bytes: the reference crate's MINIMUM_MIN..AVERAGE_MAX ranges, with the largest chunk
 * capped at MAX_BLOCK_BYTES because a chunk is stored and sent as one block.
 */
export const CHUNK_SIZE_LIMITS_BYTES = {
  min: { lowest: 64, highest: 1 * MiB },
  avg: { lowest: 256, highest: 4 * MiB },
  max: { lowest: 1 * KiB, highest: MAX_BLOCK_BYTES }
} as const

export const PROFILES = {
  media: { name: 'media', min: 256 * KiB, avg: 1 * MiB, max: 4 * MiB, normalization: DEFAULT_NORMALIZATION_LEVEL },
  small: { name: 'small', min: 16 * KiB, avg: 64 * KiB, max: 256 * KiB, normalization: DEFAULT_NORMALIZATION_LEVEL }
} as const satisfies Record<string, ChunkerProfile>

export type ProfileName = keyof typeof PROFILES

export const DEFAULT_PROFILE_NAME: ProfileName = 'media'

/** The profile called `name` ('media' or 'small'). */
export function resolveProfile (name: string): ChunkerProfile {
  if (!Object.hasOwn(PROFILES, name)) {
    throw new InvalidChunkerError(`unknown chunker profile "${name}": use ${Object.keys(PROFILES).join(' or ')}, or give sizes as MIN:AVG:MAX`)
  }
  return { ...PROFILES[name as ProfileName] }
}

const SIZE_PATTERN = /^(\d+)(k|kib|m|mib)?$/i
const SUFFIX_BYTES: Record<string, number> = { k: KiB, kib: KiB, m: MiB, mib: MiB }

/**
 * A custom profile from 'MIN:AVG:MAX', each a whole number of bytes with an optional K, KiB, M or MiB
 * suffix (binary units: 1K = 1024), e.g. '256K:1M:4M'.
 */
export function parseChunkSize (spec: string): ChunkerProfile {
  const parts = spec.split(':')
  if (parts.length !== 3) {
    throw new InvalidChunkerError(`chunk size "${spec}" must be MIN:AVG:MAX, e.g. 256K:1M:4M`)
  }
  const [min, avg, max] = parts.map((part, i) => parseSize(part.trim(), ['min', 'avg', 'max'][i], spec))
  return validateProfile({ name: 'custom', min, avg, max, normalization: DEFAULT_NORMALIZATION_LEVEL })
}

function parseSize (text: string, which: string, spec: string): number {
  const match = SIZE_PATTERN.exec(text)
  if (match == null) {
    throw new InvalidChunkerError(`${which} chunk size "${text}" in "${spec}" is not a size: use a whole number of bytes, optionally with K, KiB, M or MiB`)
  }
  const bytes = Number(match[1]) * (match[2] == null ? 1 : SUFFIX_BYTES[match[2].toLowerCase()])
  if (!Number.isSafeInteger(bytes)) {
    throw new InvalidChunkerError(`${which} chunk size "${text}" in "${spec}" is too large`)
  }
  return bytes
}

/** Returns `profile` if a chunker can use it, else throws an InvalidChunkerError that names the allowed range. */
export function validateProfile<P extends ChunkerProfile> (profile: P): P {
  for (const which of ['min', 'avg', 'max'] as const) {
    const value = profile[which]
    const { lowest, highest } = CHUNK_SIZE_LIMITS_BYTES[which]
    if (!Number.isInteger(value) || value < lowest || value > highest) {
      throw new InvalidChunkerError(`${which} chunk size ${formatSize(value)} is out of range: allowed ${formatSize(lowest)}..${formatSize(highest)}`)
    }
  }
  if (profile.min > profile.avg || profile.avg > profile.max) {
    throw new InvalidChunkerError(`chunk sizes must satisfy min <= avg <= max, got min ${formatSize(profile.min)}, avg ${formatSize(profile.avg)}, max ${formatSize(profile.max)}`)
  }
  const level = profile.normalization
  if (!Number.isInteger(level) || level < 0 || level > MAX_NORMALIZATION_LEVEL) {
    throw new InvalidChunkerError(`normalization level ${level} is out of range: allowed 0..${MAX_NORMALIZATION_LEVEL}`)
  }
  const seed = profile.seed
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0)) {
    throw new InvalidChunkerError(`gear seed ${seed} is out of range: allowed 0..${Number.MAX_SAFE_INTEGER}`)
  }
  return profile
}

/** '64 B', '1 KiB', '4 MiB', or plain bytes when not a whole number of units. */
export function formatSize (bytes: number): string {
  if (Number.isInteger(bytes) && bytes > 0) {
    if (bytes % MiB === 0) return `${bytes / MiB} MiB`
    if (bytes % KiB === 0) return `${bytes / KiB} KiB`
  }
  return `${bytes} B`
}
