/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core) against three
 * real voter daemons on loopback. The assertions are on what the page shows. With DITS_SCREENSHOTS_DIR set, the
 * spec also saves screenshots there (not in a normal run).
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, readFile, writeFile, mkdir, chmod } from 'node:fs/promises'
import { createWriteStream } from 'node:fs'
import { request } from 'node:http'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { dits, startDaemon } from '../helpers/cli.ts'
import type { RunResult, RunningDaemon } from '../helpers/cli.ts'
import { VoterCluster } from '../node/consensus/cluster.ts'
import { waitFor } from '../node/net/helpers.ts'

/** Debian's Chromium (`.ci/run` installs it when missing). */
const CHROMIUM = process.env.DITS_CHROMIUM ?? '/usr/bin/chromium'
const SCREENSHOTS = process.env.DITS_SCREENSHOTS_DIR
/** The file a peer fetches while the page watches its bar, and the rate the get is held to so that it lasts seconds. */
const FILE_BYTES = 200 * 1024 * 1024
const GET_RATE = '40MB/s'

/** "12D3Ko…x7Qa", as the page shortens peer ids */
const short = (id: string): string => `${id.slice(0, 6)}…${id.slice(-4)}`

describe('dashboard: the page in headless Chromium against three voter daemons', function () {
  this.timeout(240_000)
  let work: string
  let group: VoterCluster
  let browser: Browser
  let page: Page
  /** the node whose dashboard the page shows */
  const VIEWED = 1
  const SEED = 0

  const run = async (node: number, args: string[]): Promise<RunResult> => await dits(['--repo', group.repos[node], ...args])
  const ok = async (node: number, args: string[]): Promise<string> => {
    const r = await run(node, args)
    assert.equal(r.code, 0, `dits-node ${args.join(' ')} on node ${node} exited ${r.code}: ${r.stderr}`)
    return r.stdout
  }
  const loginUrl = async (node: number): Promise<string> => (JSON.parse(await ok(node, ['--json', 'dashboard'])) as { url: string }).url
  const shot = async (name: string): Promise<void> => {
    if (SCREENSHOTS === undefined) return
    await mkdir(SCREENSHOTS, { recursive: true })
    await page.screenshot({ path: join(SCREENSHOTS, `dashboard-${name}.png`), fullPage: true })
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-dashboard-'))
    group = new VoterCluster(work, 3)
    await group.create(0)
    // node 0 is the studio's seed (and a voter), as on a studio network
    const seedConfig = join(group.repos[SEED], 'config.json')
    await writeFile(seedConfig, JSON.stringify({ ...JSON.parse(await readFile(seedConfig, 'utf8')), role: 'seed' }, null, 2))
    const [b] = await Promise.all([
      chromium.launch({ executablePath: CHROMIUM, headless: true }),
      (async () => {
        await group.startAll()
        await group.leader(0)
      })()
    ])
    browser = b
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  })

  after(async () => {
    await browser?.close()
    await group?.stopAll()
    await rm(work, { recursive: true, force: true })
  })

  it('logs in with the one-time code, which a second browser cannot reuse; the token is nowhere in the page', async () => {
    const url = await loginUrl(VIEWED)
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/dashboard\/login\?code=[0-9a-f]{64}$/)
    const token = (await readFile(join(group.repos[VIEWED], 'api.token'), 'utf8')).trim()
    assert.ok(!url.includes(token))
    await page.goto(url)
    // the code leaves the address bar: the page's URL is the dashboard's own
    assert.match(page.url(), /\/dashboard\/$/)
    await page.locator('[data-field="peer-id"]').filter({ hasText: group.peerIds[VIEWED] }).waitFor({ timeout: 15_000 })
    const cookies = await page.context().cookies()
    assert.equal(cookies.length, 1)
    assert.equal(cookies[0].httpOnly, true)
    assert.equal(cookies[0].sameSite, 'Strict')
    assert.ok(!(await page.content()).includes(token))
    for (const script of ['main', 'panels', 'chart', 'dom', 'format']) {
      const res = await page.request.get(`${new URL(url).origin}/dashboard/assets/${script}.js`)
      assert.equal(res.status(), 200)
      assert.ok(!(await res.text()).includes(token))
    }
    // the page cannot read its cookie
    assert.equal(await page.evaluate('document.cookie'), '')

    const other = await browser.newContext()
    try {
      const second = await other.newPage()
      const res = await second.goto(url)
      assert.equal(res?.status(), 401)
      assert.match(await second.locator('main').innerText(), /already used or has expired/)
      // and without a session, the page and its event stream stay shut
      const origin = new URL(url).origin
      assert.equal((await second.goto(`${origin}/dashboard/`))?.status(), 401)
      assert.equal((await other.request.get(`${origin}/dashboard/events`)).status(), 401)
    } finally {
      await other.close()
    }
  })

  it('shows this node, the other voters as peers, and the consensus group with its leader', async () => {
    const others = [0, 2].filter(i => i !== VIEWED)
    for (const i of others) {
      const row = page.locator(`tr[data-peer="${group.peerIds[i]}"]`)
      await row.waitFor({ timeout: 15_000 })
      assert.match(await row.innerText(), /tcp/)
      assert.match(await row.innerText(), /LAN/)
      assert.match(await row.innerText(), /voter/)
      assert.match(await row.innerText(), i === SEED ? /seed/ : /peer/)
    }
    const leader = group.peerIds[await group.leader(VIEWED)]
    await page.locator('[data-field="leader"]').filter({ hasText: short(leader) }).waitFor({ timeout: 15_000 })
    await page.locator(`tr[data-voter="${leader}"] .state-leader`).waitFor()
    assert.equal(await page.locator('tr[data-voter]').count(), 3)
    for (const id of group.peerIds) assert.match(await page.locator(`tr[data-voter="${id}"]`).innerText(), /yes/)
    await shot('peers-and-group')
  })

  it('shows a lock with its holder and lease, and takes it away on release', async () => {
    const holder = 2
    await ok(holder, ['lock', 'acquire', 'projects/reel3/', '--ttl', '60s'])
    const row = page.locator('tr[data-lock="projects/reel3/"]')
    await row.waitFor({ timeout: 15_000 })
    assert.match(await row.locator('[data-field="holder"]').innerText(), new RegExp(short(group.peerIds[holder])))
    assert.match(await row.innerText(), /exclusive/)
    assert.match(await row.innerText(), /of 1 min 00 s/)
    await page.locator('.event').filter({ hasText: 'lock projects/reel3/ granted exclusive' }).waitFor({ timeout: 15_000 })
    await shot('lock-held')
    await ok(holder, ['lock', 'release', 'projects/reel3/'])
    await row.waitFor({ state: 'detached', timeout: 15_000 })
    await page.locator('.event').filter({ hasText: 'lock projects/reel3/ released' }).waitFor({ timeout: 15_000 })
  })

  it('moves a transfer bar during a get of a few hundred MB, then shows the ref as held here in full', async () => {
    const src = join(work, 'reel.mov')
    await writeRandom(src, FILE_BYTES)
    const root = (await ok(SEED, ['add', src])).trim().split('\n').at(-1) as string
    await ok(SEED, ['ref', 'set', 'projects/reel3/cut', root])
    const getting = run(VIEWED, ['get', root, '-o', join(work, 'out.mov'), '--max-rate', GET_RATE])
    const bar = page.locator(`tr[data-root="${root}"] progress`)
    await bar.waitFor({ timeout: 30_000 })
    const seen = new Set<number>()
    await waitFor(async () => {
      const value = await bar.evaluate(p => (p as unknown as { value: number }).value).catch(() => undefined)
      if (value !== undefined && value > 0 && value < FILE_BYTES) seen.add(value)
      return seen.size >= 2
    }, 60_000, 'the transfer bar to move')
    const row = page.locator(`tr[data-root="${root}"]`)
    assert.match(await row.innerText(), /MB\/s/)
    assert.match(await row.innerText(), new RegExp(short(group.peerIds[SEED])))
    await shot('transfer')
    const r = await getting
    assert.equal(r.code, 0, r.stderr)
    await row.waitFor({ state: 'detached', timeout: 15_000 })
    const ref = page.locator('tr[data-ref="projects/reel3/cut"]')
    await ref.locator('[data-field="local"]').filter({ hasText: '100 %' }).waitFor({ timeout: 30_000 })
    // the seed added it: all of it is there (the share comes from an availability run)
    await ref.locator('[data-field="seed"]').filter({ hasText: '100 %' }).waitFor({ timeout: 30_000 })
    await page.locator('.event').filter({ hasText: 'ref projects/reel3/cut set' }).waitFor({ timeout: 15_000 })
    await shot('after-get')
  })

  it('refuses other origins, other hosts and mutating methods, and the cookie opens no operation', async () => {
    const origin = new URL(page.url()).origin
    const cookie = (await page.context().cookies()).map(c => `${c.name}=${c.value}`).join('; ')
    const port = Number(new URL(origin).port)
    const send = async (method: string, path: string, headers: Record<string, string>): Promise<number> => await new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers: { cookie, ...headers } }, res => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject)
      req.end()
    })
    assert.equal(await send('GET', '/dashboard/', {}), 200)
    assert.equal(await send('GET', '/dashboard/', { origin: 'http://evil.example' }), 403)
    assert.equal(await send('GET', '/dashboard/events', { 'sec-fetch-site': 'cross-site' }), 403)
    assert.equal(await send('GET', '/dashboard/', { host: `evil.example:${port}` }), 403)
    assert.equal(await send('POST', '/dashboard/events', {}), 405)
    assert.equal(await send('OPTIONS', '/dashboard/', { origin: 'http://evil.example', 'access-control-request-method': 'POST' }), 403)
    // the operations take the token only: a cookie (what a forged request would carry) opens none of them
    assert.equal(await send('POST', '/rpc/lockBreak', { 'content-type': 'application/json' }), 401)
    assert.equal(await send('POST', '/rpc/id', { origin, 'content-type': 'application/json' }), 403)
  })
})

