import { spawn } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import type { Command } from 'commander'
import { CliContext, withClient } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import type { DashboardLogin } from '../../node/dashboard/index.ts'

/** The opener of URLs on a Linux desktop (freedesktop.org's xdg-utils). */
const OPENER = 'xdg-open'

/**
 * `dashboard [--open]`: a one-time link that logs a browser in to the daemon's dashboard (README, "Dashboard").
 * The link holds a code the daemon trades once for a session cookie: never the API token.
 */
export function register (program: Command): void {
  program.command('dashboard')
    .description('print a link that logs a browser in to this daemon\'s dashboard (good once, for a minute)')
    .option('--open', `open the link in the desktop's browser (${OPENER})`)
    .action(async (o: { open?: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const login = await withClient(ctx, 'daemon', async c => await c.call<DashboardLogin>('dashboardLogin', {}))
      const opener = o.open === true ? await findOnPath(OPENER) : undefined
      if (opener !== undefined) {
        // detached and unwatched: the browser outlives this command
        spawn(opener, [login.url], { detached: true, stdio: 'ignore' }).on('error', () => {}).unref()
      }
      const seconds = Math.max(0, Math.round((login.expires - Date.now()) / 1000))
      const opened = o.open === true ? (opener !== undefined ? `opened with ${opener}` : `not opened: no ${OPENER} on PATH — open the link yourself`) : undefined
      ctx.print({ ...login, opened: opener !== undefined }, [
        login.url,
        `(logs one browser in once; good for ${seconds} s)`,
        ...(opened === undefined ? [] : [opened])
      ])
    })
}

/** The path of an executable `name` on PATH, if any. */
async function findOnPath (name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const path = join(dir, name)
    if (await access(path, constants.X_OK).then(() => true, () => false)) return path
  }
  return undefined
}
