import type { Command } from 'commander'
import { initRepo } from '../../node/repo.ts'
import { CliContext } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { UsageError } from '../../src/errors.ts'

export function register (program: Command): void {
  program.command('init')
    .description('create a repo (config, identity key, blockstore)')
    .option('--role <role>', 'peer (a workstation) or seed (an always-on server)', 'peer')
    .option('--voter', 'make this node one of the consensus voters', false)
    .action(async (opts: { role: string, voter: boolean }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      if (opts.role !== 'peer' && opts.role !== 'seed') throw new UsageError(`invalid --role "${opts.role}": allowed are peer, seed`)
      await initRepo(ctx.repoDir, { role: opts.role, voter: opts.voter })
      ctx.print({ repo: ctx.repoDir, role: opts.role, voter: opts.voter }, `initialized ${opts.role}${opts.voter ? ' (voter)' : ''} repo at ${ctx.repoDir}`)
    })
}
