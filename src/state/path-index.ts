/**
 * Items (grants) indexed by path segments, so that finding what overlaps a path costs its depth plus the
 * matches — not a scan of every lock in the studio. Answers the hierarchy questions of src/paths.ts:
 * `overlapping(p)` returns exactly the items whose path `pathsConflict`s with `p`, `covering(p)` those whose
 * path `covers` `p`.
 *
 * Iteration order here depends on the history of inserts and removals, which a restored replica does not
 * share, so callers that turn matches into results sort them first (see locks.ts).
 */
import { isDirectoryPath } from '../paths.ts'

interface Node<T> {
  /** items whose path is this entry, as a file or as a directory */
  items: T[]
  children: Map<string, Node<T>>
  /** items in this node and beneath it; a node whose count drops to 0 is pruned */
  size: number
}

export class PathIndex<T extends { path: string }> {
  private readonly root: Node<T> = emptyNode()

  add (item: T): void {
    let node = this.root
    node.size++
    for (const segment of segments(item.path)) {
      let child = node.children.get(segment)
      if (child === undefined) {
        child = emptyNode()
        node.children.set(segment, child)
      }
      node = child
      node.size++
    }
    node.items.push(item)
  }

  remove (item: T): void {
    const trail: Array<[Node<T>, string]> = []
    let node = this.root
    for (const segment of segments(item.path)) {
      const child = node.children.get(segment)
      if (child === undefined) return
      trail.push([node, segment])
      node = child
    }
    const at = node.items.indexOf(item)
    if (at === -1) return
    node.items.splice(at, 1)
    this.root.size--
    for (const [parent, segment] of trail) {
      const child = parent.children.get(segment) as Node<T>
      child.size--
      if (child.size === 0) {
        parent.children.delete(segment)
        return
      }
    }
  }

  /** Items at the same entry as `path` (`reel3` and `reel3/` alike). */
  at (path: string): T[] {
    return this.find(path)?.items ?? []
  }

  /** Items whose path covers `path`: directory items above it, and items at its entry. */
  covering (path: string): T[] {
    const out: T[] = []
    this.walk(path, out)
    return out
  }

  /** Items whose path overlaps `path`: those covering it and, if `path` is a directory, everything beneath it. */
  overlapping (path: string): T[] {
    const out: T[] = []
    const node = this.walk(path, out)
    if (node !== undefined && isDirectoryPath(path)) {
      for (const child of node.children.values()) collect(child, out)
    }
    return out
  }

  private find (path: string): Node<T> | undefined {
    let node: Node<T> | undefined = this.root
    for (const segment of segments(path)) {
      node = node.children.get(segment)
      if (node === undefined) return undefined
    }
    return node
  }

  /** Descend to `path`'s entry, gathering directory items on the way and every item at the entry. */
  private walk (path: string, out: T[]): Node<T> | undefined {
    let node: Node<T> | undefined = this.root
    const parts = segments(path)
    for (let i = 0; i < parts.length; i++) {
      node = node.children.get(parts[i])
      if (node === undefined) return undefined
      for (const item of node.items) {
        if (i === parts.length - 1 || isDirectoryPath(item.path)) out.push(item)
      }
    }
    return node
  }
}

function emptyNode<T> (): Node<T> {
  return { items: [], children: new Map(), size: 0 }
}

function collect<T> (node: Node<T>, out: T[]): void {
  out.push(...node.items)
  for (const child of node.children.values()) collect(child, out)
}

function segments (path: string): string[] {
  return (isDirectoryPath(path) ? path.slice(0, -1) : path).split('/')
}
