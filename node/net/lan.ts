/** Whether an address is on the studio's LAN: private, loopback or link-local (LAN preference, LAN-first serving). */
import { isPrivate, isLoopback, isLinkLocal } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

export function isLanAddr (ma: Multiaddr): boolean {
  try {
    return isPrivate(ma) || isLoopback(ma) || isLinkLocal(ma)
  } catch {
    return false
  }
}
