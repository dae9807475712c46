/**
 * `dits-node start`: opens the repo (taking its lock), joins the network, serves the local API, and runs
 * until asked to stop. Writes `<repo>/api.token` (0600), then listens, then writes `<repo>/api` (its URL); removes
 * them on the way out.
 */
import { unlink } from 'node:fs/promises'
import { setFlagsFromString } from 'node:v8'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { Repo, API_FILE, API_TOKEN_FILE, WEBRTC_CERTIFICATE_FILE, SPECULATIVE_DIR, WATCH_CACHE_FILE } from './repo.ts'
import { writeDurable } from './files.ts'
import { RepoOps } from './ops.ts'
import { ApiServer, newApiToken, rpc, NoArgs } from './api.ts'
import type { RpcOp } from './api.ts'
import type { AvailabilityArgs, AvailabilityReport } from './availability.ts'
import { opTable } from './op-table.ts'
import { createNetwork } from './net/index.ts'
import type { DitsNetwork, NetworkSwarm } from './net/index.ts'
import { loadSwarmKey } from './net/swarm-key.ts'
import { ConsensusService, consensusOps } from './consensus/index.ts'
import { RefFollower, GcSchedule, requireSeedOps, refTargetsSeedsLack, studioSeeds } from './seed/index.ts'
import { requestRootStatus } from './net/seed.ts'
import { DaemonMetrics } from './metrics/index.ts'
import { createDaemonLog, LOGS_DIR } from './log/index.ts'
import type { DaemonLog, LogLevel } from './log/index.ts'
import type { NetworkObserver } from './net/index.ts'
import type { ConsensusObserver } from './consensus/observer.ts'
import { MetricsListener } from './metrics/listener.ts'
import { SeedService } from './net/seed.ts'
import { SeedKeeper } from './seed/keeper.ts'
import { SpeculativeRecord } from './seed/speculative.ts'
import { speculativeTtlMs } from '../config/schema.ts'
import { seedOps } from './seed/ops.ts'
import { ChunkCache, SpeculativeService, watchOps } from './watch/index.ts'
import { PROFILES, DEFAULT_PROFILE_NAME } from '../src/fastcdc/index.ts'
import { speculate } from './net/seed.ts'
import { RAFT_PROTOCOL, CONSENSUS_PROTOCOL, SEED_PROTOCOL } from '../protocol/ids.ts'
import { UnavailableError } from '../src/errors.ts'
import { accessDenied, hasRole } from '../src/state/index.ts'
import type { AccessTable } from '../src/state/index.ts'
import { Dashboard } from './dashboard/index.ts'
import type { DashboardLogin, DashboardSources } from './dashboard/index.ts'
import { heldShare } from '../src/manifest/index.ts'
import { parseCid } from '../src/cid.ts'
import { macrotask } from './deferred.ts'

/**
 * How far V8 lets the daemon's heap grow past what survived its last full collection, percent (its own default lets
 * a busy process grow to up to 4x that): a get of 20,000 small files from a peer held ~56 MiB live and peaked at
 * 440 MiB of RSS, 256 MiB with this. Set when the daemon starts (V8 reads it at each collection).
 */
export const DAEMON_HEAP_GROWING_PERCENT = 50

/** Manifest nodes plus chunk look-ups one measure of a ref's local share may make (the dashboard's refs panel). */
export const DEFAULT_SHARE_BUDGET = 200_000

/** How long one measure of a ref's share on the seed (an `availability` run) may take. */
export const DEFAULT_SEED_SHARE_TIMEOUT_MS = 30_000

/** `dits-node dashboard` on a daemon whose config turns the dashboard off. */
export class DashboardDisabledError extends UnavailableError {
  static override name = 'DashboardDisabledError'
  override name = 'DashboardDisabledError'
}

/** The user this daemon runs as: the unverified label its commands carry (`ref log`, `lock ls`). */
function localUser (): string | undefined {
  try {
    const name = userInfo().username
    return name === '' ? undefined : name.slice(0, 64)
  } catch {
    return undefined
  }
}

/** The refusal the config `access` alone gives for a read or write role (admin aside, no voter list is needed for them). */
function configRefusal (access: AccessTable, peer: string, role: 'read' | 'write', what: string): string | undefined {
  return hasRole(access, peer, role, []) ? undefined : accessDenied(access, peer, role, what).error.message
}

