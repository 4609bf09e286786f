// The native parts under AddressSanitizer and UndefinedBehaviorSanitizer
// (any report aborts): native/nsrun-test.c (a fuzz of the step-program
// checker and real clones, through the runner's own source), then, as root,
// the end-to-end tests of the runner and of what programs inherit against a
// copy of the built tools whose launcher and waiter are built with the
// sanitizers. Part of npm test; skips with a reason where the compiler has no
// sanitizer runtime.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cc = process.env.CC ?? 'cc';
const out = mkdtempSync(join(tmpdir(), 'nsrun-test-'));
// removed however this script ends (process.exit skips a finally block)
process.on('exit', () => rmSync(out, { recursive: true, force: true }));
const sanitize = [
  '-g',
  '-O1',
  '-fno-omit-frame-pointer',
  '-fsanitize=address,undefined',
  '-fno-sanitize-recover=all',
];
const env = {
  ...process.env,
  ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=1',
  UBSAN_OPTIONS: 'print_stacktrace=1',
};
const tools = ['ts-unshare', 'ts-nsenter', 'ts-nsls'];

function build(args) {
  const r = spawnSync(cc, [...sanitize, '-Wall', '-Wextra', '-Werror', '-I', out, ...args], {
    encoding: 'utf8',
  });
  if (r.status === 0) return true;
  if (/asan|ubsan|sanitize/i.test(r.stderr)) {
    console.log(
      `# SKIP native tests: ${cc} cannot build with sanitizers (apt-get install gcc):\n${r.stderr}`,
    );
    process.exit(0);
  }
  process.stderr.write(r.stderr);
  process.exit(1);
}

// the opcode header, generated as for the real build
execFileSync(process.execPath, [join(root, 'scripts', 'build-native.mjs'), out, '--header-only'], {
  stdio: 'inherit',
});
const exe = join(out, 'nsrun-test');
build(['-I', join(root, 'native'), '-o', exe, join(root, 'native', 'nsrun-test.c')]);
const unit = spawnSync(exe, [], { stdio: 'inherit', env });
if (unit.status !== 0) process.exit(unit.status ?? 1);

if (process.getuid() !== 0) {
  console.log('# SKIP native end-to-end tests: they need root');
  process.exit(0);
}
// A copy of the built tools (and koffi, which they load) with sanitized executables.
const copy = join(out, 'tree');
for (const t of tools) {
  const dist = join(root, 'packages', t, 'dist');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run npm run build`);
  cpSync(dist, join(copy, 'packages', t, 'dist'), { recursive: true });
}
for (const dep of ['koffi', '@koromix'])
  if (existsSync(join(root, 'node_modules', dep)))
    cpSync(join(root, 'node_modules', dep), join(copy, 'node_modules', dep), { recursive: true });
for (const t of tools) {
  const dist = join(copy, 'packages', t, 'dist');
  build(['-o', join(dist, t), join(root, 'native', 'launcher.c')]);
  build(['-DNSRUN_WAITER', '-o', join(dist, 'ns-waiter'), join(root, 'native', 'nsrun.c')]);
}
const e2e = spawnSync(
  process.execPath,
  [
    join(root, 'scripts', 'run-tests.mjs'),
    join(root, 'test', 'runner.test.ts'),
    join(root, 'test', 'inheritance.test.ts'),
  ],
  {
    stdio: 'inherit',
    cwd: root,
    env: { ...env, ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=0', TS_TOOLS_DIR: copy },
  },
);
process.exit(e2e.status ?? 1);
