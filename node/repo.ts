/**
 * The repo (DESIGN §3): a node's data directory.
 *
 * ```
 * <repo>/config.json       validated configuration
 * <repo>/identity.key      the libp2p private key (protobuf), mode 0600
 * <repo>/swarm.key         the private network's key when `init --swarm-key` copied one, mode 0600
 * <repo>/webrtc-direct.json the WebRTC-direct certificate and its key (so its certhash), made at the first start, 0600
 * <repo>/blocks/           blockstore-fs, whole-CID sharding
 * <repo>/quarantine/       blocks that failed verification on read
 * <repo>/usage.json        the counts of blocks and bytes, saved by the writer at close (see BlockUsage)
 * <repo>/pins/             one file per pinned root
 * <repo>/datastore/        peer store, Raft log and snapshots
 * <repo>/repo.lock         held by the one process that writes the repo
 * <repo>/gc-checkpoint.json while a gc sweeps: how far it got (a stopped gc is resumed from there)
 *
 * The repo is its owner's alone: directories 0700, files 0600 (PRIVATE_DIR_MODE, PRIVATE_FILE_MODE).
 * <repo>/api, api.token    while a daemon runs: its address and bearer token (0600)
 * ```
 */
import { chmod, mkdir, open, readFile, unlink, readdir, stat, symlink, readlink } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { z } from 'zod'
import type { PrivateKey } from '@libp2p/interface'
import { DitsBlockstore } from './blockstore.ts'
import { writeDurable, fsyncPath, PRIVATE_DIR_MODE } from './files.ts'
import { loadConfig, defaultConfig, CONFIG_FILE } from '../config/index.ts'
import type { Config, Role } from '../config/index.ts'
import { DitsError, UsageError } from '../src/errors.ts'
import { parseCid } from '../src/cid.ts'
import { readSwarmKeyFile, formatSwarmKey, SWARM_KEY_FILE } from './net/swarm-key.ts'

export const IDENTITY_FILE = 'identity.key'
export const LOCK_FILE = 'repo.lock'
export const API_FILE = 'api'
export const API_TOKEN_FILE = 'api.token'
export const WEBRTC_CERTIFICATE_FILE = 'webrtc-direct.json'
/** how far a gc that was stopped had swept, for the next one to go on from (node/maintenance.ts) */
export const GC_CHECKPOINT_FILE = 'gc-checkpoint.json'
/** a seed's record of speculative chunks (node/seed/speculative.ts) */
export const SPECULATIVE_DIR = 'speculative'
/** the folder watcher's chunk cache (node/watch/chunk-cache.ts) */
export const WATCH_CACHE_FILE = 'watch-cache.json'
/** stat(2)'s S_ISVTX: a shared folder (/tmp) where only a file's owner may remove it */
const STICKY_BIT = 0o1000
/** ext4 keeps symlink targets under 60 bytes inside the inode */
const MAX_LOCK_TARGET_BYTES = 59

export class RepoLockedError extends DitsError {
  static override name = 'RepoLockedError'
  override name = 'RepoLockedError'
}

export class NoRepoError extends UsageError {
  static override name = 'NoRepoError'
  override name = 'NoRepoError'
}

/** `--repo DIR`, else `$DITS_REPO`, else `~/.dits` (DESIGN §3). */
export function resolveRepoPath (flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.DITS_REPO ?? join(homedir(), '.dits'))
}

export async function repoExists (dir: string): Promise<boolean> {
  return await stat(join(dir, CONFIG_FILE)).then(() => true, () => false)
}

export interface InitOptions {
  role?: Role
  voter?: boolean
  /** merged into the default config before it is written (validated on open) */
  config?: Record<string, unknown>
  /** a swarm key file to copy into the repo (SWARM_KEY_FILE, 0600), making the node part of that private network */
  swarmKey?: string
}