export interface DaemonInfo {
  peerId: string
  api: string
  addresses: string[]
  roles: string[]
  repo: string
  /** private or not, and the listen addresses a private node dropped */
  swarm: NetworkSwarm
  /** the URL of `metrics.listen` (GET without the token), when configured */
  metrics?: string
}

export interface DaemonOptions {
  /** `start --log-level`: overrides config `log.level` */
  logLevel?: LogLevel
}

/** The network's events counted (metrics) and, for the few an operator acts on, logged. */
function networkObserver (metrics: DaemonMetrics, log: DaemonLog['logger']): NetworkObserver {
  return {
    blockVerified: (peer, bytes, kind, source) => { metrics.blockVerified(peer, bytes, kind, source) },
    verificationFailed: (peer) => {
      metrics.verificationFailed()
      log.warn({ peer: peer.toString() }, 'a block received from a peer failed BLAKE3 verification: not stored, the peer is banned')
    },
    heldAtStart: (bytes) => { metrics.heldAtStart(bytes) },
    served: (peer, bytes) => { metrics.served(peer, bytes) },
    banned: (peer, reason) => {
      metrics.banned()
      log.warn({ peer: peer.toString(), reason }, 'banned a peer')
    },
    provided: (seconds, ok) => { metrics.provided(seconds, ok) },
    lookedUp: (seconds, ok) => { metrics.lookedUp(seconds, ok) }
  }
}

/** The consensus service's events counted (metrics) and, the rare ones an operator follows, logged at info. */
function consensusObserver (metrics: DaemonMetrics, log: DaemonLog['logger']): ConsensusObserver {
  return {
    leaderChanged: (leader) => {
      metrics.leaderChanged()
      log.info({ leader: leader ?? null }, leader === undefined ? 'the consensus group has no leader (an election runs)' : 'the consensus group has a new leader')
    },
    proposed: (seconds, ok) => { metrics.proposed(seconds, ok) },
    lockLost: (how) => {
      metrics.lockLost(how)
      log.info({ how }, how === 'expired' ? 'a lock lease expired' : 'a lock was broken')
    },
    refSet: (result) => { metrics.refSet(result) }
  }
}

export class Daemon {
  readonly repo: Repo
  readonly ops: RepoOps
  network?: DitsNetwork
  consensus?: ConsensusService
  /** on a seed with a consensus group: keeps the refs' targets */
  follower?: RefFollower
  gcSchedule?: GcSchedule
  /** this daemon's metrics registry (README "Metrics"); the dashboard reads `metrics.snapshot()` */
  readonly metrics = new DaemonMetrics()
  /** `/dits/seed` (a node whose role is seed) */
  seed?: SeedService
  /** on a seed: the chunks it keeps as speculative (node/seed/speculative.ts), which its gc keeps until they expire */
  speculative?: SpeculativeRecord
  /** on a workstation: the folder watcher and the uploads of speculative transport (node/watch) */
  watcher?: SpeculativeService
  private readonly api: ApiServer
  private metricsListener?: MetricsListener
  private metricsUrl?: string
  private readonly dashboard?: Dashboard
  private apiUrl = ''
  private stopping?: Promise<void>

  /** the daemon's logs (<repo>/logs, README "Logs") */
  readonly log: DaemonLog

