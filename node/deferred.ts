/**
 * `Promise.withResolvers` for the ES2023 lib this project compiles against (Node 22 has it at run time), and a
 * reusable wake-up built on it.
 */
export interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(reason: unknown): void
}

export function deferred<T = void> (): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** A wake-up for whoever waits: `notify` settles the wait under way and arms the next one. */
export class Pulse {
  private current = deferred()

  /** Settles at the next notify. */
  async wait (): Promise<void> {
    await this.current.promise
  }

  notify (): void {
    this.current.resolve()
    this.current = deferred()
  }
}

/**
 * Settles after the event loop's next turn (timers, I/O, signals), unlike an await of a settled promise, which
 * runs before any of them: what a long walk awaits now and then so that a SIGTERM or a closed request gets in.
 */
export async function macrotask (): Promise<void> {
  await new Promise<void>(resolve => setImmediate(resolve))
}

/** `promise`, or the signal's reason as soon as it aborts. */
export async function abortable<T> (promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal == null) return await promise
  signal.throwIfAborted()
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
