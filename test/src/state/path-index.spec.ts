import assert from 'node:assert/strict'
import { covers, pathsConflict } from '../../../src/paths.ts'
import { PathIndex } from '../../../src/state/path-index.ts'

const PATHS = ['a', 'a/', 'a/b', 'a/b/', 'a/b/c', 'a/bc', 'ab', 'ab/', 'b/', 'b/a', 'a/b/c/d/']

describe('state machine: path index', () => {
  it('agrees with pathsConflict and covers through adds and removes', () => {
    const index = new PathIndex<{ path: string, id: number }>()
    const live: Array<{ path: string, id: number }> = []
    let id = 0
    // a fixed pseudo-random walk: every path is added and removed several times, in shifting orders
    for (let step = 0; step < 400; step++) {
      const path = PATHS[(step * 7 + Math.floor(step / 3)) % PATHS.length]
      const existing = live.findIndex(i => i.path === path)
      if (existing !== -1 && step % 3 !== 0) {
        index.remove(live[existing])
        live.splice(existing, 1)
      } else {
        const item = { path, id: id++ }
        index.add(item)
        live.push(item)
      }
      for (const probe of PATHS) {
        const ids = (items: Array<{ id: number }>): number[] => items.map(i => i.id).sort((x, y) => x - y)
        assert.deepEqual(ids(index.overlapping(probe)), ids(live.filter(i => pathsConflict(i.path, probe))), `overlapping ${probe} at step ${step}`)
        assert.deepEqual(ids(index.covering(probe)), ids(live.filter(i => covers(i.path, probe))), `covering ${probe} at step ${step}`)
      }
    }
  })

  it('prunes emptied branches, so an index emptied by removes equals a new one', () => {
    const index = new PathIndex<{ path: string }>()
    const items = PATHS.map(path => ({ path }))
    for (const item of items) index.add(item)
    for (const item of items.reverse()) index.remove(item)
    assert.deepStrictEqual(index, new PathIndex<{ path: string }>())
  })
})