describe('dashboard: the verb and the switch', function () {
  this.timeout(120_000)
  let work: string
  let daemon: RunningDaemon | undefined

  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-dashboard-verb-'))
  })

  afterEach(async () => {
    await daemon?.stop()
    daemon = undefined
    await rm(work, { recursive: true, force: true })
  })

  const start = async (repo: string, env: NodeJS.ProcessEnv = {}): Promise<RunningDaemon> => {
    const r = await dits(['--repo', repo, 'init'])
    assert.equal(r.code, 0, r.stderr)
    daemon = await startDaemon(repo, { DITS_CONFIG_ADDRESSES__LISTEN: '["/ip4/127.0.0.1/tcp/0"]', ...env })
    return daemon
  }

  it('--open hands the link to xdg-open when there is one, and says so when there is none', async () => {
    const repo = join(work, 'repo')
    await start(repo)
    const bin = join(work, 'bin')
    await mkdir(bin)
    const opened = join(work, 'opened')
    await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`)
    await chmod(join(bin, 'xdg-open'), 0o755)
    const r = await dits(['--repo', repo, '--json', 'dashboard', '--open'], { env: { PATH: `${bin}:${process.env.PATH ?? ''}` } })
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { url: string, opened: boolean, expires: number }
    assert.equal(out.opened, true)
    await waitFor(async () => (await readFile(opened, 'utf8').catch(() => '')) === out.url, 10_000, 'xdg-open to get the link')
    const none = await dits(['--repo', repo, 'dashboard', '--open'], { env: { PATH: join(work, 'empty') } })
    assert.equal(none.code, 0, none.stderr)
    assert.match(none.stdout, /not opened: no xdg-open on PATH/)
    assert.match(none.stdout, /^http:\/\/127\.0\.0\.1:\d+\/dashboard\/login\?code=/)
  })

  it('dashboard.enabled false: the verb exits 4 naming the key, and the page is not served', async () => {
    const repo = join(work, 'repo')
    const d = await start(repo, { DITS_CONFIG_DASHBOARD__ENABLED: 'false' })
    const r = await dits(['--repo', repo, 'dashboard'])
    assert.equal(r.code, 4)
    assert.match(r.stderr, /dashboard\.enabled/)
    const res = await fetch(`${d.info.api}/dashboard/`)
    assert.equal(res.status, 404)
  })

  it('without a daemon the verb exits 4', async () => {
    const repo = join(work, 'repo')
    assert.equal((await dits(['--repo', repo, 'init'])).code, 0)
    const r = await dits(['--repo', repo, 'dashboard'])
    assert.equal(r.code, 4)
    assert.match(r.stderr, /no daemon running/)
  })
})

/** `bytes` of random data, written in 1 MiB pieces (bounded memory). */
async function writeRandom (path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path)
  for (let written = 0; written < bytes; written += 1024 * 1024) {
    if (!out.write(randomBytes(Math.min(1024 * 1024, bytes - written)))) await new Promise<void>(resolve => out.once('drain', () => resolve()))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => err != null ? reject(err) : resolve()))
}
