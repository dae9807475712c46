/**
 * The consensus service of a node (issue 4): on a voter, the Raft driver with its durable storage, the
 * `/dits/raft` transport and the `/dits/consensus` server; on every node, the client that reaches the group,
 * the client sessions that make commands exactly-once, and the lease renewer. The daemon's ref, lock and
 * cluster operations are methods of this class (see ops.ts).
 */
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { accessDenied, defaultAccessTable, errorFromInfo, hasRole } from '../../src/state/index.ts'
import { NotFoundError, UnavailableError, UsageError } from '../../src/errors.ts'
import { RaftDiskStorage, RAFT_DIR } from './storage.ts'
import { RaftDriver } from './driver.ts'
import { RaftTransport } from './transport.ts'
import { ConsensusServer } from './server.ts'
import { ConsensusClient, DEFAULT_CONSENSUS_ATTEMPT_TIMEOUT_MS } from './client.ts'
import { LeaseRenewer } from './lease-renewer.ts'
import { NoVotersError } from './errors.ts'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { DriverStatus } from './driver.ts'
import type { ConsensusObserver } from './observer.ts'
import type { ConsensusCall } from './server.ts'
import type {
  AccessAuditEntry, AccessRole, AccessTable, AdmittedCommand, CommandResult, RequestBody, LockAuditReply, LockGrant, LockLsReply, LockMode, Query, QueryReply, RefLogReply, RefRecord
} from '../../src/state/index.ts'

/** What `--request-id` accepts: it becomes part of a client id (src/state MAX_ID_CHARS bounds those). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
/** Lease of a lock acquired without --ttl. */
export const DEFAULT_LOCK_TTL_MS = 30_000
/** How long `cluster status` waits for the leader's view before showing the answering voter's own. */
const STATUS_LEADER_TIMEOUT_MS = 1_000
/** How long after start the node keeps trying to find the leases it held before a restart. */
const RESUME_LEASES_FOR_MS = 30_000
/** How often a node that is not a voter asks the group for the access table its serving enforces. */
export const DEFAULT_ACCESS_REFRESH_MS = 30_000

/** What the service needs from the libp2p host. */
export interface ConsensusComponents {
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options?: { maxInboundStreams?: number, maxOutboundStreams?: number }): Promise<void>
  unhandle(protocol: string): Promise<void>
  dialProtocol(target: PeerId | Multiaddr | Multiaddr[], protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
  getConnections(peer?: PeerId): Connection[]
  addEventListener(type: 'peer:disconnect', listener: (evt: CustomEvent<PeerId>) => void): void
  removeEventListener(type: 'peer:disconnect', listener: (evt: CustomEvent<PeerId>) => void): void
}

export interface ConsensusServiceInit {
  /** this node's peer id */
  peerId: string
  /** config consensus.voter */
  voter: boolean
  /** config consensus.voters: multiaddrs ending in /p2p/<peer id> */
  voters: string[]
  heartbeatMs: number
  electionMs: number
  requestTimeoutMs: number
  /** `<repo>/datastore`; the Raft log goes into its `raft/` */
  datastoreDir: string
  /** @default DEFAULT_SNAPSHOT_ENTRIES (driver.ts) */
  snapshotEntries?: number
  /** score a misbehaving peer down (the network's PeerPenalties); `disconnect`: a protocol violation, hang up too */
  penalize?(peer: string, reason: string, disconnect?: boolean): void
  /** config `access`: enforced until the replicated table is set, and the base the first access change starts from */
  access?: AccessTable
  /** this node's local user, sent with every command as an unverified label (`ref log`, `lock ls`) */
  user?: string
  /** @default DEFAULT_ACCESS_REFRESH_MS */
  accessRefreshMs?: number
  /** told of leader changes, proposals, lost leases and ref sets (the daemon's metrics) */
  observer?: ConsensusObserver
  log?(message: string): void
}

export type AccessTableSource = 'config' | 'replicated'

