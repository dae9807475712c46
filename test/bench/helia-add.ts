/**
 * Baseline for the add benchmarks: Helia's `@helia/unixfs` into a blockstore-fs, run as its own process exactly
 * like `dits-node add` is — `addByteStream` of a file, or `addAll` of a directory tree (wrapped in its directory).
 * Usage: node helia-add.js FILE|DIR BLOCKSTORE_DIR
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { unixfs, globSource } from '@helia/unixfs'
import { FsBlockstore } from 'blockstore-fs'
import type { CID } from 'multiformats/cid'

const [path, dir] = process.argv.slice(2)
const blockstore = new FsBlockstore(dir)
await blockstore.open()
const fs = unixfs({ blockstore })
let cid: CID | undefined
if ((await stat(path)).isDirectory()) {
  // the last entry is the wrapping directory: the root
  for await (const entry of fs.addAll(globSource(path, '**/*'), { wrapWithDirectory: true })) cid = entry.cid
} else {
  cid = await fs.addByteStream(createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }))
}
if (cid == null) throw new Error(`helia added nothing from ${path}`)
process.stdout.write(`${cid.toString()}\n`)
