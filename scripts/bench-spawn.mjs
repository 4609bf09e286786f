// @ns/syscalls spawn against util-linux and child_process: 300 children
// running /bin/true, 16 at a time through spawn in new uts+ipc namespaces,
// against child_process.spawn('unshare', ['-ui', '/bin/true']) 16 at a time,
// a bash loop of `unshare -ui /bin/true`, and child_process.spawn('/bin/true')
// 16 at a time. Interleaved rounds, medians. As a user other than root the
// namespaces come with a new user namespace (mapRootUser, unshare -r).
//
//   node scripts/bench-spawn.mjs [--rounds 5]
import { spawn as spawnPlain, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { spawn } = await import(pathToFileURL(join(root, 'packages/syscalls/dist/index.js')).href);
const i = process.argv.indexOf('--rounds');
const ROUNDS = i > 0 ? Number(process.argv[i + 1]) : 5;
const N = 300;
const PARALLEL = 16;
const root_ = process.geteuid() === 0;
const nsOptions = root_
  ? { namespaces: ['uts', 'ipc'] }
  : { namespaces: ['user', 'uts', 'ipc'], mapRootUser: true };
const flags = root_ ? '-ui' : '-rui';

/** Runs N children, PARALLEL at a time; milliseconds. */
async function pool(start) {
  const t = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < N) {
      next++;
      await new Promise((resolve, reject) => {
        const child = start();
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
      });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const ours = `@ns/syscalls spawn, ${nsOptions.namespaces.join('+')}, ${PARALLEL} at a time`;
const unshareSpawn = `child_process.spawn('unshare', ['${flags}', 'true']), ${PARALLEL} at a time`;
const plainName = `child_process.spawn('/bin/true'), ${PARALLEL} at a time`;
const loopName = `bash loop of unshare ${flags} /bin/true`;
const cases = {
  [ours]: () => pool(() => spawn('/bin/true', [], { ...nsOptions, stdio: 'ignore' })),
  [unshareSpawn]: () =>
    pool(() => spawnPlain('unshare', [flags, '/bin/true'], { stdio: 'ignore' })),
  [plainName]: () => pool(() => spawnPlain('/bin/true', [], { stdio: 'ignore' })),
  [loopName]: async () => {
    const t = process.hrtime.bigint();
    spawnSync('bash', ['-c', `for ((i = 0; i < ${N}; i++)); do unshare ${flags} /bin/true; done`]);
    return Number(process.hrtime.bigint() - t) / 1e6;
  },
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const run of Object.values(cases)) await run(); // warm up
for (let r = 0; r < ROUNDS; r++)
  for (const [k, run] of Object.entries(cases)) times[k].push(await run());
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
const viaUnshare = ms[unshareSpawn];
const plain = ms[plainName];
console.log(
  `\n${N} children of /bin/true as ${root_ ? 'root' : `uid ${process.geteuid()}`}, ${ROUNDS} interleaved rounds, medians`,
);
console.log('| how | ms | children/s | rate vs spawn of unshare | rate vs child_process |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [k, v] of Object.entries(ms))
  console.log(
    `| ${k} | ${v.toFixed(0)} | ${((N * 1000) / v).toFixed(0)} | ${(viaUnshare / v).toFixed(2)}x | ${(plain / v).toFixed(2)}x |`,
  );
