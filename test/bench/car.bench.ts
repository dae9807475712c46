/**
 * CAR files (issue 20): peak RSS of `export` and `import` of a 2 GiB root, which must stream (a block and a few read
 * ahead in memory, never the root), against the same 256 MiB goal as add and get.
 */
import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { randomFile, timeCommand, result, MiB } from './harness.ts'
import type { Bench } from './harness.ts'
import { BIN } from '../helpers/cli.ts'

const GiB = 1024 * MiB
const RSS_GOAL_MIB = 256

const dits = async (repo: string, args: string[]): Promise<Awaited<ReturnType<typeof timeCommand>>> =>
  await timeCommand(process.execPath, [BIN, '--repo', repo, ...args], { ...process.env, DITS_CONFIG_DISCOVERY__MDNS: 'false' })

const car2g: Bench = {
  name: 'car-2g',
  description: 'peak RSS of dits-node export and import of a 2 GiB root as a CAR file (goal <= 256 MiB each)',
  async run (ctx) {
    const file = join(ctx.tmpDir, 'random-2g.bin')
    await randomFile(file, 2 * GiB)
    const from = join(ctx.tmpDir, 'from')
    const to = join(ctx.tmpDir, 'to')
    await dits(from, ['init'])
    await dits(to, ['init'])
    const root = (await dits(from, ['add', file])).stdout.trim().split('\n').at(-1) as string
    const car = join(ctx.tmpDir, 'root.car')
    const exported = await dits(from, ['export', root, '-o', car])
    ctx.log(`export: ${(exported.ms / 1000).toFixed(1)} s, CAR ${(await stat(car)).size} bytes`)
    await rm(from, { recursive: true, force: true })
    const imported = await dits(to, ['import', car])
    ctx.log(`import: ${(imported.ms / 1000).toFixed(1)} s`)
    if (!imported.stdout.includes(root)) throw new Error(`import did not pin ${root}: ${imported.stdout}`)
    return [
      result('export-2g-rss', 'MiB', exported.maxRssKiB / 1024, 'goal', RSS_GOAL_MIB, false, { seconds: Math.round(exported.ms / 100) / 10 }),
      result('import-2g-rss', 'MiB', imported.maxRssKiB / 1024, 'goal', RSS_GOAL_MIB, false, { seconds: Math.round(imported.ms / 100) / 10 })
    ]
  }
}

export const benches: Bench[] = [car2g]
