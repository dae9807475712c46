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

export interface ChunksMessage {
  wants: Want[]
  cancels: Uint8Array[]
  presences: Presence[]
  blocks: Block[]
  error: string
}

export namespace ChunksMessage {
  let _codec: Codec<ChunksMessage>

  export const codec = (): Codec<ChunksMessage> => {
    if (_codec == null) {
      _codec = message<ChunksMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.wants != null) {
          for (const value of obj.wants) {
            w.uint32(10)
            Want.codec().encode(value, w)
          }
        }

        if (obj.cancels != null) {
          for (const value of obj.cancels) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (obj.presences != null) {
          for (const value of obj.presences) {
            w.uint32(26)
            Presence.codec().encode(value, w)
          }
        }

        if (obj.blocks != null) {
          for (const value of obj.blocks) {
            w.uint32(34)
            Block.codec().encode(value, w)
          }
        }

        if ((obj.error != null && obj.error !== '')) {
          w.uint32(42)
          w.string(obj.error)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          wants: [],
          cancels: [],
          presences: [],
          blocks: [],
          error: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.wants != null && obj.wants.length === opts.limits.wants) {
                throw new MaxLengthError('Decode error - map field "wants" had too many elements')
              }

              obj.wants.push(Want.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.wants$
              }))
              break
            }
            case 2: {
              if (opts.limits?.cancels != null && obj.cancels.length === opts.limits.cancels) {
                throw new MaxLengthError('Decode error - map field "cancels" had too many elements')
              }

              obj.cancels.push(reader.bytes())
              break
            }
            case 3: {
              if (opts.limits?.presences != null && obj.presences.length === opts.limits.presences) {
                throw new MaxLengthError('Decode error - map field "presences" had too many elements')
              }

              obj.presences.push(Presence.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.presences$
              }))
              break
            }
            case 4: {
              if (opts.limits?.blocks != null && obj.blocks.length === opts.limits.blocks) {
                throw new MaxLengthError('Decode error - map field "blocks" had too many elements')
              }

              obj.blocks.push(Block.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.blocks$
              }))
              break
            }
            case 5: {
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

  export const encode = (obj: Partial<ChunksMessage>): Uint8Array => {
    return encodeMessage(obj, ChunksMessage.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunksMessage>): ChunksMessage => {
    return decodeMessage(buf, ChunksMessage.codec(), opts)
  }
}

export interface Want {
  cid: Uint8Array
  type: Want.Type
}

export namespace Want {
  export enum Type {
    BLOCK = 'BLOCK',
    HAVE = 'HAVE'
  }

  enum __TypeValues {
    BLOCK = 0,
    HAVE = 1
  }

  export namespace Type {
    export const codec = (): Codec<Type> => {
      return enumeration<Type>(__TypeValues)
    }
  }

  let _codec: Codec<Want>

  export const codec = (): Codec<Want> => {
    if (_codec == null) {
      _codec = message<Want>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.cid != null && obj.cid.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.cid)
        }

        if (obj.type != null && __TypeValues[obj.type] !== 0) {
          w.uint32(16)
          Want.Type.codec().encode(obj.type, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          cid: uint8ArrayAlloc(0),
          type: Type.BLOCK
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
              obj.type = Want.Type.codec().decode(reader)
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

  export const encode = (obj: Partial<Want>): Uint8Array => {
    return encodeMessage(obj, Want.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Want>): Want => {
    return decodeMessage(buf, Want.codec(), opts)
  }
}

export interface Presence {
  cid: Uint8Array
  type: Presence.Type
}

export namespace Presence {
  export enum Type {
    HAVE = 'HAVE',
    DONT_HAVE = 'DONT_HAVE',
    PARTIAL = 'PARTIAL',
    DEFER = 'DEFER'
  }

  enum __TypeValues {
    HAVE = 0,
    DONT_HAVE = 1,
    PARTIAL = 2,
    DEFER = 3
  }

  export namespace Type {
    export const codec = (): Codec<Type> => {
      return enumeration<Type>(__TypeValues)
    }
  }

  let _codec: Codec<Presence>

  export const codec = (): Codec<Presence> => {
    if (_codec == null) {
      _codec = message<Presence>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.cid != null && obj.cid.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.cid)
        }

        if (obj.type != null && __TypeValues[obj.type] !== 0) {
          w.uint32(16)
          Presence.Type.codec().encode(obj.type, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          cid: uint8ArrayAlloc(0),
          type: Type.HAVE
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
              obj.type = Presence.Type.codec().decode(reader)
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

  export const encode = (obj: Partial<Presence>): Uint8Array => {
    return encodeMessage(obj, Presence.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Presence>): Presence => {
    return decodeMessage(buf, Presence.codec(), opts)
  }
}

export interface Block {
  cid: Uint8Array
  data: Uint8Array
}

export namespace Block {
  let _codec: Codec<Block>

  export const codec = (): Codec<Block> => {
    if (_codec == null) {
      _codec = message<Block>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.cid != null && obj.cid.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.cid)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          cid: uint8ArrayAlloc(0),
          data: uint8ArrayAlloc(0)
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

  export const encode = (obj: Partial<Block>): Uint8Array => {
    return encodeMessage(obj, Block.codec())
  }

  export const decode = (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Block>): Block => {
    return decodeMessage(buf, Block.codec(), opts)
  }
}
