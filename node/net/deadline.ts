/**
 * A bound on one wait that also ends with a longer-lived signal (a stream's, the node's), without
 * `AbortSignal.any`: Node 22 keeps every signal composed from a source in a set on that source, and the
 * finalizer of each composed signal scans the whole set. Composed once per message against a stream's own
 * signal, that made serving quadratic in the blocks of a stream: a peer serving 77k chunks spent 25 of its 89 s
 * of CPU in that finalizer, and the downloader's wants timed out.
 *
 * @example
 * const wait = deadline(stop.signal, 30_000)
 * try { await stream.onDrain({ signal: wait.signal }) } finally { wait.clear() }
 */
export interface Deadline {
  /** aborts with the parent's reason, or with a TimeoutError (as `AbortSignal.timeout`'s) after the time */
  readonly signal: AbortSignal
  /** the wait is over: stop the timer and stop listening to the parent */
  clear(): void
}

/** A signal that aborts after `ms`, or as soon as one of `parents` does (with its reason). */
export function deadline (parents: AbortSignal | undefined | Array<AbortSignal | undefined>, ms: number): Deadline {
  const controller = new AbortController()
  const sources = (Array.isArray(parents) ? parents : [parents]).filter((s): s is AbortSignal => s != null)
  const listeners = sources.map(source => {
    const onAbort = (): void => { controller.abort(source.reason) }
    if (source.aborted) controller.abort(source.reason)
    else source.addEventListener('abort', onAbort, { once: true })
    return { source, onAbort }
  })
  const timer = controller.signal.aborted ? undefined : setTimeout(() => { controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')) }, ms)
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      for (const { source, onAbort } of listeners) source.removeEventListener('abort', onAbort)
    }
  }
}

/** Run `fn` with a deadline signal, clearing it however `fn` ends. */
export async function withDeadline<T> (parent: AbortSignal | undefined | Array<AbortSignal | undefined>, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const wait = deadline(parent, ms)
  try {
    return await fn(wait.signal)
  } finally {
    wait.clear()
  }
}
