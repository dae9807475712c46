/**
 * Who may drive this node's Raft core: the admission check every shell (node/consensus/transport.ts and the
 * simulator's network) applies to a message before `step()`. etcd does the same in its transport (rafthttp
 * refuses a message whose sender is not a member of the cluster, or was removed from it); the core itself
 * trusts what it is handed, so a message that skipped this check could bump the term, win a vote or append
 * entries (a forged `ref.set`, a `lock.expire` with a clock a year ahead) on behalf of a stranger.
 *
 * The rule, checked against the sender the connection authenticated (the libp2p remote peer; in the simulator,
 * the endpoint the packet really came from), never a field of the message alone:
 * 1. `from` is that sender (no voter can speak for another);
 * 2. the message is addressed to this node;
 * 3. the sender is a voter of this node's current configuration — the latest one in its log, committed or not
 *    (thesis §4.1), so a voter being added is a member as soon as the leader appends its `add`, and a removed
 *    one stops being one as soon as its `remove` is appended. A node whose log holds no configuration yet (a
 *    voter waiting to be added to an existing group) accepts only the voters it was told to join through.
 */

import type { RaftMutant } from './mutants.ts'
import type { Message } from './types.ts'

/** Why a message was not admitted. */
export type RefusalReason = 'forged-sender' | 'misaddressed' | 'not-a-member'

export interface Refusal {
  reason: RefusalReason
  /** for logs: names the sender, what it claimed and who the members are */
  message: string
}

/** What the check needs to know about the receiving node. */
export interface MembershipView {
  /** the receiving node's id */
  self: string
  /** the voters of its latest configuration, a pending conf change included */
  voters: readonly string[]
  /** while `voters` is empty: the voters it joins through (config consensus.voters of a joining voter) */
  joinVia: readonly string[]
}

/** At most this many members are named in a refusal's message. */
const MAX_NAMED_MEMBERS = 7

/**
 * The refusal for a message that arrived over a connection authenticated as `remote`, or undefined when the
 * message may be stepped. Pure: the same view and message always give the same answer.
 */
export function refuseMessage (m: Message, remote: string, view: MembershipView, mutant?: RaftMutant): Refusal | undefined {
  // MUTANT(trust-claimed-sender): believes the `from` field, so any peer can speak as the leader.
  if (m.from !== remote && mutant !== 'trust-claimed-sender') {
    return { reason: 'forged-sender', message: `raft message ${m.type} claims to come from ${m.from} but its connection is from ${remote}` }
  }
  if (m.to !== view.self) {
    return { reason: 'misaddressed', message: `raft message ${m.type} from ${remote} is addressed to ${m.to}, not to ${view.self}` }
  }
  const members = view.voters.length > 0 ? view.voters : view.joinVia
  // `from` is `remote` once rule 1 held
  // MUTANT(admit-non-member): steps messages from anyone, members or not.
  if (!members.includes(m.from) && mutant !== 'admit-non-member') {
    const named = members.slice(0, MAX_NAMED_MEMBERS).join(', ') + (members.length > MAX_NAMED_MEMBERS ? ', …' : '')
    const which = view.voters.length > 0 ? 'a voter' : 'one of the voters this node joins through'
    return { reason: 'not-a-member', message: `raft message ${m.type} (term ${m.term}) from ${remote}, which is not ${which} (${named === '' ? 'none known' : named})` }
  }
  return undefined
}
