#!/usr/bin/env node
// listNamespaces() of @ns/syscalls against `lsns -J` plus JSON.parse, at the
// machine's normal load and with LOAD extra processes (each in its own uts
// and ipc namespace, as bench-nsls.mjs makes them): interleaved runs,
// medians. While each listNamespaces() runs, perf_hooks'
// monitorEventLoopDelay records how long the event loop went without a
// turn: the longest is reported, for the async call, for
// listNamespacesSync() (which blocks by design, as a yardstick), and for
// 100 ms without any call (the floor: what the machine's other work costs
// the loop).
//
//   node scripts/bench-list.mjs [--load 2000] [--runs 11]
//
// Whatever it starts it kills, also on error or Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { countIn, killGroups } from './bench.mjs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = await import(pathToFileURL(join(root, 'packages/syscalls/dist/index.js')).href);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const LOAD = arg('load', 2000);
const RUNS = arg('runs', 11);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;

/** lsns -J and the parse of its output, as a program would use it: wall ms. */
function lsnsJson() {
  const t = process.hrtime.bigint();
  const r = spawnSync('lsns', ['-J'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`lsns -J exited ${r.status}: ${r.stderr}`);
  const n = JSON.parse(r.stdout).namespaces.length;
  return { wall: ms(t), n };
}

const histogram = monitorEventLoopDelay({ resolution: 1 });

/** One call, its wall ms and the longest the event loop waited for a turn meanwhile. */
async function timed(call) {
  // the histogram records the time between two of its timer's turns: after
  // a reset the first turn is only a new start, so let one pass before the call
  histogram.reset();
  await new Promise((r) => setTimeout(r, 5));
  const t = process.hrtime.bigint();
  const list = await call();
  const wall = ms(t);
  // a turn's delay is recorded when the turn comes: let one come
  await new Promise((r) => setTimeout(r, 5));
  return { wall, blocked: histogram.max / 1e6, n: list.length };
}

const cases = {
  'lsns -J + JSON.parse': async () => ({ ...lsnsJson(), blocked: undefined }),
  // the floor: how long the loop waits for a turn on this machine with no call at all
  'no call, 100 ms': () => timed(() => new Promise((r) => setTimeout(() => r([]), 100))),
  'listNamespaces()': () => timed(() => lib.listNamespaces()),
  ...(lib.listNamespacesSync && {
    'listNamespacesSync()': () => timed(() => lib.listNamespacesSync()),
  }),
};

/** Every case once per round, in turn (after one warm-up round): medians, and the longest block. */
async function measure(runs) {
  const names = Object.keys(cases);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) await cases[n]();
  for (let i = 0; i < runs; i++) for (const n of names) samples[n].push(await cases[n]());
  return Object.fromEntries(
    names.map((n) => {
      const s = samples[n];
      const blocked = s[0].blocked === undefined ? undefined : s.map((x) => x.blocked);
      return [
        n,
        {
          wall: median(s.map((x) => x.wall)),
          n: median(s.map((x) => x.n)),
          blockedMedian: blocked && median(blocked),
          blockedMax: blocked && Math.max(...blocked),
        },
      ];
    }),
  );
}

const groups = []; // the process groups of the load, each killed as a whole
const cleanup = () => killGroups(groups);
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

/** Adds n processes, each `unshare -ui sleep` in its own uts and ipc namespaces, by eight shells. */
async function addLoad(n) {
  const shells = 8;
  for (let k = 0; k < shells; k++) {
    const share = Math.floor(n / shells) + (k < n % shells ? 1 : 0);
    const child = spawn(
      'sh',
      ['-c', `i=0; while [ $i -lt ${share} ]; do unshare -ui sleep 3600 & i=$((i+1)); done; wait`],
      { detached: true, stdio: 'ignore' },
    );
    groups.push(child.pid);
  }
  const start = Date.now();
  while (countIn(groups, (command) => command === 'sleep') < n) {
    if (Date.now() - start > 120_000) throw new Error('the load did not come up within 2 minutes');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
  histogram.enable();
  const rows = [['normal', await measure(RUNS)]];
  if (LOAD > 0) {
    await addLoad(LOAD);
    console.error(`bench-list: +${LOAD} processes up`);
    rows.push([`+${LOAD} uts+ipc`, await measure(RUNS)]);
    const killed = cleanup();
    for (let i = 0; i < 300 && countIn(killed, () => true) > 0; i++)
      await new Promise((r) => setTimeout(r, 200));
  }
  const f = (v, d = 1) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(d));
  console.log('\nlistNamespaces() against lsns -J + JSON.parse');
  console.log(
    '| load | call | namespaces | wall ms | x lsns -J | loop blocked ms, median | loop blocked ms, max |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [load, m] of rows) {
    const base = m['lsns -J + JSON.parse'].wall;
    for (const [name, v] of Object.entries(m))
      console.log(
        `| ${load} | ${name} | ${v.n} | ${f(v.wall)} | ${name.startsWith('no call') ? '' : f(v.wall / base, 2)} | ${f(v.blockedMedian)} | ${f(v.blockedMax)} |`,
      );
  }
  console.log(
    `(${RUNS} interleaved rounds after one warm-up, medians; loop blocked: the longest wait for a turn of the event loop during each call, monitorEventLoopDelay at 1 ms resolution)`,
  );
}

main().catch((e) => {
  cleanup();
  console.error(`bench-list: ${e.message}`);
  process.exit(1);
});
