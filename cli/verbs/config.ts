import type { Command } from 'commander'
import { join } from 'node:path'
import { CliContext } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { loadConfig, readConfigFile, checkKey, getKey, setKey, validateConfig, CONFIG_FILE, ConfigError } from '../../config/index.ts'
import { repoExists } from '../../node/repo.ts'
import { writeDurable } from '../../node/files.ts'
import { readSwarmKeyFile, swarmKeyPath } from '../../node/net/swarm-key.ts'
import { NoRepoError } from '../../node/repo.ts'

export function register (program: Command): void {
  const config = program.command('config').description('show, read or change the repo configuration')

  config.command('show')
    .description('print the effective configuration (file + environment over defaults)')
    .action(async (_o: unknown, cmd: Command) => {
      const ctx = await context(cmd)
      const c = await loadConfig(ctx.repoDir)
      process.stdout.write(JSON.stringify(c, null, 2) + '\n')
    })

  config.command('get')
    .argument('<key>', 'a dotted key, e.g. addresses.listen')
    .description('print one key as JSON')
    .action(async (key: string, _o: unknown, cmd: Command) => {
      const ctx = await context(cmd)
      const value = getKey(await loadConfig(ctx.repoDir), key)
      if (value === undefined) checkKey(key, value)
      process.stdout.write(JSON.stringify(value) + '\n')
    })

  config.command('set')
    .argument('<key>', 'a dotted key, e.g. discovery.mdns')
    .argument('<json>', 'the new value as JSON, e.g. false or \'["/ip4/127.0.0.1/tcp/4101"]\'')
    .description('change one key (validated); a running daemon picks it up on restart')
    .action(async (key: string, text: string, _o: unknown, cmd: Command) => {
      const ctx = await context(cmd)
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch {
        throw new ConfigError(`the value for ${key} must be JSON (strings in double quotes), got ${text}`)
      }
      checkKey(key, value)
      const raw = await readConfigFile(ctx.repoDir)
      setKey(raw, key, value)
      const path = join(ctx.repoDir, CONFIG_FILE)
      validateConfig(raw, path)
      // a key file that start would refuse is refused now, while the person who named it is here
      if (key === 'swarm.keyFile' && typeof value === 'string') await readSwarmKeyFile(swarmKeyPath(ctx.repoDir, value))
      await writeDurable(path, JSON.stringify(raw, null, 2) + '\n')
      const running = (await ctx.daemon()) != null
      ctx.print({ key, value, restartNeeded: running }, `${key} = ${JSON.stringify(value)}${running ? ' (restart the daemon to apply)' : ''}`)
    })
}

async function context (cmd: Command): Promise<CliContext> {
  const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
  if (!(await repoExists(ctx.repoDir))) throw new NoRepoError(`no repo at ${ctx.repoDir}: run \`dits-node init\``)
  return ctx
}
