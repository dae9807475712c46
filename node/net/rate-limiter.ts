/**
 * A token bucket for the serving side: `take(bytes)` resolves when the bytes may be sent. Tokens may go
 * negative (a block is never split), and the next caller waits for the debt to be repaid.
 */
import type { AbortOptions } from '@libp2p/interface'

/** Burst allowance of a serving rate cap. */
export const DEFAULT_SERVE_BURST_MS = 200

export class RateLimiter {
  private readonly bytesPerMs: number
  private readonly burstBytes: number
  private tokens: number
  private at: number
  private tail: Promise<void> = Promise.resolve()

  constructor (bytesPerSec: number, burstMs = DEFAULT_SERVE_BURST_MS) {
    this.bytesPerMs = bytesPerSec / 1000
    this.burstBytes = this.bytesPerMs * burstMs
    this.tokens = this.burstBytes
    this.at = performance.now()
  }

  /** Wait until `bytes` may be sent. Callers are served in order. */
  async take (bytes: number, options: AbortOptions = {}): Promise<void> {
    const turn = this.tail.then(async () => {
      const now = performance.now()
      this.tokens = Math.min(this.burstBytes, this.tokens + (now - this.at) * this.bytesPerMs)
      this.at = now
      if (this.tokens < 0) {
        await sleep(-this.tokens / this.bytesPerMs, options)
        // a late timer is credited (up to the burst), so a busy event loop does not lower the rate
        const later = performance.now()
        this.tokens = Math.min(this.burstBytes, this.tokens + (later - this.at) * this.bytesPerMs)
        this.at = later
      }
      this.tokens -= bytes
    })
    this.tail = turn.catch(() => {})
    await turn
  }
}

async function sleep (ms: number, options: AbortOptions): Promise<void> {
  options.signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(options.signal?.reason)
    }
    const timer = setTimeout(() => {
      options.signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    options.signal?.addEventListener('abort', onAbort, { once: true })
  })
}
