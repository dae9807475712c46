/**
 * Content identifiers (DESIGN §2): CIDv1 with a BLAKE3-256 multihash (code 0x1e). A chunk is `raw` (0x55),
 * a manifest node is `dag-cbor` (0x71). The CID *is* the verification: bytes are accepted for a CID only
 * when their BLAKE3 digest equals the CID's digest.
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { blake3, createBlake3 } from './hash/blake3.ts'
import { InvalidCIDError } from './errors.ts'

export const BLAKE3_CODE = 0x1e
export const BLAKE3_DIGEST_BYTES = 32
export const RAW_CODE = 0x55
export const DAG_CBOR_CODE = 0x71

export type BlockCodec = typeof RAW_CODE | typeof DAG_CBOR_CODE

/** The CID of a block's bytes under `codec`, from an already computed BLAKE3 digest. */
export function cidFromDigest (codec: BlockCodec, digest: Uint8Array): CID {
  return CID.createV1(codec, Digest.create(BLAKE3_CODE, digest))
}

export function blockCid (codec: BlockCodec, bytes: Uint8Array): CID {
  return cidFromDigest(codec, blake3(bytes))
}

export function chunkCid (bytes: Uint8Array): CID {
  return blockCid(RAW_CODE, bytes)
}

/**
 * True when `bytes` are the block `cid` names: the codec is one of ours and the BLAKE3 digest matches. The bytes
 * may come in pieces (a block off the wire, still in the frames it arrived in).
 */
export function verifyBlock (cid: CID, bytes: Uint8Array | Iterable<Uint8Array>): boolean {
  if (!isDitsCid(cid)) return false
  return equalBytes(bytes instanceof Uint8Array ? blake3(bytes) : hashPieces(bytes), cid.multihash.digest)
}

function hashPieces (pieces: Iterable<Uint8Array>): Uint8Array {
  const hasher = createBlake3()
  for (const piece of pieces) hasher.update(piece)
  return hasher.digest()
}

export function isDitsCid (cid: CID): boolean {
  return cid.version === 1 &&
    (cid.code === RAW_CODE || cid.code === DAG_CBOR_CODE) &&
    cid.multihash.code === BLAKE3_CODE &&
    cid.multihash.size === BLAKE3_DIGEST_BYTES
}

/** How much of a bad CID an error message quotes, in characters. */
const MAX_QUOTED_CID_CHARS = 120
const BASE32_CID = /^b[a-z2-7]*$/
/**
 * Characters of a dits CID in base32: "b" and 36 bytes (version, codec, multihash code and length, one byte each,
 * then the 32-byte digest) at 5 bits a character.
 */
const DITS_CID_CHARS = 1 + Math.ceil((4 + BLAKE3_DIGEST_BYTES) * 8 / 5)

/** Parse a user-supplied CID string, naming the input and, in a user's terms, the rule it broke. */
export function parseCid (input: string): CID {
  const text = input.trim()
  const quoted = JSON.stringify(text.length > MAX_QUOTED_CID_CHARS ? `${text.slice(0, MAX_QUOTED_CID_CHARS)}…` : text)
  if (text === '') throw new InvalidCIDError('a CID is needed here, e.g. bafkr4i… (the last line `dits-node add` prints)')
  let cid: CID
  try {
    cid = CID.parse(text)
  } catch (err) {
    throw new InvalidCIDError(`invalid CID ${quoted}: ${whyNotACid(text, err as Error)}`)
  }
  if (!isDitsCid(cid)) {
    throw new InvalidCIDError(`invalid CID "${input}": dits CIDs are CIDv1, codec raw or dag-cbor, BLAKE3-256 multihash (0x1e); this one is v${cid.version}, codec 0x${cid.code.toString(16)}, multihash 0x${cid.multihash.code.toString(16)}`)
  }
  return cid
}

/**
 * Why `text` did not parse as a CID, in a user's terms (multiformats says "Unexpected end of data" or "multibase
 * decoder must be provided"). dits prints CIDs in base32, lowercase, starting with "b".
 */
function whyNotACid (text: string, err: Error): string {
  if (text.startsWith('b')) {
    const bad = [...text].findIndex((ch, i) => i > 0 && !/[a-z2-7]/.test(ch))
    if (bad >= 0) return `${JSON.stringify([...text][bad])} at character ${bad + 1} cannot be part of a CID (dits CIDs are "b" and then the letters a-z and digits 2-7)`
  }
  if (BASE32_CID.test(text)) {
    if (text.length < DITS_CID_CHARS) return `it is too short: ${text.length} characters where a dits CID has ${DITS_CID_CHARS} (was it cut off when copied?)`
    if (text.length > DITS_CID_CHARS) return `it is too long: ${text.length} characters where a dits CID has ${DITS_CID_CHARS} (was something pasted after it?)`
  } else if (!/^[kzQ]/.test(text)) {
    return 'not a CID: dits CIDs start with "b" followed by the letters a-z and digits 2-7, e.g. bafkr4i…'
  }
  return `it does not decode as a CID (${/end of data|decode varint/i.test(err.message) ? 'it ends too soon' : 'a copy error?'})`
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** multibase base32's characters (RFC 4648, lower case) as bytes */
const BASE32_CODES = Buffer.from('abcdefghijklmnopqrstuvwxyz234567', 'latin1')

/**
 * `cid.toString(base32)` ('b' and RFC 4648 base32, lower case, no padding), made in one buffer: the blockstore names
 * every file so, and multiformats' encoder (a string grown a character at a time, plus a per-CID cache) cost ~3x
 * more — ~20 µs of each HAVE a node answered, at 10,000 HAVEs a have-check.
 */
export function base32Cid (cid: CID): string {
  const bytes = cid.bytes
  const out = Buffer.allocUnsafe(1 + Math.ceil(bytes.byteLength * 8 / 5))
  out[0] = 0x62
  let o = 1
  let bits = 0
  let value = 0
  for (let i = 0; i < bytes.byteLength; i++) {
    // fewer than 5 bits are left over from the last byte, so 13 bits hold the window
    value = ((value << 8) | bytes[i]) & 0x1fff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out[o++] = BASE32_CODES[(value >>> bits) & 31]
    }
  }
  if (bits > 0) out[o++] = BASE32_CODES[(value << (5 - bits)) & 31]
  return out.toString('latin1', 0, o)
}

/**
 * A CID as a map key: its bytes as a flat string. `cid.toString()` encodes base32 a character at a time (and caches
 * the result per CID object): most of a have-check's CPU went to it when keys were made that way.
 */
export function cidKey (cid: CID): string {
  const b = cid.bytes
  // latin1 maps each byte to one character, natively: ~3x faster than String.fromCharCode(...bytes)
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')
}

/**
 * A set of CIDs for the walks that meet every block of a repo (gc, verify): an entry is the CID's bytes as a flat
 * string, ~100 bytes. A set of `cid.toString()` cost ~1.5 KB an entry, 180 MiB for 115k blocks: multiformats builds
 * base32 a character at a time, and V8 keeps such a string as a chain of ~60 pieces.
 */
export class CidSet {
  private readonly keys = new Set<string>()

  /** Adds `cid`; false if it was there already. */
  add (cid: CID): boolean {
    const key = cidKey(cid)
    if (this.keys.has(key)) return false
    this.keys.add(key)
    return true
  }

  has (cid: CID): boolean {
    return this.keys.has(cidKey(cid))
  }

  get size (): number {
    return this.keys.size
  }
}
