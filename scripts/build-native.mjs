// Builds native/nsrun.c into OUTDIR: libnsrun.so (loaded through koffi) and ns-waiter.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'nsrun.c');
const outdir = resolve(process.argv[2] ?? 'dist');
const cc = process.env.CC ?? 'cc';
const flags = ['-O2', '-Wall', '-Wextra', '-Werror'];
const fresh = (out) => {
  try {
    return statSync(out).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    return false;
  }
};

mkdirSync(outdir, { recursive: true });
const targets = [
  [join(outdir, 'libnsrun.so'), ['-shared', '-fPIC']],
  [join(outdir, 'ns-waiter'), ['-DNSRUN_WAITER']],
];
for (const [out, extra] of targets) {
  if (fresh(out)) continue;
  try {
    execFileSync(cc, [...flags, ...extra, '-o', out, source], { stdio: 'inherit' });
  } catch {
    console.error(`build-native: ${cc} failed to build ${out}; a C compiler is required`);
    process.exit(1);
  }
}
