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

export interface RaftMessage {
  type: RaftMessage.Type
  from: string
  to: string
  term: number
  logTerm?: number
  index?: number
  entries: Entry[]
  commit?: number
  reject?: boolean
  rejectHint?: number
  snapshot?: Snapshot
  context?: Uint8Array
}

export namespace RaftMessage {
  export enum Type {
    APP = 'APP',
    APP_RESP = 'APP_RESP',
    VOTE = 'VOTE',
    VOTE_RESP = 'VOTE_RESP',
    PRE_VOTE = 'PRE_VOTE',
    PRE_VOTE_RESP = 'PRE_VOTE_RESP',
    HEARTBEAT = 'HEARTBEAT',
    HEARTBEAT_RESP = 'HEARTBEAT_RESP',
    SNAPSHOT = 'SNAPSHOT',
    TIMEOUT_NOW = 'TIMEOUT_NOW',
    READ_INDEX = 'READ_INDEX',
    READ_INDEX_RESP = 'READ_INDEX_RESP'
  }

  enum __TypeValues {
    APP = 0,
    APP_RESP = 1,
    VOTE = 2,
    VOTE_RESP = 3,
    PRE_VOTE = 4,
    PRE_VOTE_RESP = 5,
    HEARTBEAT = 6,
    HEARTBEAT_RESP = 7,
    SNAPSHOT = 8,
    TIMEOUT_NOW = 9,
    READ_INDEX = 10,
    READ_INDEX_RESP = 11
  }

  export namespace Type {
    export const codec = (): Codec<Type> => {
      return enumeration<Type>(__TypeValues)
    }
  }

  let _codec: Codec<RaftMessage>

  export const codec = (): Codec<RaftMessage> => {
    if (_codec == null) {
      _codec = message<RaftMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.type != null && __TypeValues[obj.type] !== 0) {
          w.uint32(8)
          RaftMessage.Type.codec().encode(obj.type, w)
        }

        if ((obj.from != null && obj.from !== '')) {
          w.uint32(18)
          w.string(obj.from)
        }

        if ((obj.to != null && obj.to !== '')) {
          w.uint32(26)
          w.string(obj.to)
        }

        if ((obj.term != null && obj.term !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.term)
        }

        if (obj.logTerm != null) {
          w.uint32(40)
          w.uint64Number(obj.logTerm)
        }

        if (obj.index != null) {
          w.uint32(48)
          w.uint64Number(obj.index)
        }

        if (obj.entries != null) {
          for (const value of obj.entries) {
            w.uint32(58)
            Entry.codec().encode(value, w)
          }
        }

        if (obj.commit != null) {
          w.uint32(64)
          w.uint64Number(obj.commit)
        }

        if (obj.reject != null) {
          w.uint32(72)
          w.bool(obj.reject)
        }

        if (obj.rejectHint != null) {
          w.uint32(80)
          w.uint64Number(obj.rejectHint)
        }

        if (obj.snapshot != null) {
          w.uint32(90)
          Snapshot.codec().encode(obj.snapshot, w)
        }

        if (obj.context != null) {
          w.uint32(98)
          w.bytes(obj.context)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          type: Type.APP,
          from: '',
          to: '',
          term: 0,
          entries: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.type = RaftMessage.Type.codec().decode(reader)
              break
            }
            case 2: {
              obj.from = reader.string()
              break
            }
            case 3: {
              obj.to = reader.string()
              break
            }
            case 4: {
              obj.term = reader.uint64Number()
              break
            }
            case 5: {
              obj.logTerm = reader.uint64Number()
              break
            }
            case 6: {
              obj.index = reader.uint64Number()
              break
            }
            case 7: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - map field "entries" had too many elements')
              }

