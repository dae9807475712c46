import assert from 'node:assert/strict'
import { ServeSlots } from '../../../src/exchange/serve-slots.ts'

describe('src/exchange', () => {
  describe('ServeSlots (serve.slots, issue 19)', () => {
    it('serves at most `slots` peers at once, a LAN peer first when a slot frees', () => {
      const s = new ServeSlots({ slots: 2, quantumMs: 2000 })
      let told = 0
      s.onRelease(() => { told++ })
      assert.equal(s.tryTake('wan1', false, 0), true)
      assert.equal(s.tryTake('wan2', false, 0), true)
      assert.equal(s.tryTake('wan3', false, 1), false)
      assert.equal(s.tryTake('lan', true, 2), false)
      assert.deepEqual(s.stats(), { holders: 2, waiting: 2 })
      s.release('wan1')
      assert.equal(told, 1)
      // wan3 waited longer, but the LAN peer is unchoked first
      assert.equal(s.tryTake('wan3', false, 3), false)
      assert.equal(s.tryTake('lan', true, 3), true)
      assert.equal(s.tryTake('wan3', false, 4), false)
    })

    it('a holder gives its slot up after the quantum while others wait, and gets it back in turn', () => {
      const s = new ServeSlots({ slots: 1, quantumMs: 2000 })
      assert.equal(s.tryTake('a', true, 0), true)
      assert.equal(s.tryTake('a', true, 5000), true, 'nobody waits: it keeps the slot')
      assert.equal(s.tryTake('b', true, 5001), false)
      assert.equal(s.tryTake('a', true, 5002), false, 'held for a quantum while b waits: choked')
      assert.equal(s.tryTake('b', true, 5003), true)
      assert.equal(s.tryTake('a', true, 6000), false)
      assert.equal(s.tryTake('a', true, 7003), false)
      assert.equal(s.tryTake('b', true, 7004), false)
      assert.equal(s.tryTake('a', true, 7005), true)
    })
  })
})