  private constructor (repo: Repo, log: DaemonLog) {
    this.repo = repo
    this.log = log
    this.ops = new RepoOps(repo)
    const table = opTable(this.ops, () => this.network, () => this.follower?.status(), async name => {
      if (this.consensus === undefined) throw new UnavailableError('the consensus service is not running: start the daemon with `dits-node start`')
      return (await this.consensus.refGet({ name })).cid
    })
    Object.assign(table.rpc, consensusOps(() => this.consensus))
    // ref set first pushes its target to the seed(s) when it must (`--require-seed`, consensus.requireSeed)
    Object.assign(table.rpc, requireSeedOps({ config: repo.config, network: () => this.network, consensus: () => this.consensus }))
    Object.assign(table.rpc, seedOps({
      ops: this.ops,
      network: () => this.network,
      refCid: async (name) => {
        if (this.consensus === undefined) throw new UnavailableError('the consensus service is not running: start the daemon with `dits-node start`')
        return (await this.consensus.refGet({ name })).cid
      }
    }))
    Object.assign(table.rpc, watchOps({ repo, service: () => this.watcher }))
    if (repo.config.dashboard.enabled) this.dashboard = new Dashboard(this.dashboardSources(table.rpc.availability))
    table.rpc.dashboardLogin = rpc(NoArgs, async (): Promise<DashboardLogin> => {
      if (this.dashboard === undefined) throw new DashboardDisabledError(`the dashboard is off for repo ${repo.dir}: turn it on with \`dits-node config set dashboard.enabled true\` and restart the daemon`)
      return this.dashboard.login(this.apiUrl)
    })
    this.api = new ApiServer(table, this.token, { scrape: this.scrape, log: log.logger.child({ component: 'dits:api' }), dashboard: this.dashboard?.server })
    this.ops.onGc = result => { this.metrics.gcRan(result) }
    this.metrics.attach({
      repo: () => this.repo.blocks.usageReport(),
      transfers: () => this.network?.status().transfers ?? { downloads: 0, uploads: 0 },
      leases: () => this.consensus?.leases().length ?? 0,
      locks: () => this.consensus?.localLockCounts(),
      raft: () => {
        const s = this.consensus?.localStatus()
        return s === undefined ? undefined : { term: s.term, commitIndex: s.commitIndex, appliedIndex: s.appliedIndex, leader: s.leader === s.self }
      }
    })
  }

  /** What the dashboard shows, read from the network, the consensus service and the repo. */
  private dashboardSources (availability: RpcOp<AvailabilityArgs>): DashboardSources {
    const net = (): DitsNetwork => {
      if (this.network === undefined) throw new UnavailableError('the network is not started')
      return this.network
    }
    const consensus = (): ConsensusService => {
      if (this.consensus === undefined) throw new UnavailableError('the consensus service is not started')
      return this.consensus
    }
    const blocks = this.repo.blocks
    return {
      node: async () => ({ status: net().status(), repo: { ...await this.ops.repoStats(), dir: this.repo.dir } }),
      metrics: async () => await this.metrics.snapshot(),
      peers: () => net().peers(),
      transfers: () => net().transfers(),
      penalties: () => net().recentPenalties(),
      names: () => this.repo.config.access.names,
      refs: async () => await consensus().refLs({}),
      locks: async () => await consensus().lockLs({}),
      lockAudit: async () => await consensus().lockAudit(),
      cluster: async () => await consensus().clusterStatus(),
      localShare: async (root) => await heldShare(
        async cid => await blocks.has(cid) ? await blocks.get(cid).catch(() => undefined) : undefined,
        async cid => await blocks.has(cid),
        parseCid(root),
        { budget: DEFAULT_SHARE_BUDGET, pause: macrotask }
      ),
      seedShare: async (root) => {
        const report = await availability.run({ target: root, maxListed: 0 }, { signal: AbortSignal.timeout(DEFAULT_SEED_SHARE_TIMEOUT_MS) }) as AvailabilityReport
        const seed = report.holders.find(h => h.role === 'seed')
        if (seed === undefined) return { bytes: report.bytes, held: 0, complete: false, note: 'no seed reachable' }
        return { bytes: report.bytes, held: seed.bytes, complete: seed.state === 'ok', note: seed.state === 'ok' ? undefined : `seed ${seed.state}` }
      }
    }
  }

  private readonly scrape = async (): Promise<{ contentType: string, body: string }> => ({ contentType: this.metrics.contentType, body: await this.metrics.text() })

  private readonly token = newApiToken()