/** `access ls`: the table in effect, where it comes from, and the audit log of changes. */
export interface AccessListing {
  table: AccessTable
  /** 'config': no access change was ever made, the voters enforce their config `access`; 'replicated' since */
  source: AccessTableSource
  /** the voters (the admins while no admin is named) */
  voters: string[]
  audit: AccessAuditEntry[]
  dropped: number
}

export interface ClusterVoter {
  id: string
  /** 'leader', 'follower' or 'unreachable' */
  state: string
  reachable: boolean
  /** on the leader's view: replicated index, entries behind, replication mode; null otherwise */
  match: number | null
  lag: number | null
  progress: string | null
}

export interface ClusterStatus {
  leader: string | null
  term: number
  commitIndex: number
  appliedIndex: number
  /** the oldest log entry the answering voter still holds (older ones are in its snapshot) */
  firstIndex: number
  snapshotIndex: number
  /** the voter whose view this is (the leader's when it answered) */
  answeredBy: string
  voters: ClusterVoter[]
}

/** The grant as the CLI prints it (`lock acquire --json`). */
export interface LockInfo {
  path: string
  mode: LockMode
  token: number
  /** lease end, ms since the epoch */
  expires: number
  owner: string
  ttlMs: number
}

export class ConsensusService {
  readonly peerId: string
  readonly isVoter: boolean
  private readonly components: ConsensusComponents
  private readonly init: ConsensusServiceInit
  private readonly addresses = new Map<string, string[]>()
  private readonly sessions: SessionPool
  private readonly renewer: LeaseRenewer
  private driver?: RaftDriver
  private transport?: RaftTransport
  private server?: ConsensusServer
  private client?: ConsensusClient
  private started = false
  /** what this node's serving enforces when it is not a voter: the group's table, refreshed every so often */
  private accessView: { table: AccessTable, voters: string[] }
  private accessTimer?: NodeJS.Timeout

  constructor (components: ConsensusComponents, init: ConsensusServiceInit) {
    this.components = components
    this.init = init
    this.peerId = init.peerId
    for (const addr of init.voters) {
      const id = multiaddr(addr).getComponents().findLast(c => c.name === 'p2p')?.value
      if (id === undefined) throw new UsageError(`consensus.voters entry ${addr} does not end in /p2p/<peer id>`)
      this.addresses.set(id, [...(this.addresses.get(id) ?? []), addr])
    }
    this.isVoter = init.voter || this.addresses.has(init.peerId)
    this.accessView = { table: init.access ?? defaultAccessTable(), voters: [...this.addresses.keys()] }
    this.sessions = new SessionPool(`${init.peerId}.${randomBytes(4).toString('hex')}`)
    this.renewer = new LeaseRenewer({
      renew: async (path, _owner, ttlMs) => await this.renew(path, ttlMs),
      log: init.log
    })
  }

