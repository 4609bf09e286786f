/**
 * What the build makes from a tool's one option table besides --help: the
 * OPTIONS section of its man page and a static bash completion (TAB never
 * starts Node). scripts/build-docs.mjs writes both beside the bundle.
 */
import type { Completion, OptionSpec } from './options.js';

/** roff text: backslashes and dashes escaped, a leading dot or quote made harmless. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');
}

/** The OPTIONS section of a man page: one .TP entry per documented option, in table order. */
export function manOptions(specs: readonly OptionSpec[]): string {
  const out = ['.SH OPTIONS'];
  for (const s of specs) {
    if (!s.desc) continue;
    const arg = s.argName ? s.argName.replace(/^<|>$/g, '') : '';
    const long =
      `\\fB\\-\\-${roff(s.name)}\\fR` +
      (arg ? (s.arg === 'optional' ? `[=\\fI${roff(arg)}\\fR]` : ` \\fI${roff(arg)}\\fR`) : '');
    const short = s.short ? `\\fB\\-${s.short}\\fR, ` : '';
    // a label is how util-linux writes the option in its help, e.g. "--propagation slave|shared|..."
    out.push('.TP', s.label ? `\\fB${roff(s.label.trim())}\\fR` : short + long);
    const desc = Array.isArray(s.desc) ? s.desc.join(' ') : s.desc;
    out.push(roff(desc.charAt(0).toUpperCase() + desc.slice(1)) + '.');
  }
  return out.join('\n') + '\n';
}

/** The bash words that complete a value of this kind (cur: the word so far). */
function valuesOf(kind: Completion): string {
  if (Array.isArray(kind)) return `COMPREPLY=($(compgen -W '${kind.join(' ')}' -- "$cur"))`;
  if (typeof kind === 'object' && 'list' in kind)
    // a comma-separated list: complete its last item, keep what comes before
    return [
      'local head=${cur%"${cur##*,}"}',
      `COMPREPLY=($(compgen -W '${kind.list.join(' ')}' -P "$head" -- "\${cur##*,}"))`,
      'compopt -o nospace',
    ].join('; ');
  switch (kind) {
    case 'file':
      return 'compopt -o filenames; COMPREPLY=($(compgen -f -- "$cur"))';
    case 'dir':
      return 'compopt -o filenames; COMPREPLY=($(compgen -d -- "$cur"))';
    case 'pid':
      return 'COMPREPLY=($(compgen -W "$(cd /proc && echo [0-9]*)" -- "$cur"))';
    case 'user':
      return 'COMPREPLY=($(compgen -u -- "$cur"))';
    case 'group':
      return 'COMPREPLY=($(compgen -g -- "$cur"))';
    case 'command':
      return 'COMPREPLY=($(compgen -c -- "$cur"))';
  }
  return 'COMPREPLY=()';
}

/**
 * A bash completion function for prog, with no Node in it: options that
 * exist, the values of those that take one, and after the options the
 * program (a command) and its arguments (files).
 */
export function bashCompletion(prog: string, specs: readonly OptionSpec[]): string {
  const fn = `_${prog.replace(/\W/g, '_')}`;
  const longs = specs.map((s) => `--${s.name}`);
  const shorts = specs.filter((s) => s.short).map((s) => `-${s.short}`);
  // options whose value is the next word (long --opt value, short -o value)
  const separate = specs.flatMap((s) => [
    ...(s.arg === 'required' ? [`--${s.name}`] : []),
    ...(s.short && (s.shortArg ?? s.arg) === 'required' ? [`-${s.short}`] : []),
  ]);
  // options whose value must be attached (--opt=value): no space after them on TAB
  const attached = specs.filter((s) => s.arg === 'optional').map((s) => `--${s.name}`);
  const valueCases = specs
    .filter((s) => s.arg !== 'none')
    .map((s) => {
      const names = [
        `--${s.name}`,
        ...(s.short && (s.shortArg ?? s.arg) !== 'none' ? [`-${s.short}`] : []),
      ];
      return `    ${names.join('|')}) ${valuesOf(s.complete ?? 'none')}; return ;;`;
    });
  return `# bash completion for ${prog}: generated from its option table by the build; do not edit.
# Install: ${prog} --completion bash > ~/.local/share/bash-completion/completions/${prog}
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} opt= i
  # bash splits --opt=value at '=' (COMP_WORDBREAKS): the option is then two words back
  if [[ $cur == = ]]; then
    opt=$prev cur=
  elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
    opt=\${COMP_WORDS[COMP_CWORD-2]}
  elif [[ $cur == --*=* ]]; then
    opt=\${cur%%=*} cur=\${cur#*=}
  fi
  # after the program: its arguments are files
  for ((i = 1; i < COMP_CWORD; i++)); do
    local w=\${COMP_WORDS[i]}
    case $w in
      --) ((i + 1 < COMP_CWORD)) && { compopt -o default; COMPREPLY=(); return; }; break ;;
      ${separate.join('|') || '--'}) ((i++)) ;;
      =) ((i++)) ;;
      -*) ;;
      *) [[ \${COMP_WORDS[i-1]} == = ]] || { compopt -o default; COMPREPLY=(); return; } ;;
    esac
  done
  [[ -z $opt ]] && case $prev in
    ${separate.join('|') || '--'}) opt=$prev ;;
  esac
  case $opt in
${valueCases.join('\n')}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W '${[...longs, ...shorts].join(' ')}' -- "$cur"))
    [[ \${#COMPREPLY[@]} == 1 && " ${attached.join(' ')} " == *" \${COMPREPLY[0]} "* ]] && compopt -o nospace
    return
  fi
  ${valuesOf('command')}
}
complete -F ${fn} ${prog}
`;
}

/** The same function for zsh, through its bash completion compatibility. */
export function zshCompletion(prog: string, specs: readonly OptionSpec[]): string {
  return `# zsh completion for ${prog}, through bashcompinit; generated by the build.
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(prog, specs).replace(/^# .*\n/gm, '')}`;
}
