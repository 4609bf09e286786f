/**
 * Shell completion, from yargs: loaded only when asked for, so the common
 * path never pays for it. `ts-TOOL --completion >> ~/.bashrc` installs it;
 * the script calls `ts-TOOL --get-yargs-completions ...` back.
 */
import { createRequire } from 'node:module';
import type { Argv } from 'yargs';
import type { OptionSpec } from './options.js';

type Yargs = (args: string[]) => Argv;

async function loadYargs(): Promise<Yargs> {
  try {
    // Built tools: the separate bundle beside the executable.
    return createRequire(import.meta.url)('./yargs.cjs').default as Yargs;
  } catch {
    const name = 'yargs'; // not a literal, so bundlers leave it out of the tool's bundle
    return ((await import(name)) as { default: Yargs }).default;
  }
}

export async function printCompletion(
  prog: string,
  specs: OptionSpec[],
  argv: string[],
): Promise<void> {
  const yargs = await loadYargs();
  let y = yargs(argv).scriptName(prog).help(false).version(false).completion('completion', false);
  for (const s of specs)
    y = y.option(s.name, {
      alias: s.short,
      type: s.arg === 'none' ? 'boolean' : 'string',
      describe: Array.isArray(s.desc) ? s.desc.join(' ') : s.desc,
      hidden: !s.desc,
    });
  await y.parseAsync();
}
