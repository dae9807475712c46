import assert from 'node:assert/strict'
import { progressReporter, formatBytes } from '../../cli/progress.ts'

/** The lines a reporter draws on a terminal, for the updates given (each after the redraw interval). */
async function drawn (updates: Array<Parameters<ReturnType<typeof progressReporter>['update']>[0]>, enabled = true): Promise<string[]> {
  const stderr = process.stderr as NodeJS.WriteStream & { isTTY: boolean }
  const { isTTY, write } = stderr
  const lines: string[] = []
  stderr.isTTY = true
  stderr.write = ((chunk: string) => { lines.push(chunk); return true }) as typeof stderr.write
  try {
    const reporter = progressReporter('getting', enabled)
    for (const u of updates) {
      reporter.update(u)
      await new Promise(resolve => setTimeout(resolve, 160))
    }
    reporter.done()
  } finally {
    stderr.isTTY = isTTY
    stderr.write = write
  }
  return lines
}

describe('cli progress', () => {
  it('a get shows the manifests it has fetched until the size is known, then bytes of the total', async () => {
    const lines = await drawn([
      { bytes: 0, total: 0, manifests_fetched: 1200, manifest_bytes_fetched: 290_000 },
      { bytes: 5_000_000, total: 10_000_000, manifests_fetched: 3001, manifest_bytes_fetched: 720_000 }
    ])
    assert.equal(lines[0], '\r\x1b[Kgetting: the tree\'s manifests, 1200 (290.0 KB)')
    assert.match(lines[1], /^\r\x1b\[Kgetting 5\.0 MB \/ 10\.0 MB \(50\.0%\) {2}.*\/s ETA \d+s$/)
    assert.equal(lines[2], '\r\x1b[K', 'done clears the line')
  })

  it('a get shows the tree being counted, then laid out, before its bytes', async () => {
    const lines = await drawn([
      { phase: 'layout', entries: 12_345, bytes: 4_000_000 },
      { phase: 'layout', entries: 2_000, bytes: 1_000_000, entries_total: 200_401, bytes_total: 9_000_000 }
    ])
    assert.equal(lines[0], '\r\x1b[Kgetting: counting the tree, 12,345 entries (4.0 MB) so far')
    assert.equal(lines[1], '\r\x1b[Kgetting: laying out the tree, 2,000 of 200,401 entries (1.0 MB of 9.0 MB)')
  })

  it('a push shows the manifests phase, then bytes sent of those the seed lacked, the rate, the ETA and the share already there, then the sync', async () => {
    const base = { root: 'bafyr4i', seed: '12D3KooWAbCdEfGh', totals_known: true, chunks_total: 100, bytes_total: 100_000_000, chunks_already: 25, bytes_already: 25_000_000, chunks_fetched: 0, bytes_fetched: 0, manifest_bytes_fetched: 4000, elapsed_ms: 0 }
    const lines = await drawn([
      { ...base, stage: 'manifests', totals_known: false, chunks_total: 0, bytes_total: 0, chunks_already: 0, bytes_already: 0 },
      { ...base, stage: 'chunks', chunks_fetched: 30, bytes_fetched: 30_000_000 },
      { ...base, stage: 'sync', chunks_fetched: 75, bytes_fetched: 75_000_000 }
    ])
    assert.equal(lines[0], '\r\x1b[Kpushing to AbCdEfGh: the seed fetches the manifests (4.0 KB)')
    assert.match(lines[1], /^\r\x1b\[Kpushing to AbCdEfGh: 30\.0 MB of 75\.0 MB sent \(25% already there\) {2}.*\/s ETA \d+s$/)
    assert.equal(lines[2], '\r\x1b[Kpushing to AbCdEfGh: 100.0 MB (25% already there), the seed makes it durable (fsync)')
  })

  it('a verify shows the blocks read of those held, the rate and the ETA, then the walk of the pins', async () => {
    const lines = await drawn([
      { verify: 'blocks', checked: 250_000, bytes: 64_000_000, total: 1_000_000 },
      { verify: 'blocks', checked: 3_000, bytes: 1_000_000 },
      { verify: 'pins', checked: 40_960, bytes: 256_000_000 }
    ])
    assert.match(lines[0], /^\r\x1b\[Kgetting 250,000 of 1,000,000 \(25\.0%\) blocks, 64\.0 MB {2}[\d,]+ blocks\/s ETA \S+$/)
    assert.match(lines[1], /^\r\x1b\[Kgetting 3,000 blocks, 1\.0 MB {2}[\d,]+ blocks\/s$/, 'no total, no ETA (counts unknown, or one root)')
    assert.equal(lines[2], '\r\x1b[Kgetting: what the pins need, 40,960 blocks looked up')
  })

  it('draws nothing when turned off (--json)', async () => {
    assert.deepEqual(await drawn([{ bytes: 1, total: 2 }], false), [])
  })

  it('formats bytes in SI units', () => {
    assert.deepEqual([0, 999, 1000, 1_500_000, 2e12].map(formatBytes), ['0 B', '999 B', '1.0 KB', '1.5 MB', '2.0 TB'])
  })
})
