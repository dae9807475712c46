import type { Command, Option } from 'commander'
import { Argument } from 'commander'
import { CliContext } from '../context.ts'
import type { GlobalOptions } from '../context.ts'

/** One command of the CLI, as the completion scripts need it. */
export interface CompletionEntry {
  /** the verbs leading to it, space-separated ('' for dits-node itself) */
  path: string
  /** its subcommands, aliases included */
  commands: string[]
  /** its option flags (short and long), the global ones included */
  options: string[]
  /** of them, those that take a value (its next word is not a verb); the global ones are in every path's */
  valueOptions: string[]
  /** the values an option allows, where it lists them */
  optionChoices: Record<string, string[]>
  /** the values its positional arguments allow, where they list them */
  argumentChoices: string[]
}

/**
 * The CLI's own verb and option table, walked from the program commander built (every verb's register()): the
 * scripts are made from it, so a verb or option added there completes without another list to keep.
 */
export function completionTable (program: Command): CompletionEntry[] {
  const help = program.createHelp()
  const globals = help.visibleOptions(program).filter(o => o.long !== '--version' && o.long !== '--help')
  const entries: CompletionEntry[] = []
  const walk = (cmd: Command, path: string): void => {
    const subs = help.visibleCommands(cmd).filter(c => c.name() !== 'help' || cmd.commands.includes(c))
    const own = help.visibleOptions(cmd)
    const options = [...own, ...(cmd === program ? [] : globals)]
    const flags = (o: Option): string[] => [o.short, o.long].filter((f): f is string => f !== undefined)
    entries.push({
      path,
      commands: subs.flatMap(c => [c.name(), ...c.aliases()]),
      options: options.flatMap(flags),
      valueOptions: options.filter(o => o.required || o.optional).flatMap(flags),
      optionChoices: Object.fromEntries(options.filter(o => o.argChoices !== undefined).flatMap(o => flags(o).map(f => [f, o.argChoices as string[]]))),
      argumentChoices: cmd.registeredArguments.flatMap(a => a.argChoices ?? [])
    })
    for (const sub of cmd.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`)
  }
  walk(program, '')
  return entries
}

/** A word list for a shell `case` arm: single-quoted (the CLI's names have no quote). */
function quoted (words: string[]): string {
  return `'${words.join(' ')}'`
}

/** The helpers both shells share: each a `case` over the command path, generated from the table. */
function helpers (table: CompletionEntry[]): string {
  const arms = (pick: (e: CompletionEntry) => string[]): string => table
    .filter(e => pick(e).length > 0)
    .map(e => `    ${quoted([e.path])}) echo ${quoted(pick(e))} ;;`).join('\n')
  // a global option (--repo) takes its value under every path: one arm for all
  const globalValues = table[0].valueOptions
  const valueArms = [...globalValues.map(f => `*|${f}`), ...table.flatMap(e => e.valueOptions.filter(f => !globalValues.includes(f)).map(f => `${e.path}|${f}`))]
  const choiceArms = table.flatMap(e => Object.entries(e.optionChoices).map(([f, values]) => `    ${quoted([`${e.path}|${f}`])}) echo ${quoted(values)} ;;`))
  return `# the verbs under a command path
_dits_node_commands () {
  case "$1" in
${arms(e => e.commands)}
  esac
}
# the options of a command path
_dits_node_options () {
  case "$1" in
${arms(e => e.options)}
  esac
}
# the values its positional arguments allow
_dits_node_argument_choices () {
  case "$1" in
${arms(e => e.argumentChoices)}
  esac
}
# whether option $2 of command path $1 takes a value
_dits_node_value_option () {
  case "$1|$2" in
${valueArms.length === 0 ? '' : `    ${valueArms.map(a => a.startsWith('*') ? `*${quoted([a.slice(1)])}` : quoted([a])).join('|')}) return 0 ;;\n`}  esac
  return 1
}
# the values option $2 of command path $1 allows
_dits_node_option_choices () {
  case "$1|$2" in
${choiceArms.join('\n')}
  esac
}
# the command path the words before the cursor lead to (options and their values skipped)
_dits_node_path () {
  local cmdpath='' skip=0 w
  for w in "$@"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case "$w" in
      --*=*) ;;
      -*) if _dits_node_value_option "$cmdpath" "$w"; then skip=1; fi ;;
      *) case " $(_dits_node_commands "$cmdpath") " in *" $w "*) cmdpath="\${cmdpath:+$cmdpath }$w" ;; esac ;;
    esac
  done
  echo "$cmdpath"
}`
}

export function bashScript (table: CompletionEntry[]): string {
  return `# bash completion for dits-node, generated from its own verb table by \`dits-node completion bash\`.
# Load it in ~/.bashrc: source <(dits-node completion bash)
${helpers(table)}
_dits_node () {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmdpath choices
  cmdpath="$(_dits_node_path "\${COMP_WORDS[@]:1:COMP_CWORD-1}")"
  COMPREPLY=()
  if [[ $prev == -* ]] && _dits_node_value_option "$cmdpath" "$prev"; then
    choices="$(_dits_node_option_choices "$cmdpath" "$prev")"
    # no list: file names (complete -o default)
    if [[ -n $choices ]]; then COMPREPLY=($(compgen -W "$choices" -- "$cur")); fi
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_dits_node_options "$cmdpath")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_dits_node_commands "$cmdpath") $(_dits_node_argument_choices "$cmdpath")" -- "$cur"))
  fi
  return 0
}
complete -o default -F _dits_node dits-node
`
}

export function zshScript (table: CompletionEntry[]): string {
  return `#compdef dits-node
# zsh completion for dits-node, generated from its own verb table by \`dits-node completion zsh\`.
# Load it in ~/.zshrc (after compinit): source <(dits-node completion zsh), or save it as _dits-node in a directory of $fpath.
${helpers(table)}
_dits_node () {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" cmdpath choices list
  cmdpath="$(_dits_node_path "\${(@)words[2,CURRENT-1]}")"
  if [[ $prev == -* ]] && _dits_node_value_option "$cmdpath" "$prev"; then
    choices="$(_dits_node_option_choices "$cmdpath" "$prev")"
    if [[ -n $choices ]]; then compadd -- \${=choices}; else _files; fi
    return
  fi
  if [[ $cur == -* ]]; then
    list="$(_dits_node_options "$cmdpath")"
    compadd -- \${=list}
    return
  fi
  list="$(_dits_node_commands "$cmdpath") $(_dits_node_argument_choices "$cmdpath")"
  if [[ -n \${list// /} ]]; then compadd -- \${=list}; else _files; fi
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _dits_node "$@"
else
  compdef _dits_node dits-node
fi
`
}

/** `completion bash|zsh`: the shell's completion script, from the verb table. */
export function register (program: Command): void {
  program.command('completion')
    .description('print the shell completion script for bash or zsh, made from dits-node\'s own verbs and options')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .addHelpText('after', `
bash: source <(dits-node completion bash)   (in ~/.bashrc; or save it in /etc/bash_completion.d/dits-node)
zsh:  source <(dits-node completion zsh)    (in ~/.zshrc after compinit; or save it as _dits-node in a directory of $fpath)
--json: {"shell","script","table"}, the table being every command path with its verbs, options and choices.`)
    .action(async (shell: 'bash' | 'zsh', _opts: unknown, cmd: Command) => {
      const ctx = new CliContext(cmd.optsWithGlobals<GlobalOptions>())
      const table = completionTable(program)
      const script = shell === 'bash' ? bashScript(table) : zshScript(table)
      if (ctx.json) ctx.print({ shell, script, table }, [])
      else process.stdout.write(script)
    })
}
