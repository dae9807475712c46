import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dits, ok } from '../helpers/cli.ts'

describe('dits-node completion bash|zsh (scripts from the CLI\'s own verb table)', function () {
  this.timeout(60_000)
  let work: string
  let script: string

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'dits-completion-'))
    script = join(work, 'dits-node.bash')
    await writeFile(script, await ok(['completion', 'bash']))
  })
  after(async () => { await rm(work, { recursive: true, force: true }) })

  /** What bash completes for the command line `words` (the cursor on the last word), the script sourced. */
  function complete (...words: string[]): string[] {
    const line = words.map(w => `'${w}'`).join(' ')
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c', `source "$1"; COMP_WORDS=(${line}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMP_LINE="\${COMP_WORDS[*]}"; _dits_node; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', script], { encoding: 'utf8' })
    return out.split('\n').filter(l => l !== '')
  }

  it('bash: the script registers itself for dits-node and completes verbs, sub-verbs, options and their values', () => {
    assert.match(execFileSync('bash', ['--norc', '-c', 'source "$1"; complete -p dits-node', 'bash', script], { encoding: 'utf8' }), /complete -o default -F _dits_node dits-node/)
    assert.deepEqual(complete('dits-node', 'ex'), ['export'])
    assert.deepEqual(complete('dits-node', 'pin', ''), ['add', 'rm', 'ls'])
    // global options and their values are skipped on the way to the verb
    assert.deepEqual(complete('dits-node', '--repo', '/srv/dits', '--json', 'lock', 'a'), ['acquire'])
    assert.deepEqual(complete('dits-node', 'get', '--max-'), ['--max-rate', '--max-entries'])
    assert.deepEqual(complete('dits-node', 'lock', 'acquire', '--'), ['--shared', '--ttl', '--wait', '--request-id', '--help', '--repo', '--json'])
    assert.deepEqual(complete('dits-node', 'init', '--role', ''), ['peer', 'seed'])
    assert.deepEqual(complete('dits-node', 'completion', ''), ['bash', 'zsh'])
    // an option's value without a list of its own (a path): nothing here, so bash completes file names (-o default)
    assert.deepEqual(complete('dits-node', 'export', 'bafy', '-o', ''), [])
    assert.deepEqual(complete('dits-node', '--repo', ''), [])
  })

  it('the table is the CLI\'s: every verb `dits-node --help` lists, with the options its --help lists', async () => {
    const help = await ok(['--help'])
    const verbs = [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)/gm)].map(m => m[1]).filter(v => v !== 'help')
    assert.ok(verbs.includes('export') && verbs.includes('completion') && verbs.length > 20)
    assert.deepEqual(complete('dits-node', '').sort(), verbs.sort())
    const table = JSON.parse(await ok(['--json', 'completion', 'bash'])).table as Array<{ path: string, options: string[] }>
    for (const path of ['get', 'ref set', 'service install']) {
      const listed = [...(await ok([...path.split(' '), '--help'])).matchAll(/^ {2}(?:(-[a-zA-Z]), )?(--[a-z-]+)/gm)].flatMap(m => [m[1], m[2]]).filter((f): f is string => f !== undefined)
      const entry = table.find(e => e.path === path)
      assert.deepEqual([...new Set(entry?.options)].sort(), [...new Set(listed)].sort().filter(f => f !== '-V' && f !== '--version'), path)
    }
  })

  it('zsh: a #compdef script over the same table; another shell is a usage error (exit 2)', async () => {
    const zsh = await ok(['completion', 'zsh'])
    assert.match(zsh, /^#compdef dits-node\n/)
    assert.match(zsh, /'pin'\) echo 'add rm ls' ;;/)
    assert.match(zsh, /compdef _dits_node dits-node/)
    const fish = await dits(['completion', 'fish'])
    assert.equal(fish.code, 2)
    assert.match(fish.stderr, /Allowed choices are bash, zsh/)
    assert.equal((await dits(['completion', '--help'])).code, 0)
  })
})
