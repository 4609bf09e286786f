// Runs the node:test files under the given folders (TypeScript, through tsx).
//
// --world: as root, the tests run in a world of their own: a new PID
// namespace with its own /proc and a private mount namespace. Tools that
// list the machine (ts-nsls, lsns) then see only what the tests made, which
// holds still while both look at it, whatever else the machine runs; mounts
// the tests make never reach the host's mount table; and when the run ends,
// the kernel ends every process left in that PID namespace.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const world = args.includes('--world');
const dirs = args.filter((a) => a !== '--world');
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
const node = [
  process.execPath,
  '--conditions=source',
  '--import',
  'tsx',
  '--test',
  '--test-concurrency=1',
  ...files,
];
let argv = node;
if (world && process.env.TS_NS_TEST_WORLD === undefined) {
  if (process.getuid() === 0 && spawnSync('unshare', ['--version']).status === 0) {
    argv = [
      'unshare',
      '--fork',
      '--pid',
      '--mount-proc',
      '--mount',
      '--propagation',
      'private',
      ...node,
    ];
  } else {
    console.log('# run-tests: not root or no unshare: the tests run in the machine as it is');
  }
}
const r = spawnSync(argv[0], argv.slice(1), {
  stdio: 'inherit',
  env: world ? { ...process.env, TS_NS_TEST_WORLD: '1' } : process.env,
});
process.exit(r.status ?? 1);
