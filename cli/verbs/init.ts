import { Option } from 'commander'
import type { Command } from 'commander'
import { join } from 'node:path'
import { initRepo } from '../../node/repo.ts'
import { readSwarmKeyFile, SWARM_KEY_FILE } from '../../node/net/swarm-key.ts'
import { CliContext } from '../context.ts'
import type { GlobalOptions } from '../context.ts'

export function register (program: Command): void {
  program.command('init')
    .description('create a repo (config, identity key, blockstore)')
    .addOption(new Option('--role <role>', 'peer (a workstation) or seed (an always-on server)').choices(['peer', 'seed']).default('peer'))
    .option('--voter', 'make this node one of the consensus voters', false)
    .option('--swarm-key <file>', 'join a private network: copy this swarm key (`dits-node swarm-key new`) into the repo and set swarm.keyFile')
    .action(async (opts: { role: 'peer' | 'seed', voter: boolean, swarmKey?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      await initRepo(ctx.repoDir, { role: opts.role, voter: opts.voter, swarmKey: opts.swarmKey })
      const swarm = opts.swarmKey !== undefined ? (await readSwarmKeyFile(join(ctx.repoDir, SWARM_KEY_FILE))).fingerprint : undefined
      ctx.print({ repo: ctx.repoDir, role: opts.role, voter: opts.voter, swarm: { private: swarm !== undefined, ...(swarm !== undefined ? { keyFingerprint: swarm } : {}) } },
        `initialized ${opts.role}${opts.voter ? ' (voter)' : ''} repo at ${ctx.repoDir}${swarm !== undefined ? `, in the private network of swarm key ${swarm}` : ''}`)
    })
}
