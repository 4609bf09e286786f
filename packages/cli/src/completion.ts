/**
 * Shell completion, from yargs: loaded only when asked for, so the common
 * path never pays for it. `ts-TOOL --completion >> ~/.bashrc` installs it;
 * the script calls `ts-TOOL --get-yargs-completions ...` back.
 */
import type { OptionSpec } from './options.js';

export async function printCompletion(prog: string, specs: OptionSpec[], argv: string[]): Promise<void> {
  const { default: yargs } = await import('yargs');
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
