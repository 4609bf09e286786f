// @ns/syscalls spawn against util-linux and child_process: 300 children
// running /bin/true, 8 at a time through spawn in new uts+ipc namespaces,
// against a bash loop of `unshare -ui /bin/true` and against
// child_process.spawn('/bin/true') 8 at a time. Interleaved rounds, medians.
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
const PARALLEL = 8;

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

const cases = {
  '@ns/syscalls spawn, uts+ipc, 8 at a time': () =>
    pool(() => spawn('/bin/true', [], { namespaces: ['uts', 'ipc'], stdio: 'ignore' })),
  'child_process.spawn, 8 at a time': () =>
    pool(() => spawnPlain('/bin/true', [], { stdio: 'ignore' })),
  'bash loop of unshare -ui /bin/true': async () => {
    const t = process.hrtime.bigint();
    spawnSync('bash', ['-c', `for ((i = 0; i < ${N}; i++)); do unshare -ui /bin/true; done`]);
    return Number(process.hrtime.bigint() - t) / 1e6;
  },
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const run of Object.values(cases)) await run(); // warm up
for (let r = 0; r < ROUNDS; r++)
  for (const [k, run] of Object.entries(cases)) times[k].push(await run());
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
const loop = ms['bash loop of unshare -ui /bin/true'];
const plain = ms['child_process.spawn, 8 at a time'];
console.log(`\n${N} children of /bin/true, ${ROUNDS} interleaved rounds, medians`);
console.log('| how | ms | children/s | rate vs the unshare loop | time vs child_process |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [k, v] of Object.entries(ms))
  console.log(
    `| ${k} | ${v.toFixed(0)} | ${((N * 1000) / v).toFixed(0)} | ${(loop / v).toFixed(2)}x | ${(v / plain).toFixed(2)}x |`,
  );
