/**
 * Multiaddrs typed by a user (`connect`, `bootstrap`, `cluster add`), parsed with an error in the user's terms.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidMultiaddrError } from './errors.ts'

const EXAMPLE = '/ip4/192.168.1.20/tcp/4101/p2p/12D3KooW…'

export function parseMultiaddr (input: string): Multiaddr {
  const text = input.trim()
  if (!text.startsWith('/')) throw new InvalidMultiaddrError(`"${input}" is not a multiaddr: a multiaddr is a path of protocols and values starting with "/", e.g. ${EXAMPLE}`)
  try {
    return multiaddr(text)
  } catch (err) {
    throw new InvalidMultiaddrError(`"${input}" is not a valid multiaddr (${(err as Error).message.replace(/\.$/, '').toLowerCase()}): expected e.g. ${EXAMPLE}`)
  }
}
