/**
 * Every decoder that reads bytes or values from outside the process, as a fuzz target (issue 15): the wire
 * messages of each protocol, manifests, consensus commands and reads, the state machine's log entries and
 * snapshots, Raft membership entries, config, the local API's request bodies and the CLI's argument parsers.
 *
 * A target gets inputs of three kinds: random bytes (or values), valid encodings of random well-formed messages,
 * and those encodings mutated (bytes flipped, cut, inserted, repeated). For every input the decoder must return
 * or throw a *named* error with a message (a class of src/errors.ts' family, never a bare TypeError or
 * RangeError from deep inside a library), within {@link MAX_CALL_MS} of CPU; what it returns must pass the target's
 * own check (it re-encodes, or the state stays usable).
 *
 * Run briefly by `test/fuzz/decoders.spec.ts` (in `npm test`) and at length by `npm run fuzz`.
 */
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import type { z } from 'zod'
import { Uint8ArrayList } from 'uint8arraylist'
import type { CID } from 'multiformats/cid'
import { ChunksMessage } from '../../protocol/chunks.ts'
import { Hello } from '../../protocol/hello.ts'
import { RaftMessage, SnapshotAck } from '../../protocol/raft.ts'
import { ConsensusRequest, ConsensusResponse } from '../../protocol/consensus.ts'
import { SeedRequest, SeedResponse } from '../../protocol/seed.ts'
import { decodeSeedRequest, decodeSeedResponse, checkSpeculativeBatch } from '../../node/net/seed.ts'
import { decodeChunksMessage, decodeBlockFrame, wireCid } from '../../node/net/wire.ts'
import { decodeHello } from '../../node/net/hello.ts'
import { decodeRaftMessage, decodeSnapshotAck, decodeConsensusRequest, decodeConsensusResponse } from '../../node/consensus/wire.ts'
import { decodeNode, encodeNode, nodeLinks } from '../../src/manifest/format.ts'
import { blockCid, chunkCid, DAG_CBOR_CODE, parseCid } from '../../src/cid.ts'
import { decodeCommand, decodeQuery, encodeCommand, validateCommand } from '../../src/state/codec.ts'
import { RefsLocksStateMachine } from '../../src/state/state-machine.ts'
import { decodeConfChange } from '../../src/raft/conf-change.ts'
import { normalizePath } from '../../src/paths.ts'
import { defaultConfig, validateConfig, checkKey, setKey, RULES } from '../../config/schema.ts'
import { parseRate, parseDuration, parseCount } from '../../cli/parse.ts'
import { parseArgs } from '../../node/api.ts'
import { opTable } from '../../node/op-table.ts'
import { consensusOps } from '../../node/consensus/ops.ts'
import { seedOps } from '../../node/seed/ops.ts'
import { requireSeedOps } from '../../node/seed/require-seed.ts'
import { watchOps } from '../../node/watch/ops.ts'
import type { RepoOps } from '../../node/ops.ts'
import type { Repo } from '../../node/repo.ts'

/** A decoder that spends more CPU than this on one input of a few KiB counts as a hang (generous: GC pauses count). */
export const MAX_CALL_MS = 1000

export interface FuzzTarget {
  name: string
  /** what crosses the boundary: bytes off a socket, a block from a peer, a config file, an argument */
  input: fc.Arbitrary<any>
  /** decode one input; return what was decoded, or throw */
  run: (input: any) => unknown
  /** a check of what a successful decode returned: throws if it is not sound */
  check?: (decoded: any, input: any) => void
}

/** Error names that are not a clear rejection: a library's internals leaking out. */
const UNNAMED = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'AssertionError', 'InternalError'])

/** Undefined if `err` is a clear rejection (named, with a message), else why not. */
export function unclearRejection (err: unknown): string | undefined {
  if (!(err instanceof Error)) return `threw a non-Error: ${String(err)}`
  if (UNNAMED.has(err.name)) return `unnamed ${err.name}: ${err.message}`
  if (err.message.trim() === '') return `${err.name} without a message`
  if (err.message.length > 4096) return `${err.name} with a ${err.message.length}-character message`
  return undefined
}

// ---------------------------------------------------------------------------------------------- arbitraries

const bytes = (maxLength = 512): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength })

