import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { ok, startDaemon } from '../helpers/cli.ts'
import type { RunningDaemon } from '../helpers/cli.ts'
import { makeFile, startNode, stopAll, waitFor } from '../node/net/helpers.ts'
import type { TestNode } from '../node/net/helpers.ts'
import { frame } from '../node/net/helpers.ts'
import { ChunksMessage, Want } from '../../protocol/chunks.ts'
import { CHUNKS_PROTOCOL, MAX_BLOCK_BYTES } from '../../protocol/index.ts'

/** The bar for a daemon's memory through every probe. */
const MAX_DAEMON_RSS_MIB = 512

async function rssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024
}

describe('a real daemon serving peers that never read (issue 15)', function () {
  this.timeout(120_000)
  let work: string
  let daemon: RunningDaemon | undefined
  let nodes: TestNode[] = []

  after(async () => {
    await daemon?.stop()
    await stopAll(nodes)
    if (work != null) await rm(work, { recursive: true, force: true })
  })

  it('ten peers with eight streams each wanting every 4 MiB block keep the daemon far under 512 MiB', async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-hostile-net-'))
    const repo = join(work, 'repo')
    await ok(['--repo', repo, 'init'])
    await ok(['--repo', repo, 'config', 'set', 'addresses.listen', '["/ip4/127.0.0.1/tcp/0"]'])
    daemon = await startDaemon(repo)
    const addr = daemon.info.addresses.find(a => a.includes('/tcp/')) as string
    // the daemon fetches a file of six 4 MiB blocks, which it then serves from its repo on disk
    const file = makeFile(6 * MAX_BLOCK_BYTES, MAX_BLOCK_BYTES)
    const origin = await startNode()
    nodes.push(origin)
    origin.store.putAll(file.blocks)
    await ok(['--repo', repo, 'connect', origin.addr])
    await ok(['--repo', repo, 'get', file.root.toString(), '-o', join(work, 'copy')])
    await stopAll([origin])
    nodes = []
    const pid = daemon.child.pid as number
    const before = await rssMiB(pid)

    const wants = ChunksMessage.encode({ wants: file.chunks.map(c => ({ cid: c.bytes, type: Want.Type.BLOCK })) })
    nodes = await Promise.all(Array.from({ length: 10 }, async () => await startNode()))
    for (const node of nodes) {
      // one new connection every 250 ms: libp2p refuses more than 5 a second from one host
      await new Promise(resolve => setTimeout(resolve, 250))
      for (let i = 0; i < 8; i++) {
        const stream = await node.net.libp2p.dialProtocol(multiaddr(addr), CHUNKS_PROTOCOL)
        if (stream.status !== 'open') throw new Error(`stream ${i} of a hostile peer closed at once: ${stream.status}`)
        stream.pause()
        stream.send(frame(wants))
      }
    }
    // sample through the attack: the daemon reads what its budgets allow, then waits for readers that never come
    let peak = before
    const until = Date.now() + 3000
    while (Date.now() < until) {
      peak = Math.max(peak, await rssMiB(pid))
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    console.log(`      daemon RSS ${before.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB at most under 80 streams that do not read`)
    assert.ok(peak < MAX_DAEMON_RSS_MIB, `daemon RSS ${peak.toFixed(0)} MiB`)
    // it held 16 MiB per stream (1.3 GiB here, the wants of each stream being 24 MiB); its budgets allow 32 MiB in all
    assert.ok(peak - before < 128, `daemon RSS grew by ${(peak - before).toFixed(0)} MiB`)
    // and it aborts the streams that took nothing for the write-idle timeout (10 s), handing their budget on
    const open = (): number => nodes.reduce((n, node) => n + node.net.libp2p.getConnections().reduce((m, c) => m + c.streams.filter(s => s.protocol === CHUNKS_PROTOCOL && s.status === 'open').length, 0), 0)
    await waitFor(() => open() <= 80 - 8, 30_000, 'stalled streams to be closed')
  })
})
