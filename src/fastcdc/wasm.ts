/**
 * The WebAssembly FastCDC 2020 engine: the gear loop of assembly/gear.ts with native u64 arithmetic,
 * compiled by scripts/build-wasm.mjs to gear.wasm next to this module in dist/.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { DitsError } from '../errors.ts'
import type { GearEngine, GearParams } from './gear.ts'

const WASM_URL = new URL('./gear.wasm', import.meta.url)
const GEAR_TABLE_ENTRIES = 256

/** What assembly/gear.ts exports. i64 values cross as (signed) BigInt, i32/usize as numbers. */
interface GearExports {
  memory: { buffer: ArrayBuffer }
  gearTable(): number
  gearLsTable(): number
  buffer(): number
  reserve(bytes: number): number
  configure(min: number, avg: number, max: number, maskS: bigint, maskL: bigint): void
  cut(start: number, end: number): number
  lastHash(): bigint
}

/**
 * The slice of the WebAssembly JS API used here. The project compiles against lib ES2023 without DOM
 * types, which is where the `WebAssembly` declarations live.
 */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: unknown }
}

const { WebAssembly } = globalThis as unknown as { WebAssembly: WebAssemblyApi }

let compiled: object | undefined

/**
 * Compiled once per thread, on first use. Reading the module's own code next to it is loading code, like
 * an import, not storage: the chunker stays a pure function of its input bytes.
 */
function gearModule (): object {
  if (compiled === undefined) {
    let bytes: Uint8Array
    try {
      bytes = readFileSync(WASM_URL)
    } catch (err) {
      throw new DitsError(`the FastCDC WebAssembly module is missing at ${fileURLToPath(WASM_URL)}: run \`npm run build\``, { cause: err })
    }
    compiled = new WebAssembly.Module(bytes)
  }
  return compiled
}

export class WasmEngine implements GearEngine {
  readonly memory: Uint8Array
  private readonly exports: GearExports

  /** Each engine is its own instance with its own memory, so engines never share a buffer. */
  constructor (params: GearParams, capacityBytes: number) {
    this.exports = new WebAssembly.Instance(gearModule(), {}).exports as GearExports
    const wasm = this.exports
    if (wasm.reserve(capacityBytes) === 0) {
      throw new DitsError(`cannot reserve ${capacityBytes} bytes of WebAssembly memory for the chunker`)
    }
    // Views are taken after the only memory.grow (in reserve), so they stay attached for the engine's life.
    const buffer = wasm.memory.buffer
    new BigUint64Array(buffer, wasm.gearTable(), GEAR_TABLE_ENTRIES).set(params.gear)
    new BigUint64Array(buffer, wasm.gearLsTable(), GEAR_TABLE_ENTRIES).set(params.gearLs)
    wasm.configure(params.minSize, params.avgSize, params.maxSize, params.maskS, params.maskL)
    this.memory = new Uint8Array(buffer, wasm.buffer(), capacityBytes)
  }

  cut (start: number, end: number): number {
    return this.exports.cut(start, end)
  }

  lastHash (): bigint {
    return BigInt.asUintN(64, this.exports.lastHash())
  }
}
