import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { base58btc } from 'multiformats/bases/base58'
import { sha256 } from 'multiformats/hashes/sha2'
import {
  ERROR_EXIT_CODES, MAX_COMMAND_BYTES, RefsLocksStateMachine, decodeCommand, decodeQuery, encodeCommand,
  encodeQuery, errorFromInfo, validateCommand, validateQuery
} from '../../../src/state/index.ts'
import { CID1, Cluster, T0, refused } from './helpers.ts'
import type { Command, CommandErrorName } from '../../../src/state/index.ts'

const base = { client: 'c1', seq: 1, now: T0, owner: 'alice' }

function invalid (input: unknown, message: RegExp): void {
  const bytes = input instanceof Uint8Array ? input : dagCbor.encode(input)
  assert.throws(() => decodeCommand(bytes), (err: Error) => {
    assert.equal(err.name, 'InvalidCommandError')
    assert.match(err.message, message)
    return true
  })
}

describe('state machine: command codec', () => {
  describe('round trip', () => {
    const commands: Command[] = [
      { type: 'ref.set', ...base, name: 'projects/reel3', cid: CID1 },
      { type: 'ref.set', ...base, name: 'projects/reel3', cid: CID1, expect: null, token: 7 },
      { type: 'ref.set', ...base, name: 'projects/reel3', cid: CID1, expect: CID1 },
      { type: 'ref.rm', ...base, name: 'projects/reel3', expect: CID1, token: 3 },
      { type: 'lock.acquire', ...base, path: 'projects/reel3/', mode: 'exclusive', ttlMs: 30_000, waitMs: 5000 },
      { type: 'lock.acquire', ...base, path: 'projects/reel3/cut', mode: 'shared', ttlMs: 1 },
      { type: 'lock.release', ...base, path: 'projects/reel3/' },
      { type: 'lock.renew', ...base, path: 'projects/reel3/' },
      { type: 'lock.renew', ...base, path: 'projects/reel3/', ttlMs: 60_000 },
      { type: 'lock.break', ...base, path: 'projects/reel3/', reason: 'holder on holiday' },
      { type: 'lock.expire', now: T0 }
    ]
    for (const [i, cmd] of commands.entries()) {
      it(`#${i} ${cmd.type} with ${Object.keys(cmd).filter(k => !(k in base) && k !== 'type').join(', ')}`, () => {
        assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd)
      })
    }
  })

  describe('normal form', () => {
    it('normalizes paths and names', () => {
      const cmd = decodeCommand(encodeCommand({ type: 'lock.acquire', ...base, path: 'projects//reel3/./', mode: 'shared', ttlMs: 1000 }))
      assert.equal(cmd.type === 'lock.acquire' && cmd.path, 'projects/reel3/')
      const set = validateCommand({ type: 'ref.set', ...base, name: 'Cafe\u0301/cut', cid: CID1 })
      assert.equal(set.type === 'ref.set' && set.name, 'Caf\u00e9/cut')
    })

    it('puts CIDs in their canonical string form', () => {
      const z = CID.parse(CID1).toString(base58btc)
      assert.ok(z.startsWith('z'))
      const cmd = validateCommand({ type: 'ref.set', ...base, name: 'a', cid: z, expect: z })
      assert.deepEqual(cmd.type === 'ref.set' && [cmd.cid, cmd.expect], [CID1, CID1])
    })

    it('drops optional fields given as undefined', () => {
      const cmd = validateCommand({ type: 'ref.set', ...base, name: 'a', cid: CID1, expect: undefined, token: undefined })
      assert.deepEqual(Object.keys(cmd).sort(), ['cid', 'client', 'name', 'now', 'owner', 'seq', 'type'])
      assert.deepEqual(decodeCommand(encodeCommand({ type: 'lock.acquire', ...base, path: 'a', mode: 'shared', ttlMs: 5, waitMs: undefined })),
        { type: 'lock.acquire', ...base, path: 'a', mode: 'shared', ttlMs: 5 })
    })

    it('encodeCommand refuses what decodeCommand would refuse', () => {
      assert.throws(() => encodeCommand({ type: 'ref.set', ...base, name: '../x', cid: CID1 }), { name: 'InvalidCommandError' })
    })
  })

  describe('malformed commands', () => {
    it('not bytes, too many bytes, not dag-cbor', () => {
      assert.throws(() => decodeCommand('x' as unknown as Uint8Array), /invalid command: expected bytes, got "x"/)
      invalid(new Uint8Array(MAX_COMMAND_BYTES + 1), /over the limit of 65536/)
      invalid(new Uint8Array([0xff, 0x00]), /invalid command: not dag-cbor/)
      invalid(new Uint8Array([]), /not dag-cbor/)
    })

    it('not a map, unknown type', () => {
      invalid([1, 2], /invalid command: expected a map, got an array/)
      invalid('ref.set', /expected a map, got "ref.set"/)
      invalid({ type: 'ref.mv', ...base }, /unknown type "ref.mv" \(expected one of ref.set, ref.rm, lock.acquire/)
      invalid({ ...base }, /unknown type nothing/)
    })

    it('missing and unknown fields', () => {
      invalid({ type: 'ref.set', ...base, name: 'a' }, /invalid ref.set command: field 'cid': missing/)
      invalid({ type: 'ref.set', client: 'c', seq: 1, now: 1, name: 'a', cid: CID1 }, /field 'owner': missing/)
      invalid({ type: 'ref.rm', ...base, name: 'a' }, /invalid ref.rm command: field 'expect': missing/)
      invalid({ type: 'lock.acquire', ...base, path: 'a', mode: 'shared' }, /field 'ttlMs': missing/)
      invalid({ type: 'lock.break', ...base, path: 'a' }, /field 'reason': missing/)
      invalid({ type: 'lock.expire' }, /invalid lock.expire command: field 'now': missing/)
      invalid({ type: 'lock.release', ...base, path: 'a', force: true }, /field 'force': unknown field \(allowed: type, client, seq, now, owner, path, user\)/)
      invalid({ type: 'lock.expire', now: 1, owner: 'x' }, /field 'owner': unknown field/)
    })

    it('session fields', () => {
      invalid({ type: 'lock.release', ...base, seq: -1, path: 'a' }, /field 'seq': must be an integer from 0 to 9007199254740991, got number -1/)
      invalid({ type: 'lock.release', ...base, seq: 1.5, path: 'a' }, /field 'seq': must be an integer/)
      invalid({ type: 'lock.release', ...base, seq: '1', path: 'a' }, /field 'seq': must be an integer .* got "1"/)
      invalid({ type: 'lock.release', ...base, now: -5, path: 'a' }, /field 'now': must be an integer from 0/)
      invalid({ type: 'lock.expire', now: 8_640_000_000_000_001 }, /field 'now': must be an integer from 0 to 8640000000000000/)
      invalid({ type: 'lock.release', ...base, client: '', path: 'a' }, /field 'client': must be a non-empty string, got ""/)
      invalid({ type: 'lock.release', ...base, owner: 'o'.repeat(257), path: 'a' }, /field 'owner': must be at most 256 characters, got 257/)
      invalid({ type: 'lock.release', ...base, owner: null, path: 'a' }, /field 'owner': must be a non-empty string, got null/)
    })

    it('paths, naming the field and the path rule', () => {
      invalid({ type: 'ref.set', ...base, name: '/etc/passwd', cid: CID1 }, /invalid ref.set command: field 'name': invalid path "\/etc\/passwd": a path must be relative/)
      invalid({ type: 'ref.set', ...base, name: 'reel3/', cid: CID1 }, /field 'name': invalid path "reel3\/": a trailing '\/' names a directory/)
      invalid({ type: 'lock.acquire', ...base, path: 'a/../b', mode: 'shared', ttlMs: 1 }, /field 'path': .*'\.\.' segments/)
      invalid({ type: 'lock.acquire', ...base, path: 'a\u0000', mode: 'shared', ttlMs: 1 }, /field 'path': .*control characters/)
      invalid({ type: 'lock.release', ...base, path: 42 }, /field 'path': must be a path string, got number 42/)
    })

    it('CIDs', () => {
      invalid({ type: 'ref.set', ...base, name: 'a', cid: 'not-a-cid' }, /field 'cid': invalid CID "not-a-cid"/)
      invalid({ type: 'ref.set', ...base, name: 'a', cid: 42 }, /field 'cid': must be a CID string, got number 42/)
      invalid({ type: 'ref.set', ...base, name: 'a', cid: CID1, expect: 'nope' }, /field 'expect': invalid CID "nope"/)
      invalid({ type: 'ref.rm', ...base, name: 'a', expect: null }, /field 'expect': must be a CID string, got null/)
      invalid({ type: 'ref.set', ...base, name: 'a', cid: 'b'.repeat(300) }, /field 'cid': must be at most 256 characters/)
    })

    it('CIDs must be dits CIDs (BLAKE3)', async () => {
      const sha = CID.createV1(0x71, await sha256.digest(new Uint8Array([1]))).toString()
      invalid({ type: 'ref.set', ...base, name: 'a', cid: sha }, /field 'cid': invalid CID .*BLAKE3-256 multihash/)
    })

    it('lock fields', () => {
      invalid({ type: 'lock.acquire', ...base, path: 'a', mode: 'write', ttlMs: 1 }, /field 'mode': must be 'shared' or 'exclusive', got "write"/)
      invalid({ type: 'lock.acquire', ...base, path: 'a', mode: 'shared', ttlMs: 0 }, /field 'ttlMs': must be an integer from 1 to 86400000, got number 0/)
      invalid({ type: 'lock.acquire', ...base, path: 'a', mode: 'shared', ttlMs: 86_400_001 }, /field 'ttlMs'/)
      invalid({ type: 'lock.acquire', ...base, path: 'a', mode: 'shared', ttlMs: 1, waitMs: -1 }, /field 'waitMs': must be an integer from 0/)
      invalid({ type: 'lock.renew', ...base, path: 'a', ttlMs: 0 }, /field 'ttlMs'/)
      invalid({ type: 'lock.break', ...base, path: 'a', reason: '' }, /field 'reason': must be a non-empty string/)
      invalid({ type: 'lock.break', ...base, path: 'a', reason: 'r'.repeat(1025) }, /field 'reason': must be at most 1024 characters/)
      invalid({ type: 'ref.set', ...base, name: 'a', cid: CID1, token: 0 }, /field 'token': must be an integer from 1/)
    })
  })

  describe('apply of malformed entries', () => {
    it('yields an InvalidCommandError result, consumes the index and changes nothing else', () => {
      const sm = new RefsLocksStateMachine()
      const before = sm.snapshot()
      const out = sm.apply(7, new Uint8Array([0xff]))
      const err = refused(out, 'InvalidCommandError')
      assert.equal(err.exitCode, 2)
      assert.deepEqual(out.events, [])
      assert.equal(sm.appliedIndex, 7)
      const state = (bytes: Uint8Array): unknown => ({ ...dagCbor.decode<object>(bytes), appliedIndex: 'ignored' })
      assert.deepEqual(state(sm.snapshot()), state(before))
    })

    it('validates command objects too', () => {
      const sm = new RefsLocksStateMachine()
      refused(sm.apply(1, { type: 'ref.set', ...base, name: '..', cid: CID1 }), 'InvalidCommandError')
      assert.equal(sm.query({ type: 'ref.ls' }).refs.length, 0)
    })

    it('throws ApplyOrderError for an index that does not increase', () => {
      const c = new Cluster()
      c.set('alice', 'a', CID1)
      assert.throws(() => c.sm.apply(1, encodeCommand({ type: 'lock.expire', now: T0 })), { name: 'ApplyOrderError', message: /cannot apply entry 1 after entry 1/ })
      assert.throws(() => c.sm.apply(1.5, encodeCommand({ type: 'lock.expire', now: T0 })), { name: 'ApplyOrderError' })
      c.sm.apply(10, encodeCommand({ type: 'lock.expire', now: T0 }))
      assert.equal(c.sm.appliedIndex, 10)
    })
  })

  describe('snapshots', () => {
    it('refuses a snapshot with a field missing instead of failing later (found by fuzzing)', () => {
      const sm = new RefsLocksStateMachine()
      sm.apply(1, { type: 'ref.set', client: 'c', seq: 1, now: 5, owner: 'o', name: 'a/b', cid: CID1, expect: null })
      const data = dagCbor.decode(sm.snapshot()) as { refs: { refs: Array<Record<string, unknown>> } }
      delete data.refs.refs[0].who
      assert.throws(() => RefsLocksStateMachine.restore(dagCbor.encode(data)), (e: Error) => e.name === 'SnapshotError' && /refs\.refs\.0\.who/.test(e.message))
      data.refs.refs[0].who = 7
      assert.throws(() => RefsLocksStateMachine.restore(dagCbor.encode(data)), (e: Error) => e.name === 'SnapshotError' && /refs\.refs\.0\.who/.test(e.message))
      assert.equal(RefsLocksStateMachine.restore(sm.snapshot()).query({ type: 'ref.get', name: 'a/b' }).ref?.cid, CID1)
    })
  })

  describe('queries', () => {
    it('round trip and normal form', () => {
      assert.deepEqual(decodeQuery(encodeQuery({ type: 'ref.get', name: 'a//b' })), { type: 'ref.get', name: 'a/b' })
      assert.deepEqual(validateQuery({ type: 'ref.ls' }), { type: 'ref.ls', prefix: '' })
      assert.deepEqual(validateQuery({ type: 'lock.ls', prefix: 'projects//' }), { type: 'lock.ls', prefix: 'projects/' })
      assert.deepEqual(validateQuery({ type: 'lock.audit', prefix: '' }), { type: 'lock.audit', prefix: '' })
    })

    it('refuses malformed reads', () => {
      assert.throws(() => validateQuery({ type: 'ref.cat' }), { name: 'InvalidCommandError', message: /invalid query: unknown type "ref.cat"/ })
      assert.throws(() => validateQuery({ type: 'ref.get' }), /invalid ref.get query: field 'name': missing/)
      assert.throws(() => validateQuery({ type: 'ref.ls', prefix: '/abs' }), /field 'prefix': invalid path/)
      assert.throws(() => new RefsLocksStateMachine().query({ type: 'ref.log', name: '../x' }), { name: 'InvalidCommandError' })
      assert.throws(() => decodeQuery(new Uint8Array([0xff])), /invalid query: not dag-cbor/)
    })
  })

  describe('errorFromInfo', () => {
    it('builds the named class with the exit code the data carries', () => {
      for (const name of Object.keys(ERROR_EXIT_CODES) as CommandErrorName[]) {
        const err = errorFromInfo({ name, message: `m ${name}`, exitCode: ERROR_EXIT_CODES[name] } as never)
        assert.equal(err.name, name)
        assert.equal(err.message, `m ${name}`)
        assert.equal(err.exitCode, ERROR_EXIT_CODES[name])
        assert.ok(err instanceof Error)
      }
    })

    it('keeps the data on the error', () => {
      const c = new Cluster()
      c.set('alice', 'reel3', CID1)
      const out = c.set('bob', 'reel3', CID1, { expect: null })
      const err = errorFromInfo(refused(out, 'RefConflictError')) as Error & { info: unknown, exitCode: number }
      assert.equal(err.name, 'RefConflictError')
      assert.equal(err.exitCode, 3)
      assert.deepEqual(err.info, refused(out, 'RefConflictError'))
    })
  })
})
