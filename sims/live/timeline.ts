/**
 * What the live runner saw, in real time, and the report a person looks at afterwards: one HTML file with an
 * SVG timeline — a lane per node (the leader it sees, its calls coloured by outcome), a lane for the network
 * (partitions), a lane for the checks — and the checks and JSON summary below it.
 */

export type Outcome = 'ok' | 'refused' | 'unavailable' | 'unknown' | 'error'

export interface TimelineEvent {
  /** ms since the run started */
  t: number
  /** a node's name, 'network' or 'checks' */
  lane: string
  kind: 'op' | 'leader' | 'partition' | 'heal' | 'check' | 'note'
  label: string
  outcome?: Outcome
}

export class Timeline {
  readonly events: TimelineEvent[] = []
  private readonly t0 = performance.now()

  now (): number {
    return Math.round(performance.now() - this.t0)
  }

  add (e: Omit<TimelineEvent, 't'>): void {
    this.events.push({ t: this.now(), ...e })
  }
}

const COLORS: Record<Outcome, string> = {
  ok: '#2e9d4a',
  refused: '#e08a00',
  unavailable: '#d43c3c',
  unknown: '#8a8a8a',
  error: '#7a1fa2'
}

const LEADER_PALETTE = ['#cfe3ff', '#ffe1c7', '#d9f2d0', '#f3d1f0', '#fff3b0', '#d7d7f5']

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** The whole report as one self-contained HTML document. */
export function renderReport (title: string, lanes: readonly string[], events: readonly TimelineEvent[], summary: { ok: boolean, checks: Array<{ name: string, ok: boolean, detail: string, at: number }> } & Record<string, unknown>): string {
  const end = Math.max(1, ...events.map(e => e.t))
  const left = 150
  const width = 1400
  const plot = width - left - 20
  const laneH = 44
  const top = 30
  const allLanes = ['network', ...lanes, 'checks']
  const height = top + allLanes.length * laneH + 30
  const x = (t: number): number => left + (t / end) * plot
  const y = (lane: string): number => top + allLanes.indexOf(lane) * laneH
  const parts: string[] = []
  // time axis
  const step = end > 120_000 ? 10_000 : end > 30_000 ? 5_000 : 1_000
  for (let t = 0; t <= end; t += step) {
    parts.push(`<line x1="${x(t)}" y1="${top - 5}" x2="${x(t)}" y2="${height - 25}" stroke="#eee"/>`)
    parts.push(`<text x="${x(t)}" y="${height - 10}" font-size="10" text-anchor="middle">${t / 1000}s</text>`)
  }
  for (const lane of allLanes) {
    parts.push(`<text x="8" y="${y(lane) + laneH / 2 + 4}" font-size="12" font-weight="bold">${esc(lane)}</text>`)
    parts.push(`<line x1="${left}" y1="${y(lane) + laneH}" x2="${width - 20}" y2="${y(lane) + laneH}" stroke="#ddd"/>`)
  }
  // leader views: a band per node, coloured by the leader it sees
  const leaderColor = new Map<string, string>()
  const colorOf = (leader: string): string => {
    if (leader === 'none') {
      return '#f4f4f4'
    }
    let c = leaderColor.get(leader)
    if (c === undefined) {
      c = LEADER_PALETTE[leaderColor.size % LEADER_PALETTE.length]
      leaderColor.set(leader, c)
    }
    return c
  }
  for (const lane of lanes) {
    const views = events.filter(e => e.kind === 'leader' && e.lane === lane)
    views.forEach((v, i) => {
      const until = views[i + 1]?.t ?? end
      parts.push(`<rect x="${x(v.t)}" y="${y(lane) + 4}" width="${Math.max(1, x(until) - x(v.t))}" height="${laneH - 8}" fill="${colorOf(v.label)}"><title>${esc(`${lane} sees leader ${v.label} from ${v.t} ms`)}</title></rect>`)
      parts.push(`<text x="${x(v.t) + 2}" y="${y(lane) + 14}" font-size="9" fill="#555">${esc(v.label === 'none' ? 'no leader' : `leader ${v.label}`)}</text>`)
    })
  }
  // partitions
  const cuts = events.filter(e => e.kind === 'partition' || e.kind === 'heal')
  cuts.forEach((c, i) => {
    if (c.kind !== 'partition') {
      return
    }
    const until = cuts.slice(i + 1).find(h => h.kind === 'heal')?.t ?? end
    parts.push(`<rect x="${x(c.t)}" y="${y('network') + 6}" width="${Math.max(2, x(until) - x(c.t))}" height="${laneH - 12}" fill="#f6c1c1" stroke="#d43c3c"><title>${esc(c.label)}</title></rect>`)
    parts.push(`<text x="${x(c.t) + 4}" y="${y('network') + laneH / 2 + 4}" font-size="10">${esc(c.label)}</text>`)
  })
  // calls and notes
  for (const e of events) {
    if (e.kind === 'op' && allLanes.includes(e.lane)) {
      parts.push(`<circle cx="${x(e.t)}" cy="${y(e.lane) + laneH - 12}" r="3" fill="${COLORS[e.outcome ?? 'unknown']}"><title>${esc(`${e.t} ms ${e.label}`)}</title></circle>`)
    } else if (e.kind === 'note' && allLanes.includes(e.lane)) {
      parts.push(`<path d="M ${x(e.t)} ${y(e.lane) + 20} l 4 8 l -8 0 z" fill="#333"><title>${esc(`${e.t} ms ${e.label}`)}</title></path>`)
    } else if (e.kind === 'check') {
      const color = e.outcome === 'ok' ? COLORS.ok : COLORS.unavailable
      parts.push(`<path d="M ${x(e.t)} ${y('checks') + 10} l 7 10 l -7 10 l -7 -10 z" fill="${color}"><title>${esc(`${e.t} ms ${e.label}`)}</title></path>`)
    }
  }
  const legend = (Object.keys(COLORS) as Outcome[]).map(o => `<span style="color:${COLORS[o]}">●</span> ${o}`).join(' &nbsp; ')
  const rows = summary.checks.map(c => `<tr><td>${c.ok ? '✅' : '❌'}</td><td>${esc(c.name)}</td><td>${(c.at / 1000).toFixed(1)} s</td><td>${esc(c.detail)}</td></tr>`).join('\n')
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:20px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;font-size:13px;vertical-align:top}pre{background:#f7f7f7;padding:10px;font-size:12px;overflow:auto}</style>
</head><body>
<h1>${esc(title)}: ${summary.ok ? 'passed' : 'FAILED'}</h1>
<p>Calls: ${legend}. Node bands: the leader each voter reports. Network lane: partitions. Checks lane: ◆ green passed, red failed.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui,sans-serif">${parts.join('')}</svg>
<h2>Checks</h2>
<table><tr><th></th><th>check</th><th>at</th><th>detail</th></tr>
${rows}
</table>
<h2>Summary</h2>
<pre>${esc(JSON.stringify(summary, null, 2))}</pre>
</body></html>
`
}
