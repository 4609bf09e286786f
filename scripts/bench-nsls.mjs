#!/usr/bin/env node
// ts-nsls against util-linux lsns: default output to /dev/null, interleaved
// runs, medians. First at the machine's normal load (with `node -e 0` as the
// floor every Node tool pays), then with LOAD extra processes, each in its own
// uts and ipc namespace. Whatever it starts it kills, also on error or Ctrl-C.
//
//   node scripts/bench-nsls.mjs [--load 2000] [--runs 11] [--compare DIR]
//
// --compare DIR also times DIR/ts-nsls (a copy of an older dist/; its
// ts-nsls.cjs where it has no launcher), in the
// same rounds: an A/B against the same load, which a busy machine's noise
// between two separate runs of this script would swamp.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const NSLS = join(ROOT, 'packages', 'ts-nsls', 'dist', 'ts-nsls');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const LOAD = arg('load', 2000);
const RUNS = arg('runs', 11);
const compareAt = process.argv.indexOf('--compare');
const COMPARE = compareAt > 0 ? process.argv[compareAt + 1] : undefined;
const devnull = openSync('/dev/null', 'w');

const commands = {
  lsns: ['lsns', []],
  // the executable itself, as a user runs it (its native launcher included)
  'ts-nsls': [NSLS, []],
  'node -e 0': [process.execPath, ['-e', '0']],
};
const compared =
  COMPARE && join(COMPARE, existsSync(join(COMPARE, 'ts-nsls')) ? 'ts-nsls' : 'ts-nsls.cjs');
if (compared) commands['compared'] = [compared, []];
const tools = ['lsns', 'ts-nsls', ...(COMPARE ? ['compared'] : [])];

function time([cmd, args]) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', devnull, 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs the commands in turn, RUNS rounds (after one warm-up round), and returns medians in ms. */
function measure(names) {
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) time(commands[n]);
  for (let i = 0; i < RUNS; i++) for (const n of names) samples[n].push(time(commands[n]));
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

let group; // the process group of the load, killed as a whole
function cleanup() {
  if (group === undefined) return;
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    /* gone already */
  }
  group = undefined;
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

async function main() {
  const rows = [];
  const normal = measure([...tools, 'node -e 0']);
  rows.push(['normal', normal]);

  // one shell forks the load; every process is in the shell's process group
  const child = spawn(
    'sh',
    ['-c', `i=0; while [ $i -lt ${LOAD} ]; do unshare -ui sleep 3600 & i=$((i+1)); done; wait`],
    { detached: true, stdio: 'ignore' },
  );
  group = child.pid;
  const start = Date.now();
  while (countLoad() < LOAD) {
    if (Date.now() - start > 120_000) throw new Error('the load did not come up within 2 minutes');
    await new Promise((r) => setTimeout(r, 200));
  }
  const heavy = measure(tools);
  rows.push([`+${LOAD} uts+ipc`, heavy]);
  cleanup();

  console.log('load            command       median ms   ratio to lsns');
  for (const [load, m] of rows)
    for (const [name, ms] of Object.entries(m))
      console.log(
        `${load.padEnd(15)} ${name.padEnd(12)} ${ms.toFixed(1).padStart(10)}   ${(ms / m.lsns).toFixed(2).padStart(12)}`,
      );
  console.log(`(${RUNS} interleaved runs each, after one warm-up; stdout to /dev/null)`);
  if (compared) console.log(`(compared: ${compared})`);
}

/** How many sleeps of our load group are up (in the group and exec'd into sleep). */
function countLoad() {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      if (Number(f[2]) === group && stat.slice(stat.indexOf('(') + 1, close) === 'sleep') n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

main().catch((e) => {
  cleanup();
  console.error(`bench-nsls: ${e.message}`);
  process.exit(1);
});
