// npm run bench: each tool against its util-linux counterpart and against a
// bare Node start-up (node -e 0), interleaved in one run, medians and ratios.
// It reports; it never fails the build. ROUNDS=N changes the number of rounds;
// `npm run bench -- unshare launcher nsenter nsls list spawn` picks parts (default: all).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** A tool's executable, as a user runs it: the native launcher that starts Node. */
export const tool = (name) => join(root, 'packages', name, 'dist', name);
/** The environment without NODE_EXTRA_CA_CERTS, whose certificates Node parses at start-up. */
export const noCaEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'),
);
/** The two floors: Node's start-up with this environment, and without NODE_EXTRA_CA_CERTS. */
export const NODE_CASES = [
  { label: 'node -e 0', argv: [process.execPath, '-e', '0'] },
  { label: 'node -e 0 (no CA certs)', argv: [process.execPath, '-e', '0'], env: noCaEnv },
];
const rounds = Number(process.env.ROUNDS ?? 30);

function timeOnce(argv, env = process.env) {
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status ?? r.signal}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Kills each process group of a load (emptying the list); the groups it killed. */
export function killGroups(groups) {
  const killed = groups.splice(0);
  for (const group of killed) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
  return killed;
}

/** How many processes of these process groups there are whose command passes the test. */
export function countIn(pgroups, test) {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      if (pgroups.includes(Number(f[2])) && test(stat.slice(stat.indexOf('(') + 1, close))) n++;
    } catch {
      /* gone */
    }
  }
  return n;
}

/** Runs every case once per round, in turn, so machine noise hits all of them alike. */
export function compare(title, cases, n = rounds) {
  const times = cases.map(() => []);
  for (const c of cases) timeOnce(c.argv, c.env); // warm the page cache
  for (let i = 0; i < n; i++) cases.forEach((c, k) => times[k].push(timeOnce(c.argv, c.env)));
  const medians = times.map(median);
  const base = (label) => medians[cases.findIndex((c) => c.label === label)];
  console.log(`\n${title} (${n} interleaved rounds, median wall time)`);
  const caSet = process.env.NODE_EXTRA_CA_CERTS !== undefined;
  console.log(
    `| command | median ms | vs node -e 0${caSet ? ' (CA certs set)' : ''} | vs node -e 0 (no CA certs) | vs util-linux |`,
  );
  console.log('| --- | ---: | ---: | ---: | ---: |');
  cases.forEach((c, k) => {
    const ratio = (label) => (medians[k] / base(label)).toFixed(2) + 'x';
    const vsNode = c.util ? ratio('node -e 0') : '';
    const vsBare = c.util ? ratio('node -e 0 (no CA certs)') : '';
    const vsUl = c.util ? ratio(c.util) : '';
    console.log(`| \`${c.label}\` | ${medians[k].toFixed(1)} | ${vsNode} | ${vsBare} | ${vsUl} |`);
  });
  return medians;
}

/** Resident memory of the process that waits for the command, ours and util-linux's. */
async function waitingParentRss(argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 700));
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
  } finally {
    // The command first (killing PID 1 of the new PID namespace empties it), then the waiter.
    const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
    for (const pid of kids.split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
}

const parts = process.argv.slice(2);
const wanted = (part) => parts.length === 0 || parts.includes(part);

async function main() {
  const unshare = tool('ts-unshare');
  if (wanted('unshare')) await benchUnshare(unshare);
  for (const [part, extra] of [
    ['launcher', 'bench-launcher.mjs'],
    ['nsenter', 'bench-nsenter.mjs'],
    ['nsls', 'bench-nsls.mjs'],
    ['list', 'bench-list.mjs'],
    ['spawn', 'bench-spawn.mjs'],
  ]) {
    const script = join(root, 'scripts', extra);
    if (wanted(part) && existsSync(script))
      spawnSync(process.execPath, [script], { stdio: 'inherit' });
  }
}

async function benchUnshare(unshare) {
  const pair = (args) => [
    { label: `unshare ${args.join(' ')}`, argv: ['/usr/bin/unshare', ...args] },
    {
      label: `ts-unshare ${args.join(' ')}`,
      argv: [unshare, ...args],
      util: `unshare ${args.join(' ')}`,
    },
  ];
  compare('ts-unshare start-up', [
    ...NODE_CASES,
    ...pair(['-u', 'true']),
    ...pair(['--help']),
    ...pair(['-fp', '--mount-proc', 'true']),
    ...pair(['-r', 'true']),
  ]);

  const ours = await waitingParentRss([unshare, '-fp', '--mount-proc', 'sleep', '30']);
  const theirs = await waitingParentRss(['/usr/bin/unshare', '-fp', '--mount-proc', 'sleep', '30']);
  console.log("\nWaiting parent of `-fp --mount-proc sleep 30`, VmRSS of the tool's PID");
  console.log('| tool | VmRSS KiB |\n| --- | ---: |');
  console.log(`| ts-unshare | ${ours} |\n| unshare | ${theirs} |`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`bench: ${e.message}`);
    process.exit(1);
  });
}
