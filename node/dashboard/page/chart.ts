/** The throughput chart: received and served bytes per second over the last minutes, as an SVG line chart. */
import { svg } from './dom.ts'
import { rate } from './format.ts'
import type { ThroughputPoint } from './view.ts'

/** The span the chart shows. */
export const CHART_WINDOW_MS = 10 * 60_000
const WIDTH = 1000
const HEIGHT = 180
const PAD = { left: 64, right: 8, top: 8, bottom: 20 }

export class ThroughputChart {
  readonly element: SVGSVGElement
  private readonly points: ThroughputPoint[] = []

  constructor () {
    this.element = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img' })
  }

  add (points: ThroughputPoint[]): void {
    this.points.push(...points)
    const from = (this.points.at(-1)?.at ?? 0) - CHART_WINDOW_MS
    while (this.points.length > 0 && this.points[0].at < from) this.points.shift()
    this.draw()
  }

  private draw (): void {
    const pts = this.points
    const last = pts.at(-1)
    const end = last?.at ?? Date.now()
    const start = end - CHART_WINDOW_MS
    const peak = Math.max(1, ...pts.map(p => Math.max(p.in, p.out)))
    const top = niceCeil(peak)
    const x = (at: number): number => PAD.left + (at - start) / CHART_WINDOW_MS * (WIDTH - PAD.left - PAD.right)
    const y = (v: number): number => HEIGHT - PAD.bottom - v / top * (HEIGHT - PAD.top - PAD.bottom)
    const line = (pick: (p: ThroughputPoint) => number, cls: string): SVGPolylineElement =>
      svg('polyline', { class: cls, points: pts.map(p => `${x(p.at).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(' ') })
    const children: SVGElement[] = []
    for (const f of [0, 0.5, 1]) {
      children.push(svg('line', { class: 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(top * f), y2: y(top * f) }))
      const label = svg('text', { class: 'axis', x: PAD.left - 6, y: y(top * f) + 4, 'text-anchor': 'end' })
      label.textContent = rate(top * f)
      children.push(label)
    }
    for (const [at, text] of [[start, '10 min ago'], [end, 'now']] as const) {
      const label = svg('text', { class: 'axis', x: x(at), y: HEIGHT - 4, 'text-anchor': at === start ? 'start' : 'end' })
      label.textContent = text
      children.push(label)
    }
    children.push(line(p => p.in, 'in'), line(p => p.out, 'out'))
    this.element.replaceChildren(...children)
    this.element.setAttribute('aria-label', last === undefined
      ? 'throughput over the last 10 minutes: no samples yet'
      : `throughput over the last 10 minutes: now ${rate(last.in)} received, ${rate(last.out)} served; peak ${rate(peak)}`)
  }
}

/** The axis top: 1, 2 or 5 times a power of ten, at least `v`. */
function niceCeil (v: number): number {
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}