/** A real dits CID half the time (raw chunk or manifest), else junk bytes. */
const cidBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  bytes(16).map(b => chunkCid(b).bytes),
  bytes(16).map(b => blockCid(DAG_CBOR_CODE, b).bytes),
  bytes(48)
)
const cid: fc.Arbitrary<CID> = fc.oneof(bytes(16).map(b => chunkCid(b)), bytes(16).map(b => blockCid(DAG_CBOR_CODE, b)))
const manifestCid: fc.Arbitrary<CID> = bytes(16).map(b => blockCid(DAG_CBOR_CODE, b))

/** Strings that break naive code: empty, control characters, separators, dots, unpaired surrogates, long ones. */
const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.constantFrom('', '.', '..', '/', '//', 'a/../b', '\0', '\n', '\x1b[2J', 'a\u0301', '\u00e1', '\ud800', 'con', ' ', '/etc/passwd'),
  fc.string({ minLength: 200, maxLength: 5000 })
)

const number: fc.Arbitrary<unknown> = fc.oneof(
  fc.nat(), fc.integer(), fc.double(), fc.constantFrom(-1, 0, 2 ** 53, 2 ** 64, Number.MAX_SAFE_INTEGER, 1e300, -0)
)

/** Any value JSON or dag-cbor can hold, nested a little. */
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>(tie => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    fc.constant(null), fc.boolean(), number, nastyString, bytes(32), cid,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(nastyString, tie('v'), { maxKeys: 4 }))
})).v

interface Mutation { op: 'flip' | 'cut' | 'insert' | 'repeat', at: number, byte: number, length: number }

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('flip', 'cut', 'insert', 'repeat'),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  length: fc.integer({ min: 1, max: 64 })
}) as fc.Arbitrary<Mutation>

function mutate (input: Uint8Array, m: Mutation): Uint8Array {
  const at = input.byteLength === 0 ? 0 : m.at % input.byteLength
  const b = Buffer.from(input)
  switch (m.op) {
    case 'flip':
      if (b.byteLength > 0) b[at] ^= m.byte === 0 ? 0xff : m.byte
      return b
    case 'cut':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)])
    case 'insert':
      return Buffer.concat([b.subarray(0, at), Buffer.alloc(m.length, m.byte), b.subarray(at)])
    case 'repeat':
      return Buffer.concat([b.subarray(0, at + m.length), b.subarray(at)])
  }
}

/** Random bytes, valid encodings, and valid encodings with a few mutations. */
function wireInput (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    bytes(),
    valid,
    fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([v, ms]) => ms.reduce(mutate, v))
  )
}

/** Encode with `encode`, skipping values the encoder itself refuses (they cannot arrive from a real sender). */
function encodable<T> (arb: fc.Arbitrary<T>, encode: (x: T) => Uint8Array): fc.Arbitrary<Uint8Array> {
  return arb.map(x => {
    try {
      return encode(x)
    } catch {
      return new Uint8Array(0)
    }
  })
}

const u32 = fc.integer({ min: 0, max: 0xffffffff })
const u53 = fc.oneof(fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER))
const peerIdLike = fc.oneof(nastyString, fc.constantFrom('12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'))

const chunksMessage = fc.record({
  wants: fc.array(fc.record({ cid: cidBytes, type: fc.constantFrom(0, 1, 7) as fc.Arbitrary<any> }), { maxLength: 8 }),
  cancels: fc.array(cidBytes, { maxLength: 4 }),
  presences: fc.array(fc.record({ cid: cidBytes, type: fc.constantFrom(0, 1, 9) as fc.Arbitrary<any> }), { maxLength: 4 }),
  blocks: fc.array(fc.record({ cid: cidBytes, data: bytes(256) }), { maxLength: 3 }),
  error: nastyString
})

const helloMessage = fc.record({
  protocols: fc.array(nastyString, { maxLength: 6 }),
  roles: fc.array(fc.oneof(fc.constantFrom('peer', 'seed', 'voter'), nastyString), { maxLength: 4 }),
  limits: fc.option(fc.record({ maxMessageBytes: u32, maxBlockBytes: u32, maxOutstandingWants: u32, maxInFlightBytes: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }), { nil: undefined }),
  features: fc.array(nastyString, { maxLength: 4 }),
  agent: nastyString,
  reject: nastyString
})

