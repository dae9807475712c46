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

/**
 * Yields each item with `fn`'s result for it, in the items' order. The calls for up to `ahead` later items are started
 * before one is yielded, so that they overlap one another and the consumer; at most `ahead + 1` results are held.
 */
export async function * mapAhead<T, R> (items: AsyncIterable<T> | Iterable<T>, ahead: number, fn: (item: T) => Promise<R>): AsyncGenerator<[T, R]> {
  const window: Array<[T, Promise<R>]> = []
  const take = async (): Promise<[T, R]> => {
    const [item, pending] = window.shift() as [T, Promise<R>]
    return [item, await pending]
  }
  try {
    for await (const item of items) {
      const pending = fn(item)
      // A call that fails while still queued is reported when its turn comes, not as an unhandled rejection.
      pending.catch(() => {})
      window.push([item, pending])
      if (window.length > ahead) yield await take()
    }
    while (window.length > 0) yield await take()
  } finally {
    window.length = 0
  }
}
