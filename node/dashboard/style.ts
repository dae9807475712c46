/**
 * The dashboard's stylesheet, served as `/dashboard/assets/style.css`. It lives here, compiled with the daemon,
 * so that the package needs no copy step for it. Colours carry meaning twice (a word beside every colour) and
 * keep WCAG AA contrast on both schemes.
 */
export const STYLE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --card: #ffffff; --fg: #1b1f24; --muted: #5b6470; --line: #d8dce2;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --in: #0969da; --out: #8250df;
  --mix0: #0969da; --mix1: #1a7f37; --mix2: #bf8700; --mix3: #8250df; --mix4: #cf222e; --mix5: #57606a;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --card: #161b22; --fg: #e6edf3; --muted: #9aa5b1; --line: #30363d;
    --ok: #3fb950; --warn: #d29922; --bad: #f85149; --in: #58a6ff; --out: #bc8cff; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
.top { display: flex; align-items: center; gap: 1rem; padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); background: var(--card); }
.top h1 { font-size: 1.15rem; margin: 0; }
.badge { margin: 0; padding: .1rem .6rem; border-radius: 1rem; border: 1px solid var(--line); font-size: .85rem; }
.badge.live { color: var(--ok); border-color: var(--ok); }
.badge.waiting { color: var(--warn); border-color: var(--warn); }
.badge.off { color: var(--bad); border-color: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; padding: 1rem 1.25rem; }
.card { display: block; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.card h2 { font-size: 1rem; margin: 0 0 .5rem; }
.message { max-width: 40rem; margin: 4rem auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: .85rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.empty td, .muted { color: var(--muted); }
tr.bad td { color: var(--bad); }
code { font: .85rem ui-monospace, SFMono-Regular, Menlo, monospace; }
code.wrap { word-break: break-all; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; min-width: 0; }
.facts.inline { grid-template-columns: repeat(4, max-content 1fr); margin: .5rem 0; }
ul.plain { list-style: none; margin: 0; padding: 0; }
.tag { display: inline-block; padding: 0 .45rem; margin-right: .25rem; border-radius: .6rem; border: 1px solid var(--line); font-size: .8rem; }
.tag.lan { color: var(--ok); border-color: var(--ok); }
.tag.wan { color: var(--warn); border-color: var(--warn); }
.tag.mode-exclusive { color: var(--bad); border-color: var(--bad); }
.tag.hello-rejected { color: var(--bad); border-color: var(--bad); }
.status { font-weight: 600; margin: 0; }
.status.ok { color: var(--ok); }
.status.bad, .unavailable { color: var(--bad); }
.state-leader { color: var(--ok); font-weight: 600; }
.state-unreachable { color: var(--bad); font-weight: 600; }
.warn { color: var(--warn); }
.legend { color: var(--muted); margin: 0 0 .4rem; }
.key.in::before, .key.out::before { content: ""; display: inline-block; width: .8rem; height: .2rem; margin-right: .3rem; vertical-align: middle; }
.key.in::before { background: var(--in); }
.key.out::before { background: var(--out); }
.chart { width: 100%; height: auto; max-height: 220px; }
.chart polyline { fill: none; stroke-width: 2; }
.chart polyline.in { stroke: var(--in); }
.chart polyline.out { stroke: var(--out); }
.chart .grid { stroke: var(--line); }
.chart .axis { fill: var(--muted); font-size: 11px; }
td.bar { min-width: 12rem; }
progress { width: 100%; height: .9rem; accent-color: var(--in); }
.pct { font-variant-numeric: tabular-nums; }
meter { width: 6rem; vertical-align: middle; }
.mix { display: flex; height: .5rem; min-width: 8rem; border-radius: .25rem; overflow: hidden; background: var(--line); }
.mix .part { display: block; }
.part.c0 { background: var(--mix0); } .part.c1 { background: var(--mix1); } .part.c2 { background: var(--mix2); }
.part.c3 { background: var(--mix3); } .part.c4 { background: var(--mix4); } .part.c5 { background: var(--mix5); }
ol.events { list-style: none; margin: 0; padding: 0; max-height: 20rem; overflow: auto; }
.event { padding: .2rem 0; border-bottom: 1px solid var(--line); }
.event time { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: .4rem; }
.event.warn { color: var(--warn); }
.event.error { color: var(--bad); }
`
