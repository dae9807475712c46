/**
 * The Raft consensus core of dits-node: a pure, deterministic state machine (etcd-io/raft's RawNode shape)
 * that the node's shell drives over libp2p and the simulator drives over a virtual network.
 *
 * The shell loop (STYLE habit 8): feed time with `tick()` and network input with `step()`; whenever
 * `hasReady()`, take `ready()`, persist (fsync) its snapshot/entries/hardState, then send its messages, then
 * apply its snapshot and committed entries, then `advance()`.
 *
 * @example
 * ```ts
 * import { MemoryStorage, RaftNode } from './index.ts'
 *
 * // a single-voter group: it elects itself and commits at once
 * const storage = new MemoryStorage()
 * const node = new RaftNode({ id: 'a', voters: ['a'], storage })
 * const drain = (): void => {
 *   while (node.hasReady()) {
 *     const rd = node.ready()
 *     if (rd.hardState !== undefined) storage.setHardState(rd.hardState)   // after fsync, in a real shell
 *     storage.append(rd.entries)
 *     // send rd.messages here; then apply:
 *     for (const e of rd.committedEntries) if (e.type === 'normal') console.log('apply', new TextDecoder().decode(e.data))
 *     node.advance()
 *   }
 * }
 * node.campaign()
 * drain()
 * node.propose(new TextEncoder().encode('ref set reel3 bafy...'))
 * drain()                                   // prints: apply ref set reel3 bafy...
 * console.log(node.status().role)           // leader
 * ```
 */

export {
  RaftNode,
  CAMPAIGN_TRANSFER,
  DEFAULT_ELECTION_TICKS,
  DEFAULT_HEARTBEAT_TICKS,
  DEFAULT_MAX_SIZE_PER_MSG_BYTES,
  DEFAULT_MAX_INFLIGHT_MSGS,
  DEFAULT_MAX_COMMITTED_BYTES_PER_READY,
  DEFAULT_SNAPSHOT_RETRY_ELECTION_TIMEOUTS
} from './raft-node.ts'
export { MemoryStorage, entrySize, ENTRY_OVERHEAD_BYTES } from './storage.ts'
export { encodeConfChange, decodeConfChange } from './conf-change.ts'
export { seededRandom } from './random.ts'
export { refuseMessage } from './membership.ts'
export { RAFT_MUTANTS, RAFT_MUTANT_DESCRIPTIONS } from './mutants.ts'
export { MESSAGE_TYPES, NONE } from './types.ts'
export * from './errors.ts'
export type { RaftConfig } from './raft-node.ts'
export type { Storage } from './storage.ts'
export type { RaftMutant } from './mutants.ts'
export type { MembershipView, Refusal, RefusalReason } from './membership.ts'
export type {
  ConfChange, Entry, EntryType, HardState, Message, MessageType, ProgressState, ProgressStatus, ProposalId, Ready,
  ReadState, Role, Snapshot, SoftState, Status
} from './types.ts'
