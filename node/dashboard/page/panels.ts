/**
 * The panels, one custom element each (plain web components, no framework). Each draws its frame once when it is
 * attached and then redraws its content from every snapshot the daemon sends (`update`).
 */
import { el, table, emptyRow } from './dom.ts'
import { bytes, rate, duration, percent, shortId, shortCid, clock, ago } from './format.ts'
import { ThroughputChart } from './chart.ts'
import type { EventView, History, Panel, ShareView, Snapshot } from './view.ts'

abstract class PanelElement extends HTMLElement {
  protected content = el('div', { class: 'content' })
  protected abstract readonly heading: string
  protected abstract readonly key: string

  connectedCallback (): void {
    if (this.childElementCount > 0) return
    this.append(el('h2', { id: `h-${this.key}` }, this.heading), this.content)
  }

  abstract update (snapshot: Snapshot): void

  /** A panel whose source failed shows why, instead of stale rows. */
  protected failed<T> (panel: Panel<T>): panel is { ok: false, error: string } {
    if (panel.ok) return false
    this.content.replaceChildren(el('p', { class: 'unavailable', role: 'note' }, panel.error))
    return true
  }
}

/** A peer's name as people know it: its `access.names` entry, else the start of its id; the full id on hover. */
function peerLabel (id: string, names: Map<string, string>, self?: string): HTMLElement {
  const name = names.get(id)
  return el('span', { class: 'peer', title: id }, name ?? shortId(id), id === self ? ' (this node)' : '')
}

/** A share as a meter and a percentage. */
function share (s: ShareView | null, what: string): HTMLElement {
  if (s === null) return el('span', { class: 'muted' }, 'measuring…')
  if (s.note !== undefined && s.held === 0) return el('span', { class: 'muted' }, s.note)
  // nothing found under the root: its manifest is not here (an empty root held in full is "100 %")
  if (s.bytes === 0) return el('span', { class: s.complete ? '' : 'muted' }, s.complete ? '100 %' : 'not here')
  const label = `${percent(s.held, s.bytes)}${s.complete ? '' : ' (so far)'}`
  return el('span', { class: 'share' },
    el('meter', { min: 0, max: Math.max(1, s.bytes), value: s.held, 'aria-label': `${what}: ${label} of ${bytes(s.bytes)}` }),
    ` ${label}`)
}

/** Peer names seen in the last snapshot, for the panels that name peers. */
const names = new Map<string, string>()
let selfId: string | undefined

class NodePanel extends PanelElement {
  protected readonly heading = 'This node'
  protected readonly key = 'node'

  update (s: Snapshot): void {
    const n = s.node
    selfId = n.peerId
    const row = (term: string, ...value: Array<Node | string>): HTMLElement[] => [el('dt', {}, term), el('dd', {}, ...value)]
    this.content.replaceChildren(el('dl', { class: 'facts' },
      ...row('peer id', el('code', { class: 'wrap', 'data-field': 'peer-id' }, n.peerId)),
      ...row('roles', ...n.roles.map(r => el('span', { class: `tag role-${r}` }, r))),
      ...row('network', n.private ? `private (swarm key ${n.keyFingerprint ?? ''})` : 'open (no swarm key)'),
      ...row('addresses', el('ul', { class: 'plain' }, ...n.addresses.map(a => el('li', {}, el('code', { class: 'wrap' }, a))))),
      ...row('repo', `${bytes(n.repo.bytes)} in ${n.repo.blocks.toLocaleString()} blocks, ${n.repo.pins} pin${n.repo.pins === 1 ? '' : 's'}${n.repo.counting ? ' (recounting)' : ''}`),
      ...row('folder', el('code', { class: 'wrap' }, n.repo.dir))
    ))
  }
}

class ClusterPanel extends PanelElement {
  protected readonly heading = 'Consensus group'
  protected readonly key = 'cluster'

  update (s: Snapshot): void {
    if (this.failed(s.cluster)) return
    const c = s.cluster.data
    const { table: t, body } = table(['voter', 'state', 'reachable', 'replicated to', 'lag'], 'voters')
    for (const v of c.voters) {
      body.append(el('tr', { 'data-voter': v.id, class: v.reachable ? '' : 'bad' },
        el('td', {}, peerLabel(v.id, names, selfId)),
        el('td', {}, el('span', { class: `state state-${v.state}` }, v.state)),
        el('td', {}, v.reachable ? 'yes' : 'no'),
        el('td', { class: 'num' }, v.match === null ? '—' : v.match),
        el('td', { class: `num ${v.lag !== null && v.lag > 0 ? 'warn' : ''}` }, v.lag === null ? '—' : `${v.lag} entr${v.lag === 1 ? 'y' : 'ies'}`)))
    }
    const reachable = c.voters.filter(v => v.reachable).length
    const healthy = c.leader !== null && reachable * 2 > c.voters.length
    this.content.replaceChildren(
      el('p', { class: `status ${healthy ? 'ok' : 'bad'}`, 'data-field': 'leader' },
        c.leader === null ? 'no leader (an election is under way, or no quorum)' : el('span', {}, 'leader ', peerLabel(c.leader, names, selfId))),
      el('dl', { class: 'facts inline' },
        el('dt', {}, 'term'), el('dd', { 'data-field': 'term' }, c.term),
        el('dt', {}, 'commit index'), el('dd', { 'data-field': 'commit' }, c.commitIndex),
        el('dt', {}, 'applied'), el('dd', {}, c.appliedIndex),
        el('dt', {}, 'reachable'), el('dd', {}, `${reachable} of ${c.voters.length} voters`)),
      t)
  }
}

