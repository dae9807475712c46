/**
 * An in-process group of RaftDrivers on real disk storage (temp dirs) joined by an in-memory network that can
 * isolate voters: the driver's ready loop, persistence, apply and snapshots run for real, without libp2p.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RaftDiskStorage } from '../../../node/consensus/storage.ts'
import { RaftDriver } from '../../../node/consensus/driver.ts'
import type { GrantLostEvent } from '../../../src/state/index.ts'
import type { Message } from '../../../src/raft/index.ts'

export const HEARTBEAT_MS = 20
export const ELECTION_MS = 200

export class TestGroup {
  readonly ids: string[]
  readonly drivers = new Map<string, RaftDriver>()
  readonly lost: GrantLostEvent[] = []
  private readonly isolated = new Set<string>()
  private dir = ''
  private readonly snapshotEntries: number | undefined

  constructor (ids: string[], opts: { snapshotEntries?: number } = {}) {
    this.ids = ids
    this.snapshotEntries = opts.snapshotEntries
  }

  async start (): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'dits-raft-group-'))
    for (const id of this.ids) await this.startOne(id)
  }

  async startOne (id: string): Promise<RaftDriver> {
    const storage = await RaftDiskStorage.open(join(this.dir, id))
    const driver = new RaftDriver({
      id,
      storage,
      founders: this.ids,
      heartbeatMs: HEARTBEAT_MS,
      electionMs: ELECTION_MS,
      snapshotEntries: this.snapshotEntries,
      send: msgs => { this.deliver(msgs) },
      reachable: peer => this.drivers.has(peer) && !this.isolated.has(peer) && !this.isolated.has(id),
      onGrantLost: ev => { this.lost.push(ev) }
    })
    this.drivers.set(id, driver)
    driver.start()
    return driver
  }

  async stopOne (id: string): Promise<void> {
    const d = this.drivers.get(id)
    this.drivers.delete(id)
    await d?.stop()
  }

  async stop (): Promise<void> {
    for (const id of [...this.drivers.keys()]) await this.stopOne(id)
    await rm(this.dir, { recursive: true, force: true })
  }

  isolate (id: string): void {
    this.isolated.add(id)
  }

  heal (id: string): void {
    this.isolated.delete(id)
  }

  get (id: string): RaftDriver {
    const d = this.drivers.get(id)
    if (d === undefined) throw new Error(`no running driver ${id}`)
    return d
  }

  /** The leader that a majority follows, once there is one. */
  async leader (timeoutMs = 5000): Promise<RaftDriver> {
    const until = Date.now() + timeoutMs
    while (Date.now() < until) {
      for (const d of this.drivers.values()) {
        if (d.role !== 'leader' || this.isolated.has(d.id)) continue
        const followers = [...this.drivers.values()].filter(f => f.leader === d.id && !this.isolated.has(f.id))
        if (followers.length >= Math.floor(this.ids.length / 2) + 1) return d
      }
      await sleep(10)
    }
    throw new Error('no leader elected in time')
  }

  private deliver (msgs: Message[]): void {
    for (const m of msgs) {
      if (this.isolated.has(m.from) || this.isolated.has(m.to)) continue
      setImmediate(() => {
        const to = this.drivers.get(m.to)
        if (to === undefined || this.isolated.has(m.to) || this.isolated.has(m.from)) {
          this.drivers.get(m.from)?.reportUnreachable(m.to)
          return
        }
        to.step(m, m.from)
        if (m.type === 'Snapshot') this.drivers.get(m.from)?.reportSnapshot(m.to, true)
      })
    }
  }
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Poll `fn` until it returns true. */
export async function eventually (fn: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await fn()) return
    await sleep(10)
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms`)
}

export const CID_A = 'bafyr4ibik57z44jtoay5bsfmvtn7ofkoudmxyc7vmfsca6qp6j7bf3d72q'
export const CID_B = 'bafyr4icv6y37cdd5pinwps2po4mkk3zcpnnzd4qqfpexue2xszjjenupvi'
