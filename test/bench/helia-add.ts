/**
 * Baseline for the add benchmark: Helia's `@helia/unixfs` `addByteStream` into a blockstore-fs, run as its
 * own process exactly like `dits-node add` is. Usage: node helia-add.js FILE BLOCKSTORE_DIR
 */
import { createReadStream } from 'node:fs'
import { unixfs } from '@helia/unixfs'
import { FsBlockstore } from 'blockstore-fs'

const [file, dir] = process.argv.slice(2)
const blockstore = new FsBlockstore(dir)
await blockstore.open()
const fs = unixfs({ blockstore })
const cid = await fs.addByteStream(createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }))
process.stdout.write(cid.toString() + '\n')
