// Runs the node:test files under the given folders, or the files given
// (TypeScript, through tsx).
//
// --world: as root, test files that list the machine's processes (ts-nsls
// against lsns) run in a world of their own: a new PID namespace with its own
// /proc, a private mount namespace, a network namespace and a /run of its
// own. Both tools see only what the tests made, which holds still while they
// look, whatever else the machine runs; the namespaces and files those tests
// make (ip netns, binds) never reach the host; and when the run ends the
// kernel ends every process left in it. The other files run in the machine's
// namespaces: in a mount namespace made for the run, binding a mount
// namespace of a forked child onto a file fails at random with EINVAL
// (kernel 6.18, util-linux's unshare as ours); their own binds are on
// temporary files, undone by each test.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const world = args.includes('--world');
const dirs = args.filter((a) => a !== '--world');
const files = dirs.flatMap((d) =>
  d.endsWith('.test.ts')
    ? [d]
    : (existsSync(d) ? readdirSync(d) : [])
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => join(d, f)),
);
if (files.length === 0) {
  console.error(`run-tests: no test files in ${dirs.join(' ')}`);
  process.exit(0);
}

const LISTS_THE_MACHINE = /ts-nsls\.test\.ts$/;

function runFiles(list, isolation) {
  if (list.length === 0) return 0;
  const argv = [
    ...isolation,
    process.execPath,
    '--conditions=source',
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    ...list,
  ];
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit' });
  return r.status ?? 1;
}

let status;
if (world && process.getuid() === 0 && spawnSync('unshare', ['--version']).status === 0) {
  // a network namespace and a /run of its own too: the network namespaces, ids
  // and files ip netns makes never reach the host's, nor meet another run's
  // (/tmp stays: the clone may live there)
  const pids = [
    'unshare',
    '--fork',
    '--pid',
    '--mount-proc',
    '--mount',
    '--propagation',
    'private',
    '--net',
    'sh',
    '-c',
    'mount -t tmpfs tmpfs /run && exec "$@"',
    'sh',
  ];
  const rest = runFiles(
    files.filter((f) => !LISTS_THE_MACHINE.test(f)),
    [],
  );
  const listing = runFiles(
    files.filter((f) => LISTS_THE_MACHINE.test(f)),
    pids,
  );
  status = rest || listing;
} else {
  if (world)
    console.log('# run-tests: not root or no unshare: the tests run in the machine as it is');
  status = runFiles(files, []);
}
process.exit(status);
