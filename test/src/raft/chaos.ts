/**
 * Seeded random fault schedules over the test Network (a small cousin of the simulator of issue 5): rounds of
 * one tick per node, then delivery of in-flight messages in random order with drops, delays and duplicates,
 * plus proposals, reads, partitions, crash-restarts, compactions, leadership transfers and (with 5 voters)
 * membership changes. The Network's checkers run throughout;
 * this adds a check that a leader cut off from a majority does not stay leader (check-quorum, thesis §6.2).
 */

import { seededRandom } from '../../../src/raft/index.ts'
import { Network } from './network.ts'
import type { RaftMutant } from '../../../src/raft/index.ts'
import type { NodeOptions } from './network.ts'

export interface ChaosOptions {
  size: 3 | 5
  rounds?: number
  mutant?: RaftMutant
  /** per message */
  dropRate?: number
  /** per node per round */
  restartRate?: number
  /** per round */
  partitionRate?: number
  /** chance per round that the leader gets a proposal */
  proposeRate?: number
  /** extra RaftNode options for every node */
  raft?: NodeOptions
}

export interface ChaosResult {
  violations: string[]
  elections: number
  /** membership changes proposed */
  reconfigurations: number
  applied: number
  /** rounds after the final heal until a new proposal was applied everywhere, or -1 */
  recoveryRounds: number
}

const ELECTION_TICKS = 10
const IDS = ['a', 'b', 'c', 'd', 'e']

export function runChaos (seed: number, options: ChaosOptions): ChaosResult {
  const ids = IDS.slice(0, options.size)
  const rng = seededRandom(seed * 7919 + options.size)
  const net = new Network({ ids, seed, raft: { electionTicks: ELECTION_TICKS, mutant: options.mutant, ...options.raft } })
  const rounds = options.rounds ?? 300
  const dropRate = options.dropRate ?? 0.05
  const restartRate = options.restartRate ?? 0.003
  const partitionRate = options.partitionRate ?? 0.03
  const proposeRate = options.proposeRate ?? 0.5
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng() * xs.length)]
  const cutOffSince = new Map<string, number>()
  let reachable = new Map<string, Set<string>>(ids.map(id => [id, new Set(ids)]))
  let proposals = 0
  let reads = 0
  let reconfigurations = 0

  const setLinks = (groups: string[][]): void => {
    net.heal()
    net.partition(...groups)
    reachable = new Map()
    for (const g of groups) {
      for (const id of g) {
        reachable.set(id, new Set(g))
      }
    }
  }

  const round = (r: number, faults: boolean): void => {
    for (const id of ids) {
      if (faults && rng() < restartRate) {
        net.restart(id)
      }
      net.tick(id)
    }
    const batch = net.inFlight
    net.inFlight = []
    // reorder only while faults are on: after the heal the network behaves like TCP streams again
    for (let i = faults ? batch.length - 1 : 0; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1))
      const tmp = batch[i]
      batch[i] = batch[j]
      batch[j] = tmp
    }
    for (const m of batch) {
      const p = rng()
      if (faults && p < dropRate) {
        continue
      }
      if (faults && p < dropRate + 0.1) {
        // delayed to a later round
        net.inFlight.push(m)
        continue
      }
      if (faults && p > 0.98) {
        net.inFlight.push(m)
      }
      net.deliver(m)
    }
    // clients write to whichever node claims to lead, a deposed one on the minority side included
    const leader = net.leader()
    const leaders = net.leadersNow()
    if (leaders.length > 0 && rng() < proposeRate) {
      try {
        net.propose(pick(leaders), `p${proposals++}`)
      } catch {
        // a leader refuses proposals during a transfer or while being removed
      }
    }
    if (rng() < 0.2) {
      try {
        net.read(pick(ids), `r${reads++}`)
      } catch {
        // no leader known: the caller would retry
      }
    }
    if (faults && rng() < partitionRate) {
      const kind = rng()
      if (kind < 0.3) {
        setLinks([ids])
      } else if (kind < 0.6) {
        const lone = pick(ids)
        setLinks([[lone], ids.filter(id => id !== lone)])
      } else {
        const shuffled = [...ids].sort(() => rng() - 0.5)
        const cut = 1 + Math.floor(rng() * (ids.length - 1))
        setLinks([shuffled.slice(0, cut), shuffled.slice(cut)])
      }
    }
    if (faults && leader !== undefined && rng() < 0.01) {
      net.guard(leader, () => net.raft(leader).transferLeadership(pick(net.raft(leader).status().voters)))
      net.process(leader)
    }
    if (faults && leader !== undefined && ids.length === 5 && rng() < 0.01) {
      // swing between 5 and 4 voters, one change at a time (thesis §4.1)
      const voters = net.raft(leader).status().voters
      const cc = voters.length === 5
        ? { type: 'remove' as const, node: pick(voters.filter(id => id !== leader)) }
        : { type: 'add' as const, node: pick(ids.filter(id => !voters.includes(id))) }
      try {
        net.raft(leader).proposeConfChange(cc)
        reconfigurations++
      } catch {
        // another change is pending, or this leader has not committed in its term yet
      }
      net.process(leader)
    }
    if (faults && rng() < 0.02) {
      const id = pick(ids)
      const n = net.node(id)
      if (n.appliedIndex > n.storage.snapshot().index) {
        net.compact(id)
      }
    }
    // thesis §6.2: a leader that cannot reach a majority must not stay leader beyond an election timeout or two
    for (const id of options.raft?.checkQuorum === false ? [] : ids) {
      const cutOff = (reachable.get(id)?.size ?? 0) < Math.floor(ids.length / 2) + 1
      if (!cutOff) {
        cutOffSince.delete(id)
      } else if (!cutOffSince.has(id)) {
        cutOffSince.set(id, r)
      } else if (net.raft(id).status().role === 'leader' && r - (cutOffSince.get(id) ?? r) > 3 * ELECTION_TICKS) {
        net.violations.push(`stale leader: ${id} cut off from a majority since round ${String(cutOffSince.get(id))} is still leader at round ${r}`)
        cutOffSince.set(id, r)
      }
    }
    if (r % 10 === 0) {
      net.checkLogMatching()
    }
  }

  for (let r = 0; r < rounds && net.violations.length === 0; r++) {
    round(r, true)
  }
  // liveness after heal: a quorum commits again within a bounded number of rounds
  setLinks([ids])
  let recoveryRounds = -1
  const marker = `after-heal-${seed}`
  let proposedAt = -Infinity
  for (let r = 0; r < 20 * ELECTION_TICKS && net.violations.length === 0; r++) {
    round(rounds + r, false)
    const leader = net.leader()
    // (re)propose until it sticks: a proposal made just before a leader change is lost
    if (leader !== undefined && r - proposedAt > 3 * ELECTION_TICKS) {
      try {
        net.propose(leader, marker)
        proposedAt = r
      } catch {
        // retried next round
      }
    }
    const voters = leader === undefined ? ids : net.raft(leader).status().voters
    if (leader !== undefined && voters.every(id => net.valuesOf(id).includes(marker))) {
      recoveryRounds = r
      break
    }
  }
  net.checkLogMatching()
  const elections = new Set([...net.sent].filter(m => m.type === 'Vote').map(m => `${m.from}/${m.term}`)).size
  return { violations: net.violations, elections, reconfigurations, applied: Math.max(...ids.map(id => net.valuesOf(id).length)), recoveryRounds }
}
