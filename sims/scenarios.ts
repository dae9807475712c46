/**
 * Scenarios: which faults a run injects and how often (`--scenario NAME`). Every scenario ends the same way —
 * faults stop, the network heals, crashed nodes restart — so that liveness and convergence can be checked.
 */

import { UnknownScenarioError } from './errors.ts'
import { CALM_NETWORK } from './network.ts'
import type { NetworkFaults } from './network.ts'

export type PartitionKind = 'isolate' | 'split' | 'asymmetric' | 'bridge' | 'flapping'
export type FaultKind = PartitionKind | 'crash' | 'pause' | 'stall' | 'skew' | 'transfer' | 'intrude'

export const PARTITION_KINDS: readonly PartitionKind[] = ['isolate', 'split', 'asymmetric', 'bridge', 'flapping']

export interface Scenario {
  name: string
  description: string
  /** voter counts a seed chooses from */
  voters: readonly number[]
  clients: number
  /** virtual ms of faults before the final heal */
  faultMs: number
  /** the network while faults are on */
  network: NetworkFaults
  /** faults per virtual second, by kind; a partition starts only when none is in place */
  faultRates: Partial<Record<FaultKind, number>>
  /** how long a partition lasts, virtual ms: uniform in [min, max) */
  partitionMs: readonly [number, number]
  /** chance per fsync that it is slow (widening the window a crash can hit) */
  slowFsyncRate: number
  /**
   * clients outside the roles that claim another client's identity as the owner of every other command, and act
   * as themselves (without write, lock or admin) otherwise (issue 14)
   */
  spoofers?: number
}

const LAN_WITH_LOSS: NetworkFaults = {
  dropRate: 0.02, duplicateRate: 0.02, minDelayMs: 0.5, maxDelayMs: 8, longDelayRate: 0.02, longDelayMs: 300
}

const ALL_PARTITIONS = { isolate: 0.06, split: 0.06, asymmetric: 0.04, bridge: 0.03, flapping: 0.03 }

export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  mixed: {
    name: 'mixed',
    description: 'every fault at a moderate rate: loss, duplication, reordering, all partition shapes, crashes with torn writes, pauses, cluster-wide stalls, clock skew, leadership transfers',
    voters: [3, 5],
    clients: 4,
    faultMs: 20_000,
    network: LAN_WITH_LOSS,
    faultRates: { ...ALL_PARTITIONS, crash: 0.08, pause: 0.08, stall: 0.03, skew: 0.08, transfer: 0.03 },
    partitionMs: [500, 5_000],
    slowFsyncRate: 0.02
  },
  partitions: {
    name: 'partitions',
    description: 'partitions back to back: isolate one, majority/minority splits, asymmetric links, a bridge node, flapping links',
    voters: [3, 5],
    clients: 4,
    faultMs: 20_000,
    network: { ...CALM_NETWORK, maxDelayMs: 5 },
    faultRates: { isolate: 0.2, split: 0.2, asymmetric: 0.15, bridge: 0.1, flapping: 0.1 },
    partitionMs: [500, 5_000],
    slowFsyncRate: 0
  },
  crashes: {
    name: 'crashes',
    description: 'crashes and restarts that lose unsynced writes (torn tails), with slow fsyncs to widen the window',
    voters: [3, 5],
    clients: 4,
    faultMs: 20_000,
    network: { ...CALM_NETWORK, maxDelayMs: 5 },
    faultRates: { crash: 0.4, transfer: 0.05 },
    partitionMs: [500, 5_000],
    slowFsyncRate: 0.2
  },
  clocks: {
    name: 'clocks',
    description: 'process pauses, cluster-wide stalls (every node frozen at once), lease-clock skew and drift, and some partitions so that paused leaders get deposed',
    voters: [3, 5],
    clients: 4,
    faultMs: 20_000,
    network: { ...CALM_NETWORK, maxDelayMs: 5 },
    faultRates: { pause: 0.35, stall: 0.1, skew: 0.35, isolate: 0.05, split: 0.05 },
    partitionMs: [500, 5_000],
    slowFsyncRate: 0
  },
  lossy: {
    name: 'lossy',
    description: 'a bad network: 15% loss, 10% duplication, long delays that reorder, and occasional partitions',
    voters: [3, 5],
    clients: 4,
    faultMs: 20_000,
    network: { dropRate: 0.15, duplicateRate: 0.1, minDelayMs: 0.5, maxDelayMs: 20, longDelayRate: 0.1, longDelayMs: 800 },
    faultRates: { isolate: 0.05, split: 0.05 },
    partitionMs: [500, 5_000],
    slowFsyncRate: 0.02
  },
  churn: {
    name: 'churn',
    description: 'leader churn: the leader is cut off, crashes or hands over again and again, soon after each election, so that logs diverge several times over',
    voters: [3, 5],
    clients: 4,
    faultMs: 20_000,
    network: { ...LAN_WITH_LOSS, dropRate: 0.01, duplicateRate: 0.01 },
    faultRates: { isolate: 1, flapping: 0.1, crash: 0.15, transfer: 0.15 },
    partitionMs: [300, 2_500],
    slowFsyncRate: 0.02
  },
  calm: {
    name: 'calm',
    description: 'no faults at all: the baseline (clients still race each other)',
    voters: [3],
    clients: 4,
    faultMs: 10_000,
    network: CALM_NETWORK,
    faultRates: {},
    partitionMs: [500, 5_000],
    slowFsyncRate: 0
  },
  intruder: {
    name: 'intruder',
    description: 'a peer outside the configuration (sims/intruder.ts) sends appends of higher terms with forged commands, vote requests, snapshots and appends claiming to be the leader, to a random voter several times a second, amid crashes, partitions and transfers; and a client without roles claims another client\'s identity as its commands\' owner',
    voters: [3, 5],
    clients: 4,
    faultMs: 20_000,
    network: LAN_WITH_LOSS,
    faultRates: { intrude: 4, isolate: 0.05, split: 0.05, crash: 0.08, transfer: 0.05 },
    partitionMs: [500, 5_000],
    slowFsyncRate: 0.02,
    spoofers: 1
  }
}

/** `--scenario all`: seed S runs scenario ROTATION[S mod 8], so a sweep covers every scenario and a seed alone names its run. */
export const ALL_SCENARIOS = 'all'

export const DEFAULT_SCENARIO = ALL_SCENARIOS

const ROTATION: readonly string[] = Object.keys(SCENARIOS)

/**
 * The scenario a seed runs under `name` (`all` picks one by seed).
 * @throws {UnknownScenarioError} naming the known scenarios
 */
export function scenarioFor (name: string, seed: number): Scenario {
  if (name === ALL_SCENARIOS) {
    return SCENARIOS[ROTATION[seed % ROTATION.length]]
  }
  const s = Object.hasOwn(SCENARIOS, name) ? SCENARIOS[name] : undefined
  if (s === undefined) {
    throw new UnknownScenarioError(`unknown scenario ${JSON.stringify(name)} (known: ${ALL_SCENARIOS}, ${ROTATION.join(', ')})`)
  }
  return s
}
