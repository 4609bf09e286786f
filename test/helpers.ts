/** Shared helpers for the end-to-end tests: run built tools and util-linux side by side. */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where the built tools are: this tree, or TS_TOOLS_DIR, a copy laid out the
 * same way (scripts/test-native.mjs runs tests against one whose native
 * executables are built with sanitizers).
 */
const TOOLS = process.env.TS_TOOLS_DIR ?? ROOT;

/** The built executable of a tool, e.g. bin('ts-unshare'). */
export function bin(tool: 'ts-unshare' | 'ts-nsenter' | 'ts-nsls'): string {
  const file = join(TOOLS, 'packages', tool, 'dist', tool);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
  return file;
}

export interface Result {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
}

export function run(command: string, args: string[], options: SpawnSyncOptions = {}): Result {
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 256 * 1024 * 1024,
    ...options,
  });
  if (r.error) throw r.error;
  return { stdout: String(r.stdout), stderr: String(r.stderr), status: r.status, signal: r.signal };
}

/** The command line that runs argv as nobody (uid and gid 65534, no groups), from /. */
export function asNobody(argv: string[]): [string, string[]] {
  return ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv]];
}

let nobodyRoot: string | undefined;
/**
 * The built tool as nobody can run it. Where nobody cannot reach this tree
 * (a clone in root's home, mode 700), a copy of what the tools need at run
 * time (their dist folders and koffi) in a folder nobody can read, removed
 * when the tests end.
 */
export function nobodyBin(tool: 'ts-unshare' | 'ts-nsenter' | 'ts-nsls'): string {
  const file = bin(tool);
  if (nobodyRoot === undefined) {
    const reachable = run(...asNobody(['test', '-x', file]), { cwd: '/' }).status === 0;
    if (reachable) nobodyRoot = TOOLS;
    else {
      nobodyRoot = mkdtempSync(join(tmpdir(), 'ts-tools-for-nobody-'));
      chmodSync(nobodyRoot, 0o755);
      for (const t of ['ts-unshare', 'ts-nsenter', 'ts-nsls'])
        cpSync(join(TOOLS, 'packages', t, 'dist'), join(nobodyRoot, 'packages', t, 'dist'), {
          recursive: true,
        });
      for (const dep of ['koffi', '@koromix'])
        if (existsSync(join(TOOLS, 'node_modules', dep)))
          cpSync(join(TOOLS, 'node_modules', dep), join(nobodyRoot, 'node_modules', dep), {
            recursive: true,
          });
      const copy = nobodyRoot;
      process.on('exit', () => rmSync(copy, { recursive: true, force: true }));
    }
  }
  return join(nobodyRoot, 'packages', tool, 'dist', tool);
}

/** Whether a command is on PATH. */
export function have(command: string): boolean {
  return run('sh', ['-c', `command -v "$0" >/dev/null`, command]).status === 0;
}

/**
 * Skips the test, with a reason that says how to install what is missing,
 * unless every command is on PATH; returns whether the test may go on.
 */
export function needs(t: TestContext, commands: Record<string, string>): boolean {
  const missing = Object.entries(commands).filter(([c]) => !have(c));
  if (missing.length === 0) return true;
  t.skip(missing.map(([c, pkg]) => `${c} is not installed: apt-get install ${pkg}`).join('; '));
  return false;
}

/**
 * Runs argv in a private mount namespace after a shell setup line (mounts that
 * show the command other files than the host's, which never sees them).
 */
export function inPrivateMounts(setup: string, argv: string[]): Result {
  return run('unshare', [
    '-m',
    '--propagation',
    'private',
    'sh',
    '-c',
    `${setup} && exec "$@"`,
    'sh',
    ...argv,
  ]);
}

/** The lines of text, trimmed, each run of blanks one space: id maps and tables compared as words. */
export function wordLines(text: string): string[] {
  return text
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '));
}

/** Runs a shell command line through sh -c, with the tools' directories first in PATH. */
export function sh(script: string, options: SpawnSyncOptions = {}): Result {
  return run('sh', ['-c', script], {
    ...options,
    env: { ...process.env, PATH: `${toolPath()}:${process.env.PATH}`, ...options.env },
  });
}

/** A PATH prefix under which ts-unshare, ts-nsenter and ts-nsls are found. */
export function toolPath(): string {
  return join(ROOT, 'node_modules', '.bin');
}

/** Replace a tool's name with util-linux's in its output, for side-by-side comparison. */
export function asUtilLinux(text: string): string {
  return text.replace(/\bts-(unshare|nsenter)\b/g, '$1').replace(/\bts-nsls\b/g, 'lsns');
}

/** Blocks the test for ms milliseconds. */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Polls cond until it holds; throws after ms milliseconds. */
export function waitFor(cond: () => boolean, what: string, ms = 10_000): void {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    sleepMs(20);
  }
}

/** The children of a process, from /proc (none if it is gone). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** PIDs of the processes whose command line is exactly argv (what `pgrep -x -f` finds). */
export function processesRunning(argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') === want) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** A process's command name, '' if it is gone. */
export function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * Runs one of our tools and its util-linux counterpart the same way, as root
 * or as nobody; sameAsUtilLinux asserts that a user sees the same stdout,
 * stderr (with the tools' names made alike), exit status and signal.
 */
export function sideBySide(tool: 'ts-unshare' | 'ts-nsenter', utilLinux: string) {
  const ours = (args: string[], opts: SpawnSyncOptions = {}) => run(bin(tool), args, opts);
  const theirs = (args: string[], opts: SpawnSyncOptions = {}) => run(utilLinux, args, opts);
  const oursAsNobody = (args: string[]) =>
    run(...asNobody([nobodyBin(tool), ...args]), { cwd: '/' });
  const theirsAsNobody = (args: string[]) => run(...asNobody([utilLinux, ...args]), { cwd: '/' });
  const seen = (r: Result) => ({
    stdout: r.stdout,
    // getopt's messages start with argv[0] as typed, e.g. /usr/bin/unshare
    stderr: asUtilLinux(r.stderr).replace(/^\/usr\/bin\/(\w+):/gm, '$1:'),
    status: r.status,
    signal: r.signal,
  });
  const sameAsUtilLinux = (args: string[], nobody = false): Result => {
    const a = nobody ? oursAsNobody(args) : ours(args);
    const b = nobody ? theirsAsNobody(args) : theirs(args);
    assert.deepEqual(seen(a), seen(b), `${tool} ${args.join(' ')}`);
    return a;
  };
  return { ours, theirs, oursAsNobody, theirsAsNobody, sameAsUtilLinux };
}
