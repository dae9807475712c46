/**
 * The memory of a download that does not grow with the root (issue 19):
 * - get-1m-chunks-rss: a root of 1,000,000 chunks (a tree of 200,000 files of 5 small chunks in 200 folders,
 *   written straight into a blockstore-fs, not added) served by one peer process, fetched over loopback by a
 *   `dits-node` daemon (`dits-node get`, which lays the tree out as the chunks arrive): the daemon's peak RSS
 *   (VmHWM of /proc/PID/status, goal <= 256 MiB) and the get's wall time.
 *
 * This file is also its own child process: `node window.bench.js build DIR FILES` writes the tree into DIR/blocks
 * and prints its root.
 */
import { readFile, rm } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { result, settle, timeCommand, median } from './harness.ts'
import { startChild } from './net.bench.ts'
import { BIN, startDaemon } from '../helpers/cli.ts'
import { DitsBlockstore } from '../../node/blockstore.ts'
import { chunkCid } from '../../src/cid.ts'
import { createBlake3 } from '../../src/hash/blake3.ts'
import { FileManifestBuilder, buildDirectory } from '../../src/manifest/builder.ts'
import { PROFILES } from '../../src/fastcdc/index.ts'
import type { DirEntry } from '../../src/manifest/format.ts'
import type { Bench } from './harness.ts'

const FILES = 200_000
const FOLDERS = 200
const CHUNKS_PER_FILE = 5
/** Each chunk: this many bytes, unique (its file and index, then filler). */
const CHUNK_BYTES = 64
const GOAL_RSS_MIB = 256
const ENV = { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' }

/**
 * Write a tree of `files` files of CHUNKS_PER_FILE chunks in FOLDERS folders into a blockstore-fs under `dir`, block
 * by block (chunks, file nodes, folders, root), as an add would leave it; returns the root.
 */
async function buildTree (dir: string, files: number): Promise<string> {
  const store = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
  await store.createShards()
  await store.open()
  const folders: DirEntry[] = []
  const perFolder = Math.ceil(files / FOLDERS)
  for (let f = 0, n = 0; n < files; f++) {
    const entries: DirEntry[] = []
    for (let i = 0; i < perFolder && n < files; i++, n++) {
      const builder = new FileManifestBuilder(PROFILES.small)
      const whole = createBlake3()
      for (let c = 0; c < CHUNKS_PER_FILE; c++) {
        const bytes = new Uint8Array(CHUNK_BYTES).fill(c + 1)
        new DataView(bytes.buffer).setUint32(0, n)
        bytes[4] = c
        const cid = chunkCid(bytes)
        whole.update(bytes)
        await store.put(cid, bytes, { trusted: true, inline: true })
        for (const b of builder.addChunk(cid, CHUNK_BYTES)) await store.put(b.cid, b.bytes, { trusted: true, inline: true })
      }
      const { blocks, root } = builder.finish(CHUNKS_PER_FILE * CHUNK_BYTES, whole.digest())
      for (const b of [...blocks, root]) await store.put(b.cid, b.bytes, { trusted: true, inline: true })
      entries.push([`file-${i}.bin`, root.cid, CHUNKS_PER_FILE * CHUNK_BYTES, 'file'])
    }
    const folder = buildDirectory(entries)
    for (const b of [...folder.blocks, folder.root]) await store.put(b.cid, b.bytes, { trusted: true, inline: true })
    folders.push([`folder-${f}`, folder.root.cid, entries.length * CHUNKS_PER_FILE * CHUNK_BYTES, 'dir'])
  }
  const top = buildDirectory(folders)
  for (const b of [...top.blocks, top.root]) await store.put(b.cid, b.bytes, { trusted: true, inline: true })
  await store.close()
  return top.root.cid.toString()
}

async function cli (repo: string, args: string[]): Promise<string> {
  return (await timeCommand(process.execPath, [BIN, '--repo', repo, ...args], ENV)).stdout
}

/** The peak resident set of a live process, MiB. */
async function peakRssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)
  if (kib == null) throw new Error(`no VmHWM in /proc/${pid}/status`)
  return Number(kib[1]) / 1024
}

const get1mChunksRss: Bench = {
  name: 'get-1m-chunks-rss',
  description: `peak RSS of a dits-node daemon getting a root of ${(FILES * CHUNKS_PER_FILE).toLocaleString('en')} chunks (${FILES.toLocaleString('en')} files of ${CHUNKS_PER_FILE} x ${CHUNK_BYTES} B in ${FOLDERS} folders) from a peer process over loopback, and its wall time`,
  async run (ctx) {
    const source = join(ctx.tmpDir, 'source')
    const built = performance.now()
    const root = (await timeCommand(process.execPath, [import.meta.filename, 'build', source, String(FILES)], ENV)).stdout.trim()
    ctx.log(`built ${root} in ${((performance.now() - built) / 1000).toFixed(0)} s`)
    // the serve child's raw-stream host needs a file to serve: any will do
    const { child: server, first } = await startChild(['serve', source, join(source, 'usage.json'), '1', '0'])
    const { addrs } = first as { addrs: string[] }
    const rss: number[] = []
    const seconds: number[] = []
    const idle: number[] = []
    try {
      for (let i = 0; i < ctx.runs; i++) {
        const repo = join(ctx.tmpDir, `dest-${i}`)
        await cli(repo, ['init'])
        await cli(repo, ['config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
        const daemon = await startDaemon(repo)
        const pid = daemon.child.pid as number
        try {
          await cli(repo, ['connect', addrs[0]])
          await settle()
          idle.push(await peakRssMiB(pid))
          const load = loadavg()[0]
          const started = performance.now()
          const got = await timeCommand(process.execPath, [BIN, '--repo', repo, '--json', 'get', root, '-o', join(ctx.tmpDir, `out-${i}`)], ENV)
          seconds.push((performance.now() - started) / 1000)
          const report = JSON.parse(got.stdout) as { files: number, bytes_total: number, bytes_fetched: number }
          if (report.files !== FILES || report.bytes_fetched !== FILES * CHUNKS_PER_FILE * CHUNK_BYTES) throw new Error(`get wrote ${report.files} files, fetched ${report.bytes_fetched} bytes: ${got.stdout}`)
          rss.push(await peakRssMiB(pid))
          ctx.log(`run ${i + 1}: daemon peak RSS ${rss.at(-1)?.toFixed(0)} MiB (${idle.at(-1)?.toFixed(0)} MiB before the get), get ${seconds.at(-1)?.toFixed(1)} s, load ${load.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`)
        } finally {
          await daemon.stop()
        }
        await rm(repo, { recursive: true, force: true })
        await rm(join(ctx.tmpDir, `out-${i}`), { recursive: true, force: true })
      }
    } finally {
      await server.stop()
    }
    return [result('get-1m-chunks-rss', 'MiB', Math.max(...rss), 'goal', GOAL_RSS_MIB, false, {
      get_seconds: Math.round(median(seconds) * 10) / 10,
      rss_before_get_mib: Math.round(Math.max(...idle)),
      chunks: FILES * CHUNKS_PER_FILE,
      files: FILES
    })]
  }
}

export const benches: Bench[] = [get1mChunksRss]

if (process.argv[1] != null && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const [mode, ...args] = process.argv.slice(2)
  if (mode !== 'build') throw new Error(`unknown child mode ${mode}`)
  buildTree(args[0], Number(args[1])).then(root => {
    process.stdout.write(root + '\n')
    process.exit(0)
  }, (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  })
}
