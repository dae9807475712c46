import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import { mapAhead } from '../../node/limit.ts'
import { deferred } from '../../node/deferred.ts'
import type { Deferred } from '../../node/deferred.ts'

describe('mapAhead', () => {
  it('yields every item with its result in the items\' order, whatever order the calls end in', async () => {
    const got: Array<[number, string]> = []
    for await (const pair of mapAhead([30, 10, 20, 0], 2, async n => {
      await new Promise(resolve => setTimeout(resolve, n))
      return `r${n}`
    })) got.push(pair)
    assert.deepEqual(got, [[30, 'r30'], [10, 'r10'], [20, 'r20'], [0, 'r0']])
  })

  it('starts the calls for up to `ahead` later items before the first result is taken, and no more', async () => {
    const calls: Array<Deferred<number>> = []
    const started: number[] = []
    const results = mapAhead([0, 1, 2, 3, 4, 5], 2, async n => {
      started.push(n)
      const d = deferred<number>()
      calls[n] = d
      return await d.promise
    })
    const first = results.next()
    await tick()
    assert.deepEqual(started, [0, 1, 2])
    calls[2].resolve(20)
    calls[1].resolve(10)
    await tick()
    assert.deepEqual(started, [0, 1, 2], 'nothing more starts while the first result is still awaited')
    calls[0].resolve(0)
    assert.deepEqual((await first).value, [0, 0])
    const second = await results.next()
    assert.deepEqual(second.value, [1, 10])
    assert.deepEqual(started, [0, 1, 2, 3], 'taking the first let one more start')
    await results.return(undefined)
  })

  it('reports a failed call when its turn comes, after the results before it', async () => {
    const got: number[] = []
    await assert.rejects(async () => {
      for await (const [n] of mapAhead([0, 1, 2, 3], 3, async n => {
        if (n === 2) throw new Error('item 2 failed')
        await new Promise(resolve => setTimeout(resolve, 5))
        return n
      })) got.push(n)
    }, /item 2 failed/)
    assert.deepEqual(got, [0, 1])
  })
})