  static async start (repoDir: string, options: DaemonOptions = {}): Promise<Daemon> {
    setFlagsFromString(`--heap-growing-percent=${DAEMON_HEAP_GROWING_PERCENT}`)
    const repo = await Repo.open(repoDir, { write: true, command: 'dits-node start' })
    let log: DaemonLog
    try {
      const { level, maxFileBytes, maxFiles } = repo.config.log
      log = createDaemonLog({ dir: join(repo.dir, LOGS_DIR), level: options.logLevel ?? level, maxFileBytes, maxFiles })
    } catch (err) {
      await repo.close()
      throw err
    }
    const daemon = new Daemon(repo, log)
    try {
      // The token before the socket, the URL last: a client that finds the URL finds the token that goes with
      // it (the daemon listened first, and calls in between failed "unauthorized": with a fixed api.port, a
      // killed daemon's URL is the new one). A URL left by a killed daemon goes as soon as the repo is ours, so
      // that no client calls it while the network starts.
      await unlink(join(repo.dir, API_FILE)).catch(() => {})
      await writeDurable(join(repo.dir, API_TOKEN_FILE), daemon.token, 0o600)
      const { config } = repo
      const { privateKey, peerId } = await repo.identity()
      const swarmKey = await loadSwarmKey(repo.dir, config.swarm)
      // the roles a peer needs (DESIGN §10): until the consensus service runs, the config `access` alone decides
      const refusal = (peer: string, role: 'read' | 'write', what: string): string | undefined => daemon.consensus?.refusal(peer, role, what) ?? configRefusal(config.access, peer, role, what)
      const seed = config.role === 'seed'
      const network = await createNetwork({
        privateKey,
        blockstore: repo.blocks,
        role: config.role,
        voter: config.consensus.voter,
        listen: config.addresses.listen,
        bootstrap: config.bootstrap,
        // the configured seeds, and bootstrap peers that say (in hello) they are seeds: the fallback of last resort
        seeds: [...config.seeds, ...config.bootstrap],
        mdns: config.discovery.mdns,
        announceChunks: config.dht.announceChunks,
        maxServeRateBytesPerSec: config.serve.maxRate ?? undefined,
        serving: { slots: config.serve.slots ?? undefined },
        swarmKey,
        webrtcCertificateFile: join(repo.dir, WEBRTC_CERTIFICATE_FILE),
        observer: networkObserver(daemon.metrics, log.logger),
        metrics: daemon.metrics.libp2p(repo.dir),
        logger: log.componentLogger,
        refuseServing: peer => refusal(peer.toString(), 'read', 'chunks'),
        extraProtocols: [CONSENSUS_PROTOCOL, ...(config.consensus.voter ? [RAFT_PROTOCOL] : []), ...(seed ? [SEED_PROTOCOL] : [])]
      })
      daemon.network = network
      await network.start()
      const consensusLog = network.libp2p.logger.forComponent('dits:consensus')
      daemon.consensus = new ConsensusService(network.libp2p, {
        ...config.consensus,
        peerId,
        datastoreDir: repo.datastoreDir,
        access: config.access,
        user: localUser(),
        penalize: (peer, reason, disconnect) => { network.penalize(peer, reason, disconnect) },
        observer: consensusObserver(daemon.metrics, log.logger),
        log: m => { consensusLog(m) }
      })
      await daemon.consensus.start()
      if (seed) {
        // a push and a speculate need the write role, a root status the read role, of the peer on the other end of the connection
        const record = new SpeculativeRecord(join(repo.dir, SPECULATIVE_DIR))
        await record.open()
        daemon.speculative = record
        daemon.ops.speculative = record
        daemon.seed = new SeedService(network.libp2p, {
          handler: new SeedKeeper({
            blocks: repo.blocks,
            pins: repo.pins,
            fetch: async (root, options) => await network.fetch(root, options),
            speculative: {
              record,
              pull: async (peer, chunks, options) => await network.pull(peer, chunks, options),
              ttlMs: speculativeTtlMs(config),
              quotaBytes: config.seed.speculativeQuotaBytes
            }
          }),
          refuse: (peer, role, what) => refusal(peer.toString(), role, what)
        })
        await daemon.seed.start()
      }
      daemon.ops.network = {
        fetch: async (root, options) => await network.fetch(root, options),
        provide: async (root) => { await network.provide(root) },
        addresses: () => network.addresses(),
        swarm: () => network.swarm
      }
      const consensus = daemon.consensus
      if (config.role !== 'seed' && config.consensus.voters.length > 0) {
        // a workstation's gc keeps the ref targets no seed holds yet (issue 18)
        daemon.ops.keepForSeed = async signal => await refTargetsSeedsLack({
          refs: async () => await consensus.refLs({}),
          held: async cid => await repo.blocks.has(cid),
          seeds: () => studioSeeds(config.seeds, network).map(s => s.target),
          status: async (seed, root, s) => await requestRootStatus(network.libp2p, seed, root, { signal: s })
        }, signal)
      }
      if (config.role === 'seed' && config.consensus.voters.length > 0) {
        const seedLog = network.libp2p.logger.forComponent('dits:seed')
        daemon.follower = new RefFollower({
          refs: { ls: async () => await consensus.refLs({}), log: async name => await consensus.refLog({ name }) },
          fetch: async (root, options) => await network.fetch(root, options),
          blocks: repo.blocks,
          pins: repo.pins,
          log: m => { seedLog(m) }
        }, config.seed)
        daemon.follower.start()
      }
      if (config.role !== 'seed') await daemon.startSpeculative(network)
      if (config.role === 'seed') {
        const gcLog = network.libp2p.logger.forComponent('dits:gc')
        daemon.gcSchedule = new GcSchedule({ run: async signal => await daemon.ops.gc({}, { signal }), intervalMs: config.seed.gcIntervalMs, log: m => { gcLog(m) } })
        daemon.gcSchedule.start()
      }
      // Unknown counts of blocks and bytes (the last writer was killed) are recounted now, so that `status` has them soon.
      repo.blocks.usageReport()
      // What the repo already pins is announced again at every start.
      for (const root of await repo.pins.ls()) network.provide(root).catch(() => {})
      if (config.metrics.listen !== null) {
        daemon.metricsListener = new MetricsListener(daemon.scrape)
        daemon.metricsUrl = await daemon.metricsListener.listen(config.metrics.listen)
      }
      daemon.apiUrl = await daemon.api.listen(config.api.port)
      await writeDurable(join(repo.dir, API_FILE), daemon.apiUrl + '\n')
    } catch (err) {
      log.logger.error({ error: { name: (err as Error).name, message: (err as Error).message } }, `the daemon did not start: ${(err as Error).message}`)
      await daemon.stop()
      throw err
    }
    const info = await daemon.info()
    log.logger.info({ peerId: info.peerId, roles: info.roles, api: info.api, addresses: info.addresses, private: info.swarm.private, ...(info.metrics !== undefined ? { metrics: info.metrics } : {}) }, 'daemon started')
    return daemon
  }

