/**
 * The dashboard page: defines the panels and feeds them from the daemon's event stream (`/dashboard/events`,
 * server-sent events: one snapshot per sample, no polling from here). EventSource reconnects by itself when the
 * daemon restarts; a session that expired is told to log in again.
 */
import { PANELS, ThroughputPanel, EventsPanel, PeersPanel } from './panels.ts'
import type { PanelElement } from './panels.ts'
import type { History, Snapshot } from './view.ts'

for (const [name, ctor] of Object.entries(PANELS)) customElements.define(name, ctor)

const badge = document.getElementById('connection') as HTMLElement
const panels = (): PanelElement[] => Object.keys(PANELS).flatMap(name => [...document.querySelectorAll(name)] as PanelElement[])
// peers first: the other panels name peers by what the peers panel learnt
const ordered = (): PanelElement[] => panels().sort((a, b) => Number(b instanceof PeersPanel) - Number(a instanceof PeersPanel))

function status (text: string, state: 'live' | 'waiting' | 'off'): void {
  badge.textContent = text
  badge.className = `badge ${state}`
}

const source = new EventSource('/dashboard/events')
source.addEventListener('open', () => { status('live', 'live') })
source.addEventListener('error', () => { status(source.readyState === EventSource.CLOSED ? 'disconnected: reload the page' : 'reconnecting…', 'waiting') })
source.addEventListener('history', (e: MessageEvent<string>) => {
  const h = JSON.parse(e.data) as History
  for (const p of panels()) if (p instanceof ThroughputPanel || p instanceof EventsPanel) p.history(h)
})
source.addEventListener('snapshot', (e: MessageEvent<string>) => {
  const s = JSON.parse(e.data) as Snapshot
  for (const p of ordered()) p.update(s)
  status(`live · ${new Date(s.at).toLocaleTimeString([], { hour12: false })}`, 'live')
})
source.addEventListener('logout', () => {
  source.close()
  status('logged out: run `dits-node dashboard` for a new link', 'off')
})
