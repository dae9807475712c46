import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { RaftMessage } from '../../../protocol/raft.ts'
import { ConsensusRequest } from '../../../protocol/consensus.ts'
import { MAX_RAFT_ENTRIES_PER_MESSAGE } from '../../../protocol/limits.ts'
import { MESSAGE_TYPES } from '../../../src/raft/index.ts'
import { decodeRaftMessage, encodeRaftMessage, frameAll } from '../../../node/consensus/wire.ts'
import { coalesceAppends } from '../../../node/consensus/transport.ts'
import { mustSync } from '../../../node/consensus/storage.ts'
import { callFromWire } from '../../../node/consensus/server.ts'
import { CID_A } from './helpers.ts'
import type { Message } from '../../../src/raft/index.ts'

const enc = new TextEncoder()

describe('node/consensus/wire', () => {
  describe('/dits/raft messages', () => {
    it('round-trip every message type, with optional fields kept absent or present', () => {
      for (const type of MESSAGE_TYPES.filter(t => t !== 'Snapshot')) {
        const bare: Message = { type, from: 'a', to: 'b', term: 3 }
        assert.deepEqual(decodeRaftMessage(encodeRaftMessage(bare)), type === 'App' ? { ...bare, entries: [] } : bare)
      }
      const app: Message = {
        type: 'App', from: 'a', to: 'b', term: 7, index: 41, logTerm: 6, commit: 40,
        entries: [{ term: 7, index: 42, type: 'normal', data: enc.encode('x') }, { term: 7, index: 43, type: 'confchange', data: enc.encode('{}') }, { term: 7, index: 44, type: 'empty', data: new Uint8Array(0) }]
      }
      assert.deepEqual(decodeRaftMessage(encodeRaftMessage(app)), app)
      const resp: Message = { type: 'AppResp', from: 'b', to: 'a', term: 7, index: 41, reject: true, rejectHint: 12, logTerm: 5 }
      assert.deepEqual(decodeRaftMessage(encodeRaftMessage(resp)), resp)
      const snap: Message = { type: 'Snapshot', from: 'a', to: 'b', term: 9, snapshot: { index: 2 ** 40, term: 9, voters: ['a', 'b', 'c'], data: enc.encode('state') } }
      assert.deepEqual(decodeRaftMessage(encodeRaftMessage(snap)), snap)
      const hb: Message = { type: 'Heartbeat', from: 'a', to: 'b', term: 9, commit: 5, context: enc.encode('read-1') }
      assert.deepEqual(decodeRaftMessage(encodeRaftMessage(hb)), hb)
    })

    it('refuses malformed messages and messages over the limits', () => {
      assert.throws(() => decodeRaftMessage(Uint8Array.from([0x08, 0x63])), { name: 'ProtocolViolationError' })
      assert.throws(() => decodeRaftMessage(RaftMessage.encode({ type: RaftMessage.Type.VOTE, from: '', to: 'b', term: 1, entries: [] })), /peer id/)
      assert.throws(() => decodeRaftMessage(RaftMessage.encode({ type: RaftMessage.Type.SNAPSHOT, from: 'a', to: 'b', term: 1, entries: [] })), /without a snapshot/)
      const entries = Array.from({ length: MAX_RAFT_ENTRIES_PER_MESSAGE + 1 }, (_v, i) => ({ term: 1, index: i + 1, type: 0 as unknown as never, data: new Uint8Array(0) }))
      assert.throws(() => decodeRaftMessage(RaftMessage.encode({ type: RaftMessage.Type.APP, from: 'a', to: 'b', term: 1, entries })), { name: 'ProtocolViolationError' })
    })

    it('frames several bodies into one buffer with varint prefixes', () => {
      const out = frameAll([new Uint8Array(3).fill(1), new Uint8Array(200).fill(2)])
      assert.deepEqual([...out.subarray(0, 4)], [3, 1, 1, 1])
      assert.deepEqual([...out.subarray(4, 6)], [0xc8, 0x01])
      assert.equal(out.byteLength, 4 + 2 + 200)
    })
  })

  describe('coalescing appends', () => {
    const e = (index: number, term = 2): Message['entries'] => [{ term, index, type: 'normal', data: enc.encode(String(index)) }]
    const app = (index: number, commit: number, term = 2): Message => ({ type: 'App', from: 'a', to: 'b', term, index, logTerm: term, commit, entries: e(index + 1, term) })

    it('merges appends that continue each other, keeping the latest commit and the order of other messages', () => {
      const hb: Message = { type: 'Heartbeat', from: 'a', to: 'b', term: 2, commit: 3 }
      const out = coalesceAppends([app(10, 9), app(11, 10), app(12, 10), hb, app(13, 12)])
      assert.equal(out.length, 3)
      assert.deepEqual(out[0].entries?.map(x => x.index), [11, 12, 13])
      assert.equal(out[0].index, 10)
      assert.equal(out[0].commit, 10)
      assert.equal(out[1], hb)
      assert.deepEqual(out[2].entries?.map(x => x.index), [14])
    })

    it('never merges across a gap or a term change', () => {
      assert.equal(coalesceAppends([app(10, 9), app(12, 9)]).length, 2)
      assert.equal(coalesceAppends([app(10, 9, 2), app(11, 9, 3)]).length, 2)
    })
  })

  it('fsyncs for entries, snapshots and a new term or vote, not for a commit index alone', () => {
    const durable = { term: 3, vote: 'a', commit: 10 }
    assert.equal(mustSync({ entries: [] }, durable), false)
    assert.equal(mustSync({ entries: [], hardState: { term: 3, vote: 'a', commit: 12 } }, durable), false)
    assert.equal(mustSync({ entries: [], hardState: { term: 4, vote: '', commit: 12 } }, durable), true)
    assert.equal(mustSync({ entries: [], hardState: { term: 3, vote: 'b', commit: 10 } }, durable), true)
    assert.equal(mustSync({ entries: e1() }, durable), true)
    function e1 (): Message['entries'] & object { return [{ term: 3, index: 11, type: 'normal', data: new Uint8Array(0) }] }
  })

  describe('/dits/consensus requests', () => {
    const req = (payload: unknown, kind = ConsensusRequest.Kind.COMMAND): ConsensusRequest =>
      ({ id: 1, kind, payload: dagCbor.encode(payload), peer: '', addrs: [], timeoutMs: 1000 })

    it('validate a command into its normal form, without `now` or `owner` (the voter stamps them)', () => {
      const call = callFromWire(req({ type: 'ref.set', client: 'c', seq: 1, user: 'ana', name: 'a//b', cid: CID_A }))
      assert.deepEqual(call, { kind: 'command', command: { type: 'ref.set', client: 'c', seq: 1, user: 'ana', name: 'a/b', cid: CID_A } })
    })

    it('keep a claimed owner as it came, for admission to refuse (never validated into a normal form)', () => {
      const call = callFromWire(req({ type: 'ref.set', client: 'c', seq: 1, owner: 'someone-else', name: 'a', cid: CID_A }))
      assert.deepEqual(call, { kind: 'command', command: { type: 'ref.set', client: 'c', seq: 1, name: 'a', cid: CID_A, owner: 'someone-else' } })
    })

    it('refuse malformed commands and lock.expire from a client (exit 2)', () => {
      assert.throws(() => callFromWire(req({ type: 'ref.set', client: 'c', seq: 1, owner: 'o', name: '/abs', cid: CID_A })), (e: Error & { exitCode?: number }) => e.name === 'InvalidCommandError' && e.exitCode === 2)
      assert.throws(() => callFromWire(req({ type: 'lock.expire' })), /leader only/)
      assert.throws(() => callFromWire({ ...req(null), payload: Uint8Array.from([0xff]) }), { name: 'InvalidCommandError' })
      assert.throws(() => callFromWire(req({ type: 'ref.nope' }, ConsensusRequest.Kind.READ)), { name: 'InvalidCommandError' })
    })
  })
})
