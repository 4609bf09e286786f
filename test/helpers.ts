/** Shared helpers for the end-to-end tests: run built tools and util-linux side by side. */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The built executable of a tool, e.g. bin('ts-unshare'). */
export function bin(tool: 'ts-unshare' | 'ts-nsenter' | 'ts-nsls'): string {
  const file = join(ROOT, 'packages', tool, 'dist', tool);
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

/** The command line that runs argv as nobody (uid and gid 65534, no groups). */
export function asNobody(argv: string[]): [string, string[]] {
  return ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv]];
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
  const oursAsNobody = (args: string[]) => run(...asNobody([bin(tool), ...args]));
  const theirsAsNobody = (args: string[]) => run(...asNobody([utilLinux, ...args]));
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