              obj.entries.push(Entry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entries$
              }))
              break
            }
            case 8: {
              obj.commit = reader.uint64Number()
              break
            }
            case 9: {
              obj.reject = reader.bool()
              break
            }
            case 10: {
              obj.rejectHint = reader.uint64Number()
              break
            }
            case 11: {
              obj.snapshot = Snapshot.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.snapshot
              })
              break
            }
            case 12: {
              obj.context = reader.bytes()
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

  export const encode = (obj: Partial<RaftMessage>): Uint8Array => {
    return encodeMessage(obj, RaftMessage.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RaftMessage>): RaftMessage => {
    return decodeMessage(buf, RaftMessage.codec(), opts)
  }
}

export interface Entry {
  term: number
  index: number
  type: Entry.Type
  data: Uint8Array
}

export namespace Entry {
  export enum Type {
    NORMAL = 'NORMAL',
    CONF_CHANGE = 'CONF_CHANGE',
    EMPTY = 'EMPTY'
  }

  enum __TypeValues {
    NORMAL = 0,
    CONF_CHANGE = 1,
    EMPTY = 2
  }

  export namespace Type {
    export const codec = (): Codec<Type> => {
      return enumeration<Type>(__TypeValues)
    }
  }

  let _codec: Codec<Entry>

  export const codec = (): Codec<Entry> => {
    if (_codec == null) {
      _codec = message<Entry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.term != null && obj.term !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.term)
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.index)
        }

        if (obj.type != null && __TypeValues[obj.type] !== 0) {
          w.uint32(24)
          Entry.Type.codec().encode(obj.type, w)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          term: 0,
          index: 0,
          type: Type.NORMAL,
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.term = reader.uint64Number()
              break
            }
            case 2: {
              obj.index = reader.uint64Number()
              break
            }
            case 3: {
              obj.type = Entry.Type.codec().decode(reader)
              break
            }
            case 4: {
              obj.data = reader.bytes()
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

  export const encode = (obj: Partial<Entry>): Uint8Array => {
    return encodeMessage(obj, Entry.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Entry>): Entry => {
    return decodeMessage(buf, Entry.codec(), opts)
  }
}

export interface Snapshot {
  index: number
  term: number
  voters: string[]
  data: Uint8Array
}

export namespace Snapshot {
  let _codec: Codec<Snapshot>

  export const codec = (): Codec<Snapshot> => {
    if (_codec == null) {
      _codec = message<Snapshot>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.index)
        }

        if ((obj.term != null && obj.term !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.term)
        }

        if (obj.voters != null) {
          for (const value of obj.voters) {
            w.uint32(26)
            w.string(value)
          }
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          index: 0,
          term: 0,
          voters: [],
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.index = reader.uint64Number()
              break
            }
            case 2: {
              obj.term = reader.uint64Number()
              break
            }
            case 3: {
              if (opts.limits?.voters != null && obj.voters.length === opts.limits.voters) {
                throw new MaxLengthError('Decode error - map field "voters" had too many elements')
              }

              obj.voters.push(reader.string())
              break
            }
            case 4: {
              obj.data = reader.bytes()
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

  export const encode = (obj: Partial<Snapshot>): Uint8Array => {
    return encodeMessage(obj, Snapshot.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Snapshot>): Snapshot => {
    return decodeMessage(buf, Snapshot.codec(), opts)
  }
}

export interface SnapshotAck {
  ok: boolean
  error: string
}

export namespace SnapshotAck {
  let _codec: Codec<SnapshotAck>

  export const codec = (): Codec<SnapshotAck> => {
    if (_codec == null) {
      _codec = message<SnapshotAck>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ok != null && obj.ok !== false)) {
          w.uint32(8)
          w.bool(obj.ok)
        }

        if ((obj.error != null && obj.error !== '')) {
          w.uint32(18)
          w.string(obj.error)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ok: false,
          error: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.ok = reader.bool()
              break
            }
            case 2: {
              obj.error = reader.string()
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

  export const encode = (obj: Partial<SnapshotAck>): Uint8Array => {
    return encodeMessage(obj, SnapshotAck.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SnapshotAck>): SnapshotAck => {
    return decodeMessage(buf, SnapshotAck.codec(), opts)
  }
}
