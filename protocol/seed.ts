/* eslint-disable import/export */
/* eslint-disable complexity */
/* eslint-disable @typescript-eslint/no-namespace */
/* eslint-disable @typescript-eslint/no-unnecessary-boolean-literal-compare */
/* eslint-disable @typescript-eslint/no-empty-interface */
/* eslint-disable import/consistent-type-specifier-style */
/* eslint-disable @typescript-eslint/no-unused-vars */

import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SeedRequest {
  kind: SeedRequest.Kind
  root: Uint8Array
  chunks: SpeculativeChunk[]
  ttlMs: number
}

export namespace SeedRequest {
  export enum Kind {
    PUSH = 'PUSH',
    ROOT_STATUS = 'ROOT_STATUS',
    SPECULATE = 'SPECULATE'
  }

  enum __KindValues {
    PUSH = 0,
    ROOT_STATUS = 1,
    SPECULATE = 2
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<SeedRequest>

  export const codec = (): Codec<SeedRequest> => {
    if (_codec == null) {
      _codec = message<SeedRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(8)
          SeedRequest.Kind.codec().encode(obj.kind, w)
        }

        if ((obj.root != null && obj.root.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.root)
        }

        if (obj.chunks != null) {
          for (const value of obj.chunks) {
            w.uint32(26)
            SpeculativeChunk.codec().encode(value, w)
          }
        }

        if ((obj.ttlMs != null && obj.ttlMs !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.ttlMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: Kind.PUSH,
          root: uint8ArrayAlloc(0),
          chunks: [],
          ttlMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = SeedRequest.Kind.codec().decode(reader)
              break
            }
            case 2: {
              obj.root = reader.bytes()
              break
            }
            case 3: {
              if (opts.limits?.chunks != null && obj.chunks.length === opts.limits.chunks) {
                throw new MaxLengthError('Decode error - map field "chunks" had too many elements')
              }

              obj.chunks.push(SpeculativeChunk.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.chunks$
              }))
              break
            }
            case 4: {
              obj.ttlMs = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<SeedRequest>): Uint8Array => {
    return encodeMessage(obj, SeedRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SeedRequest>): SeedRequest => {
    return decodeMessage(buf, SeedRequest.codec(), opts)
  }
}

export interface SpeculativeChunk {
  cid: Uint8Array
  bytes: number
}

export namespace SpeculativeChunk {
  let _codec: Codec<SpeculativeChunk>

  export const codec = (): Codec<SpeculativeChunk> => {
    if (_codec == null) {
      _codec = message<SpeculativeChunk>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.cid != null && obj.cid.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.cid)
        }

        if ((obj.bytes != null && obj.bytes !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.bytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          cid: uint8ArrayAlloc(0),
          bytes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.cid = reader.bytes()
              break
            }
            case 2: {
              obj.bytes = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<SpeculativeChunk>): Uint8Array => {
    return encodeMessage(obj, SpeculativeChunk.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SpeculativeChunk>): SpeculativeChunk => {
    return decodeMessage(buf, SpeculativeChunk.codec(), opts)
  }
}

export interface SeedResponse {
  progress?: PushProgress
  done?: PushProgress
  status?: RootStatus
  error?: SeedFailure
  speculating?: Speculated
  speculated?: Speculated
}

export namespace SeedResponse {
  let _codec: Codec<SeedResponse>

  export const codec = (): Codec<SeedResponse> => {
    if (_codec == null) {
      _codec = message<SeedResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.progress != null) {
          w.uint32(10)
          PushProgress.codec().encode(obj.progress, w)
        }

        if (obj.done != null) {
          w.uint32(18)
          PushProgress.codec().encode(obj.done, w)
        }

        if (obj.status != null) {
          w.uint32(26)
          RootStatus.codec().encode(obj.status, w)
        }

        if (obj.error != null) {
          w.uint32(34)
          SeedFailure.codec().encode(obj.error, w)
        }

        if (obj.speculating != null) {
          w.uint32(42)
          Speculated.codec().encode(obj.speculating, w)
        }

        if (obj.speculated != null) {
          w.uint32(50)
          Speculated.codec().encode(obj.speculated, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.progress = PushProgress.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.progress
              })
              break
            }
            case 2: {
              obj.done = PushProgress.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.done
              })
              break
            }
            case 3: {
              obj.status = RootStatus.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.status
              })
              break
            }
            case 4: {
              obj.error = SeedFailure.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.error
              })
              break
            }
            case 5: {
              obj.speculating = Speculated.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.speculating
              })
              break
            }
            case 6: {
              obj.speculated = Speculated.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.speculated
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<SeedResponse>): Uint8Array => {
    return encodeMessage(obj, SeedResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SeedResponse>): SeedResponse => {
    return decodeMessage(buf, SeedResponse.codec(), opts)
  }
}

