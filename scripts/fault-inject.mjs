// Fault injection: SIGKILL of ts-unshare at a random moment 0-200 ms into
// `-fp --mount-proc --uts=F --net=F sleep`, RUNS times per variant. Each run
// ends fully set up (program running, both files bound, as util-linux would
// leave it), with nothing left, or half made (binds without their program, or
// the reverse); with --kill-child, any process left is counted. Everything a
// run leaves is removed before the next. Run as root.
//
//   node scripts/fault-inject.mjs [--runs 100]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tool = join(root, 'packages', 'ts-unshare', 'dist', 'ts-unshare');
const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 100;
const dir = mkdtempSync(join(tmpdir(), 'ts-fault-'));
const sleepMs = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const pids = (argv) =>
  spawnSync('pgrep', ['-x', '-f', argv.join(' ')], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
const bound = (files) => {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4]);
  return files.filter((f) => points.includes(f));
};
function cleanUp(argv, files) {
  for (const pid of pids(argv)) process.kill(pid, 'SIGKILL');
  for (const f of bound(files)) spawnSync('umount', ['-l', f]);
}

async function variant(label, extra) {
  const counts = { full: 0, nothing: 0, bindsOnly: 0, programOnly: 0, processesLeft: 0 };
  for (let run = 0; run < RUNS; run++) {
    const files = ['uts', 'net'].map((t) => join(dir, `${t}${run}`));
    for (const f of files) writeFileSync(f, '');
    const argv = ['sleep', `60.${run}`];
    const child = spawn(
      tool,
      ['-fp', '--mount-proc', `--uts=${files[0]}`, `--net=${files[1]}`, ...extra, ...argv],
      { stdio: 'ignore' },
    );
    const exited = new Promise((r) => child.once('exit', r));
    sleepMs(Math.random() * 200);
    child.kill('SIGKILL');
    await exited;
    sleepMs(50); // a child armed with --kill-child takes its signal
    const program = pids(argv).length > 0;
    const binds = bound(files).length;
    if (extra.includes('--kill-child') && program) counts.processesLeft++;
    if (program && binds === 2) counts.full++;
    else if (!program && binds === 0) counts.nothing++;
    else if (!program) counts.bindsOnly++;
    else counts.programOnly++;
    cleanUp(argv, files);
  }
  console.log(`| ${label} | ${Object.values(counts).join(' | ')} |`);
}

try {
  console.log(`\nSIGKILL of ts-unshare 0-200 ms in, ${RUNS} runs per line`);
  console.log(
    '| ts-unshare -fp --mount-proc --uts=F --net=F ... sleep | fully set up | nothing left | half made | processes left |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: |');
  await variant('(no more options)', []);
  await variant('--kill-child', ['--kill-child']);
  await variant('--kill-child --owner 65534:65534', ['--kill-child', '--owner', '65534:65534']);
  await variant('--kill-child -S 65534', ['--kill-child', '-S', '65534']);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