class ThroughputPanel extends PanelElement {
  protected readonly heading = 'Throughput'
  protected readonly key = 'throughput'
  private readonly chart = new ThroughputChart()
  private readonly now = el('p', { class: 'legend' })

  override connectedCallback (): void {
    super.connectedCallback()
    this.content.replaceChildren(this.now, this.chart.element)
  }

  history (h: History): void {
    this.chart.add(h.throughput)
  }

  update (s: Snapshot): void {
    this.chart.add([s.throughput])
    this.now.replaceChildren(
      el('span', { class: 'key in' }, `received ${rate(s.throughput.in)}`), ' ',
      el('span', { class: 'key out' }, `served ${rate(s.throughput.out)}`))
  }
}

class TransfersPanel extends PanelElement {
  protected readonly heading = 'Transfers in flight'
  protected readonly key = 'transfers'

  update (s: Snapshot): void {
    const { table: t, body } = table(['root', 'progress', 'done', 'rate', 'ETA', 'sources'], 'transfers in flight')
    if (s.transfers.length === 0) body.append(emptyRow(6, 'nothing is being fetched'))
    for (const x of s.transfers) {
      const total = Math.max(1, x.bytesTotal)
      const mix = el('div', { class: 'mix', role: 'img', 'aria-label': x.sources.map(src => `${names.get(src.peer) ?? shortId(src.peer)} ${percent(src.bytes, x.bytesFetched)}`).join(', ') || 'no source yet' })
      x.sources.forEach((src, i) => {
        const part = el('span', { class: `part c${i % 6}`, title: `${src.peer}: ${bytes(src.bytes)}` })
        part.style.flexGrow = String(src.bytes)
        mix.append(part)
      })
      body.append(el('tr', { 'data-root': x.root },
        el('td', {}, el('code', { title: x.root }, shortCid(x.root)), el('div', { class: 'muted' }, `started ${ago(x.started, s.at)}`)),
        el('td', { class: 'bar' }, el('progress', { max: total, value: x.bytesDone, 'aria-label': `${shortCid(x.root)}: ${percent(x.bytesDone, x.bytesTotal)}` }),
          el('span', { class: 'pct' }, x.bytesTotal > 0 ? percent(x.bytesDone, x.bytesTotal) : 'listing…')),
        el('td', { class: 'num' }, `${bytes(x.bytesDone)} of ${x.bytesTotal > 0 ? bytes(x.bytesTotal) : '?'}`),
        el('td', { class: 'num' }, rate(x.rate)),
        el('td', { class: 'num' }, x.etaSec === null ? '—' : duration(x.etaSec)),
        el('td', {}, mix, el('div', { class: 'muted' }, x.sources.map(src => `${names.get(src.peer) ?? shortId(src.peer)} ${percent(src.bytes, x.bytesFetched)}`).join(' · ') || `${x.peers} source(s) found`))))
    }
    this.content.replaceChildren(t)
  }
}

class PeersPanel extends PanelElement {
  protected readonly heading = 'Peers'
  protected readonly key = 'peers'

  update (s: Snapshot): void {
    names.clear()
    for (const p of s.peers) if (p.name !== undefined) names.set(p.id, p.name)
    const { table: t, body } = table(['peer', 'transport', 'where', 'roles', 'in', 'out', 'received', 'served'], 'connected peers')
    if (s.peers.length === 0) body.append(emptyRow(8, 'no peer connected'))
    for (const p of s.peers) {
      body.append(el('tr', { 'data-peer': p.id, class: p.hello === 'rejected' ? 'bad' : '' },
        el('td', {}, peerLabel(p.id, names), p.hello === 'ok' ? '' : el('span', { class: `tag hello-${p.hello}` }, p.hello === 'pending' ? 'handshake…' : 'incompatible')),
        el('td', {}, p.transport),
        el('td', {}, el('span', { class: `tag ${p.lan ? 'lan' : 'wan'}` }, p.lan ? 'LAN' : 'WAN')),
        el('td', {}, ...p.roles.map(r => el('span', { class: `tag role-${r}` }, r))),
        el('td', { class: 'num' }, rate(p.rateIn)),
        el('td', { class: 'num' }, rate(p.rateOut)),
        el('td', { class: 'num' }, bytes(p.received)),
        el('td', { class: 'num' }, bytes(p.served))))
    }
    this.content.replaceChildren(el('p', { class: 'legend' }, `${s.peers.length} connected`), t)
  }
}

