/**
 * One option table per tool drives parsing, help text and completion.
 *
 * Parsing follows getopt_long with a leading '+' (as util-linux does): short
 * options bundle (-fp), a required argument may be attached or the next word,
 * an optional argument only attached (-n/path, --net=path), long options may
 * be abbreviated to a unique prefix, and options stop at the first non-option
 * or at '--'. The tokenizer reads argv into (option, value) pairs, which is
 * all an option object needs: a second parser (yargs-parser did this once)
 * cost every start about a millisecond for nothing.
 */

export type ArgKind = 'none' | 'required' | 'optional';

export interface OptionSpec {
  /** long name, without dashes */
  name: string;
  short?: string;
  arg: ArgKind;
  /** the argument of the short form, where it differs (unshare's -n takes none, --net=FILE one) */
  shortArg?: ArgKind;
  /** the placeholder shown in help, e.g. '<file>' */
  argName?: string;
  /** collect every occurrence instead of keeping the last */
  repeat?: boolean;
  /** help text, one or more lines; omitted options are hidden from help */
  desc?: string | string[];
  /** help paragraph the option belongs to */
  group?: number;
  /** left column of help when the usual '-s, --name <arg>' is not what util-linux shows */
  label?: string;
  /**
   * checks each value as it is read (undefined: an optional argument not
   * given), in command-line order, as util-linux's getopt loop does; throws
   * the tool's error
   */
  check?: (value: string | undefined) => void;
  /** what shell completion offers for the value (default: nothing) */
  complete?: Completion;
}

/**
 * What TAB offers for an option's value: these words, items of a
 * comma-separated list, files, directories, PIDs, users, groups, commands.
 */
export type Completion =
  | readonly string[]
  | { list: readonly string[] }
  | 'file'
  | 'dir'
  | 'pid'
  | 'user'
  | 'group'
  | 'command'
  | 'none';

export class UsageError extends Error {}

export type OptionValue = boolean | string | string[] | undefined;
export interface ParsedArgs {
  options: Record<string, OptionValue>;
  /** the options in the order given, for "last one wins" between different options */
  order: string[];
  /** the program and its arguments (everything after the options) */
  rest: string[];
  /** the same words as given to parseArgs: raw bytes where argv held Buffers */
  rawRest: (string | Buffer)[];
}

function findLong(specs: OptionSpec[], word: string): OptionSpec {
  const exact = specs.find((s) => s.name === word);
  if (exact) return exact;
  const matches = specs.filter((s) => s.name.startsWith(word));
  if (matches.length === 1) return matches[0];
  if (matches.length > 1)
    throw new UsageError(
      `option '--${word}' is ambiguous; possibilities:` +
        matches.map((s) => ` '--${s.name}'`).join(''),
    );
  throw new UsageError(`unrecognized option '--${word}'`);
}

/** Options that end the parse where they stand, as util-linux's usage() and print_version() do. */
const FINAL = new Set(['help', 'version']);

/**
 * Splits argv the way getopt_long("+...") does, into normalized words and the
 * rest. Each value is checked as it is read; --help and --version end the
 * parse there, so a bad option after them is never looked at.
 */
export function tokenize(
  specs: OptionSpec[],
  argv: string[],
): { given: [OptionSpec, string | undefined][]; rest: string[] } {
  const given: [OptionSpec, string | undefined][] = [];
  const take = (spec: OptionSpec, value: string | undefined): boolean => {
    spec.check?.(value);
    given.push([spec, value]);
    return FINAL.has(spec.name);
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i];
    if (word === '--') {
      i++;
      break;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const spec = findLong(specs, name);
      let value = eq < 0 ? undefined : word.slice(eq + 1);
      if (spec.arg === 'none' && value !== undefined)
        throw new UsageError(`option '--${spec.name}' doesn't allow an argument`);
      if (spec.arg === 'required' && value === undefined) {
        if (i + 1 >= argv.length)
          throw new UsageError(`option '--${spec.name}' requires an argument`);
        value = argv[++i];
      }
      if (take(spec, value)) return { given, rest: [] };
      continue;
    }
    if (word.startsWith('-') && word.length > 1) {
      for (let k = 1; k < word.length; k++) {
        const letter = word[k];
        const spec = specs.find((s) => s.short === letter);
        if (!spec) throw new UsageError(`invalid option -- '${letter}'`);
        const attached = word.slice(k + 1);
        const kind = spec.shortArg ?? spec.arg;
        let value: string | undefined;
        if (kind === 'none') {
          if (take(spec, undefined)) return { given, rest: [] };
          continue;
        }
        if (attached) value = attached;
        else if (kind === 'required') {
          if (i + 1 >= argv.length)
            throw new UsageError(`option requires an argument -- '${letter}'`);
          value = argv[++i];
        }
        if (take(spec, value)) return { given, rest: [] };
        break;
      }
      continue;
    }
    break; // the first non-option: the program
  }
  return { given, rest: argv.slice(i) };
}

/**
 * Parses argv; words given as Buffers (the caller's raw bytes) are read as
 * UTF-8 for the options, and the program's words are also kept raw.
 */
export function parseArgs(specs: OptionSpec[], argv: readonly (string | Buffer)[]): ParsedArgs {
  const { given, rest } = tokenize(specs, argv.map(String));
  const rawRest = argv.slice(argv.length - rest.length);
  const options: Record<string, OptionValue> = {};
  for (const [spec, value] of given) {
    // a flag is true; an optional argument not given is ''
    const v = spec.arg === 'none' ? true : (value ?? '');
    // given more than once: the last one counts, unless the option collects
    if (spec.repeat)
      options[spec.name] = [...((options[spec.name] as string[]) ?? []), v as string];
    else options[spec.name] = v;
  }
  const order = given.map(([spec]) => spec.name);
  return { options, order, rest, rawRest };
}

/** Help text in util-linux's layout: usage, description, option paragraphs, footer. */
export function formatHelp(
  prog: string,
  specs: OptionSpec[],
  head: { usage: string; about: string },
  width = 27,
): string {
  const lines = ['', 'Usage:', ` ${prog} ${head.usage}`, '', head.about, '', 'Options:'];
  let group: number | undefined;
  for (const s of specs) {
    if (!s.desc) continue;
    if (group !== undefined && s.group !== group) lines.push('');
    group = s.group;
    const arg = s.argName ? (s.arg === 'optional' ? `[=${s.argName}]` : ` ${s.argName}`) : '';
    const label = s.label ?? (s.short ? `-${s.short}, --${s.name}${arg}` : `--${s.name}${arg}`);
    const [first, ...more] = Array.isArray(s.desc) ? s.desc : [s.desc];
    const left = ` ${label}`;
    if (left.length < width) lines.push(left.padEnd(width) + first);
    else lines.push(left, ' '.repeat(width) + first);
    for (const m of more) lines.push(' '.repeat(width) + m);
  }
  lines.push('', `For more details see the README of ${prog}.`, '');
  return lines.join('\n');
}
