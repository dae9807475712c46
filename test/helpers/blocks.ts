/**
 * Looking at a repo's blocks from outside, as the crash specs do: straight from the files, no repo code in between.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { decodeNode, nodeLinks } from '../../src/manifest/index.ts'
import { DAG_CBOR_CODE } from '../../src/cid.ts'

/** Manifest blocks in the repo that link a block the repo does not hold. */
export async function danglingLinks (repo: string): Promise<string[]> {
  const blocks = join(repo, 'blocks')
  const present = new Set<string>()
  const manifests: string[] = []
  for (const shard of await readdir(blocks)) {
    for (const f of await readdir(join(blocks, shard))) {
      if (!f.endsWith('.data') || f.startsWith('.')) continue
      present.add(f.slice(0, -5))
      manifests.push(join(blocks, shard, f))
    }
  }
  const dangling: string[] = []
  for (const f of manifests) {
    const cid = CID.parse(f.split('/').at(-1)?.slice(0, -5) as string)
    if (cid.code !== DAG_CBOR_CODE) continue
    for (const link of nodeLinks(decodeNode(cid, await readFile(f)))) {
      if (!present.has(link.toString())) dangling.push(`${cid} -> ${link}`)
    }
  }
  return dangling
}
