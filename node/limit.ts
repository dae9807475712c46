/**
 * Bounds on how much async work runs at once.
 */

/** Runs at most `limit` functions at once; the others wait their turn, first come first served. */
export class Limit {
  private readonly limit: number
  private readonly waiting: Array<() => void> = []
  private running = 0

  constructor (limit: number) {
    this.limit = limit
  }

  async run<T> (fn: () => Promise<T>): Promise<T> {
    // A finishing call hands its slot straight to the next waiter, so `running` counts the slots taken.
    if (this.running < this.limit) this.running++
    else await new Promise<void>(resolve => { this.waiting.push(resolve) })
    try {
      return await fn()
    } finally {
      const next = this.waiting.shift()
      if (next !== undefined) next()
      else this.running--
    }
  }
}

/** Calls `fn` on every item, at most `limit` at once, in order of start. */
export async function forEachLimit<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