  async start (): Promise<void> {
    if (this.started) return
    const log = this.init.log
    if (this.isVoter) {
      const storage = await RaftDiskStorage.open(join(this.init.datastoreDir, RAFT_DIR))
      if (storage.recovery.truncatedBytes > 0) log?.(`raft log: cut a torn tail of ${storage.recovery.truncatedBytes} bytes`)
      const transport = new RaftTransport(this.components, {
        self: this.peerId,
        addresses: this.addresses,
        electionMs: this.init.electionMs,
        onMessage: (m, remote) => this.driver?.step(m, remote),
        penalize: this.init.penalize,
        onUnreachable: id => { this.driver?.reportUnreachable(id) },
        onSnapshotStatus: (id, ok) => { this.driver?.reportSnapshot(id, ok) },
        log
      })
      // a founder is listed in consensus.voters; a voter that is not waits to be added (`cluster add`), and
      // until then takes Raft messages only from the voters it is configured with
      const founders = this.addresses.has(this.peerId) ? [...this.addresses.keys()] : []
      const driver = new RaftDriver({
        id: this.peerId,
        storage,
        founders,
        joinVia: founders.length > 0 ? [] : [...this.addresses.keys()],
        heartbeatMs: this.init.heartbeatMs,
        electionMs: this.init.electionMs,
        snapshotEntries: this.init.snapshotEntries,
        send: msgs => { transport.send(msgs) },
        reachable: id => transport.reachable(id),
        onGrantLost: ev => {
          this.init.observer?.lockLost(ev.type)
          this.renewer.lost(ev.grant, ev.reason)
        },
        observer: this.init.observer,
        log
      })
      this.driver = driver
      this.transport = transport
      this.server = new ConsensusServer({
        driver,
        transport,
        addressesOf: peer => this.addresses.get(peer) ?? [],
        configAccess: () => this.init.access ?? defaultAccessTable(),
        handle: async (p, h, o) => { await this.components.handle(p, h, o) },
        unhandle: async p => { await this.components.unhandle(p) }
      }, { log, penalize: this.init.penalize })
      await transport.start()
      await this.server.start()
      driver.start()
      this.components.addEventListener('peer:disconnect', this.onDisconnect)
    }
    this.client = new ConsensusClient(this.components, { self: this.peerId, voters: this.addresses, local: this.server, penalize: this.init.penalize })
    this.started = true
    if (this.addresses.size > 0) this.resumeLeases().catch(() => {})
    if (!this.isVoter && this.addresses.size > 0) {
      const refresh = (): void => {
        this.accessLs().then(l => { this.accessView = { table: l.table, voters: l.voters } }, () => {})
      }
      refresh()
      this.accessTimer = setInterval(refresh, this.init.accessRefreshMs ?? DEFAULT_ACCESS_REFRESH_MS)
      this.accessTimer.unref()
    }
  }

