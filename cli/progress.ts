/**
 * Progress lines on stderr, only on a TTY and never with --json (DESIGN §8: quiet in pipes).
 */
import type { Progress } from '../node/ops.ts'
import { InterruptedError } from '../src/errors.ts'
import type { PushStatus } from '../node/net/seed.ts'
import type { VerifyProgress } from '../node/maintenance.ts'

const REDRAW_MS = 150

export interface ProgressReporter {
  update(p: Progress): void
  done(): void
}

export function progressReporter (label: string, enabled: boolean): ProgressReporter {
  if (!enabled || process.stderr.isTTY !== true) return { update: () => {}, done: () => {} }
  const started = performance.now()
  let last = 0
  let drawn = false
  return {
    update (p) {
      const now = performance.now()
      if (now - last < REDRAW_MS) return
      last = now
      drawn = true
      const secs = (now - started) / 1000
      let line: string
      if ('sync' in p) {
        line = `${label}: ${p.files_queued.toLocaleString('en')} file(s) taken, ${p.queue_depth.toLocaleString('en')} waiting, ${formatBytes(p.bytes_uploaded)} uploaded`
      } else if ('bytes_already' in p) {
        line = pushLine(p, secs)
      } else if ('gc' in p) {
        line = p.gc === 'mark'
          ? `${label}: marking what the pins reach, ${p.marked.toLocaleString('en')} blocks so far`
          : `${label}: sweeping, ${p.shards} of ${p.shardsTotal} shards, ${p.removed.toLocaleString('en')} blocks removed`
      } else if ('verify' in p) {
        line = verifyLine(label, p, secs)
      } else if ('phase' in p) {
        line = p.entries_total === undefined
          ? `${label}: counting the tree, ${p.entries.toLocaleString('en')} entries (${formatBytes(p.bytes)}) so far`
          : `${label}: laying out the tree, ${p.entries.toLocaleString('en')} of ${p.entries_total.toLocaleString('en')} entries (${formatBytes(p.bytes)} of ${formatBytes(p.bytes_total ?? 0)})`
      } else if ('manifests_fetched' in p && p.total === 0 && p.manifests_fetched > 0) {
        line = `${label}: the tree's manifests, ${p.manifests_fetched} (${formatBytes(p.manifest_bytes_fetched)})`
      } else if ('bytes' in p) {
        const rate = p.bytes / Math.max(secs, 1e-3)
        const eta = p.total > 0 && rate > 0 ? ` ETA ${formatSeconds((p.total - p.bytes) / rate)}` : ''
        const of = p.total > 0 ? ` / ${formatBytes(p.total)} (${(100 * p.bytes / p.total).toFixed(1)}%)` : ''
        line = `${label} ${formatBytes(p.bytes)}${of}  ${formatBytes(rate)}/s${eta}`
      } else {
        line = `${label} ${p.checked} blocks`
      }
      process.stderr.write(`\r\x1b[K${line}`)
    },
    done () {
      if (drawn) process.stderr.write('\r\x1b[K')
    }
  }
}

export function formatBytes (n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let u = 0
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000
    u++
  }
  return `${n.toFixed(u === 0 ? 0 : 1)} ${units[u]}`
}

function formatSeconds (s: number): string {
  if (!Number.isFinite(s)) return '?'
  if (s < 60) return `${Math.ceil(s)}s`
  return `${Math.floor(s / 60)}m${Math.ceil(s % 60)}s`
}

/** A verify: blocks read of those held, with the rate and ETA; then the walk of the pins. `secs`: since it started. */
export function verifyLine (label: string, p: VerifyProgress, secs: number): string {
  if (p.verify === 'pins') return `${label}: what the pins need, ${p.checked.toLocaleString('en')} blocks looked up`
  const rate = p.checked / Math.max(secs, 1e-3)
  const of = p.total !== undefined && p.total > 0
    ? ` of ${p.total.toLocaleString('en')} (${(100 * Math.min(p.checked / p.total, 1)).toFixed(1)}%)`
    : ''
  const eta = p.total !== undefined && p.total > p.checked && rate > 0 ? ` ETA ${formatSeconds((p.total - p.checked) / rate)}` : ''
  return `${label} ${p.checked.toLocaleString('en')}${of} blocks, ${formatBytes(p.bytes)}  ${Math.round(rate).toLocaleString('en')} blocks/s${eta}`
}

/**
 * A push as the seed reports it: what it fetches of what it lacked, the rate, the ETA, and the share it held already.
 * `secs`: since the push started here.
 */
export function pushLine (p: PushStatus, secs: number): string {
  const to = `pushing to ${p.seed.slice(-8)}`
  if (p.stage === 'manifests') return `${to}: the seed fetches the manifests (${formatBytes(p.manifest_bytes_fetched)})`
  const already = p.bytes_total > 0 ? ` (${(100 * p.bytes_already / p.bytes_total).toFixed(0)}% already there)` : ''
  if (p.stage === 'sync' || p.stage === 'done') return `${to}: ${formatBytes(p.bytes_total)}${already}, the seed makes it durable (fsync)`
  const lacking = Math.max(0, p.bytes_total - p.bytes_already)
  const rate = p.bytes_fetched / Math.max(secs, 1e-3)
  const eta = lacking > 0 && rate > 0 ? ` ETA ${formatSeconds((lacking - p.bytes_fetched) / rate)}` : ''
  const of = p.totals_known ? ` of ${formatBytes(lacking)}` : ''
  return `${to}: ${formatBytes(p.bytes_fetched)}${of} sent${already}  ${formatBytes(rate)}/s${eta}`
}

/**
 * Run `work` with a signal that Ctrl-C or SIGTERM aborts (in the daemon too: a closed request stops its work); cut
 * so, it fails with InterruptedError (exit 130 or 143).
 */
export async function cancellable<T> (verb: string, consequence: string, progress: ProgressReporter, work: (signal: AbortSignal, progress: ProgressReporter) => Promise<T>): Promise<T> {
  const cancel = new AbortController()
  const interrupted = (signal: 'SIGINT' | 'SIGTERM'): void => {
    progress.done()
    cancel.abort(new InterruptedError(`${verb} interrupted (${signal}): ${consequence}`, signal))
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    return await work(cancel.signal, progress)
  } catch (err) {
    // whatever the cut work threw (an aborted request, a closed stream), the signal is why it stopped
    if (cancel.signal.aborted) throw cancel.signal.reason
    throw err
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    progress.done()
  }
}