/** Create a repo. Refuses to touch a directory that already holds one. */
export async function initRepo (dir: string, options: InitOptions = {}): Promise<void> {
  if (await repoExists(dir)) throw new UsageError(`a repo already exists at ${dir}`)
  // A bad key file is refused before anything is made.
  const swarmKey = options.swarmKey !== undefined ? await readSwarmKeyFile(options.swarmKey) : undefined
  const created = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
  // mkdir leaves a folder that existed as it was: an empty one (made for the repo) is made private too
  if (created === undefined && (await readdir(dir)).length === 0) await chmod(dir, PRIVATE_DIR_MODE)
  for (const sub of ['pins', 'datastore']) await mkdir(join(dir, sub), { recursive: true, mode: PRIVATE_DIR_MODE })
  await new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json')).createShards()
  const { generateKeyPair, privateKeyToProtobuf } = await import('@libp2p/crypto/keys')
  const key = await generateKeyPair('Ed25519')
  await writeDurable(join(dir, IDENTITY_FILE), privateKeyToProtobuf(key), 0o600)
  const config = defaultConfig()
  config.role = options.role ?? 'peer'
  config.consensus.voter = options.voter ?? false
  if (swarmKey !== undefined) {
    await writeDurable(join(dir, SWARM_KEY_FILE), formatSwarmKey(swarmKey.key), 0o600)
    config.swarm.keyFile = SWARM_KEY_FILE
  }
  const merged = { ...config, ...options.config }
  // config.json last: its presence is what marks the directory as a repo, so a killed init leaves none.
  await writeDurable(join(dir, CONFIG_FILE), JSON.stringify(merged, null, 2) + '\n')
}

/** Who a node is on the network. */
export interface Identity {
  privateKey: PrivateKey
  peerId: string
}

export class Repo {
  readonly dir: string
  readonly config: Config
  readonly blocks: DitsBlockstore
  readonly pins: Pins
  private readonly keyBytes: Uint8Array
  private identityLoading?: Promise<Identity>
  private lockHeld = false

  private constructor (dir: string, config: Config, keyBytes: Uint8Array) {
    this.dir = dir
    this.config = config
    this.keyBytes = keyBytes
    this.blocks = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
    this.pins = new Pins(join(dir, 'pins'))
  }

  /**
   * Open a repo. With `write`, take the repo lock: a second writer gets an error naming the holder.
   */
  static async open (dir: string, options: { write?: boolean, command?: string } = {}): Promise<Repo> {
    if (!(await repoExists(dir))) throw new NoRepoError(`no repo at ${dir}: run \`dits-node init\` (or pass --repo DIR / set DITS_REPO)`)
    const config = await loadConfig(dir)
    const keyBytes = await readFile(join(dir, IDENTITY_FILE)).catch((err: Error) => {
      throw new DitsError(`cannot read the identity key ${join(dir, IDENTITY_FILE)}: ${err.message}`)
    })
    const repo = new Repo(dir, config, keyBytes)
    if (options.write === true) {
      await repo.lock(options.command ?? commandLabel(process.argv.slice(2)))
      await tightenRepoDir(dir)
    }
    await repo.blocks.open()
    return repo
  }

