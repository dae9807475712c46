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

export interface ConsensusRequest {
  id: number
  kind: ConsensusRequest.Kind
  payload: Uint8Array
  peer: string
  addrs: string[]
  timeoutMs: number
}

export namespace ConsensusRequest {
  export enum Kind {
    COMMAND = 'COMMAND',
    READ = 'READ',
    STATUS = 'STATUS',
    ADD_VOTER = 'ADD_VOTER',
    REMOVE_VOTER = 'REMOVE_VOTER'
  }

  enum __KindValues {
    COMMAND = 0,
    READ = 1,
    STATUS = 2,
    ADD_VOTER = 3,
    REMOVE_VOTER = 4
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<ConsensusRequest>

  export const codec = (): Codec<ConsensusRequest> => {
    if (_codec == null) {
      _codec = message<ConsensusRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(8)
          w.uint32(obj.id)
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(16)
          ConsensusRequest.Kind.codec().encode(obj.kind, w)
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.payload)
        }

        if ((obj.peer != null && obj.peer !== '')) {
          w.uint32(34)
          w.string(obj.peer)
        }

        if (obj.addrs != null) {
          for (const value of obj.addrs) {
            w.uint32(42)
            w.string(value)
          }
        }

        if ((obj.timeoutMs != null && obj.timeoutMs !== 0)) {
          w.uint32(48)
          w.uint32(obj.timeoutMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0,
          kind: Kind.COMMAND,
          payload: uint8ArrayAlloc(0),
          peer: '',
          addrs: [],
          timeoutMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint32()
              break
            }
            case 2: {
              obj.kind = ConsensusRequest.Kind.codec().decode(reader)
              break
            }
            case 3: {
              obj.payload = reader.bytes()
              break
            }
            case 4: {
              obj.peer = reader.string()
              break
            }
            case 5: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - map field "addrs" had too many elements')
              }

              obj.addrs.push(reader.string())
              break
            }
            case 6: {
              obj.timeoutMs = reader.uint32()
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

  export const encode = (obj: Partial<ConsensusRequest>): Uint8Array => {
    return encodeMessage(obj, ConsensusRequest.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ConsensusRequest>): ConsensusRequest => {
    return decodeMessage(buf, ConsensusRequest.codec(), opts)
  }
}

export interface ConsensusResponse {
  id: number
  payload: Uint8Array
  error?: Failure
  redirect?: Redirect
}

export namespace ConsensusResponse {
  let _codec: Codec<ConsensusResponse>

  export const codec = (): Codec<ConsensusResponse> => {
    if (_codec == null) {
      _codec = message<ConsensusResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(8)
          w.uint32(obj.id)
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.payload)
        }

        if (obj.error != null) {
          w.uint32(26)
          Failure.codec().encode(obj.error, w)
        }

        if (obj.redirect != null) {
          w.uint32(34)
          Redirect.codec().encode(obj.redirect, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0,
          payload: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint32()
              break
            }
            case 2: {
              obj.payload = reader.bytes()
              break
            }
            case 3: {
              obj.error = Failure.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.error
              })
              break
            }
            case 4: {
              obj.redirect = Redirect.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.redirect
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

  export const encode = (obj: Partial<ConsensusResponse>): Uint8Array => {
    return encodeMessage(obj, ConsensusResponse.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ConsensusResponse>): ConsensusResponse => {
    return decodeMessage(buf, ConsensusResponse.codec(), opts)
  }
}

export interface Failure {
  name: string
  message: string
  exitCode: number
}

export namespace Failure {
  let _codec: Codec<Failure>

  export const codec = (): Codec<Failure> => {
    if (_codec == null) {
      _codec = message<Failure>((obj, w, opts = {}) => {
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

  export const encode = (obj: Partial<Failure>): Uint8Array => {
    return encodeMessage(obj, Failure.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Failure>): Failure => {
    return decodeMessage(buf, Failure.codec(), opts)
  }
}

export interface Redirect {
  leader: string
  addrs: string[]
  reachable: number
  voters: number
}

export namespace Redirect {
  let _codec: Codec<Redirect>

  export const codec = (): Codec<Redirect> => {
    if (_codec == null) {
      _codec = message<Redirect>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.leader != null && obj.leader !== '')) {
          w.uint32(10)
          w.string(obj.leader)
        }

        if (obj.addrs != null) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.string(value)
          }
        }

        if ((obj.reachable != null && obj.reachable !== 0)) {
          w.uint32(24)
          w.uint32(obj.reachable)
        }

        if ((obj.voters != null && obj.voters !== 0)) {
          w.uint32(32)
          w.uint32(obj.voters)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          leader: '',
          addrs: [],
          reachable: 0,
          voters: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.leader = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - map field "addrs" had too many elements')
              }

              obj.addrs.push(reader.string())
              break
            }
            case 3: {
              obj.reachable = reader.uint32()
              break
            }
            case 4: {
              obj.voters = reader.uint32()
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

  export const encode = (obj: Partial<Redirect>): Uint8Array => {
    return encodeMessage(obj, Redirect.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Redirect>): Redirect => {
    return decodeMessage(buf, Redirect.codec(), opts)
  }
}
