/**
 * Compiles the FastCDC gear loop (src/fastcdc/assembly/gear.ts, AssemblyScript) to
 * dist/src/fastcdc/gear.wasm, where src/fastcdc/wasm.ts finds it at run time. Runs before `tsc` in
 * `npm run build` (and so on `npm install`, through `prepare`): the binary is never committed.
 */
import asc from 'assemblyscript/asc'
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const source = join(root, 'src', 'fastcdc', 'assembly', 'gear.ts')
const output = join(root, 'dist', 'src', 'fastcdc', 'gear.wasm')

await mkdir(dirname(output), { recursive: true })
// `stub` runtime: the module allocates nothing, so it needs no allocator or GC; `noAssert` drops the
// bounds checks that the host guarantees (it reserves the buffer before writing to it).
const { error, stderr } = await asc.main([
  source,
  '--outFile', output,
  '--optimizeLevel', '3',
  '--shrinkLevel', '0',
  '--converge',
  '--runtime', 'stub',
  '--noAssert'
])
if (error != null) {
  process.stderr.write(stderr.toString())
  throw error
}
process.stdout.write(`build-wasm: wrote ${output}\n`)
