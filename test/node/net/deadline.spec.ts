import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { deadline, withDeadline } from '../../../node/net/deadline.ts'

describe('node/net/deadline', () => {
  it('aborts with a TimeoutError when the time is up', async () => {
    const wait = deadline(new AbortController().signal, 10)
    await new Promise(resolve => setTimeout(resolve, 30))
    assert.equal(wait.signal.aborted, true)
    assert.equal((wait.signal.reason as Error).name, 'TimeoutError')
    wait.clear()
  })

  it('aborts with the reason of whichever parent aborts first, or at once when one has', () => {
    const a = new AbortController()
    const b = new AbortController()
    const wait = deadline([a.signal, undefined, b.signal], 60_000)
    b.abort(new Error('stream closed'))
    assert.equal((wait.signal.reason as Error).message, 'stream closed')
    wait.clear()
    const already = deadline(b.signal, 60_000)
    assert.equal((already.signal.reason as Error).message, 'stream closed')
    already.clear()
  })

  it('leaves nothing on a long-lived parent once cleared, however many waits it bounded', async () => {
    // what AbortSignal.any accumulates on its sources (see deadline.ts): here every wait takes its listener back
    const parent = new AbortController().signal
    for (let i = 0; i < 10_000; i++) await withDeadline(parent, 60_000, async signal => { assert.equal(signal.aborted, false) })
    assert.equal(getEventListeners(parent, 'abort').length, 0)
    await assert.rejects(withDeadline(parent, 5, async signal => await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)))), { name: 'TimeoutError' })
    assert.equal(getEventListeners(parent, 'abort').length, 0)
  })
})
