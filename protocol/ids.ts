/**
 * Protocol ids, `/dits/<name>/<major>.<minor>.<patch>` (DESIGN §5). Peers agree on a protocol when the
 * name and the major version match (PROTOCOL.md, "Versioning").
 */

/** The kad-dht protocol of the private dits DHT — never the public IPFS DHT. */
export const KAD_PROTOCOL = '/dits/kad/1.0.0'
/** Capability negotiation on connect. */
export const HELLO_PROTOCOL = '/dits/hello/1.0.0'
/** Batched want / have / dont-have / block / cancel. */
export const CHUNKS_PROTOCOL = '/dits/chunks/1.0.0'

export interface ProtocolVersion {
  name: string
  major: number
  minor: number
  patch: number
}

/** Parse `/dits/<name>/<major>.<minor>.<patch>`; undefined for anything else. */
export function parseProtocolId (id: string): ProtocolVersion | undefined {
  const m = /^\/dits\/([a-z0-9-]+)\/(\d+)\.(\d+)\.(\d+)$/.exec(id)
  if (m == null) return undefined
  return { name: m[1], major: Number(m[2]), minor: Number(m[3]), patch: Number(m[4]) }
}

/** Raft RPCs between the voters of the consensus group (PROTOCOL.md, "Consensus protocols"). */
export const RAFT_PROTOCOL = '/dits/raft/1.0.0'
/** Client requests (ref and lock commands, linearizable reads, status, membership) from any node to a voter. */
export const CONSENSUS_PROTOCOL = '/dits/consensus/1.0.0'
/**
 * Asking a seed to keep a root (PUSH: it fetches what it lacks from the pusher, fsyncs, pins with reason `push`) and
 * what it holds of one (ROOT_STATUS). Only seeds serve it (PROTOCOL.md, "/dits/seed/1.0.0").
 */
export const SEED_PROTOCOL = '/dits/seed/1.0.0'