  /**
   * The node's key and peer id, parsed on first use: the commands that never meet a peer (add, get, cat, ...)
   * then never load libp2p's crypto, ~70 ms of their start.
   */
  async identity (): Promise<Identity> {
    this.identityLoading ??= (async () => {
      const [{ privateKeyFromProtobuf }, { peerIdFromPrivateKey }] = await Promise.all([import('@libp2p/crypto/keys'), import('@libp2p/peer-id')])
      let privateKey: PrivateKey
      try {
        privateKey = privateKeyFromProtobuf(this.keyBytes)
      } catch (err) {
        throw new DitsError(`the identity key ${join(this.dir, IDENTITY_FILE)} is not a valid libp2p private key: ${(err as Error).message}`)
      }
      return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString() }
    })()
    return await this.identityLoading
  }

  get datastoreDir (): string {
    return join(this.dir, 'datastore')
  }

  async close (): Promise<void> {
    if (this.lockHeld) {
      // The writer saves the counts of blocks and bytes; if it cannot (a full disk), the next one recounts.
      await this.blocks.close().catch(() => {})
      this.lockHeld = false
      await unlink(join(this.dir, LOCK_FILE)).catch(() => {})
    }
  }

  /**
   * Take the repo lock when no live process holds it (a killed writer's is taken over), as a reader that may save
   * something for the next process does; false, and nothing changes, when a writer holds it or the lock cannot be
   * made (a repo this user may only read, a read-only mount): the reader then goes on without it.
   */
  async lockIfFree (command: string): Promise<boolean> {
    if (this.lockHeld) return true
    try {
      await this.lock(command)
      return true
    } catch {
      return false
    }
  }

  /**
   * The lock is a symlink whose target holds the holder's pid, start time and command (as Emacs lock files
   * do): creating it is atomic and exclusive, and a target this short lives in the inode (ext4 and tmpfs
   * "fast symlinks"), needing no data block, so it can be taken on a full disk — where `gc` must still run.
   */
  private async lock (command: string): Promise<void> {
    const path = join(this.dir, LOCK_FILE)
    const me = `${process.pid} ${new Date().toISOString().slice(0, 19)}Z ${command}`.slice(0, MAX_LOCK_TARGET_BYTES)
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await symlink(me, path)
        this.lockHeld = true
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const holder = await readLockHolder(path)
      if (holder != null && isAlive(holder.pid)) {
        throw new RepoLockedError(`repo ${this.dir} is in use by pid ${holder.pid} (${holder.command}, since ${holder.since}); stop it first, or talk to it through its API`)
      }
      // The holder died without releasing: the lock is stale.
      await unlink(path).catch(() => {})
    }
    throw new RepoLockedError(`repo ${this.dir}: could not take ${path}`)
  }
}

/**
 * A repo made before files were private (block files 0644 in a 0755 repo) is closed to other users by its top
 * directory alone: at 0700 nobody else can reach any path beneath it, whatever the modes of the files there, so
 * the writer fixes that one mode instead of walking a million blocks (new files beneath are 0600 anyway). A repo
 * owned by another user (EPERM) is left as its owner made it.
 */
async function tightenRepoDir (dir: string): Promise<void> {
  const { mode } = await stat(dir)
  // a folder with the sticky bit is a shared one like /tmp that a repo was put straight into: never close it
  if ((mode & 0o777) === PRIVATE_DIR_MODE || (mode & STICKY_BIT) !== 0) return
  await chmod(dir, PRIVATE_DIR_MODE).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EPERM') throw err })
}

interface LockHolder { pid: number, command: string, since: string }

export async function readLockHolder (path: string): Promise<LockHolder | undefined> {
  try {
    const m = /^(\d+) (\S+) ?(.*)$/.exec(await readlink(path))
    return m == null ? undefined : { pid: Number(m[1]), since: m[2], command: m[3] }
  } catch {
    return undefined
  }
}

/** `dits-node <verb>` from the arguments, skipping global options and their values. */
function commandLabel (args: string[]): string {
  const words = args.filter((a, i) => !a.startsWith('-') && args[i - 1] !== '--repo')
  return ['dits-node', ...words.slice(0, 2)].join(' ')
}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
export function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Why a root is pinned (DESIGN §10): `user` (pin add, add, get --pin), `ref` (a seed keeping ref targets), `push`
 * (a root pushed to this seed). A root may be pinned for several reasons at once; it stays pinned while any is left.
 */
export type PinReason = 'user' | 'ref' | 'push'
export const PIN_REASONS: readonly PinReason[] = ['user', 'ref', 'push']

/** When each reason of a pin was given (ISO 8601). */
export type PinReasons = Partial<Record<PinReason, string>>

/** A pin file is a few dozen bytes; anything far larger was not written by this node. */
const MAX_PIN_FILE_BYTES = 4096

