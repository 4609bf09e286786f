#!/usr/bin/env node
// ts-nsls against util-linux lsns: default output to /dev/null, interleaved
// runs, medians. First at the machine's normal load (with `node -e 0` as the
// floor every Node tool pays), then with LOAD extra processes, each in its own
// uts and ipc namespace. Whatever it starts it kills, also on error or Ctrl-C.
//
//   node scripts/bench-nsls.mjs [--loads 2000,5000,10000,20000] [--busy 2000] [--runs 11]
//                               [--compare DIR] [--lsns PATH]
//
// Each load adds to the last: the extra processes are brought up by eight
// shells at once, and all of them are killed at the end, on an error or on
// Ctrl-C. At 5,000 and more the runs are fewer (the slowest take seconds).
// At the loads given to --busy (2,000 unless told; 0 for none) the runs are
// repeated with the second processor busy: a shell's busy loop runs beside
// them, killed after.
// Where GNU time is installed (/usr/bin/time), each run's CPU (user+sys) and
// peak memory (RSS) are reported beside its wall time.
//
// --lsns PATH times another lsns in its place (a newer util-linux build:
// since 2.41 lsns reads every process's descriptors too, as ts-nsls does by
// default, which the 2.38 release does not).
// --compare DIR also times DIR/ts-nsls (a copy of an older dist/; its
// ts-nsls.cjs where it has no launcher), in the
// same rounds: an A/B against the same load, which a busy machine's noise
// between two separate runs of this script would swamp.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { countIn, killGroups } from './bench.mjs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const NSLS = join(ROOT, 'packages', 'ts-nsls', 'dist', 'ts-nsls');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const loadsAt = process.argv.indexOf('--loads');
const LOADS = (
  loadsAt > 0 ? process.argv[loadsAt + 1] : String(arg('load', 0) || '2000,5000,10000,20000')
)
  .split(',')
  .map(Number);
const busyAt = process.argv.indexOf('--busy');
const BUSY = (busyAt > 0 ? process.argv[busyAt + 1] : '2000').split(',').map(Number);
const RUNS = arg('runs', 11);
const runsAt = (load) => (load >= 10000 ? 3 : load >= 5000 ? 5 : RUNS);
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const compareAt = process.argv.indexOf('--compare');
const COMPARE = compareAt > 0 ? process.argv[compareAt + 1] : undefined;
const devnull = openSync('/dev/null', 'w');
const lsnsAt = process.argv.indexOf('--lsns');
const LSNS = lsnsAt > 0 ? process.argv[lsnsAt + 1] : 'lsns';

const commands = {
  lsns: [LSNS, []],
  // the executable itself, as a user runs it (its native launcher included)
  'ts-nsls': [NSLS, []],
  'node -e 0': [process.execPath, ['-e', '0']],
};
const compared =
  COMPARE && join(COMPARE, existsSync(join(COMPARE, 'ts-nsls')) ? 'ts-nsls' : 'ts-nsls.cjs');
if (compared) commands['compared'] = [compared, []];
const tools = ['lsns', 'ts-nsls', ...(COMPARE ? ['compared'] : [])];

/** One run: wall ms, and where GNU time is there CPU ms (user+sys) and peak RSS KiB. */
function time([cmd, args]) {
  const argv = GNU_TIME ? [GNU_TIME, '-f', '%U %S %M', cmd, ...args] : [cmd, ...args];
  const t = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), {
    stdio: ['ignore', devnull, 'pipe'],
    encoding: 'utf8',
  });
  const wall = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  if (!GNU_TIME) return { wall };
  const [user, sys, rss] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: (user + sys) * 1000, rss };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs the commands in turn, runs rounds (after one warm-up round); medians of each figure. */
function measure(names, runs = RUNS) {
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) time(commands[n]);
  for (let i = 0; i < runs; i++) for (const n of names) samples[n].push(time(commands[n]));
  const of = (n, key) =>
    samples[n][0][key] === undefined ? undefined : median(samples[n].map((x) => x[key]));
  return Object.fromEntries(
    names.map((n) => [n, { wall: of(n, 'wall'), cpu: of(n, 'cpu'), rss: of(n, 'rss') }]),
  );
}

const groups = []; // the process groups of the load, each killed as a whole
const cleanup = () => killGroups(groups);

/** Waits (up to a minute) until no process of these groups is left: the next run meets a machine at rest. */
async function waitGone(killed) {
  for (let i = 0; i < 300 && countIn(killed, () => true) > 0; i++)
    await new Promise((r) => setTimeout(r, 200));
}

/** Adds n processes of the load, each `unshare -ui sleep` in its own uts and ipc namespaces. */
async function addLoad(n, total) {
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
  while (countLoad() < total) {
    if (Date.now() - start > 120_000) throw new Error('the load did not come up within 2 minutes');
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - start;
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

async function main() {
  const rows = [];
  rows.push(['normal', measure([...tools, 'node -e 0'])]);
  let total = 0;
  for (const load of LOADS) {
    const added = load - total;
    const ms = await addLoad(added, load);
    total = load;
    console.error(
      `bench-nsls: +${load} processes up (${added} more in ${(ms / 1000).toFixed(1)} s)`,
    );
    rows.push([`+${load} uts+ipc`, measure(tools, runsAt(load))]);
    if (BUSY.includes(load)) {
      const hog = spawn('sh', ['-c', 'while :; do :; done'], { detached: true, stdio: 'ignore' });
      groups.push(hog.pid);
      await new Promise((r) => setTimeout(r, 200));
      rows.push([`+${load} uts+ipc, a busy loop beside`, measure(tools, runsAt(load))]);
      process.kill(-hog.pid, 'SIGKILL');
      groups.splice(groups.indexOf(hog.pid), 1);
    }
  }
  await waitGone(cleanup());

  const f = (v, d = 1) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(d));
  console.log('\n| load | command | wall ms | x lsns | CPU ms | x lsns | peak RSS MiB |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [load, m] of rows)
    for (const [name, v] of Object.entries(m))
      console.log(
        `| ${load} | ${name} | ${f(v.wall)} | ${f(v.wall / m.lsns.wall, 2)} | ${f(v.cpu, 0)} | ${f(v.cpu / m.lsns.cpu, 2)} | ${f(v.rss / 1024)} |`,
      );
  console.log(
    `(interleaved runs, medians: ${RUNS} at the normal load and 2,000, 5 at 5,000, 3 at 10,000 and more; stdout to /dev/null)`,
  );
  if (compared) console.log(`(compared: ${compared})`);
  const version = spawnSync(LSNS, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  console.log(`(lsns: ${LSNS}, ${version || 'version unknown'})`);
}

/** How many sleeps of our load group are up (in the group and exec'd into sleep). */
function countLoad() {
  return countIn(groups, (command) => command === 'sleep');
}

main().catch((e) => {
  cleanup();
  console.error(`bench-nsls: ${e.message}`);
  process.exit(1);
});
