// Writes what a tool's one option table gives besides --help, beside its
// bundle in dist/: the man page (dist/NAME.1: the hand-written prose of
// doc/NAME.1.in with the generated OPTIONS section) and the shell completions
// (dist/completions/NAME for bash, dist/completions/_NAME for zsh); and the
// LICENSE. Run from a tool's folder, through tsx: the table is TypeScript.
//
//   node --conditions=source --import tsx ../../scripts/build-docs.mjs NAME
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bashCompletion, manOptions, zshCompletion } from '@ns/cli';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.argv[2];
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const { OPTIONS } = await import(pathToFileURL(resolve('src/options.ts')).href);

const template = join('doc', `${name}.1.in`);
const epoch = process.env.SOURCE_DATE_EPOCH;
const date = (epoch ? new Date(Number(epoch) * 1000) : statSync(template).mtime)
  .toISOString()
  .slice(0, 10);
const page = readFileSync(template, 'utf8')
  .replace('@DATE@', date)
  .replace('@VERSION@', pkg.version)
  .replace('@OPTIONS@\n', manOptions(OPTIONS));
mkdirSync(join('dist', 'completions'), { recursive: true });
writeFileSync(join('dist', `${name}.1`), page);
writeFileSync(join('dist', 'completions', name), bashCompletion(name, OPTIONS));
writeFileSync(join('dist', 'completions', `_${name}`), zshCompletion(name, OPTIONS));
copyFileSync(join(root, 'LICENSE'), join('dist', 'LICENSE'));
