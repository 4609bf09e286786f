// Runs the node:test files under the given folders (TypeScript, through tsx).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dirs = process.argv.slice(2);
const files = dirs.flatMap((d) =>
  (existsSync(d) ? readdirSync(d) : [])
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(d, f)),
);
if (files.length === 0) {
  console.error(`run-tests: no test files in ${dirs.join(' ')}`);
  process.exit(0);
}
const r = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', '--test', '--test-concurrency=1', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
