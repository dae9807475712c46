/**
 * A seed's gc on a schedule (config `seed.gcIntervalMs`; issue 18): a seed is the studio's memory and runs
 * unattended, so what no pin keeps any more (older ref versions released by the follower, pushes withdrawn) goes
 * without anyone asking. gc runs beside everything else (node/maintenance.ts), so a schedule costs no pause; a
 * stop cancels a gc under way, and the next one goes on from its checkpoint.
 */
import type { GcResult } from '../maintenance.ts'

export interface GcScheduleInit {
  /** one gc; aborted through `signal` when the schedule stops */
  run(signal: AbortSignal): Promise<GcResult>
  intervalMs: number
  log?(message: string): void
}

export class GcSchedule {
  private readonly init: GcScheduleInit
  private timer?: NodeJS.Timeout
  private readonly stopping = new AbortController()
  private running?: Promise<void>
  /** the last gc's outcome, for `status` */
  last?: { at: string, removed: number, bytes: number, ms: number } | { at: string, error: string }

  constructor (init: GcScheduleInit) {
    this.init = init
  }

  start (): void {
    if (this.init.intervalMs <= 0 || this.timer !== undefined) return
    this.timer = setInterval(() => { this.tick() }, this.init.intervalMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.stopping.abort(new Error('the daemon is stopping'))
    await this.running
  }

  /** A gc now, unless the previous one is still running (a slow disk, a huge repo: they never pile up). */
  private tick (): void {
    if (this.running !== undefined) return
    this.running = this.init.run(this.stopping.signal).then(r => {
      this.last = { at: new Date().toISOString(), removed: r.removedCount, bytes: r.bytesRemoved, ms: r.durationMs }
      this.init.log?.(`scheduled gc: removed ${r.removedCount} block(s), ${r.bytesRemoved} bytes; kept ${r.kept} under pins, ${r.keptInFlight} in use, in ${r.durationMs} ms`)
    }, (err: Error) => {
      if (this.stopping.signal.aborted) return
      this.last = { at: new Date().toISOString(), error: err.message }
      this.init.log?.(`scheduled gc failed: ${err.message}`)
    }).finally(() => { this.running = undefined })
  }
}
