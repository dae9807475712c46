import type { Command } from 'commander'
import { CliContext } from '../context.ts'
import type { GlobalOptions } from '../context.ts'
import { newSwarmKey, parseSwarmKey, writeSwarmKeyFile } from '../../node/net/swarm-key.ts'
import type { SwarmStatus } from '../../node/net/swarm-key.ts'

/** `swarm-key new`: a new private network key (README, "Private network"). */
export function register (program: Command): void {
  const swarmKey = program.command('swarm-key').description('private network keys (libp2p pnet, the format of Kubo\'s swarm.key)')

  swarmKey.command('new')
    .description('print a new swarm key (redirect it to a file: `swarm-key new > swarm.key`), or write it with -o')
    .option('-o, --output <file>', 'write the key to FILE (mode 0600; an existing file is never overwritten)')
    .addHelpText('after', '\nGive the file to every node of the studio (`dits-node init --swarm-key FILE`, or config swarm.keyFile):\nonly nodes with the same key can connect. Keep it secret: anyone with it can join.')
    .action(async (opts: { output?: string }, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const text = await newSwarmKey()
      const { fingerprint } = parseSwarmKey(new TextEncoder().encode(text), 'the new key')
      if (opts.output !== undefined) {
        await writeSwarmKeyFile(opts.output, text)
        ctx.print({ file: opts.output, keyFingerprint: fingerprint }, `wrote a new swarm key to ${opts.output} (fingerprint ${fingerprint})`)
      } else if (ctx.json) {
        ctx.print({ key: text, keyFingerprint: fingerprint }, [])
      } else {
        process.stdout.write(text)
      }
    })
}

/** One line on the network's privacy, for `id`, `status` and `start`. */
export function swarmLine (swarm: SwarmStatus): string {
  return swarm.private
    ? `private (swarm key ${swarm.keyFingerprint ?? '?'}; ${swarm.transports.join(', ')} only)`
    : 'open (no swarm key: any dits node may connect)'
}
