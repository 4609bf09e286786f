#!/usr/bin/env node
// ts-nsenter against util-linux nsenter: `-t PID -u true` into a target made
// by `unshare -u sleep`, with `node -e 0` as the floor every Node tool pays.
// Interleaved runs, medians and ratios. The target is killed whatever happens.
//
//   node scripts/bench-nsenter.mjs [--runs 30]
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const NSENTER = join(ROOT, 'packages', 'ts-nsenter', 'dist', 'ts-nsenter');
const NO_CA_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'),
);
const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 30;

const target = spawn('unshare', ['-u', 'sleep', '600'], { stdio: 'ignore' });
const stop = () => {
  try {
    target.kill('SIGKILL');
  } catch {
    // already gone
  }
};
process.on('exit', stop);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function waitForTarget() {
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      if (readFileSync(`/proc/${target.pid}/comm`, 'utf8').trim() === 'sleep') return;
    } catch {
      // not there yet
    }
    if (Date.now() > end) throw new Error('the target did not start');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

function time([cmd, args, env = process.env]) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  waitForTarget();
  const pid = String(target.pid);
  const commands = {
    'nsenter -t PID -u true': ['/usr/bin/nsenter', ['-t', pid, '-u', 'true']],
    'ts-nsenter -t PID -u true': [NSENTER, ['-t', pid, '-u', 'true']],
    'node -e 0': [process.execPath, ['-e', '0']],
    'node -e 0 (no CA certs)': [process.execPath, ['-e', '0'], NO_CA_ENV],
  };
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (const c of Object.values(commands)) time(c); // warm the page cache
  for (let r = 0; r < RUNS; r++)
    for (const [k, c] of Object.entries(commands)) times[k].push(time(c));

  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const base = m['nsenter -t PID -u true'];
  const node = m['node -e 0'];
  const bare = m['node -e 0 (no CA certs)'];
  console.log(`\nts-nsenter benchmark: ${RUNS} interleaved runs, medians`);
  console.log('| command | median ms | x nsenter | x node -e 0 | x node -e 0 (no CA certs) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [k, v] of Object.entries(m))
    console.log(
      `| \`${k}\` | ${v.toFixed(2)} | ${(v / base).toFixed(2)} | ${(v / node).toFixed(2)} | ${(v / bare).toFixed(2)} |`,
    );
} finally {
  stop();
}
