/**
 * Baseline for the add benchmarks: Helia's `@helia/unixfs` into a blockstore-fs, run as its own process exactly
 * like `dits-node add` is — `addByteStream` of a file, or `addAll` of a directory tree (wrapped in its directory).
 * Usage: node helia-add.js FILE|DIR BLOCKSTORE_DIR. The Helia node that get-vs-bitswap serves from adds with `heliaAdd`.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { unixfs, globSource } from '@helia/unixfs'
import type { UnixFS } from '@helia/unixfs'
import { FsBlockstore } from 'blockstore-fs'
import type { CID } from 'multiformats/cid'

/** Add the file or directory tree at `path`; returns the root. */
export async function heliaAdd (fs: UnixFS, path: string): Promise<CID> {
  let cid: CID | undefined
  if ((await stat(path)).isDirectory()) {
    // the last entry is the wrapping directory: the root
    for await (const entry of fs.addAll(globSource(path, '**/*'), { wrapWithDirectory: true })) cid = entry.cid
  } else {
    cid = await fs.addByteStream(createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }))
  }
  if (cid == null) throw new Error(`helia added nothing from ${path}`)
  return cid
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [path, dir] = process.argv.slice(2)
  const blockstore = new FsBlockstore(dir)
  await blockstore.open()
  process.stdout.write(`${(await heliaAdd(unixfs({ blockstore }), path)).toString()}\n`)
}