export interface Speculated {
  chunks: number
  bytes: number
  chunksAlready: number
  bytesAlready: number
  chunksFetched: number
  bytesFetched: number
  bytesAccepted: number
  expiresAtMs: number
  quotaBytes: number
  quotaUsedBytes: number
}

export namespace Speculated {
  let _codec: Codec<Speculated>

  export const codec = (): Codec<Speculated> => {
    if (_codec == null) {
      _codec = message<Speculated>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.chunks != null && obj.chunks !== 0)) {
          w.uint32(8)
          w.uint32(obj.chunks)
        }

        if ((obj.bytes != null && obj.bytes !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.bytes)
        }

        if ((obj.chunksAlready != null && obj.chunksAlready !== 0)) {
          w.uint32(24)
          w.uint32(obj.chunksAlready)
        }

        if ((obj.bytesAlready != null && obj.bytesAlready !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.bytesAlready)
        }

        if ((obj.chunksFetched != null && obj.chunksFetched !== 0)) {
          w.uint32(40)
          w.uint32(obj.chunksFetched)
        }

        if ((obj.bytesFetched != null && obj.bytesFetched !== 0)) {
          w.uint32(48)
          w.uint64Number(obj.bytesFetched)
        }

        if ((obj.bytesAccepted != null && obj.bytesAccepted !== 0)) {
          w.uint32(56)
          w.uint64Number(obj.bytesAccepted)
        }

        if ((obj.expiresAtMs != null && obj.expiresAtMs !== 0)) {
          w.uint32(64)
          w.uint64Number(obj.expiresAtMs)
        }

        if ((obj.quotaBytes != null && obj.quotaBytes !== 0)) {
          w.uint32(72)
          w.uint64Number(obj.quotaBytes)
        }

