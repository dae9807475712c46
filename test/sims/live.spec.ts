import assert from 'node:assert/strict'
import { renderReport, runLive } from '../../sims/live/index.ts'
import type { TimelineEvent } from '../../sims/live/index.ts'

// The live run itself needs root, network namespaces and a minute: it is `npm run sim:live`, not part of npm test.
describe('sims/live: report and options', () => {
  it('draws a timeline with a lane per node, the partition, the calls and the checks', () => {
    const events: TimelineEvent[] = [
      { t: 0, lane: 'v1', kind: 'leader', label: 'v1' },
      { t: 500, lane: 'v1', kind: 'op', label: 'ref.set a -> ok', outcome: 'ok' },
      { t: 1000, lane: 'network', kind: 'partition', label: 'v1 cut off from v2, v3' },
      { t: 1200, lane: 'v2', kind: 'op', label: 'ref.set a -> exit 4', outcome: 'unavailable' },
      { t: 3000, lane: 'network', kind: 'heal', label: 'healed' },
      { t: 3100, lane: 'checks', kind: 'check', label: 'converged-after-heal: <ok>', outcome: 'ok' }
    ]
    const html = renderReport('live', ['v1', 'v2'], events, { ok: true, checks: [{ name: 'converged-after-heal', ok: true, detail: 'same refs & leader', at: 3100 }] })
    assert.match(html, /^<!doctype html>/)
    assert.equal((html.match(/<circle /g) ?? []).length, 2)
    assert.match(html, /v1 cut off from v2, v3/)
    assert.match(html, /converged-after-heal: &lt;ok&gt;/, 'labels are escaped')
    assert.match(html, /same refs &amp; leader/)
    assert.match(html, /passed/)
  })

  it('refuses fewer than 5 nodes before touching the network', async () => {
    await assert.rejects(runLive({ nodes: 4, outDir: '.', seed: 1, keep: false }), { name: 'LiveRunnerError', message: /at least 5/ })
  })
})
