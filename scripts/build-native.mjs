// Builds native/ into OUTDIR: libnsrun.so (loaded through koffi: the step
// runner nsrun.c and the batched /proc reader procscan.c), ns-waiter,
// and with --launcher NAME the tool's executable NAME (native/launcher.c) and
// node-path, the one Node.js the launcher runs: NS_TOOLS_NODE, or the Node
// running this build, as an absolute real path.
// The step opcodes come from native/steps.json, as a header generated for the
// build (--header-only writes just that header into OUTDIR).
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const native = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'native');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    launcher: { type: 'string' },
    'header-only': { type: 'boolean' },
  },
});
const outdir = resolve(positionals[0] ?? 'dist');
const cc = process.env.CC ?? 'cc';
// the generated header lives only as long as the build
const include = mkdtempSync(join(tmpdir(), 'nsrun-build-'));
process.on('exit', () => rmSync(include, { recursive: true, force: true }));
const flags = ['-O2', '-Wall', '-Wextra', '-Werror', '-I', include];

/** The opcode header, from the one table TypeScript reads too. */
function opsHeader() {
  const table = JSON.parse(readFileSync(join(native, 'steps.json'), 'utf8'));
  const ops = Object.entries(table.ops).sort(([, a], [, b]) => a.code - b.code);
  const cname = (name) => 'OP_' + name.toUpperCase().replace(/-/g, '_');
  const max = Math.max(...ops.map(([, o]) => o.code));
  return [
    '/* Generated from native/steps.json by scripts/build-native.mjs: do not edit. */',
    `#define NSRUN_VERSION ${table.version}`,
    'enum {',
    ...ops.map(([name, o]) => `  ${cname(name)} = ${o.code}, /* ${o.doc} */`),
    `  OP_COUNT = ${max + 1}`,
    '};',
    '/* Argument kinds per opcode: i integer, s string offset, * exec. */',
    'static const char *const nsrun_op_args[OP_COUNT] = {',
    ...ops.map(([name, o]) => `  [${cname(name)}] = "${o.args}",`),
    '};',
    '',
  ].join('\n');
}

mkdirSync(outdir, { recursive: true });
const table = join(native, 'steps.json');
writeFileSync(join(include, 'nsrun-ops.h'), opsHeader());
if (values['header-only']) {
  // for native/nsrun-test.c: the header where the caller asks
  writeFileSync(join(outdir, 'nsrun-ops.h'), opsHeader());
  process.exit(0);
}

const nsrun = join(native, 'nsrun.c');
const targets = [
  [join(outdir, 'libnsrun.so'), [nsrun, join(native, 'procscan.c')], ['-shared', '-fPIC']],
  [join(outdir, 'ns-waiter'), nsrun, ['-DNSRUN_WAITER']],
  // static where the C library allows it: child_process starts it for every
  // spawn(), and a dynamic loader's work is a third of its time
  [join(outdir, 'ns-run'), nsrun, ['-DNSRUN_RUNNER', ...(staticOk() ? ['-static'] : [])]],
];
if (values.launcher) targets.push([join(outdir, values.launcher), join(native, 'launcher.c'), []]);

/** Whether the C compiler can link a static executable (Debian: libc6-dev has libc.a). */
function staticOk() {
  const probe = join(include, 'probe');
  try {
    execFileSync(cc, ['-static', '-x', 'c', '-o', probe, '-'], {
      input: 'int main(void) { return 0; }\n',
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    return true;
  } catch {
    return false;
  }
}

const mtime = (f) => statSync(f).mtimeMs;
const fresh = (out, sources) => {
  try {
    return (
      mtime(out) >=
      Math.max(...sources.map(mtime), mtime(table), mtime(fileURLToPath(import.meta.url)))
    );
  } catch {
    return false;
  }
};
for (const [out, source, extra] of targets) {
  const sources = [source].flat();
  if (fresh(out, sources)) continue;
  try {
    execFileSync(cc, [...flags, ...extra, '-o', out, ...sources], { stdio: 'inherit' });
  } catch {
    console.error(`build-native: ${cc} failed to build ${out}; a C compiler is required`);
    process.exit(1);
  }
}
if (values.launcher) {
  const node = realpathSync(process.env.NS_TOOLS_NODE || process.execPath);
  writeFileSync(join(outdir, 'node-path'), node + '\n', { mode: 0o644 });
}
