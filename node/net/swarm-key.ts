/**
 * Swarm keys (issue 14, DESIGN §10): the pre-shared key of a private network, in libp2p's pnet format — the
 * format of Kubo's `swarm.key` and of `@libp2p/pnet`'s `generateKey`:
 *
 * ```
 * /key/swarm/psk/1.0.0/
 * /base16/
 * <64 hexadecimal characters: 32 random bytes>
 * ```
 *
 * Every connection of a node with a key is wrapped by `@libp2p/pnet` (XSalsa20 under the key) before the noise
 * handshake, so a node without the same key cannot even start one. What it does not protect is in README
 * ("Private network").
 *
 * @example
 * ```ts
 * await writeSwarmKeyFile('studio.key', await newSwarmKey())
 * const key = await readSwarmKeyFile('studio.key')   // SwarmKeyError naming the file when malformed
 * key.fingerprint                                    // e.g. "5c0e9a7d13f2b846": safe to show, the key is not
 * ```
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { SwarmKeyError, SwarmKeyRequiredError } from './errors.ts'

/** The file `init --swarm-key` copies the key to, in the repo. */
export const SWARM_KEY_FILE = 'swarm.key'
/** The first line of a pnet key file: the key's protocol and version. */
export const SWARM_KEY_HEADER = '/key/swarm/psk/1.0.0/'
/** The second line: how the key is encoded; base16 is what Kubo and @libp2p/pnet write and what @libp2p/pnet reads. */
export const SWARM_KEY_ENCODING = '/base16/'
/** XSalsa20's key: 32 bytes. */
export const SWARM_KEY_BYTES = 32
/** A key file is 95 bytes (plus line ends and trailing whitespace): anything much larger is not one. */
export const MAX_SWARM_KEY_FILE_BYTES = 1024
/** Hex characters of a key's fingerprint. */
const FINGERPRINT_HEX_CHARS = 16
/** Domain separation: the fingerprint is not a hash anything else computes over the key. */
const FINGERPRINT_CONTEXT = 'dits-node swarm key fingerprint v1\n'

export interface SwarmKey {
  /** the 32 key bytes */
  key: Uint8Array
  /** the key file in canonical form (lower-case hex), as `@libp2p/pnet`'s `preSharedKey({ psk })` takes it */
  psk: Uint8Array
  /** 16 hex characters identifying the key without revealing it: equal on every node of one private network */
  fingerprint: string
}

/** What `status` and `id` say about the network (never the key). */
export interface SwarmStatus {
  /** true when a swarm key is set: only nodes with the same key can connect */
  private: boolean
  keyFingerprint?: string
  /** the transports the node uses: TCP alone when private (see README, "Private network") */
  transports: string[]
}

/** The canonical text of a key file, with a final line end. */
export function formatSwarmKey (key: Uint8Array): string {
  if (key.byteLength !== SWARM_KEY_BYTES) throw new SwarmKeyError(`a swarm key is ${SWARM_KEY_BYTES} bytes, not ${key.byteLength}`)
  return `${SWARM_KEY_HEADER}\n${SWARM_KEY_ENCODING}\n${Buffer.from(key).toString('hex')}\n`
}

/**
 * Parse a pnet key file's bytes. `source` (the file's path) starts every error message; the key's characters are
 * never part of one.
 */
