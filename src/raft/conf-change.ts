/**
 * Encoding of a {@link ConfChange} in a `confchange` entry's data: UTF-8 JSON, so that it stays readable in
 * logs and traces. The core decodes it when the entry is appended (apply-on-append, Raft thesis §4.1).
 */

import { InvalidConfChangeError } from './errors.ts'
import type { ConfChange } from './types.ts'

export function encodeConfChange (cc: ConfChange): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ type: cc.type, node: cc.node }))
}

/** @throws {InvalidConfChangeError} when the bytes are not an encoded ConfChange */
export function decodeConfChange (data: Uint8Array): ConfChange {
  let value: any
  try {
    value = JSON.parse(new TextDecoder().decode(data))
  } catch {
    throw new InvalidConfChangeError('conf change entry does not hold JSON')
  }
  if ((value?.type !== 'add' && value?.type !== 'remove') || typeof value.node !== 'string' || value.node === '') {
    throw new InvalidConfChangeError(`conf change entry holds ${JSON.stringify(value)}; expected {"type":"add"|"remove","node":"<id>"}`)
  }
  return { type: value.type, node: value.node }
}

/** The voters after applying `cc` to `voters` (kept sorted, so every node derives the same list). */
export function applyConfChange (voters: readonly string[], cc: ConfChange): string[] {
  const next = cc.type === 'add'
    ? (voters.includes(cc.node) ? [...voters] : [...voters, cc.node])
    : voters.filter(v => v !== cc.node)
  return next.sort()
}
