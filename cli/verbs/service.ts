import type { Command } from 'commander'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { realpathSync } from 'node:fs'
import { lstat } from 'node:fs/promises'
import { CliContext } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { stopTimeoutMs } from './start.ts'
import { systemdUnit, DEFAULT_SERVICE_USER, DEFAULT_UNIT_PATH } from '../../node/service-unit.ts'
import { writeDurable } from '../../node/files.ts'
import { UsageError } from '../../src/errors.ts'

/** The package's launcher (cli/launcher.cjs), from this file's place in dist/cli/verbs/. */
const LAUNCHER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'cli', 'launcher.cjs')
/** A user name systemd and useradd take. */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/

/** `service install [--print | -o FILE]`: the systemd unit of a daemon on this repo (README, "Running a seed as a service"). */
export function register (program: Command): void {
  const service = program.command('service').description('run the daemon as a system service (systemd)')
  service.command('install')
    .description('make the systemd unit that runs `dits-node start` on this repo: print it, write it, or say how to install it')
    .option('--print', 'print the unit on stdout', false)
    .option('-o, --output <file>', 'write the unit to FILE (an existing file is replaced only with --force)')
    .option('--force', 'replace FILE if it exists', false)
    .option('--user <name>', 'the system user the daemon runs as', DEFAULT_SERVICE_USER)
    .option('--exec <path>', 'the dits-node command ExecStart runs (default: this package\'s launcher, with the directory of the Node running now first on PATH)')
    .addHelpText('after', `
The unit: Type=simple, ExecStart=<dits-node> start --repo <repo>, Restart=on-failure, a dedicated user, TimeoutStopSec
a few seconds past the daemon's own stop bound (DITS_STOP_TIMEOUT_MS, default 30 s), and hardening (NoNewPrivileges,
ProtectSystem=strict with ReadWritePaths=<repo>, PrivateTmp, …). Nothing is given to systemd: with neither --print nor
-o, this prints the commands that install it (as root). The package ships the unit of a standard install
(service/dits-node.service: /usr/local/bin/dits-node, repo /var/lib/dits, user dits).`)
    .action(async (opts: { print: boolean, output?: string, force: boolean, user: string, exec?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      if (!USER_NAME.test(opts.user)) throw new UsageError(`invalid --user "${opts.user}": expected a system user name (lower case letters, digits, _ and -, at most 32)`)
      if (opts.exec !== undefined && !isAbsolute(opts.exec)) throw new UsageError(`invalid --exec "${opts.exec}": expected an absolute path, e.g. /usr/local/bin/dits-node`)
      if (opts.print && opts.output !== undefined) throw new UsageError('pass either --print or --output, not both')
      const exec = opts.exec ?? realpathSync(LAUNCHER)
      const unit = systemdUnit({
        exec,
        repo: ctx.repoDir,
        user: opts.user,
        stopTimeoutMs: stopTimeoutMs(),
        stopTimeoutEnv: process.env.DITS_STOP_TIMEOUT_MS === '' ? undefined : process.env.DITS_STOP_TIMEOUT_MS,
        nodeDir: opts.exec === undefined ? dirname(process.execPath) : undefined
      })
      if (opts.print) {
        if (ctx.json) ctx.print({ unit, repo: ctx.repoDir, exec, user: opts.user }, [])
        else process.stdout.write(unit)
        return
      }
      if (opts.output !== undefined) {
        const out = resolve(opts.output)
        if (!opts.force && await lstat(out).then(() => true, () => false)) throw new UsageError(`${out} already exists; pass --force to replace it`)
        await writeDurable(out, unit, 0o644)
        const commands = [`cp ${out} ${DEFAULT_UNIT_PATH}`, 'systemctl daemon-reload', 'systemctl enable --now dits-node']
        ctx.print({ file: out, repo: ctx.repoDir, exec, user: opts.user, commands }, [`wrote ${out}; to install it, as root:`, ...commands.map(c => `  ${c}`)])
        return
      }
      const commands = [
        `${exec} --repo ${ctx.repoDir} service install --user ${opts.user}${opts.exec === undefined ? '' : ` --exec ${opts.exec}`} --print > ${DEFAULT_UNIT_PATH}`,
        'systemctl daemon-reload',
        'systemctl enable --now dits-node'
      ]
      ctx.print({ repo: ctx.repoDir, exec, user: opts.user, unit_path: DEFAULT_UNIT_PATH, commands }, [
        `nothing was installed. To run dits-node on ${ctx.repoDir} as a service, as root (the unit's head says how to make the user ${opts.user} and the repo):`,
        ...commands.map(c => `  ${c}`)
      ])
    })
}
