/**
 * Benchmarks of the content pipeline (issue: foundation): add vs cp and vs Helia, add of a tree of small files vs
 * Helia, peak RSS of add and get on a 2 GiB file, and the chunks a small edit makes new.
 */
import { open, rm, stat } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { median, randomFile, randomTree, settle, timeCommand, result, MB, MiB, SMALL_TREE } from './harness.ts'
import type { Bench, BenchContext } from './harness.ts'
import { BIN } from '../helpers/cli.ts'

const GiB = 1024 * MiB
const RSS_GOAL_MIB = 256
const DELTA_GOAL_CHUNKS = 6
const here = dirname(fileURLToPath(import.meta.url))

const node = process.execPath
const dits = async (repo: string, args: string[]): Promise<Awaited<ReturnType<typeof timeCommand>>> =>
  await timeCommand(node, [BIN, '--repo', repo, ...args], { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' })

async function freshRepo (ctx: BenchContext, name: string): Promise<string> {
  const repo = join(ctx.tmpDir, name)
  await rm(repo, { recursive: true, force: true })
  await dits(repo, ['init'])
  return repo
}

const add1g: Bench = {
  name: 'add-1g',
  description: 'dits-node add of 1 GiB of random data vs cp of the same file, vs a copy that is fsynced like add\'s blocks (dd conv=fsync), vs Helia unixfs addByteStream (blockstore-fs), and the disk\'s own durable write rate (dd oflag=direct conv=fsync) vs Helia',
  async run (ctx) {
    const file = join(ctx.tmpDir, 'random-1g.bin')
    await randomFile(file, GiB)
    const ours: number[] = []
    const cp: number[] = []
    const fsynced: number[] = []
    const direct: number[] = []
    const helia: number[] = []
    const mbps = (run: { ms: number }): number => GiB / MB / (run.ms / 1000)
    for (let i = 0; i < ctx.runs; i++) {
      const repo = await freshRepo(ctx, 'repo')
      await settle()
      ours.push(mbps(await dits(repo, ['add', file])))
      await rm(repo, { recursive: true, force: true })
      const copy = join(ctx.tmpDir, 'copy.bin')
      await settle()
      cp.push(mbps(await timeCommand('cp', [file, copy])))
      await rm(copy, { force: true })
      await settle()
      // add makes its blocks durable before it pins; cp leaves its copy in the page cache.
      fsynced.push(mbps(await timeCommand('dd', [`if=${file}`, `of=${copy}`, 'bs=4M', 'conv=fsync', 'status=none'])))
      await rm(copy, { force: true })
      await settle()
      // the disk's own durable rate: add's blocks must be on it before the pin (DESIGN §1), where cp and Helia stop at
      // the page cache. Without the fsync, direct writes here end in the virtual disk's cache on the host, ~2× faster.
      direct.push(mbps(await timeCommand('dd', [`if=${file}`, `of=${copy}`, 'bs=1M', 'oflag=direct', 'conv=fsync', 'status=none'])))
      await rm(copy, { force: true })
      const hb = join(ctx.tmpDir, 'helia-blocks')
      await settle()
      helia.push(mbps(await timeCommand(node, [join(here, 'helia-add.js'), file, hb])))
      await rm(hb, { recursive: true, force: true })
      ctx.log(`run ${i + 1}: dits ${ours.at(-1)?.toFixed(0)} MB/s, cp ${cp.at(-1)?.toFixed(0)} MB/s, fsynced copy ${fsynced.at(-1)?.toFixed(0)} MB/s, durable direct copy ${direct.at(-1)?.toFixed(0)} MB/s, helia ${helia.at(-1)?.toFixed(0)} MB/s`)
    }
    return [
      result('add-1g', 'MB/s', median(ours), 'cp', median(cp)),
      result('add-1g-vs-fsynced-copy', 'MB/s', median(ours), 'dd conv=fsync', median(fsynced)),
      result('add-1g-vs-helia', 'MB/s', median(ours), 'helia-unixfs', median(helia)),
      // no durable add can beat the disk: this ratio bounds add-1g-vs-helia on this machine
      result('add-1g-disk-vs-helia', 'MB/s', median(direct), 'helia-unixfs', median(helia))
    ]
  }
}

const addSmallFiles: Bench = {
  name: 'add-small-files',
  description: `dits-node add of a tree of ${SMALL_TREE.files} files of 1-64 KiB in ${SMALL_TREE.folders} folders, pinned (its blocks fsynced) and --no-pin, vs Helia unixfs addAll of the same tree (blockstore-fs, no fsync)`,
  async run (ctx) {
    const tree = join(ctx.tmpDir, 'tree')
    const bytes = await randomTree(tree)
    ctx.log(`${SMALL_TREE.files} files, ${(bytes / MB).toFixed(0)} MB`)
    const pinned: number[] = []
    const unpinned: number[] = []
    const helia: number[] = []
    const filesPerSec = (run: { ms: number }): number => SMALL_TREE.files / (run.ms / 1000)
    for (let i = 0; i < ctx.runs; i++) {
      // Each add writes a new repo, and none is removed until the bench ends: creating thousands of files just after
      // removing thousands took ext4 here twice as long, whoever ran next (see get-small-files).
      for (const [args, into, name] of [[[], pinned, 'pinned'], [['--no-pin'], unpinned, 'unpinned']] as const) {
        const repo = await freshRepo(ctx, `repo-${name}-${i}`)
        await settle()
        into.push(filesPerSec(await dits(repo, ['add', ...args, tree])))
      }
      await settle()
      helia.push(filesPerSec(await timeCommand(node, [join(here, 'helia-add.js'), tree, join(ctx.tmpDir, `helia-blocks-${i}`)])))
      ctx.log(`run ${i + 1}: dits ${pinned.at(-1)?.toFixed(0)} files/s pinned, ${unpinned.at(-1)?.toFixed(0)} files/s --no-pin; helia ${helia.at(-1)?.toFixed(0)} files/s`)
    }
    return [
      result('add-small-files-vs-helia', 'files/s', median(pinned), 'helia-unixfs', median(helia)),
      result('add-small-files-no-pin-vs-helia', 'files/s', median(unpinned), 'helia-unixfs', median(helia))
    ]
  }
}

const rss2g: Bench = {
  name: 'rss-2g',
  description: 'peak RSS of dits-node add and get of a 2 GiB file (goal <= 256 MiB each)',
  async run (ctx) {
    const file = join(ctx.tmpDir, 'random-2g.bin')
    await randomFile(file, 2 * GiB)
    const repo = await freshRepo(ctx, 'repo')
    const added = await dits(repo, ['add', file])
    const root = added.stdout.trim().split('\n').at(-1) as string
    const out = join(ctx.tmpDir, 'out.bin')
    const got = await dits(repo, ['get', root, '-o', out])
    if ((await stat(out)).size !== 2 * GiB) throw new Error('get wrote the wrong size')
    return [
      result('add-2g-rss', 'MiB', added.maxRssKiB / 1024, 'goal', RSS_GOAL_MIB, false),
      result('get-2g-rss', 'MiB', got.maxRssKiB / 1024, 'goal', RSS_GOAL_MIB, false)
    ]
  }
}

const delta: Bench = {
  name: 'delta',
  description: 'new chunks on re-add after a 1 MiB overwrite and a 100-byte insertion in a 1 GiB file, vs fixed 1 MiB blocks',
  async run (ctx) {
    const file = join(ctx.tmpDir, 'base.bin')
    await randomFile(file, GiB)
    const repo = await freshRepo(ctx, 'repo')
    const first = JSON.parse((await dits(repo, ['--json', 'add', file])).stdout)
    const before = new Set((JSON.parse((await dits(repo, ['--json', 'stat', first.root])).stdout).chunks as Array<{ cid: string }>).map(c => c.cid))
    const fixedBefore = await fixedBlockHashes(file)
    // Overwrite 1 MiB at 300 MiB, then insert 100 bytes at 700 MiB (rewriting the tail through a new file).
    const fh = await open(file, 'r+')
    await fh.write(randomBytes(MiB), 0, MiB, 300 * MiB)
    await fh.close()
    const edited = join(ctx.tmpDir, 'edited.bin')
    await spliceInsert(file, edited, 700 * MiB, randomBytes(100))
    const second = JSON.parse((await dits(repo, ['--json', 'add', edited])).stdout)
    const after = (JSON.parse((await dits(repo, ['--json', 'stat', second.root])).stdout).chunks as Array<{ cid: string }>)
    const fresh = after.filter(c => !before.has(c.cid)).length
    const fixedAfter = await fixedBlockHashes(edited)
    const fixedFresh = fixedAfter.filter(h => !fixedBefore.includes(h)).length
    ctx.log(`dits: ${fresh} of ${after.length} chunks new; fixed 1 MiB blocks: ${fixedFresh} of ${fixedAfter.length} new`)
    return [
      result('delta-new-chunks', 'chunks', fresh, 'fixed-1MiB-blocks', fixedFresh, false, { goal: DELTA_GOAL_CHUNKS, new_bytes: second.bytes_new })
    ]
  }
}

async function fixedBlockHashes (path: string): Promise<string[]> {
  const out: string[] = []
  let buf = Buffer.alloc(0)
  for await (const piece of createReadStream(path, { highWaterMark: 4 * MiB }) as AsyncIterable<Buffer>) {
    buf = Buffer.concat([buf, piece])
    while (buf.byteLength >= MiB) {
      out.push(createHash('sha256').update(buf.subarray(0, MiB)).digest('hex'))
      buf = buf.subarray(MiB)
    }
  }
  if (buf.byteLength > 0) out.push(createHash('sha256').update(buf).digest('hex'))
  return out
}

export async function spliceInsert (src: string, dst: string, at: number, insert: Uint8Array): Promise<void> {
  const out = await open(dst, 'w')
  let pos = 0
  for await (const piece of createReadStream(src, { highWaterMark: 4 * MiB }) as AsyncIterable<Buffer>) {
    if (pos <= at && at < pos + piece.byteLength) {
      await out.write(piece.subarray(0, at - pos))
      await out.write(insert)
      await out.write(piece.subarray(at - pos))
    } else {
      await out.write(piece)
    }
    pos += piece.byteLength
  }
  await out.close()
}

export const benches: Bench[] = [add1g, addSmallFiles, rss2g, delta]
