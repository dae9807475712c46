/* eslint-disable import/export */
/* eslint-disable complexity */
/* eslint-disable @typescript-eslint/no-namespace */
/* eslint-disable @typescript-eslint/no-unnecessary-boolean-literal-compare */
/* eslint-disable @typescript-eslint/no-empty-interface */
/* eslint-disable import/consistent-type-specifier-style */
/* eslint-disable @typescript-eslint/no-unused-vars */

import { decodeMessage, encodeMessage, MaxLengthError, message } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Hello {
  protocols: string[]
  roles: string[]
  limits?: Limits
  features: string[]
  agent: string
  reject: string
}

export namespace Hello {
  let _codec: Codec<Hello>

  export const codec = (): Codec<Hello> => {
    if (_codec == null) {
      _codec = message<Hello>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.protocols != null) {
          for (const value of obj.protocols) {
            w.uint32(10)
            w.string(value)
          }
        }

        if (obj.roles != null) {
          for (const value of obj.roles) {
            w.uint32(18)
            w.string(value)
          }
        }

        if (obj.limits != null) {
          w.uint32(26)
          Limits.codec().encode(obj.limits, w)
        }

        if (obj.features != null) {
          for (const value of obj.features) {
            w.uint32(34)
            w.string(value)
          }
        }

        if ((obj.agent != null && obj.agent !== '')) {
          w.uint32(42)
          w.string(obj.agent)
        }

        if ((obj.reject != null && obj.reject !== '')) {
          w.uint32(50)
          w.string(obj.reject)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          protocols: [],
          roles: [],
          features: [],
          agent: '',
          reject: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.protocols != null && obj.protocols.length === opts.limits.protocols) {
                throw new MaxLengthError('Decode error - map field "protocols" had too many elements')
              }

              obj.protocols.push(reader.string())
              break
            }
            case 2: {
              if (opts.limits?.roles != null && obj.roles.length === opts.limits.roles) {
                throw new MaxLengthError('Decode error - map field "roles" had too many elements')
              }

              obj.roles.push(reader.string())
              break
            }
            case 3: {
              obj.limits = Limits.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.limits
              })
              break
            }
            case 4: {
              if (opts.limits?.features != null && obj.features.length === opts.limits.features) {
                throw new MaxLengthError('Decode error - map field "features" had too many elements')
              }

              obj.features.push(reader.string())
              break
            }
            case 5: {
              obj.agent = reader.string()
              break
            }
            case 6: {
              obj.reject = reader.string()
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

  export const encode = (obj: Partial<Hello>): Uint8Array => {
    return encodeMessage(obj, Hello.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Hello => {
    return decodeMessage(buf, Hello.codec(), opts)
  }
}

export interface Limits {
  maxMessageBytes: number
  maxBlockBytes: number
  maxOutstandingWants: number
  maxInFlightBytes: bigint
}

export namespace Limits {
  let _codec: Codec<Limits>

  export const codec = (): Codec<Limits> => {
    if (_codec == null) {
      _codec = message<Limits>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.maxMessageBytes != null && obj.maxMessageBytes !== 0)) {
          w.uint32(8)
          w.uint32(obj.maxMessageBytes)
        }

        if ((obj.maxBlockBytes != null && obj.maxBlockBytes !== 0)) {
          w.uint32(16)
          w.uint32(obj.maxBlockBytes)
        }

        if ((obj.maxOutstandingWants != null && obj.maxOutstandingWants !== 0)) {
          w.uint32(24)
          w.uint32(obj.maxOutstandingWants)
        }

        if ((obj.maxInFlightBytes != null && obj.maxInFlightBytes !== 0n)) {
          w.uint32(32)
          w.uint64(obj.maxInFlightBytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          maxMessageBytes: 0,
          maxBlockBytes: 0,
          maxOutstandingWants: 0,
          maxInFlightBytes: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.maxMessageBytes = reader.uint32()
              break
            }
            case 2: {
              obj.maxBlockBytes = reader.uint32()
              break
            }
            case 3: {
              obj.maxOutstandingWants = reader.uint32()
              break
            }
            case 4: {
              obj.maxInFlightBytes = reader.uint64()
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

  export const encode = (obj: Partial<Limits>): Uint8Array => {
    return encodeMessage(obj, Limits.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Limits>): Limits => {
    return decodeMessage(buf, Limits.codec(), opts)
  }
}
