/**
 * The live runner's client inside one node's network namespace: the daemon's API listens on that namespace's
 * loopback only, so the runner (outside) talks to this agent over stdin/stdout, one JSON object a line:
 *
 *   in:  {"id": 7, "op": "refSet", "args": {...}, "timeoutMs": 8000}
 *   out: {"id": 7, "ok": true, "value": ...}  or  {"id": 7, "ok": false, "name": "NoQuorumError", "message": "...", "exitCode": 4}
 *
 * Usage: node dist/sims/live/agent.js REPO
 */

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { ApiClient } from '../../node/api.ts'
import { API_FILE, API_TOKEN_FILE } from '../../node/repo.ts'

/** How long the agent waits for the daemon's api file to appear. */
const API_WAIT_MS = 30_000

interface Request {
  id: number
  op: string
  args: unknown
  timeoutMs: number
}

async function client (repo: string): Promise<ApiClient> {
  const until = Date.now() + API_WAIT_MS
  for (;;) {
    try {
      const url = (await readFile(join(repo, API_FILE), 'utf8')).trim()
      const token = (await readFile(join(repo, API_TOKEN_FILE), 'utf8')).trim()
      return new ApiClient(url, token)
    } catch (err) {
      if (Date.now() > until) {
        throw err
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
}

const repo = process.argv[2]
const api = await client(repo)
const write = (msg: unknown): void => {
  process.stdout.write(JSON.stringify(msg) + '\n')
}
write({ id: 0, ok: true, value: 'ready' })
for await (const line of createInterface({ input: process.stdin })) {
  const req = JSON.parse(line) as Request
  api.call(req.op, req.args, { signal: AbortSignal.timeout(req.timeoutMs) }).then(value => {
    write({ id: req.id, ok: true, value })
  }, (err: Error & { exitCode?: number }) => {
    write({ id: req.id, ok: false, name: err.name, message: err.message, exitCode: err.exitCode ?? 1 })
  })
}