        if ((obj.quotaUsedBytes != null && obj.quotaUsedBytes !== 0)) {
          w.uint32(80)
          w.uint64Number(obj.quotaUsedBytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          chunks: 0,
          bytes: 0,
          chunksAlready: 0,
          bytesAlready: 0,
          chunksFetched: 0,
          bytesFetched: 0,
          bytesAccepted: 0,
          expiresAtMs: 0,
          quotaBytes: 0,
          quotaUsedBytes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.chunks = reader.uint32()
              break
            }
            case 2: {
              obj.bytes = reader.uint64Number()
              break
            }
            case 3: {
              obj.chunksAlready = reader.uint32()
              break
            }
            case 4: {
              obj.bytesAlready = reader.uint64Number()
              break
            }
            case 5: {
              obj.chunksFetched = reader.uint32()
              break
            }
            case 6: {
              obj.bytesFetched = reader.uint64Number()
              break
            }
            case 7: {
              obj.bytesAccepted = reader.uint64Number()
              break
            }
            case 8: {
              obj.expiresAtMs = reader.uint64Number()
              break
            }
            case 9: {
              obj.quotaBytes = reader.uint64Number()
              break
            }
            case 10: {
              obj.quotaUsedBytes = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<Speculated>): Uint8Array => {
    return encodeMessage(obj, Speculated.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Speculated>): Speculated => {
    return decodeMessage(buf, Speculated.codec(), opts)
  }
}

export interface PushProgress {
  phase: PushProgress.Phase
  chunksTotal: number
  bytesTotal: number
  totalsKnown: boolean
  chunksAlready: number
  bytesAlready: number
  chunksFetched: number
  bytesFetched: number
  manifestBytesFetched: number
  elapsedMs: number
}

export namespace PushProgress {
  export enum Phase {
    MANIFESTS = 'MANIFESTS',
    CHUNKS = 'CHUNKS',
    SYNC = 'SYNC',
    DONE = 'DONE'
  }

  enum __PhaseValues {
    MANIFESTS = 0,
    CHUNKS = 1,
    SYNC = 2,
    DONE = 3
  }

  export namespace Phase {
    export const codec = (): Codec<Phase> => {
      return enumeration<Phase>(__PhaseValues)
    }
  }

  let _codec: Codec<PushProgress>

  export const codec = (): Codec<PushProgress> => {
    if (_codec == null) {
      _codec = message<PushProgress>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.phase != null && __PhaseValues[obj.phase] !== 0) {
          w.uint32(8)
          PushProgress.Phase.codec().encode(obj.phase, w)
        }

        if ((obj.chunksTotal != null && obj.chunksTotal !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.chunksTotal)
        }

        if ((obj.bytesTotal != null && obj.bytesTotal !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.bytesTotal)
        }

        if ((obj.totalsKnown != null && obj.totalsKnown !== false)) {
          w.uint32(32)
          w.bool(obj.totalsKnown)
        }

        if ((obj.chunksAlready != null && obj.chunksAlready !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.chunksAlready)
        }

        if ((obj.bytesAlready != null && obj.bytesAlready !== 0)) {
          w.uint32(48)
          w.uint64Number(obj.bytesAlready)
        }

        if ((obj.chunksFetched != null && obj.chunksFetched !== 0)) {
          w.uint32(56)
          w.uint64Number(obj.chunksFetched)
        }

        if ((obj.bytesFetched != null && obj.bytesFetched !== 0)) {
          w.uint32(64)
          w.uint64Number(obj.bytesFetched)
        }

        if ((obj.manifestBytesFetched != null && obj.manifestBytesFetched !== 0)) {
          w.uint32(72)
          w.uint64Number(obj.manifestBytesFetched)
        }

        if ((obj.elapsedMs != null && obj.elapsedMs !== 0)) {
          w.uint32(80)
          w.uint64Number(obj.elapsedMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          phase: Phase.MANIFESTS,
          chunksTotal: 0,
          bytesTotal: 0,
          totalsKnown: false,
          chunksAlready: 0,
          bytesAlready: 0,
          chunksFetched: 0,
          bytesFetched: 0,
          manifestBytesFetched: 0,
          elapsedMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.phase = PushProgress.Phase.codec().decode(reader)
              break
            }
            case 2: {
              obj.chunksTotal = reader.uint64Number()
              break
            }
            case 3: {
              obj.bytesTotal = reader.uint64Number()
              break
            }
            case 4: {
              obj.totalsKnown = reader.bool()
              break
            }
            case 5: {
              obj.chunksAlready = reader.uint64Number()
              break
            }
            case 6: {
              obj.bytesAlready = reader.uint64Number()
              break
            }
            case 7: {
              obj.chunksFetched = reader.uint64Number()
              break
            }
            case 8: {
              obj.bytesFetched = reader.uint64Number()
              break
            }
            case 9: {
              obj.manifestBytesFetched = reader.uint64Number()
              break
            }
            case 10: {
              obj.elapsedMs = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<PushProgress>): Uint8Array => {
    return encodeMessage(obj, PushProgress.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PushProgress>): PushProgress => {
    return decodeMessage(buf, PushProgress.codec(), opts)
  }
}

export interface RootStatus {
  reasons: string[]
  dag: RootStatus.Dag
  chunksHeld: number
  bytesHeld: number
  chunksMissing: number
  bytesMissing: number
  manifestsMissing: number
  blocksWalked: number
  chunksSpeculative: number
  bytesSpeculative: number
}

export namespace RootStatus {
  export enum Dag {
    COMPLETE = 'COMPLETE',
    INCOMPLETE = 'INCOMPLETE',
    UNKNOWN = 'UNKNOWN'
  }

  enum __DagValues {
    COMPLETE = 0,
    INCOMPLETE = 1,
    UNKNOWN = 2
  }

  export namespace Dag {
    export const codec = (): Codec<Dag> => {
      return enumeration<Dag>(__DagValues)
    }
  }

  let _codec: Codec<RootStatus>

  export const codec = (): Codec<RootStatus> => {
    if (_codec == null) {
      _codec = message<RootStatus>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.reasons != null) {
          for (const value of obj.reasons) {
            w.uint32(10)
            w.string(value)
          }
        }

        if (obj.dag != null && __DagValues[obj.dag] !== 0) {
          w.uint32(16)
          RootStatus.Dag.codec().encode(obj.dag, w)
        }

        if ((obj.chunksHeld != null && obj.chunksHeld !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.chunksHeld)
        }

        if ((obj.bytesHeld != null && obj.bytesHeld !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.bytesHeld)
        }

        if ((obj.chunksMissing != null && obj.chunksMissing !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.chunksMissing)
        }

        if ((obj.bytesMissing != null && obj.bytesMissing !== 0)) {
          w.uint32(48)
          w.uint64Number(obj.bytesMissing)
        }

        if ((obj.manifestsMissing != null && obj.manifestsMissing !== 0)) {
          w.uint32(56)
          w.uint64Number(obj.manifestsMissing)
        }

        if ((obj.blocksWalked != null && obj.blocksWalked !== 0)) {
          w.uint32(64)
          w.uint64Number(obj.blocksWalked)
        }

        if ((obj.chunksSpeculative != null && obj.chunksSpeculative !== 0)) {
          w.uint32(72)
          w.uint64Number(obj.chunksSpeculative)
        }

        if ((obj.bytesSpeculative != null && obj.bytesSpeculative !== 0)) {
          w.uint32(80)
          w.uint64Number(obj.bytesSpeculative)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          reasons: [],
          dag: Dag.COMPLETE,
          chunksHeld: 0,
          bytesHeld: 0,
          chunksMissing: 0,
          bytesMissing: 0,
          manifestsMissing: 0,
          blocksWalked: 0,
          chunksSpeculative: 0,
          bytesSpeculative: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.reasons != null && obj.reasons.length === opts.limits.reasons) {
                throw new MaxLengthError('Decode error - map field "reasons" had too many elements')
              }

              obj.reasons.push(reader.string())
              break
            }
            case 2: {
              obj.dag = RootStatus.Dag.codec().decode(reader)
              break
            }
            case 3: {
              obj.chunksHeld = reader.uint64Number()
              break
            }
            case 4: {
              obj.bytesHeld = reader.uint64Number()
              break
            }
            case 5: {
              obj.chunksMissing = reader.uint64Number()
              break
            }
            case 6: {
              obj.bytesMissing = reader.uint64Number()
              break
            }
            case 7: {
              obj.manifestsMissing = reader.uint64Number()
              break
            }
            case 8: {
              obj.blocksWalked = reader.uint64Number()
              break
            }
            case 9: {
              obj.chunksSpeculative = reader.uint64Number()
              break
            }
            case 10: {
              obj.bytesSpeculative = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<RootStatus>): Uint8Array => {
    return encodeMessage(obj, RootStatus.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RootStatus>): RootStatus => {
    return decodeMessage(buf, RootStatus.codec(), opts)
  }
}

export interface SeedFailure {
  name: string
  message: string
  exitCode: number
  progress?: PushProgress
  speculated?: Speculated
}

export namespace SeedFailure {
  let _codec: Codec<SeedFailure>

  export const codec = (): Codec<SeedFailure> => {
    if (_codec == null) {
      _codec = message<SeedFailure>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if ((obj.exitCode != null && obj.exitCode !== 0)) {
          w.uint32(24)
          w.uint32(obj.exitCode)
        }

        if (obj.progress != null) {
          w.uint32(34)
          PushProgress.codec().encode(obj.progress, w)
        }

        if (obj.speculated != null) {
          w.uint32(42)
          Speculated.codec().encode(obj.speculated, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          message: '',
          exitCode: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            case 3: {
              obj.exitCode = reader.uint32()
              break
            }
            case 4: {
              obj.progress = PushProgress.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.progress
              })
              break
            }
            case 5: {
              obj.speculated = Speculated.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.speculated
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      })
    }

    return _codec
  }

  export const encode = (obj: Partial<SeedFailure>): Uint8Array => {
    return encodeMessage(obj, SeedFailure.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SeedFailure>): SeedFailure => {
    return decodeMessage(buf, SeedFailure.codec(), opts)
  }
}
