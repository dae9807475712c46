/**
 * A peer outside the configuration that speaks Raft to the group (issue 14): it reads a voter's state the way
 * an attacker on the LAN could guess it (term, last index), then sends it appends of a higher term that carry
 * forged commands (a `ref.set`, a `lock.expire` a year ahead), vote and pre-vote requests that would bump the
 * term, heartbeats, a snapshot of a higher term holding a forged state, and an append that claims to come from
 * the leader. The shell must refuse all of it before the core sees it (src/raft/membership.ts); what gets
 * through and moves a voter is a `non-member` violation (sims/node.ts), as is applying a command it forged.
 */

import { RefsLocksStateMachine, encodeCommand } from '../src/state/index.ts'
import { simCid } from './history.ts'
import type { Entry, Message } from '../src/raft/index.ts'
import type { Prng } from './random.ts'
import type { SimNode } from './node.ts'

/** The intruder's endpoint name (never a voter's: those are n1, n2, …). */
export const INTRUDER_ID = 'x1'
/** The client id of every command it forges, so that the checkers know one if it is ever applied. */
export const INTRUDER_CLIENT = 'x1-forged'
/** Its forged CIDs are simCid(FORGED_CID_BASE + n): no simulated client ever writes those. */
const FORGED_CID_BASE = 2 ** 31

const YEAR_MS = 365 * 24 * 3_600_000

export class SimIntruder {
  private seq = 0

  constructor (private readonly prng: Prng) {}

  /** The messages of one attack on `target`, whose leader (as it believes) is `leader`. */
  attack (target: SimNode, leader: string | undefined, now: number): Message[] {
    const st = target.raft.status()
    const last = st.lastIndex
    let lastTerm = st.term
    try {
      lastTerm = target.disk.storage.term(last)
    } catch {
      // compacted away: guessing the current term is what an attacker would do
    }
    const term = st.term + this.prng.range(1, 3)
    const to = target.id
    const me = INTRUDER_ID
    const forged = (index: number, t: number): Entry => ({ index, term: t, type: 'normal', data: this.command(now) })
    const out: Message[] = [
      { type: 'App', from: me, to, term, index: last, logTerm: lastTerm, commit: last + 1, entries: [forged(last + 1, term)] },
      { type: 'App', from: me, to, term, index: last, logTerm: lastTerm, commit: last + 1, entries: [{ index: last + 1, term, type: 'normal', data: encodeCommand({ type: 'lock.expire', now: now + YEAR_MS }) }] },
      { type: 'Heartbeat', from: me, to, term, commit: last + 1 },
      { type: 'PreVote', from: me, to, term, index: last + 100, logTerm: term },
      { type: 'Vote', from: me, to, term, index: last + 100, logTerm: term },
      { type: 'Snapshot', from: me, to, term, snapshot: { index: last + 10, term, voters: [me], data: this.forgedState(last + 10, now) } }
    ]
    if (leader !== undefined && leader !== to) {
      // the same kind of append as the leader would send, in its term, with `from` set to the leader
      out.push({ type: 'App', from: leader, to, term: st.term, index: last, logTerm: lastTerm, commit: last + 1, entries: [forged(last + 1, st.term)] })
    }
    return this.prng.shuffled(out)
  }

  private command (now: number): Uint8Array {
    return encodeCommand({ type: 'ref.set', name: 'reels/r1', cid: simCid(FORGED_CID_BASE + this.seq), client: INTRUDER_CLIENT, seq: ++this.seq, owner: INTRUDER_ID, now })
  }

  /** A state machine whose only ref was set by the intruder. */
  private forgedState (index: number, now: number): Uint8Array {
    const sm = new RefsLocksStateMachine()
    sm.apply(index, this.command(now))
    return sm.snapshot()
  }
}
