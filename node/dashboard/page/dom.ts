/**
 * Building the page's elements. Text goes in as text nodes, never as HTML: ref names, lock paths and user labels
 * come from other machines, and none of them may become markup.
 */

type Child = Node | string | number | null | undefined | false

export function el<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    e.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    e.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c)
  }
  return e
}

export function svg<K extends keyof SVGElementTagNameMap> (tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  return e
}

/** A table with a caption-less header row; `rows` replace the body each update. */
export function table (headers: string[], label: string): { table: HTMLTableElement, body: HTMLTableSectionElement } {
  const body = el('tbody')
  const t = el('table', { 'aria-label': label }, el('thead', {}, el('tr', {}, ...headers.map(h => el('th', { scope: 'col' }, h)))), body)
  return { table: t, body }
}

/** A row saying the table is empty, across all its columns. */
export function emptyRow (columns: number, text: string): HTMLTableRowElement {
  return el('tr', { class: 'empty' }, el('td', { colspan: columns }, text))
}
