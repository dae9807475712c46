/**
 * A sweep worker thread (sims/sweep.ts): runs the batches of seeds it is sent and posts their results back.
 */

import { parentPort } from 'node:worker_threads'
import { runSeed } from './sweep.ts'
import type { WorkerBatch } from './sweep.ts'

// The Raft core uses exceptions for control flow on its hot path (src/raft/log.ts termOrZero): capturing their
// stacks costs a fifth of a run's time, and nothing here prints them.
Error.stackTraceLimit = 0

parentPort?.on('message', (batch: WorkerBatch) => {
  parentPort?.postMessage(batch.seeds.map(seed => runSeed(seed, batch)))
})
