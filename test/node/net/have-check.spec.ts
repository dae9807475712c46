import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { chunkCid } from '../../../src/cid.ts'
import { DitsBlockstore } from '../../../node/blockstore.ts'
import { HaveCheck } from '../../../node/net/have-check.ts'
import { MAX_ENTRIES_PER_MESSAGE } from '../../../protocol/limits.ts'
import { startNode, stopAll } from './helpers.ts'
import type { TestNode, MemoryBlockstore } from './helpers.ts'
import type { ChunkSession } from '../../../node/net/chunk-exchange.ts'
import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'

/** `n` distinct small chunks. */
function chunks (n: number, bytes = 64): Array<{ cid: CID, bytes: Uint8Array }> {
  return Array.from({ length: n }, () => {
    const b = new Uint8Array(randomBytes(bytes))
    return { cid: chunkCid(b), bytes: b }
  })
}

/** A session that records the wants a HaveCheck sends and answers them when the test says. */
class ScriptedSession {
  readonly messages: CID[][] = []
  closed = false
  constructor (private readonly check: HaveCheck) {}
  want (cids: CID[], type: 'block' | 'have'): void {
    assert.equal(type, 'have')
    this.messages.push(cids)
  }

  answer (cids: CID[], held: (cid: CID) => boolean): void {
    for (const cid of cids) this.check.handlers.onPresence(cid, held(cid))
  }

  close (): void {
    this.closed = true
    this.check.handlers.onClose()
  }
}

const somePeer = peerIdFromString('12D3KooWGRUVh8aTqZ3TgwfRHMxrjB6PCf3QJJTbU5kGVPDdtLSp')

describe('node/net/have-check: batched HAVE wants', function () {
  this.timeout(60_000)

  describe('the asking end (a scripted session)', () => {
    it('never has more wants outstanding than the negotiated limit, sends at most MAX_ENTRIES_PER_MESSAGE per message, asks a repeated CID once', async () => {
      const check = new HaveCheck(somePeer, { maxOutstandingWants: 1500 })
      const session = new ScriptedSession(check)
      check.attach(session as unknown as ChunkSession)
      const list = chunks(5000).map(c => c.cid)
      const asked = [...list, list[7], list[4999]]
      const held = new Set(list.filter((_, i) => i % 3 === 0).map(String))
      const result = check.check(asked)
      let answered = 0
      let outstanding = 0
      let peak = 0
      const backlog: CID[] = []
      while (answered < list.length) {
        await new Promise(resolve => setImmediate(resolve))
        const pending = session.messages.splice(0)
        for (const m of pending) {
          assert.ok(m.length <= MAX_ENTRIES_PER_MESSAGE, `a message of ${m.length} wants`)
          outstanding += m.length
        }
        peak = Math.max(peak, outstanding)
        assert.ok(outstanding > 0, 'the check waits for answers with nothing asked')
        // the peer answers 300 of what is outstanding, in order
        backlog.push(...pending.flat())
        const now = backlog.splice(0, 300)
        outstanding -= now.length
        answered += now.length
        session.answer(now, cid => held.has(cid.toString()))
      }
      const out = await result
      assert.ok(peak <= 1500, `peak outstanding ${peak}`)
      assert.ok(peak > 1024, `the window is used (${peak})`)
      assert.equal(out.length, asked.length)
      asked.forEach((cid, i) => { assert.equal(out[i], held.has(cid.toString()), `answer ${i}`) })
    })

    it('fails with PeerTimeoutError when the peer answers nothing for the idle timeout, and with the signal\'s reason when aborted', async () => {
      const check = new HaveCheck(somePeer, { maxOutstandingWants: 64, idleTimeoutMs: 200 })
      check.attach(new ScriptedSession(check) as unknown as ChunkSession)
      const started = performance.now()
      await assert.rejects(check.check(chunks(10).map(c => c.cid)), { name: 'PeerTimeoutError' })
      assert.ok(performance.now() - started >= 190)
      const second = new HaveCheck(somePeer, { maxOutstandingWants: 64 })
      second.attach(new ScriptedSession(second) as unknown as ChunkSession)
      const controller = new AbortController()
      const running = second.check(chunks(10).map(c => c.cid), { signal: controller.signal } satisfies AbortOptions)
      controller.abort(new Error('stop now'))
      await assert.rejects(running, /stop now/)
    })

    it('takes a block (never asked for on a have-check) as a protocol violation', async () => {
      const check = new HaveCheck(somePeer, { maxOutstandingWants: 64 })
      await assert.rejects(check.handlers.onBlock(), { name: 'ProtocolViolationError' })
    })
  })

  describe('against a real node on loopback (TCP, a blockstore on disk)', () => {
    let nodes: TestNode[] = []
    let dir: string | undefined
    afterEach(async () => {
      await stopAll(nodes)
      nodes = []
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
      dir = undefined
    })

    it('answers 10,000 CIDs exactly, from presence alone (no block is read), and quickly', async () => {
      dir = await mkdtemp(join(tmpdir(), 'dits-have-'))
      const disk = new DitsBlockstore(join(dir, 'blocks'), join(dir, 'quarantine'), join(dir, 'usage.json'))
      await disk.createShards()
      await disk.open()
      const all = chunks(10_000)
      for (const [i, c] of all.entries()) if (i % 2 === 0) await disk.put(c.cid, c.bytes, { trusted: true })
      let reads = 0
      const counting = {
        has: async (cid: CID, o?: AbortOptions) => await disk.has(cid, o),
        get: async (cid: CID, o?: AbortOptions) => { reads++; return await disk.get(cid, o) },
        put: async (cid: CID, b: Uint8Array, o?: AbortOptions) => await disk.put(cid, b, o)
      }
      const responder = await startNode({ store: counting as unknown as MemoryBlockstore })
      const asker = await startNode()
      nodes = [responder, asker]
      await asker.net.connect(responder.addr)
      const started = performance.now()
      const check = await asker.net.openHaveCheck(responder.net.peerId)
      const held = await check.check(all.map(c => c.cid))
      const ms = performance.now() - started
      check.close()
      console.log(`      have-check of 10,000 CIDs over loopback: ${ms.toFixed(0)} ms`)
      assert.equal(held.length, all.length)
      held.forEach((h, i) => { assert.equal(h, i % 2 === 0, `CID ${i}`) })
      assert.equal(reads, 0, 'the responder read blocks to answer HAVE wants')
      assert.equal(responder.net.status().served.violations, 0)
      // generous: the machine is shared; the answer takes ~0.2 s when idle
      assert.ok(ms < 5000, `${ms} ms`)
    })

    it('a peer that does not serve this node (no read role) answers the check with its refusal', async () => {
      const responder = await startNode({ refuseServing: peer => `peer ${peer.toString()} lacks the read role (chunks)` })
      const asker = await startNode()
      nodes = [responder, asker]
      await asker.net.connect(responder.addr)
      const check = await asker.net.openHaveCheck(responder.net.peerId)
      await assert.rejects(check.check(chunks(3).map(c => c.cid)), (e: Error) => e.name === 'HaveCheckRefusedError' && e.message.includes(`peer ${asker.net.peerId} lacks the read role`) && e.message.includes(responder.net.peerId))
      check.close()
    })
  })
})
