import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ok, startDaemon } from '../helpers/cli.ts'
import { freePorts } from '../node/consensus/cluster.ts'
import { makeFile, startNode, stopAll, KiB } from '../node/net/helpers.ts'
import { pushRoot, speculate } from '../../node/net/seed.ts'
import { GC_CLOCK_SLACK_MS } from '../../node/blockstore.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { RunningDaemon } from '../helpers/cli.ts'
import type { TestNode } from '../node/net/helpers.ts'
import type { GcResult } from '../../node/maintenance.ts'
import type { CID } from 'multiformats/cid'
import type { PrivateKey } from '@libp2p/interface'

/**
 * Issue 18's speculative chunks on a real seed daemon: an in-process workstation uploads chunks ahead of a push; the
 * seed keeps them across a restart and through gc until they expire, reclaims them after, and a push of their root
 * promotes them (sends only the rest, and the record no longer counts them).
 */
describe('speculative chunks on a seed daemon (SPECULATE, gc, promotion)', function () {
  this.timeout(120_000)
  let work: string
  let repo: string
  let seed: RunningDaemon | undefined
  let addr: string
  const nodes: TestNode[] = []
  let writerKey: PrivateKey

  before(async () => {
    writerKey = await generateKeyPair('Ed25519')
    work = await mkdtemp(join(tmpdir(), 'dits-speculative-'))
    repo = join(work, 'seed')
    const [port] = await freePorts(1)
    await ok(['--repo', repo, 'init', '--role', 'seed'])
    await ok(['--repo', repo, 'config', 'set', 'addresses.listen', JSON.stringify([`/ip4/127.0.0.1/tcp/${port}`])])
    await ok(['--repo', repo, 'config', 'set', 'speculative.ttl', '"1h"'])
    // only the workstation (and the seed itself) may write
    const seedId = (JSON.parse(await ok(['--repo', repo, '--json', 'id'])) as { peerId: string }).peerId
    await ok(['--repo', repo, 'config', 'set', 'access.write', JSON.stringify([peerIdFromPrivateKey(writerKey).toString(), seedId])])
    seed = await startDaemon(repo)
    addr = `/ip4/127.0.0.1/tcp/${port}/p2p/${seed.info.peerId}`
  })

  after(async () => {
    await stopAll(nodes)
    await seed?.stop()
    await rm(work, { recursive: true, force: true })
  })

  const gc = async (...args: string[]): Promise<GcResult> => JSON.parse(await ok(['--repo', repo, '--json', 'gc', ...args])) as GcResult

  it('keeps them across a restart and gc until they expire, reclaims them after; a push promotes them; only writers may speculate', async () => {
    const ws = await startNode({ privateKey: writerKey })
    const reader = await startNode()
    nodes.push(ws, reader)

    const file = makeFile(4 * 256 * KiB * 4, 256 * KiB, 4)
    ws.store.putAll(file.blocks)
    reader.store.putAll(file.blocks)
    const sized = (cids: CID[]): Array<{ cid: CID, bytes: number }> => cids.map(cid => ({ cid, bytes: 256 * KiB }))
    const [short, long, rest] = [file.chunks.slice(0, 4), file.chunks.slice(4, 10), file.chunks.slice(10)]

    await assert.rejects(speculate(reader.net.libp2p, addr, sized(long)), (err: Error & { exitCode?: number }) => {
      assert.equal(err.name, 'AccessRefusedError')
      assert.match(err.message, /lacks the write role \(speculate/)
      assert.equal(err.exitCode, 3)
      return true
    })
    const kept = await speculate(ws.net.libp2p, addr, sized(long))
    assert.equal(kept.chunks_fetched, 6)

    // the record survives a restart of the seed
    await seed?.stop()
    seed = await startDaemon(repo)
    const dry = await gc('--dry-run')
    assert.equal(dry.removedCount, 0)
    assert.equal(dry.keptSpeculative, 6)
    assert.deepEqual(dry.speculative.map(s => s.cid).sort(), long.map(c => c.toString()).sort())
    assert.equal(dry.speculative[0].expires, new Date(kept.expires_at).toISOString())
    const text = await ok(['--repo', repo, 'gc', '--dry-run'])
    assert.match(text, new RegExp(`would keep ${long[0].toString()}: speculative until ${new Date(kept.expires_at).toISOString()}`))
    assert.match(text, /kept 6 speculative chunk\(s\) under no pin until they expire/)

    // a second's ttl: once it and gc's clock slack have passed, gc reclaims them and keeps the others
    const brief = await speculate(ws.net.libp2p, addr, sized(short), { ttlMs: 1000 })
    assert.ok(brief.expires_at - Date.now() <= 1000)
    await sleep(brief.expires_at - Date.now() + GC_CLOCK_SLACK_MS + 500)
    const swept = await gc()
    assert.deepEqual(swept.removed.sort(), short.map(c => c.toString()).sort(), 'the expired speculative chunks, and nothing else')
    assert.equal(swept.keptSpeculative, 6)
    const again = await speculate(ws.net.libp2p, addr, sized(short))
    assert.equal(again.chunks_fetched, 4, 'they were gone from the seed')
    assert.equal(again.quota_used_bytes, 10 * 256 * KiB)

    // a push of their root sends only the rest and pins them; gc then drops their records and the quota frees them
    const pushed = await pushRoot(ws.net.libp2p, addr, file.root)
    assert.equal(pushed.chunks_already, 10)
    assert.equal(pushed.bytes_fetched, rest.length * 256 * KiB)
    const promoted = await gc()
    assert.equal(promoted.removedCount, 0)
    assert.equal(promoted.keptSpeculative, 0)
    const other = makeFile(256 * KiB, 256 * KiB)
    ws.store.putAll(other.blocks)
    const fresh = await speculate(ws.net.libp2p, addr, sized(other.chunks))
    assert.equal(fresh.quota_used_bytes, 256 * KiB, 'promoted chunks no longer count in the quota')
  })
})