export function parseSwarmKey (bytes: Uint8Array, source: string): SwarmKey {
  if (bytes.byteLength > MAX_SWARM_KEY_FILE_BYTES) {
    throw new SwarmKeyError(`${source} is not a swarm key file: it holds more than ${MAX_SWARM_KEY_FILE_BYTES} bytes (a key file is ~96)`)
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
  const lines = text.split(/\r\n|\n|\r/)
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop()
  const [header, encoding, hex] = lines.map(l => l.trim())
  if (header !== SWARM_KEY_HEADER) {
    throw new SwarmKeyError(`${source} is not a swarm key file: its first line must be ${SWARM_KEY_HEADER}, found ${describe(header)}`)
  }
  if (encoding !== SWARM_KEY_ENCODING) {
    throw new SwarmKeyError(`${source}: the second line must be ${SWARM_KEY_ENCODING} (the only key encoding supported), found ${describe(encoding)}`)
  }
  if (hex === undefined || hex === '') throw new SwarmKeyError(`${source}: the third line must hold the key (${SWARM_KEY_BYTES * 2} hexadecimal characters), and there is none`)
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new SwarmKeyError(`${source}: the key on the third line must be hexadecimal (0-9, a-f), and it holds other characters`)
  if (hex.length !== SWARM_KEY_BYTES * 2) {
    throw new SwarmKeyError(`${source}: the key on the third line must be ${SWARM_KEY_BYTES * 2} hexadecimal characters (${SWARM_KEY_BYTES} bytes), found ${hex.length}`)
  }
  if (lines.length > 3) throw new SwarmKeyError(`${source}: unexpected content after the key, on line 4`)
  const key = new Uint8Array(Buffer.from(hex, 'hex'))
  return { key, psk: new TextEncoder().encode(formatSwarmKey(key)), fingerprint: fingerprint(key) }
}

/** A new random key file's text, made by `@libp2p/pnet`'s `generateKey` (its 95 bytes, plus a line end). */
export async function newSwarmKey (): Promise<string> {
  const { generateKey } = await import('@libp2p/pnet')
  const bytes = new Uint8Array(SWARM_KEY_HEADER.length + SWARM_KEY_ENCODING.length + 2 + SWARM_KEY_BYTES * 2)
  generateKey(bytes)
  return formatSwarmKey(parseSwarmKey(bytes, 'the generated key').key)
}

/** Read and parse a key file, reading no more than MAX_SWARM_KEY_FILE_BYTES + 1 bytes of it. */
export async function readSwarmKeyFile (path: string): Promise<SwarmKey> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    throw new SwarmKeyError(`cannot read the swarm key file ${path}: ${(err as Error).message}`)
  }
  try {
    const buf = new Uint8Array(MAX_SWARM_KEY_FILE_BYTES + 1)
    let at = 0
    while (at < buf.byteLength) {
      const { bytesRead } = await fh.read(buf, at, buf.byteLength - at, at)
      if (bytesRead === 0) break
      at += bytesRead
    }
    return parseSwarmKey(buf.subarray(0, at), path)
  } catch (err) {
    if (err instanceof SwarmKeyError) throw err
    throw new SwarmKeyError(`cannot read the swarm key file ${path}: ${(err as Error).message}`)
  } finally {
    await fh.close()
  }
}

/** Write a key file readable by its owner alone (0600); never replaces an existing file. */
export async function writeSwarmKeyFile (path: string, text: string): Promise<void> {
  let fh
  try {
    fh = await open(path, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SwarmKeyError(`${path} already exists: a swarm key is never overwritten (remove the file first if you mean to replace it)`)
    throw new SwarmKeyError(`cannot write the swarm key file ${path}: ${(err as Error).message}`)
  }
  try {
    await fh.writeFile(text)
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** `swarm.keyFile` as a path: a relative one is relative to the repo. */
export function swarmKeyPath (repoDir: string, keyFile: string): string {
  return isAbsolute(keyFile) ? keyFile : join(repoDir, keyFile)
}

/**
 * The key the config names (`swarm.keyFile`), or undefined for an open network. With `swarm.required`, or
 * `LIBP2P_FORCE_PNET=1` in the environment as go-libp2p and Kubo read it, and no key the node refuses to go on:
 * SwarmKeyRequiredError.
 */
export async function loadSwarmKey (repoDir: string, swarm: { keyFile: string | null, required: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<SwarmKey | undefined> {
  if (swarm.keyFile == null) {
    const why = swarm.required ? 'swarm.required is true' : env.LIBP2P_FORCE_PNET === '1' ? 'LIBP2P_FORCE_PNET=1 is set' : undefined
    if (why !== undefined) {
      throw new SwarmKeyRequiredError(`${why} but no swarm key is set (swarm.keyFile): this node only joins a private network. Make a key with \`dits-node swarm-key new -o FILE\` (or copy the studio's), then \`dits-node config set swarm.keyFile '"FILE"'\`${swarm.required ? ', or set swarm.required to false' : ''}`)
    }
    return undefined
  }
  return await readSwarmKeyFile(swarmKeyPath(repoDir, swarm.keyFile))
}

/** What status and id say about a node's network. */
export function swarmStatus (key: SwarmKey | undefined): SwarmStatus {
  return key === undefined
    ? { private: false, transports: ['tcp', 'webrtc-direct'] }
    : { private: true, keyFingerprint: key.fingerprint, transports: ['tcp'] }
}

function fingerprint (key: Uint8Array): string {
  return createHash('sha256').update(FINGERPRINT_CONTEXT).update(key).digest('hex').slice(0, FINGERPRINT_HEX_CHARS)
}

function describe (line: string | undefined): string {
  if (line === undefined || line === '') return 'nothing'
  return JSON.stringify(line.length > 40 ? line.slice(0, 40) + '…' : line)
}
