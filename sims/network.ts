/**
 * The simulated network (TigerBeetle's packet_simulator.zig, etcd-io/raft's raft_test.go `network`): packets
 * between named endpoints are delayed, reordered, dropped and duplicated at the seed's whim, and links can be
 * cut one way or both ways. A cut is checked when a packet is sent and again when it would arrive, so packets
 * in flight when a partition starts are lost too, as on a real switch.
 */

import type { EventQueue } from './event-queue.ts'
import type { Prng } from './random.ts'

/** How badly the network behaves; every rate is per packet. */
export interface NetworkFaults {
  dropRate: number
  duplicateRate: number
  /** one-way delay, uniform in [minDelayMs, maxDelayMs): packets sent close together arrive out of order */
  minDelayMs: number
  maxDelayMs: number
  /** chance that a packet is held back much longer (a retransmission, a congested queue) */
  longDelayRate: number
  longDelayMs: number
}

/** A healthy LAN: sub-millisecond to 2 ms, nothing lost. */
export const CALM_NETWORK: Readonly<NetworkFaults> = {
  dropRate: 0, duplicateRate: 0, minDelayMs: 0.2, maxDelayMs: 2, longDelayRate: 0, longDelayMs: 0
}

export interface NetworkStats {
  sent: number
  delivered: number
  dropped: number
  duplicated: number
  /** packets refused or lost because their link was cut */
  cut: number
}

export class SimNetwork {
  faults: NetworkFaults
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, cut: 0 }
  private readonly index = new Map<string, number>()
  private readonly endpoints: string[]
  /** blocked[from * n + to] = 1 when packets from `from` to `to` are lost */
  private readonly blocked: Uint8Array

  constructor (private readonly queue: EventQueue, private readonly prng: Prng, endpoints: string[], faults: NetworkFaults = CALM_NETWORK) {
    this.endpoints = [...endpoints]
    endpoints.forEach((id, i) => this.index.set(id, i))
    this.blocked = new Uint8Array(endpoints.length * endpoints.length)
    this.faults = { ...faults }
  }

  /**
   * Send a packet from `from` to `to`; `deliver` runs when it arrives (possibly twice, possibly never).
   * Returns false when the link is cut right now (the sender's transport would see the connection fail).
   */
  send (from: string, to: string, deliver: () => void): boolean {
    this.stats.sent++
    const link = this.link(from, to)
    if (this.blocked[link] === 1) {
      this.stats.cut++
      return false
    }
    const f = this.faults
    if (f.dropRate > 0 && this.prng.chance(f.dropRate)) {
      this.stats.dropped++
      return true
    }
    const copies = f.duplicateRate > 0 && this.prng.chance(f.duplicateRate) ? 2 : 1
    if (copies === 2) {
      this.stats.duplicated++
    }
    for (let i = 0; i < copies; i++) {
      let delay = this.prng.between(f.minDelayMs, f.maxDelayMs)
      if (f.longDelayRate > 0 && this.prng.chance(f.longDelayRate)) {
        delay += this.prng.between(0, f.longDelayMs)
      }
      this.queue.after(delay, () => {
        if (this.blocked[link] === 1) {
          this.stats.cut++
          return
        }
        this.stats.delivered++
        deliver()
      })
    }
    return true
  }

  /** Whether packets from `from` currently reach `to`. */
  reaches (from: string, to: string): boolean {
    return this.blocked[this.link(from, to)] === 0
  }

  /** Cut the link from `from` to `to` only (an asymmetric fault: a half-dead NIC, a one-way firewall rule). */
  cutOneWay (from: string, to: string): void {
    this.blocked[this.link(from, to)] = 1
  }

  /** Cut both directions between `a` and `b`. */
  cut (a: string, b: string): void {
    this.cutOneWay(a, b)
    this.cutOneWay(b, a)
  }

  /** Cut every link between members of different groups (endpoints in no group keep their links). */
  partition (groups: readonly string[][]): void {
    for (const g of groups) {
      for (const h of groups) {
        if (g === h) {
          continue
        }
        for (const a of g) {
          for (const b of h) {
            this.cutOneWay(a, b)
          }
        }
      }
    }
  }

  /** Restore every link. */
  heal (): void {
    this.blocked.fill(0)
  }

  /** The links currently cut, as "from>to" pairs (for traces). */
  cuts (): string[] {
    const n = this.endpoints.length
    const out: string[] = []
    for (let i = 0; i < this.blocked.length; i++) {
      if (this.blocked[i] === 1) {
        out.push(`${this.endpoints[Math.floor(i / n)]}>${this.endpoints[i % n]}`)
      }
    }
    return out
  }

  private link (from: string, to: string): number {
    const a = this.index.get(from)
    const b = this.index.get(to)
    if (a === undefined || b === undefined) {
      throw new RangeError(`unknown endpoint ${a === undefined ? from : to}`)
    }
    return a * this.endpoints.length + b
  }
}