const PinFile = z.union([
  z.object({ reasons: z.partialRecord(z.enum(['user', 'ref', 'push']), z.string()) }).strict(),
  // written before pins had several reasons: one reason and when
  z.object({ pinned: z.string(), reason: z.enum(['user', 'ref', 'push']) }).strict()
])

export class PinFileError extends DitsError {
  constructor (message: string) {
    super(message)
    this.name = 'PinFileError'
  }
}

/**
 * Pins: one file per pinned root, holding each reason and when it was given, replaced durably (temp + fsync +
 * rename + fsync dir). Changes to one root are serialized, so two reasons given at once both stay.
 */
export class Pins {
  readonly dir: string
  private readonly busy = new Map<string, Promise<unknown>>()

  constructor (dir: string) {
    this.dir = dir
  }

  /** Pin `cid` for `reason` (again: the time is renewed). */
  async add (cid: CID, reason: PinReason): Promise<void> {
    await this.change(cid, reasons => ({ ...reasons, [reason]: new Date().toISOString() }))
  }

  /**
   * Withdraw `reason` (every reason when absent); the pin goes with its last reason. Whether there was anything
   * to withdraw.
   */
  async rm (cid: CID, reason?: PinReason): Promise<boolean> {
    let had = false
    await this.change(cid, reasons => {
      if (reason === undefined) {
        had = Object.keys(reasons).length > 0
        return {}
      }
      had = reasons[reason] !== undefined
      const { [reason]: _, ...rest } = reasons
      return rest
    })
    return had
  }

  async has (cid: CID): Promise<boolean> {
    return await stat(join(this.dir, cid.toString())).then(() => true, () => false)
  }

  /** Why `cid` is pinned: empty when it is not. */
  async reasons (cid: CID): Promise<PinReasons> {
    const path = join(this.dir, cid.toString())
    let text: string
    try {
      const fh = await open(path, 'r')
      try {
        const { buffer, bytesRead } = await fh.read({ buffer: Buffer.alloc(MAX_PIN_FILE_BYTES + 1) })
        if (bytesRead > MAX_PIN_FILE_BYTES) throw new PinFileError(`the pin file ${path} is over ${MAX_PIN_FILE_BYTES} bytes: not written by dits-node (remove it and pin ${cid} again)`)
        text = buffer.subarray(0, bytesRead).toString('utf8')
      } finally {
        await fh.close()
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
      throw err
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new PinFileError(`the pin file ${path} is not JSON: remove it and pin ${cid} again`)
    }
    const parsed = PinFile.safeParse(json)
    if (!parsed.success) throw new PinFileError(`the pin file ${path} is not a pin (${parsed.error.issues[0].message} at ${parsed.error.issues[0].path.join('.') || 'the top'}): remove it and pin ${cid} again`)
    return 'reasons' in parsed.data ? parsed.data.reasons : { [parsed.data.reason]: parsed.data.pinned }
  }

  private async change (cid: CID, next: (reasons: PinReasons) => PinReasons): Promise<void> {
    const key = cid.toString()
    const run = (this.busy.get(key) ?? Promise.resolve()).catch(() => {}).then(async () => {
      const reasons = next(await this.reasons(cid))
      const path = join(this.dir, key)
      if (Object.keys(reasons).length > 0) {
        await writeDurable(path, JSON.stringify({ reasons }))
        return
      }
      try {
        await unlink(path)
        await fsyncPath(this.dir)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    })
    this.busy.set(key, run)
    try {
      await run
    } finally {
      if (this.busy.get(key) === run) this.busy.delete(key)
    }
  }

  /** The pinned roots; a pin being written (its `<cid>.tmp-<pid>` beside it) is not one until it is renamed. */
  async ls (): Promise<CID[]> {
    const names = await readdir(this.dir)
    return names.filter(n => !n.includes('.')).map(n => parseCid(n))
  }
}

