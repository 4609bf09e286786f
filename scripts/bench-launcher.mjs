#!/usr/bin/env node
// Each tool's short run against `node -e 0` run the same way: as root and as
// nobody (through setpriv, both sides alike), at the machine's normal load
// and with LOAD extra processes (sleeps, root's). A non-root start-up must not
// grow with the number of processes on the machine: the launcher counts the
// user's tasks only when RLIMIT_NPROC is within reach.
//
//   node scripts/bench-launcher.mjs [--load 2000] [--rounds 20]
//
// Whatever it starts it kills, also on an error or Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compare, noCaEnv } from './bench.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const LOAD = arg('load', 2000);
const ROUNDS = arg('rounds', Number(process.env.ROUNDS ?? 20));
const TOOLS = ['ts-unshare', 'ts-nsenter', 'ts-nsls'];
const SHORT = {
  'ts-unshare': ['-r', 'true'],
  'ts-nsenter': ['--version'],
  'ts-nsls': ['--version'],
};
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

// nobody may not reach this tree: a readable copy of what the tools need, removed at the end
let copy;
function toolsFor(nobody) {
  const dist = (base, t) => join(base, 'packages', t, 'dist', t);
  if (!nobody) return (t) => dist(root, t);
  const reachable = spawnSync(
    NOBODY[0],
    [...NOBODY.slice(1), 'test', '-x', dist(root, 'ts-nsls')],
    {
      cwd: '/',
    },
  );
  if (reachable.status === 0) return (t) => dist(root, t);
  copy = mkdtempSync(join(tmpdir(), 'bench-launcher-'));
  chmodSync(copy, 0o755);
  for (const t of TOOLS)
    cpSync(join(root, 'packages', t, 'dist'), join(copy, 'packages', t, 'dist'), {
      recursive: true,
    });
  for (const dep of ['koffi', '@koromix'])
    if (existsSync(join(root, 'node_modules', dep)))
      cpSync(join(root, 'node_modules', dep), join(copy, 'node_modules', dep), { recursive: true });
  return (t) => dist(copy, t);
}

let load;
function startLoad(n) {
  // one shell in a process group of its own, its sleeps killed with it
  load = spawn('sh', ['-c', `i=0; while [ $i -lt ${n} ]; do sleep 600 & i=$((i+1)); done; wait`], {
    stdio: 'ignore',
    detached: true,
  });
  const end = Date.now() + 120_000;
  for (;;) {
    const count = Number(spawnSync('pgrep', ['-c', '-g', String(load.pid)]).stdout);
    if (count >= n) return;
    if (Date.now() > end) throw new Error(`only ${count} of ${n} processes came up`);
    spawnSync('sleep', ['0.2']);
  }
}
function stopLoad() {
  if (!load) return;
  try {
    process.kill(-load.pid, 'SIGKILL');
  } catch {
    // gone already
  }
  while (spawnSync('pgrep', ['-g', String(load.pid)]).status === 0) spawnSync('sleep', ['0.1']);
  load = undefined;
}
function cleanUp() {
  stopLoad();
  if (copy) rmSync(copy, { recursive: true, force: true });
}
process.on('exit', cleanUp);
process.on('SIGINT', () => process.exit(130));

function run(nobody, label) {
  const bin = toolsFor(nobody);
  const via = nobody ? NOBODY : [];
  const cases = [
    { label: 'node -e 0', argv: [...via, process.execPath, '-e', '0'] },
    { label: 'node -e 0 (no CA certs)', argv: [...via, process.execPath, '-e', '0'], env: noCaEnv },
    ...TOOLS.map((t) => ({
      label: `${t} ${SHORT[t].join(' ')}`,
      argv: [...via, bin(t), ...SHORT[t]],
      env: noCaEnv,
      util: 'node -e 0 (no CA certs)',
    })),
  ];
  const medians = compare(`Launcher: ${label}`, cases, ROUNDS);
  return medians;
}

try {
  run(false, 'root, normal load');
  run(true, 'nobody, normal load');
  if (LOAD > 0) {
    startLoad(LOAD);
    run(false, `root, +${LOAD} processes`);
    run(true, `nobody, +${LOAD} processes`);
  }
} catch (e) {
  console.error(`bench-launcher: ${e.message}`);
  process.exitCode = 1;
}
