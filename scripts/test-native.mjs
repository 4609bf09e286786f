// The step runner's own test: native/nsrun-test.c built with AddressSanitizer
// and UndefinedBehaviorSanitizer (any report aborts it), then run. Part of
// npm test; skips with a reason where the compiler has no sanitizer runtime.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cc = process.env.CC ?? 'cc';
const out = mkdtempSync(join(tmpdir(), 'nsrun-test-'));
try {
  // the opcode header, generated as for the real build
  execFileSync(
    process.execPath,
    [join(root, 'scripts', 'build-native.mjs'), out, '--header-only'],
    {
      stdio: 'inherit',
    },
  );
  const exe = join(out, 'nsrun-test');
  const flags = ['-g', '-O1', '-Wall', '-Wextra', '-Werror', '-fno-omit-frame-pointer'];
  const sanitize = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
  const build = spawnSync(
    cc,
    [
      ...flags,
      ...sanitize,
      '-I',
      out,
      '-I',
      join(root, 'native'),
      '-o',
      exe,
      join(root, 'native', 'nsrun-test.c'),
    ],
    { encoding: 'utf8' },
  );
  if (build.status !== 0) {
    if (/asan|ubsan|sanitize/i.test(build.stderr)) {
      console.log(
        `# SKIP nsrun-test: ${cc} cannot build with sanitizers (apt-get install gcc):\n${build.stderr}`,
      );
      process.exit(0);
    }
    process.stderr.write(build.stderr);
    process.exit(1);
  }
  const run = spawnSync(exe, [], {
    stdio: 'inherit',
    env: {
      ...process.env,
      ASAN_OPTIONS: 'abort_on_error=1:detect_leaks=1',
      UBSAN_OPTIONS: 'print_stacktrace=1',
    },
  });
  process.exit(run.status ?? 1);
} finally {
  rmSync(out, { recursive: true, force: true });
}