const raftMessage = fc.record({
  type: fc.integer({ min: 0, max: 13 }) as fc.Arbitrary<any>,
  from: peerIdLike,
  to: peerIdLike,
  term: u53,
  logTerm: fc.option(u53, { nil: undefined }),
  index: fc.option(u53, { nil: undefined }),
  entries: fc.array(fc.record({ term: u53, index: u53, type: fc.integer({ min: 0, max: 4 }) as fc.Arbitrary<any>, data: bytes(64) }), { maxLength: 4 }),
  commit: fc.option(u53, { nil: undefined }),
  reject: fc.option(fc.boolean(), { nil: undefined }),
  rejectHint: fc.option(u53, { nil: undefined }),
  snapshot: fc.option(fc.record({ index: u53, term: u53, voters: fc.array(peerIdLike, { maxLength: 5 }), data: bytes(64) }), { nil: undefined }),
  context: fc.option(bytes(32), { nil: undefined })
})

const commandType = fc.constantFrom('ref.set', 'ref.rm', 'lock.acquire', 'lock.release', 'lock.renew', 'lock.break', 'lock.expire', 'access.grant', 'nope')
const queryType = fc.constantFrom('ref.get', 'ref.ls', 'ref.log', 'lock.ls', 'lock.audit', 'nope')
const cidString = fc.oneof(cid.map(c => c.toString()), nastyString)

/** Commands close enough to valid that the validator's deeper rules are reached. */
const commandLike = fc.record({
  type: commandType,
  client: peerIdLike,
  seq: number,
  now: number,
  owner: peerIdLike,
  name: nastyString,
  path: nastyString,
  cid: cidString,
  expect: fc.oneof(fc.constant(null), cidString),
  token: number,
  mode: fc.constantFrom('shared', 'exclusive', 'both'),
  ttlMs: number,
  waitMs: number,
  reason: nastyString
}, { requiredKeys: ['type'] })

/** Well-formed commands over a few names, paths, clients and owners, so that they meet and conflict. */
const smallPath = fc.constantFrom('projects/', 'projects/reel3/', 'projects/reel3/cut', 'projects/reel3/a', 'x')
const clientFields = { client: fc.constantFrom('c1', 'c2', 'c3'), seq: fc.nat({ max: 40 }), now: fc.integer({ min: 0, max: 200_000 }), owner: fc.constantFrom('o1', 'o2', 'o3') }
const validCommand: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ type: fc.constant('ref.set'), ...clientFields, name: smallPath, cid: cidString, expect: fc.option(cidString, { nil: undefined }), token: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }) }),
  fc.record({ type: fc.constant('ref.rm'), ...clientFields, name: smallPath, expect: cidString }),
  fc.record({ type: fc.constant('lock.acquire'), ...clientFields, path: smallPath, mode: fc.constantFrom('shared', 'exclusive'), ttlMs: fc.integer({ min: 1, max: 60_000 }), waitMs: fc.option(fc.nat({ max: 60_000 }), { nil: undefined }) }),
  fc.record({ type: fc.constant('lock.release'), ...clientFields, path: smallPath }),
  fc.record({ type: fc.constant('lock.renew'), ...clientFields, path: smallPath, ttlMs: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: undefined }) }),
  fc.record({ type: fc.constant('lock.break'), ...clientFields, path: smallPath, reason: nastyString }),
  fc.record({ type: fc.constant('lock.expire'), now: fc.integer({ min: 0, max: 400_000 }) })
).map(c => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)))

const queryLike = fc.record({ type: queryType, name: nastyString, prefix: nastyString }, { requiredKeys: ['type'] })

const manifestLike = fc.record({
  v: fc.constantFrom(0, 1, 2, '1'),
  type: fc.constantFrom('file', 'part', 'dir', 'dirpart', 'symlink'),
  size: number,
  blake3: fc.oneof(bytes(32), fc.uint8Array({ minLength: 32, maxLength: 32 })),
  chunker: fc.oneof(fc.record({ name: fc.constantFrom('media', 'small', ''), min: number, avg: number, max: number, normalization: number }), value),
  chunks: fc.array(fc.tuple(cid, number), { maxLength: 6 }),
  parts: fc.array(fc.oneof(fc.tuple(manifestCid, number), fc.tuple(manifestCid, nastyString, number)), { maxLength: 4 }),
  entries: fc.array(fc.tuple(nastyString, manifestCid, number, fc.constantFrom('file', 'dir', 'fifo')), { maxLength: 6 })
}, { requiredKeys: ['v', 'type'] })

