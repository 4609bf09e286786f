/**
 * `TOOL --completion [bash|zsh]` prints the completion script the build made
 * from the option table (dist/completions/, beside the bundle). The script
 * itself runs no Node: TAB stays instant.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeOut } from './main.js';
import { UsageError } from './options.js';

export function printCompletion(prog: string, shell = 'bash'): void {
  const file = { bash: prog, zsh: `_${prog}` }[shell];
  if (!file) throw new UsageError(`unsupported shell for --completion: '${shell}' (bash or zsh)`);
  const dist = dirname(fileURLToPath(import.meta.url));
  writeOut(readFileSync(join(dist, 'completions', file), 'utf8'));
}
