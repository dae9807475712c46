/**
 * The consensus shell (issue 4): durable Raft storage, the ready-loop driver around the pure Raft core and
 * the refs+locks state machine, the `/dits/raft/1.0.0` transport between voters, the `/dits/consensus/1.0.0`
 * server (voters) and client (every node), and the lease renewer. protocol/PROTOCOL.md ("Consensus protocols") documents the wire.
 *
 * @example
 * ```ts
 * import { ConsensusService } from './index.ts'
 *
 * const consensus = new ConsensusService(network.libp2p, {
 *   peerId: (await repo.identity()).peerId, voter: true, voters: repo.config.consensus.voters,
 *   heartbeatMs: 100, electionMs: 1000, requestTimeoutMs: 5000, datastoreDir: repo.datastoreDir
 * })
 * await consensus.start()
 * await consensus.refSet({ name: 'projects/reel3/cut', cid: 'bafyr4i…', expectNone: true })
 * const lock = await consensus.lockAcquire({ path: 'projects/reel3/', ttlMs: 30_000 })  // renewed until released
 * await consensus.stop()
 * ```
 */
export { ConsensusService, DEFAULT_LOCK_TTL_MS, DEFAULT_ACCESS_REFRESH_MS } from './service.ts'
export { consensusOps } from './ops.ts'
export { RaftDiskStorage, RaftStorageCorruptError, RAFT_DIR } from './storage.ts'
export { RaftDriver, DEFAULT_SNAPSHOT_ENTRIES, DEFAULT_CATCH_UP_ENTRIES } from './driver.ts'
export { RaftTransport } from './transport.ts'
export { ConsensusServer } from './server.ts'
export { ConsensusClient } from './client.ts'
export { LeaseRenewer } from './lease-renewer.ts'
export * from './errors.ts'
export type { ConsensusServiceInit, ClusterStatus, ClusterVoter, LockInfo, AccessListing, AccessTableSource } from './service.ts'
export type { DriverStatus, VoterStatus, CommandInput } from './driver.ts'
export type { ConsensusCall, ConsensusReply } from './server.ts'