/** Well-formed manifest nodes of every type (format version 1, which every later build still reads). */
const entryName = fc.oneof(fc.constantFrom('a', 'b.mov', 'clip001.mov', 'Ünïcode'), fc.string({ minLength: 1, maxLength: 12 }))
const entries = fc.uniqueArray(fc.tuple(entryName, manifestCid, fc.nat(), fc.constantFrom('file', 'dir')), { selector: e => e[0], maxLength: 6 })
  .map(es => es.sort((x, y) => x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
const validManifest: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({
    v: fc.constant(1),
    type: fc.constant('file'),
    size: fc.nat(),
    blake3: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    chunker: fc.record({ name: fc.constantFrom('media', 'small'), min: fc.nat(), avg: fc.nat(), max: fc.nat(), normalization: fc.nat({ max: 3 }) }),
    chunks: fc.array(fc.tuple(bytes(8).map(b => chunkCid(b)), fc.nat({ max: 4 * 1024 * 1024 })), { minLength: 1, maxLength: 6 })
  }),
  fc.record({ v: fc.constant(1), type: fc.constant('part'), parts: fc.array(fc.tuple(manifestCid, fc.nat()), { minLength: 1, maxLength: 4 }) }),
  fc.record({ v: fc.constant(1), type: fc.constant('dir'), size: fc.nat(), entries }),
  fc.record({ v: fc.constant(1), type: fc.constant('dirpart'), entries })
)

// ---------------------------------------------------------------------------------------------- the targets

/**
 * Every operation's argument schema, as the local API and the CLI check a body (node/api.ts parseArgs). Only the
 * schemas are used: no repo is opened and no operation runs.
 */
const table = opTable({} as unknown as RepoOps)
const API_SCHEMAS: Record<string, z.ZodType> = Object.fromEntries([
  ...Object.entries(table.rpc), ...Object.entries(table.stream), ...Object.entries(consensusOps(() => undefined)),
  ...Object.entries(seedOps({ ops: {} as unknown as RepoOps, network: () => undefined, refCid: async () => '' })),
  ...Object.entries(requireSeedOps({ config: defaultConfig(), network: () => undefined, consensus: () => undefined })),
  ...Object.entries(watchOps({ repo: {} as unknown as Repo, service: () => undefined }))
].map(([op, { args }]) => [op, args]))

/** API bodies: any JSON, and objects whose fields an operation takes, with values of any kind. */
const apiFields = fc.constantFrom('paths', 'cid', 'out', 'name', 'path', 'expect', 'expectNone', 'token', 'ttlMs', 'waitMs', 'shared', 'pin', 'profile', 'chunkSize', 'offset', 'length', 'maxRate', 'force', 'repair', 'dryRun', 'multiaddr', 'peer', 'role', 'requestId', 'reason', 'prefix', 'target', 'to', 'requireSeed', 'maxListed', 'dirs', 'dir', 'file')
const apiBody: fc.Arbitrary<unknown> = fc.oneof(value, fc.dictionary(apiFields, value, { maxKeys: 5 }))

/** A state machine that has seen a little of everything, to snapshot and to apply fuzzed entries to. */
function seasonedStateMachine (): RefsLocksStateMachine {
  const sm = new RefsLocksStateMachine()
  const root = chunkCid(new Uint8Array([1, 2, 3])).toString()
  const base = { client: 'c1', owner: 'o1', now: 1_000 }
  sm.apply(1, { type: 'ref.set', ...base, seq: 1, name: 'projects/reel3/cut', cid: root, expect: null })
  sm.apply(2, { type: 'lock.acquire', ...base, seq: 2, path: 'projects/reel3/', mode: 'exclusive', ttlMs: 30_000 })
  sm.apply(3, { type: 'lock.acquire', ...base, client: 'c2', owner: 'o2', seq: 1, path: 'projects/reel3/a', mode: 'shared', ttlMs: 30_000, waitMs: 10_000 })
  return sm
}
const SNAPSHOT = seasonedStateMachine().snapshot()

function roundTrips (a: unknown, b: unknown, what: string): void {
  const x = Buffer.from(dagCbor.encode(a))
  const y = Buffer.from(dagCbor.encode(b))
  if (!x.equals(y)) throw new Error(`${what} does not round-trip`)
}

export const TARGETS: FuzzTarget[] = [
  {
    name: 'chunks message',
    input: wireInput(encodable(chunksMessage, m => ChunksMessage.encode(m))),
    run: (b: Uint8Array) => {
      const msg = decodeChunksMessage(b)
      for (const w of msg.wants) wireCid(w.cid, 'want')
      for (const c of msg.cancels) wireCid(c, 'cancel')
      for (const p of msg.presences) wireCid(p.cid, 'presence')
      return msg
    }
  },
  {
    name: 'chunks block frame',
    input: wireInput(encodable(fc.tuple(cidBytes, bytes(256)), ([c, d]) => Buffer.concat(decodeBlockFrameInput(c, d)))),
    run: (b: Uint8Array) => decodeBlockFrame(new Uint8ArrayList(b))
  },
  {
    name: 'hello',
    input: wireInput(encodable(helloMessage, h => Hello.encode(h))),
    run: (b: Uint8Array) => decodeHello(b)
  },
  {
    name: 'seed request (PUSH, ROOT_STATUS, SPECULATE)',
    input: wireInput(encodable(fc.record({
      kind: fc.integer({ min: 0, max: 3 }) as fc.Arbitrary<any>,
      root: fc.oneof(cidBytes, bytes(0)),
      chunks: fc.array(fc.record({ cid: cidBytes, bytes: fc.oneof(fc.nat({ max: 8 * 1024 * 1024 }), fc.constantFrom(0, 2 ** 53 - 1)) }), { maxLength: 8 }),
      ttlMs: fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 53 - 1))
    }), r => SeedRequest.encode(r))),
    run: (b: Uint8Array) => {
      const r = decodeSeedRequest(b)
      if (r.kind === 'speculate') checkSpeculativeBatch(r.chunks)
      return r
    }
  },
  {
    name: 'seed response',
    input: wireInput(encodable(fc.record({
      speculated: fc.option(fc.record({ chunks: u32, bytes: fc.nat(), chunksAlready: u32, bytesAlready: fc.nat(), chunksFetched: u32, bytesFetched: fc.nat(), bytesAccepted: fc.nat(), expiresAtMs: fc.nat(), quotaBytes: fc.nat(), quotaUsedBytes: fc.nat() }), { nil: undefined }),
      error: fc.option(fc.record({ name: nastyString, message: nastyString, exitCode: u32 }), { nil: undefined })
    }), r => SeedResponse.encode(r))),
    run: (b: Uint8Array) => decodeSeedResponse(b)
  },
  {
    name: 'raft message',
    input: wireInput(encodable(raftMessage, m => RaftMessage.encode(m))),
    run: (b: Uint8Array) => decodeRaftMessage(b)
  },
  {
    name: 'raft snapshot ack',
    input: wireInput(encodable(fc.record({ ok: fc.boolean(), error: nastyString }), a => SnapshotAck.encode(a))),
    run: (b: Uint8Array) => decodeSnapshotAck(b)
  },
  {
    name: 'consensus request',
    input: wireInput(encodable(fc.record({
      id: u32,
      kind: fc.integer({ min: 0, max: 6 }) as fc.Arbitrary<any>,
      payload: fc.oneof(bytes(64), encodable(commandLike, c => dagCbor.encode(c))),
      peer: peerIdLike,
      addrs: fc.array(nastyString, { maxLength: 4 }),
      timeoutMs: u32
    }), r => ConsensusRequest.encode(r))),
    run: (b: Uint8Array) => decodeConsensusRequest(b)
  },
  {
    name: 'consensus response',
    input: wireInput(encodable(fc.record({
      id: u32,
      payload: bytes(64),
      error: fc.option(fc.record({ name: nastyString, message: nastyString, exitCode: u32 }), { nil: undefined }),
      redirect: fc.option(fc.record({ leader: peerIdLike, addrs: fc.array(nastyString, { maxLength: 3 }), reachable: u32, voters: u32 }), { nil: undefined })
    }), r => ConsensusResponse.encode(r))),
    run: (b: Uint8Array) => decodeConsensusResponse(b)
  },
  {
    name: 'manifest block',
    input: wireInput(encodable(fc.oneof(manifestLike, validManifest), m => dagCbor.encode(m))),
    run: (b: Uint8Array) => decodeNode(blockCid(DAG_CBOR_CODE, b), b),
    check: node => {
      nodeLinks(node)
      const again = encodeNode(node)
      decodeNode(again.cid, again.bytes)
    }
  },
  {
    name: 'consensus command',
    input: fc.oneof(wireInput(encodable(fc.oneof(commandLike, validCommand), c => dagCbor.encode(c))), encodable(value, v => dagCbor.encode(v))),
    run: (b: Uint8Array) => decodeCommand(b),
    check: cmd => roundTrips(decodeCommand(encodeCommand(cmd)), cmd, 'command')
  },
  {
    name: 'consensus command (JSON body)',
    input: fc.oneof(commandLike, validCommand, value),
    run: (v: unknown) => validateCommand(v),
    check: cmd => roundTrips(validateCommand(cmd), cmd, 'command')
  },
  {
    name: 'consensus query',
    input: fc.oneof(wireInput(encodable(queryLike, q => dagCbor.encode(q))), encodable(value, v => dagCbor.encode(v))),
    run: (b: Uint8Array) => decodeQuery(b)
  },
  {
    name: 'state machine log',
    input: fc.array(fc.oneof(
      { weight: 4, arbitrary: encodable(validCommand, c => dagCbor.encode(c)) },
      { weight: 1, arbitrary: wireInput(encodable(fc.oneof(commandLike, validCommand), c => dagCbor.encode(c))) }
    ), { minLength: 1, maxLength: 8 }),
    run: (entries: Uint8Array[]) => {
      const sm = seasonedStateMachine()
      const out = entries.map((b, i) => sm.apply(4 + i, b))
      // whatever the entry did, the replica stays usable and its snapshot restores to the same state
      sm.query({ type: 'lock.ls', prefix: '' })
      sm.query({ type: 'ref.ls', prefix: '' })
      const snap = sm.snapshot()
      if (!Buffer.from(RefsLocksStateMachine.restore(snap).snapshot()).equals(Buffer.from(snap))) throw new Error('snapshot does not round-trip')
      return out
    }
  },
  {
    name: 'state machine snapshot',
    input: fc.oneof(
      fc.array(mutation, { minLength: 1, maxLength: 4 }).map(ms => ms.reduce(mutate, SNAPSHOT)),
      encodable(value, v => dagCbor.encode(v)),
      bytes()
    ),
    run: (b: Uint8Array) => {
      const sm = RefsLocksStateMachine.restore(b)
      sm.query({ type: 'lock.ls', prefix: '' })
      sm.query({ type: 'ref.ls', prefix: '' })
      sm.snapshot()
      return sm
    }
  },
  {
    name: 'API request body',
    input: fc.tuple(fc.constantFrom(...Object.keys(API_SCHEMAS)), apiBody),
    run: ([op, body]: [string, unknown]) => parseArgs(op, API_SCHEMAS[op], body)
  },
  {
    name: 'raft membership entry',
    input: fc.oneof(bytes(), fc.oneof(value, fc.record({ type: fc.constantFrom('add', 'remove', 'x'), node: peerIdLike })).map(v => new TextEncoder().encode(JSON.stringify(v) ?? ''))),
    run: (b: Uint8Array) => decodeConfChange(b)
  },
  {
    name: 'config file',
    input: fc.oneof(
      value,
      fc.tuple(fc.constantFrom(...Object.keys(RULES)), value).map(([key, v]) => withKey(key, v))
    ),
    run: (v: unknown) => validateConfig(v, 'fuzz'),
    check: (config, input) => validateConfig(JSON.parse(JSON.stringify(config)), `re-read of ${JSON.stringify(input)?.slice(0, 80)}`)
  },
  {
    name: 'config set KEY JSON',
    input: fc.tuple(fc.oneof(fc.constantFrom(...Object.keys(RULES)), nastyString), value),
    run: ([key, v]: [string, unknown]) => checkKey(key, v)
  },
  {
    name: 'CLI CID argument',
    input: fc.oneof(nastyString, cid.map(c => c.toString()), cid.map(c => c.toString().slice(0, 20)), cid.map(c => c.toString(/* base58 */).toUpperCase())),
    run: (s: string) => parseCid(s)
  },
  {
    name: 'CLI path argument',
    input: nastyString,
    run: (s: string) => normalizePath(s)
  },
  {
    name: 'CLI --max-rate, --ttl, counts',
    input: fc.tuple(fc.constantFrom(0, 1, 2), fc.oneof(nastyString, fc.stringMatching(/^\d{1,20}(\.\d{0,20})?\s?(ms|s|m|h|k|kb|KiB|MB\/s|g)?$/))),
    run: ([which, s]: [number, string]) => [parseRate, parseDuration, parseCount][which]('--x', s)
  }
]

/** The bytes encodeBlockFrame would send for (cid, data), without its outer length prefix. */
function decodeBlockFrameInput (cid: Uint8Array, data: Uint8Array): Uint8Array[] {
  return [ChunksMessage.encode({ blocks: [{ cid, data }] })]
}

/** The default config with one key set to `v`, as a config file would hold it. */
function withKey (key: string, v: unknown): Record<string, unknown> {
  const config = JSON.parse(JSON.stringify(defaultConfig())) as Record<string, unknown>
  setKey(config, key, v)
  return config
}
