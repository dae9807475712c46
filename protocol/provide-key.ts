/**
 * The DHT key under which a manifest root (or, with `dht.announceChunks`, a chunk) is announced.
 *
 * kad-dht 16 decodes the key of an ADD_PROVIDER message as a sha2-256 CIDv0 and drops any other
 * multihash ("Invalid CID", js-libp2p-kad-dht#381/#405; DESIGN §1 pitfall 3), so BLAKE3 CIDs cannot be
 * announced directly. The key is instead
 *
 *     CIDv1(raw, sha2-256("/dits/provide/v1/" || cid.bytes))
 *
 * which every dits node derives the same way, and which cannot collide with a real block's CID of ours
 * (dits blocks are always BLAKE3).
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

export const PROVIDE_KEY_PREFIX = '/dits/provide/v1/'
const RAW_CODE = 0x55
const PREFIX_BYTES = new TextEncoder().encode(PROVIDE_KEY_PREFIX)

export async function provideKey (cid: CID): Promise<CID> {
  const input = new Uint8Array(PREFIX_BYTES.byteLength + cid.bytes.byteLength)
  input.set(PREFIX_BYTES, 0)
  input.set(cid.bytes, PREFIX_BYTES.byteLength)
  return CID.createV1(RAW_CODE, await sha256.digest(input))
}
