/**
 * The exchange core (DESIGN §6): the pure multi-source download scheduler. The shell in node/net feeds it
 * events and the current time and carries out the wants, cancels and drops it returns.
 *
 * @example
 * ```ts
 * const s = new Scheduler({ maxRateBytesPerSec: 50e6 })
 * s.add([{ key: cid.toString(), bytes: 1 << 20, order: [0] }])
 * s.setAllKnown(true)
 * s.addPeer('peer-a', { lan: true, seed: false, maxOutstandingWants: 1024, maxInFlightBytes: 64 << 20 }, now)
 * for (const action of s.poll(now)) console.log(action) // { type: 'want', peer: 'peer-a', keys: [...] }
 * s.received('peer-a', cid.toString(), 1 << 20, later) // true: store it
 * s.done // true
 * ```
 */
export * from './scheduler.ts'
export * from './serve-budget.ts'
