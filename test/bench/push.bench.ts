/**
 * Benchmarks of push (issue 17), on real daemons (`dits-node start`) over loopback:
 * - push-1g: push of 1 GiB from a workstation to a seed that holds none of it (the seed fetches, verifies, stores,
 *   fsyncs and pins) vs a raw libp2p 3 stream (tcp + noise + yamux) moving the same bytes into a file, get-1g's
 *   baseline (net.bench.ts); and vs that stream with one fsync of the file at the end, the fair bound of a push
 *   that promises durability.
 * - push-delta: after a 1 MiB overwrite and a 100-byte insertion in that file (re-added: content-defined chunks), the
 *   bytes the push of the new root sends vs the bytes of the chunks that are new.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { open, rm, stat } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'
import { median, randomFile, result, settle, timeCommand, MB, MiB } from './harness.ts'
import { spliceInsert } from './content.bench.ts'
import { BIN, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import type { Bench } from './harness.ts'

const GiB = 1024 * MiB
const NET_BENCH = join(dirname(fileURLToPath(import.meta.url)), 'net.bench.js')
const ENV = { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' }

async function cli (repo: string, args: string[]): Promise<string> {
  return (await timeCommand(process.execPath, [BIN, '--repo', repo, ...args], ENV)).stdout
}

const tcpAddr = (d: RunningDaemon): string => {
  const a = d.info.addresses.find(x => x.includes('/tcp/')) as string
  return a.includes('/p2p/') ? a : `${a}/p2p/${d.info.peerId}`
}

/** A repo made by `dits-node init` (role `role`), listening on loopback only. */
async function freshRepo (dir: string, role: 'peer' | 'seed'): Promise<string> {
  await rm(dir, { recursive: true, force: true })
  await cli(dir, ['init', '--role', role])
  await cli(dir, ['config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
  return dir
}

interface PushJson { bytes_total: number, bytes_sent: number, bytes_already_on_seed: number, chunks_sent: number, duration_ms: number }

/** Push `root` from the workstation's daemon to a new seed (a fresh repo, its daemon started for this push). */
async function pushToFreshSeed (seedDir: string, ws: string, root: string, keep?: (seed: RunningDaemon) => Promise<void>): Promise<PushJson> {
  await freshRepo(seedDir, 'seed')
  const seed = await startDaemon(seedDir)
  try {
    await settle()
    const out = JSON.parse(await cli(ws, ['--json', 'push', root, '--to', tcpAddr(seed)])) as PushJson
    await keep?.(seed)
    return out
  } finally {
    await seed.stop()
  }
}

/** net.bench.js's raw stream: its `serve` child (which listens with a raw libp2p host) and its `raw` child. */
async function rawServer (repo: string, file: string): Promise<{ raw: string, stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [NET_BENCH, 'serve', repo, file, '1', '0'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const first = await createInterface({ input: proc.stdout })[Symbol.asyncIterator]().next()
  if (first.done === true) throw new Error('the raw server exited before it was ready')
  return {
    raw: (JSON.parse(first.value) as { raw: string }).raw,
    async stop () {
      proc.stdin.end()
      if (proc.exitCode == null) await once(proc, 'exit')
    }
  }
}

async function rawStream (raw: string, out: string, fsync: boolean): Promise<number> {
  const run = await timeCommand(process.execPath, [NET_BENCH, 'raw', raw, out])
  let ms = (JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as { ms: number }).ms
  if (fsync) {
    const started = performance.now()
    const fh = await open(out, 'r+')
    await fh.datasync()
    await fh.close()
    ms += performance.now() - started
  }
  return ms
}

const push1g: Bench = {
  name: 'push-1g',
  description: 'push of 1 GiB from a workstation daemon to a seed daemon holding none of it (fetch, verify, store, fsync, pin) vs a raw libp2p stream (tcp+noise+yamux) into a file, and that stream plus one fsync',
  async run (ctx) {
    const file = join(ctx.tmpDir, 'random-1g.bin')
    await randomFile(file, GiB)
    const ws = await freshRepo(join(ctx.tmpDir, 'ws'), 'peer')
    const root = (JSON.parse(await cli(ws, ['--json', 'add', file])) as { root: string }).root
    const daemon = await startDaemon(ws)
    const server = await rawServer(join(ctx.tmpDir, 'raw-source'), file)
    const ours: number[] = []
    const raw: number[] = []
    const rawFsync: number[] = []
    try {
      for (let i = 0; i < ctx.runs; i++) {
        const pushed = await pushToFreshSeed(join(ctx.tmpDir, 'seed'), ws, root)
        if (pushed.bytes_sent !== GiB || pushed.bytes_already_on_seed !== 0) throw new Error(`push sent ${pushed.bytes_sent} bytes (${pushed.bytes_already_on_seed} already there), not 1 GiB`)
        ours.push(GiB / MB / (pushed.duration_ms / 1000))
        await rm(join(ctx.tmpDir, 'seed'), { recursive: true, force: true })
        const out = join(ctx.tmpDir, 'out.bin')
        for (const [fsync, into] of [[false, raw], [true, rawFsync]] as const) {
          await settle()
          const ms = await rawStream(server.raw, out, fsync)
          if ((await stat(out)).size !== GiB) throw new Error('the raw stream wrote the wrong size')
          into.push(GiB / MB / (ms / 1000))
          await rm(out, { force: true })
        }
        ctx.log(`run ${i + 1}: push ${ours.at(-1)?.toFixed(0)} MB/s, raw stream ${raw.at(-1)?.toFixed(0)} MB/s, raw stream + fsync ${rawFsync.at(-1)?.toFixed(0)} MB/s`)
      }
    } finally {
      await server.stop()
      await daemon.stop()
    }
    return [
      result('push-1g', 'MB/s', median(ours), 'raw-libp2p-stream', median(raw), true, { goal: 0.8 }),
      result('push-1g-vs-stream-fsync', 'MB/s', median(ours), 'raw-libp2p-stream+fsync', median(rawFsync))
    ]
  }
}

const pushDelta: Bench = {
  name: 'push-delta',
  description: 'push after a 1 MiB overwrite and a 100-byte insertion in a 1 GiB file the seed holds: bytes sent vs the new chunks\' bytes',
  async run (ctx) {
    const file = join(ctx.tmpDir, 'base.bin')
    await randomFile(file, GiB)
    const ws = await freshRepo(join(ctx.tmpDir, 'ws'), 'peer')
    const first = (JSON.parse(await cli(ws, ['--json', 'add', file])) as { root: string }).root
    const fh = await open(file, 'r+')
    await fh.write(randomBytes(MiB), 0, MiB, 300 * MiB)
    await fh.close()
    const edited = join(ctx.tmpDir, 'edited.bin')
    await spliceInsert(file, edited, 700 * MiB, randomBytes(100))
    await rm(file)
    // what the edit added: the bytes of the chunks the first version lacks
    const second = JSON.parse(await cli(ws, ['--json', 'add', edited])) as { root: string, bytes_new: number }
    const daemon = await startDaemon(ws)
    const sent: number[] = []
    try {
      for (let i = 0; i < ctx.runs; i++) {
        const delta = await pushToFreshSeed(join(ctx.tmpDir, 'seed'), ws, first, async seed => {
          const r = JSON.parse(await cli(ws, ['--json', 'push', second.root, '--to', tcpAddr(seed)])) as PushJson
          sent.push(r.bytes_sent)
          ctx.log(`run ${i + 1}: the edit added ${second.bytes_new} bytes of new chunks; the push sent ${r.bytes_sent} (${r.bytes_already_on_seed} already there, ${r.duration_ms} ms)`)
        })
        if (delta.bytes_sent !== GiB) throw new Error(`the first push sent ${delta.bytes_sent} bytes, not 1 GiB`)
        await rm(join(ctx.tmpDir, 'seed'), { recursive: true, force: true })
      }
    } finally {
      await daemon.stop()
    }
    return [result('push-delta', 'bytes', median(sent), 'new-chunk-bytes', second.bytes_new, true, { goal: '<= 1.05' })]
  }
}

export const benches: Bench[] = [push1g, pushDelta]
