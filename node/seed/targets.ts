/**
 * Which seeds keep the studio's content: one answer for `push` without `--to`, `ref set --require-seed`, and a
 * workstation's gc (which keeps what no seed holds yet).
 *
 * Config `seeds` is authoritative. Only when it names none do the connected peers whose hello claims role seed
 * count, as on a LAN set up without config: a hello role is what a peer says of itself, so it does not add a target
 * beside a configured seed. This node is never one of them, and each seed is named once.
 */
import { parseSeedTarget, seedPeerId } from '../net/seed.ts'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { DitsNetwork } from '../net/index.ts'

export interface StudioSeed {
  /** as configured or given (`--to`): a peer id or a multiaddr ending in /p2p/ID */
  text: string
  target: PeerId | Multiaddr
  /** the seed's peer id */
  id: string
}

export function studioSeeds (configured: readonly string[], network: Pick<DitsNetwork, 'peers' | 'peerId'>): StudioSeed[] {
  const texts = configured.length > 0 ? configured : network.peers().filter(p => p.roles.includes('seed')).map(p => p.id)
  return seedTargets(texts, network.peerId)
}

/** `texts` parsed (UsageError naming a malformed one), without `self` and without repeats. */
export function seedTargets (texts: readonly string[], self: string): StudioSeed[] {
  const seen = new Set<string>([self])
  const out: StudioSeed[] = []
  for (const text of texts) {
    const target = parseSeedTarget(text)
    const id = seedPeerId(target)
    if (seen.has(id)) continue
    seen.add(id)
    out.push({ text, target, id })
  }
  return out
}