  /**
   * Why `peer` may not be served `what` (it lacks `role`), or undefined when it may: the read role on
   * /dits/chunks. A voter looks at its applied table; another node at the group's table as it last fetched it
   * (every accessRefreshMs), and at its own config `access` until it could.
   */
  refusal (peer: string, role: AccessRole, what: string): string | undefined {
    const view = this.driver !== undefined
      ? { table: this.driver.appliedAccessTable() ?? this.init.access ?? defaultAccessTable(), voters: this.driver.voters }
      : this.accessView
    return hasRole(view.table, peer, role, view.voters) ? undefined : accessDenied(view.table, peer, role, what).error.message
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.accessTimer)
    this.components.removeEventListener('peer:disconnect', this.onDisconnect)
    this.renewer.stop()
    this.client?.close()
    await this.server?.stop()
    await this.transport?.stop()
    await this.driver?.stop()
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.driver?.leaderDisconnected(evt.detail.toString())
  }

  // ---- refs ----------------------------------------------------------------------------------------------

  async refGet (args: { name: string }): Promise<RefRecord> {
    const { ref } = await this.read({ type: 'ref.get', name: args.name })
    if (ref === null) throw new NotFoundError(`ref ${args.name} does not exist`)
    return ref
  }

  async refSet (args: { name: string, cid: string, expect?: string, expectNone?: boolean, token?: number, requestId?: string }): Promise<{ name: string, cid: string, old: string | null, index: number, token: number | null }> {
    if (args.expect !== undefined && args.expectNone === true) throw new UsageError('--expect and --expect-none exclude each other')
    try {
      const r = await this.command({
        type: 'ref.set', name: args.name, cid: args.cid, expect: args.expectNone === true ? null : args.expect, token: args.token
      }, 0, args.requestId)
      if (r.type !== 'ref.set') throw requestReused(args.requestId, 'ref.set', r.type)
      this.init.observer?.refSet('ok')
      return { name: r.ref.name, cid: r.ref.cid, old: r.old, index: r.ref.index, token: r.ref.token }
    } catch (err) {
      this.init.observer?.refSet((err as { exitCode?: number }).exitCode === 3 ? 'conflict' : 'error')
      throw err
    }
  }

  async refRm (args: { name: string, expect: string, token?: number, requestId?: string }): Promise<{ name: string, old: string, index: number }> {
    const r = await this.command({ type: 'ref.rm', name: args.name, expect: args.expect, token: args.token }, 0, args.requestId)
    if (r.type !== 'ref.rm') throw requestReused(args.requestId, 'ref.rm', r.type)
    return { name: r.name, old: r.old, index: r.index }
  }

  async refLs (args: { prefix?: string }): Promise<RefRecord[]> {
    return (await this.read({ type: 'ref.ls', prefix: args.prefix ?? '' })).refs
  }

  async refLog (args: { name: string }): Promise<RefLogReply> {
    return await this.read({ type: 'ref.log', name: args.name })
  }

  // ---- locks ---------------------------------------------------------------------------------------------

  async lockAcquire (args: { path: string, shared?: boolean, ttlMs?: number, waitMs?: number, requestId?: string }): Promise<LockInfo> {
    const waitMs = args.waitMs ?? 0
    const r = await this.command({
      type: 'lock.acquire', path: args.path, mode: args.shared === true ? 'shared' : 'exclusive', ttlMs: args.ttlMs ?? DEFAULT_LOCK_TTL_MS, waitMs: waitMs > 0 ? waitMs : undefined
    }, waitMs, args.requestId)
    if (r.type !== 'lock.acquire') throw requestReused(args.requestId, 'lock.acquire', r.type)
    if (r.status !== 'granted') throw new UnavailableError(`the request for lock ${args.path} is still queued: retry it`)
    this.renewer.track(r.grant)
    return lockInfo(r.grant)
  }

  async lockRelease (args: { path: string, requestId?: string }): Promise<{ released: LockInfo | null, cancelled: boolean }> {
    const r = await this.command({ type: 'lock.release', path: args.path }, 0, args.requestId)
    if (r.type !== 'lock.release') throw requestReused(args.requestId, 'lock.release', r.type)
    this.renewer.untrack(this.peerId, r.released?.path ?? args.path)
    return { released: r.released === null ? null : lockInfo(r.released), cancelled: r.cancelled !== null }
  }

  async lockRenew (args: { path: string, ttlMs?: number, requestId?: string }): Promise<LockInfo> {
    const grant = await this.renew(args.path, args.ttlMs, args.requestId)
    this.renewer.track(grant)
    return lockInfo(grant)
  }

  async lockLs (args: { prefix?: string }): Promise<LockLsReply> {
    return await this.read({ type: 'lock.ls', prefix: args.prefix ?? '' })
  }

  /** The lock audit log: grants removed by `lock break` or by lease expiry, oldest first (the dashboard's events). */
  async lockAudit (): Promise<LockAuditReply> {
    return await this.read({ type: 'lock.audit' })
  }

  async lockBreak (args: { path: string, reason: string, requestId?: string }): Promise<{ broken: LockInfo[] }> {
    const r = await this.command({ type: 'lock.break', path: args.path, reason: args.reason }, 0, args.requestId)
    if (r.type !== 'lock.break') throw requestReused(args.requestId, 'lock.break', r.type)
    return { broken: r.broken.map(lockInfo) }
  }

  // ---- access --------------------------------------------------------------------------------------------

  async accessLs (): Promise<AccessListing> {
    const r = await this.read({ type: 'access.ls' }) as unknown as AccessListing
    return { table: r.table, source: r.source, voters: r.voters, audit: r.audit, dropped: r.dropped }
  }

  async accessGrant (args: { role: AccessRole, peer: string, name?: string }): Promise<{ table: AccessTable, change: AccessAuditEntry }> {
    const r = await this.command({ type: 'access.grant', role: args.role, peer: parsePeer(args.peer).id, name: args.name })
    if (r.type !== 'access.grant') throw new Error(`unexpected result ${r.type}`)
    return { table: r.table, change: r.change }
  }

  async accessRevoke (args: { role: AccessRole, peer: string }): Promise<{ table: AccessTable, change: AccessAuditEntry }> {
    const r = await this.command({ type: 'access.revoke', role: args.role, peer: parsePeer(args.peer).id })
    if (r.type !== 'access.revoke') throw new Error(`unexpected result ${r.type}`)
    return { table: r.table, change: r.change }
  }

  // ---- cluster -------------------------------------------------------------------------------------------

  async clusterStatus (): Promise<ClusterStatus> {
    const client = this.ready()
    let view = await client.call({ kind: 'status' }, { timeoutMs: this.init.requestTimeoutMs }) as DriverStatus
    if (view.leader !== null && view.leader !== view.self) {
      // the leader alone knows how far behind each voter is
      const leader = await client.call({ kind: 'status' }, { timeoutMs: STATUS_LEADER_TIMEOUT_MS, target: view.leader }).catch(() => undefined) as DriverStatus | undefined
      if (leader !== undefined) view = leader
    }
    return {
      leader: view.leader,
      term: view.term,
      commitIndex: view.commitIndex,
      appliedIndex: view.appliedIndex,
      firstIndex: view.firstIndex,
      snapshotIndex: view.snapshotIndex,
      answeredBy: view.self,
      voters: view.voters.map(v => ({
        id: v.id,
        state: !v.reachable ? 'unreachable' : v.role,
        reachable: v.reachable,
        match: v.match,
        lag: v.lag,
        progress: v.progress
      }))
    }
  }

  async clusterAdd (args: { peer: string }): Promise<{ voters: string[] }> {
    const { id, addrs } = parsePeer(args.peer)
    if (addrs.length > 0) this.addresses.set(id, addrs)
    return await this.ready().call({ kind: 'add-voter', peer: id, addrs }, { timeoutMs: this.init.requestTimeoutMs }) as { voters: string[] }
  }

  async clusterRemove (args: { peer: string }): Promise<{ voters: string[] }> {
    const { id } = parsePeer(args.peer)
    return await this.ready().call({ kind: 'remove-voter', peer: id }, { timeoutMs: this.init.requestTimeoutMs }) as { voters: string[] }
  }

  /** The leases this node keeps alive. */
  leases (): LockGrant[] {
    return this.renewer.list()
  }

  /** This voter's own view of the group, without asking anyone; undefined on a node that is not a voter. */
  localStatus (): DriverStatus | undefined {
    return this.driver?.status()
  }

  /** Locks granted and requests waiting in this voter's replica; undefined on a node that is not a voter. */
  localLockCounts (): { held: number, waiting: number } | undefined {
    return this.driver?.lockCounts()
  }

  // ---------------------------------------------------------------------------------------------------------

  private ready (): ConsensusClient {
    if (this.addresses.size === 0) throw new NoVotersError()
    if (this.client === undefined) throw new UsageError('the consensus service is not started')
    return this.client
  }

  /**
   * Submit a command under a session slot of this node: retries inside the call keep its (client, seq).
   * It carries no owner: the voter sets that to this node's peer id, as the connection authenticated it.
   * A refusal by the state machine or by the voter's access check becomes its named error (exit 3).
   */
  private async command (input: DistributiveOmit<AdmittedCommand, 'client' | 'seq' | 'owner'>, extraMs = 0, requestId?: string): Promise<Exclude<CommandResult, { ok: false }>> {
    const client = this.ready()
    const slot = requestId === undefined ? this.sessions.acquire() : requestSession(this.peerId, requestId)
    try {
      const command = dropUndefined({ ...input, user: this.init.user, client: slot.client, seq: slot.seq }) as unknown as RequestBody
      const result = await client.call({ kind: 'command', command }, { timeoutMs: this.init.requestTimeoutMs + extraMs, attemptTimeoutMs: DEFAULT_CONSENSUS_ATTEMPT_TIMEOUT_MS + extraMs }) as CommandResult
      if (!result.ok) throw errorFromInfo(result.error)
      return result
    } finally {
      if (requestId === undefined) this.sessions.release(slot)
    }
  }

  private async renew (path: string, ttlMs?: number, requestId?: string): Promise<LockGrant> {
    const r = await this.command({ type: 'lock.renew', path, ttlMs }, 0, requestId)
    if (r.type !== 'lock.renew') throw requestReused(requestId, 'lock.renew', r.type)
    return r.grant
  }

  private async read<Q extends Query> (query: Q): Promise<QueryReply<Q>> {
    const call: ConsensusCall = { kind: 'read', query: dropUndefined(query) as Query }
    return await this.ready().call(call, { timeoutMs: this.init.requestTimeoutMs }) as QueryReply<Q>
  }

  /** After a restart, keep renewing the locks this node still holds (their leases may not have run out). */
  private async resumeLeases (): Promise<void> {
    const until = Date.now() + RESUME_LEASES_FOR_MS
    while (this.started && Date.now() < until) {
      try {
        const { locks } = await this.lockLs({})
        for (const g of locks) if (g.owner === this.peerId && !this.renewer.list().some(l => l.path === g.path)) this.renewer.track(g)
        return
      } catch {
        await new Promise(resolve => setTimeout(resolve, 500))
      }
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/**
 * One session per request in flight: a session never has two commands outstanding, so its commands commit in
 * sequence order and never fall outside the state machine's per-session window; finished slots are reused.
 */
class SessionPool {
  private readonly prefix: string
  private readonly free: Array<{ client: string, seq: number }> = []
  private count = 0

  constructor (prefix: string) {
    this.prefix = prefix
  }

  acquire (): { client: string, seq: number } {
    const slot = this.free.pop() ?? { client: `${this.prefix}.${++this.count}`, seq: 0 }
    slot.seq++
    return slot
  }

  release (slot: { client: string, seq: number }): void {
    this.free.push(slot)
  }
}

/**
 * The session of a command sent with `--request-id ID`: client `<this node's peer id>.request.<ID>`, seq 1.
 * The same ID sent again through the same node is the same (client, seq), which the state machine applies once
 * and answers with the first result (src/state/sessions.ts), however many times a script retries it. Another
 * node makes another session; and a session is forgotten once thousands of other clients were active since.
 */
export function requestSession (peerId: string, requestId: string): { client: string, seq: number } {
  return { client: `${peerId}.request.${requestId}`, seq: 1 }
}

/** The first command sent with a request id was of another kind: its result is not this command's. */
function requestReused (requestId: string | undefined, expected: string, got: string): Error {
  if (requestId === undefined) return new Error(`unexpected result ${got}`)
  return new UsageError(`request id ${requestId} was first used for a ${got}, not a ${expected}: use a new id for a new command`)
}

function lockInfo (g: LockGrant): LockInfo {
  return { path: g.path, mode: g.mode, token: g.token, expires: g.expires, owner: g.owner, ttlMs: g.ttlMs }
}

function parsePeer (peer: string): { id: string, addrs: string[] } {
  if (peer.startsWith('/')) {
    let id: string | undefined
    try {
      id = multiaddr(peer).getComponents().findLast(c => c.name === 'p2p')?.value
    } catch (err) {
      throw new UsageError(`invalid PEER ${peer}: ${(err as Error).message}`)
    }
    if (id === undefined) throw new UsageError(`invalid PEER ${peer}: a multiaddr must end in /p2p/<peer id>`)
    return { id, addrs: [peer] }
  }
  try {
    peerIdFromString(peer)
  } catch {
    throw new UsageError(`invalid PEER ${peer}: expected a peer id or a multiaddr ending in /p2p/<peer id>`)
  }
  return { id: peer, addrs: [] }
}

function dropUndefined<T extends object> (obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T
}