class RefsPanel extends PanelElement {
  protected readonly heading = 'Refs'
  protected readonly key = 'refs'

  update (s: Snapshot): void {
    if (this.failed(s.refs)) return
    const r = s.refs.data
    const { table: t, body } = table(['ref', 'target', 'held here', 'on the seed', 'set'], 'refs')
    if (r.items.length === 0) body.append(emptyRow(5, 'no refs'))
    for (const ref of r.items) {
      body.append(el('tr', { 'data-ref': ref.name },
        el('td', {}, el('code', {}, ref.name)),
        el('td', {}, el('code', { title: ref.cid }, shortCid(ref.cid))),
        el('td', { 'data-field': 'local' }, share(ref.local, `${ref.name} held here`)),
        el('td', { 'data-field': 'seed' }, r.seedSource ? share(ref.seed, `${ref.name} on the seed`) : el('span', { class: 'muted' }, 'n/a')),
        el('td', {}, `${ago(ref.when, s.at)} by `, peerLabel(ref.who, names, selfId), ref.user === undefined ? '' : ` (${ref.user})`)))
    }
    this.content.replaceChildren(el('p', { class: 'legend' }, r.total > r.items.length ? `${r.items.length} of ${r.total} refs shown` : `${r.total} ref${r.total === 1 ? '' : 's'}`), t)
  }
}

class LocksPanel extends PanelElement {
  protected readonly heading = 'Locks'
  protected readonly key = 'locks'

  update (s: Snapshot): void {
    if (this.failed(s.locks)) return
    const l = s.locks.data
    const { table: t, body } = table(['path', 'mode', 'holder', 'token', 'lease left'], 'locks held')
    if (l.items.length === 0) body.append(emptyRow(5, 'no locks held'))
    for (const lock of l.items) {
      const left = (lock.expires - s.at) / 1000
      body.append(el('tr', { 'data-lock': lock.path },
        el('td', {}, el('code', {}, lock.path)),
        el('td', {}, el('span', { class: `tag mode-${lock.mode}` }, lock.mode)),
        el('td', { 'data-field': 'holder' }, peerLabel(lock.owner, names, selfId), lock.user === undefined ? '' : ` (${lock.user})`),
        el('td', { class: 'num' }, lock.token),
        el('td', { class: `num ${left < lock.ttlMs / 4000 ? 'warn' : ''}` }, left <= 0 ? 'expiring' : `${duration(left)} of ${duration(lock.ttlMs / 1000)}`)))
    }
    this.content.replaceChildren(el('p', { class: 'legend' }, `${l.items.length} held, ${l.waiters} waiting`), t)
  }
}

/** Recent events, newest first. */
class EventsPanel extends PanelElement {
  protected readonly heading = 'Recent events'
  protected readonly key = 'events'
  private readonly list = el('ol', { class: 'events', 'aria-live': 'polite' })
  private static readonly MAX_SHOWN = 200

  override connectedCallback (): void {
    super.connectedCallback()
    this.content.replaceChildren(this.list)
  }

  history (h: History): void {
    this.list.replaceChildren()
    this.add(h.events)
  }

  update (s: Snapshot): void {
    this.add(s.events)
  }

  private add (events: EventView[]): void {
    for (const e of events) {
      this.list.prepend(el('li', { class: `event ${e.level} kind-${e.kind}`, 'data-kind': e.kind },
        el('time', { datetime: new Date(e.at).toISOString() }, clock(e.at)), ' ', e.text))
    }
    while (this.list.childElementCount > EventsPanel.MAX_SHOWN) this.list.lastElementChild?.remove()
    if (this.list.childElementCount === 0) this.list.append(el('li', { class: 'muted' }, 'nothing yet'))
    else this.list.querySelector(':scope > li.muted')?.remove()
  }
}

export const PANELS = {
  'dits-node-panel': NodePanel,
  'dits-cluster-panel': ClusterPanel,
  'dits-throughput-panel': ThroughputPanel,
  'dits-transfers-panel': TransfersPanel,
  'dits-peers-panel': PeersPanel,
  'dits-refs-panel': RefsPanel,
  'dits-locks-panel': LocksPanel,
  'dits-events-panel': EventsPanel
}

export type { PanelElement }
export { ThroughputPanel, EventsPanel, PeersPanel }