  /**
   * The folder watcher (config watch.*) and the uploads of its chunks to the seeds (speculative.*): `add` reuses what
   * it chunked, and gc keeps it (the chunk cache names it) until then.
   */
  private async startSpeculative (network: DitsNetwork): Promise<void> {
    const { config } = this.repo
    const cache = await ChunkCache.open(join(this.repo.dir, WATCH_CACHE_FILE))
    const log = network.libp2p.logger.forComponent('dits:watch')
    this.watcher = new SpeculativeService({
      blocks: this.repo.blocks,
      cache,
      busy: () => this.ops.busy,
      seeds: () => studioSeeds(config.seeds, network),
      speculate: async (seed, chunks, options) => await speculate(network.libp2p, seed.target, chunks, options),
      has: async (seed, cids, options) => {
        await network.libp2p.dial(seed.target, options)
        const check = await network.openHaveCheck(seed.id, options)
        try {
          return await check.check(cids, options)
        } finally {
          check.close()
        }
      },
      log: m => { log(m) }
    }, {
      ...config.watch,
      exclude: [this.repo.dir],
      profile: PROFILES[DEFAULT_PROFILE_NAME],
      enabled: config.speculative.enabled,
      maxRate: config.speculative.maxRate,
      ttlMs: speculativeTtlMs(config)
    })
    this.ops.watched = { reuse: (path, now, profile) => cache.lookup(path, now, profile)?.root, roots: () => cache.roots() }
    await this.watcher.start(config.watch.dirs)
  }

  async info (): Promise<DaemonInfo> {
    const id = await this.ops.id()
    const swarm = this.network?.swarm ?? { ...id.swarm, dropped: [] }
    return { peerId: id.peerId, api: this.apiUrl, addresses: id.addresses, roles: id.roles, repo: this.repo.dir, swarm, ...(this.metricsUrl !== undefined ? { metrics: this.metricsUrl } : {}) }
  }

  /** Stop serving, remove the api files, release the repo. Idempotent. */
  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      await this.dashboard?.stop()
      await this.api.close()
      await this.gcSchedule?.stop()
      await this.follower?.stop()
      await this.metricsListener?.close()
      await this.seed?.stop()
      await this.watcher?.stop()
      await this.consensus?.stop()
      await this.network?.stop()
      await unlink(join(this.repo.dir, API_FILE)).catch(() => {})
      await unlink(join(this.repo.dir, API_TOKEN_FILE)).catch(() => {})
      await this.repo.close()
      this.log.logger.info('daemon stopped')
      this.log.close()
    })()
    await this.stopping
  }
}
