/**
 * Running a program in namespaces: either in place (the steps run in the
 * calling thread, then exec replaces this process) or in a cloned child that
 * runs the steps and execs while this process goes on.
 */
import { closeSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { callerState, restoreCallerSteps } from './caller.js';
import { ExecError, NsError } from './errors.js';
import { errno, getNsrun, nativeDir } from './native.js';
import { encode, type Bytes, type Program, type Step } from './steps.js';

/**
 * The candidate files execvp would try for `program`, given PATH: the name
 * itself when it has a slash, none when it is empty (execvp's ENOENT). An
 * unset PATH is the C library's default, as execvp has it.
 */
export function execPaths(program: Bytes, path: Bytes | undefined): Bytes[] {
  if (program.length === 0) return [];
  if (program.includes('/')) return [program];
  const dirs = (path === undefined ? '/bin:/usr/bin' : path.toString()).split(':');
  return dirs.map((d) =>
    d === ''
      ? program
      : typeof program === 'string'
        ? `${d}/${program}`
        : Buffer.concat([Buffer.from(`${d}/`), program]),
  );
}

/** Steps that hand the standard descriptors (and any others given) to the program. */
export function keepFds(fds: number[] = [0, 1, 2]): Step[] {
  return fds.map((fd) => ({ op: 'keep-fd', fd }));
}

/** The exec step for argv, searching PATH like execvp, with env (default: this process's). */
export function execStep(argv: string[], env: NodeJS.ProcessEnv | string[] = process.env): Step {
  const envList = Array.isArray(env)
    ? env
    : Object.entries(env)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v}`);
  const path = envList.find((e) => e.startsWith('PATH='))?.slice(5);
  return { op: 'exec', paths: execPaths(argv[0], path), argv, env: envList };
}

const EPROTO = 71;

/** The error of a step program that failed at native step index `step`. */
export function stepFailure(program: Program, step: number, errno: number): NsError {
  const s = program.origin[step];
  if (!s || errno === EPROTO) return new NsError('malformed step program', errno);
  const err =
    s.op === 'exec'
      ? new ExecError(s.what ?? String(s.argv[0]), errno)
      : new NsError(s.what ?? `${s.op} failed`, errno, s.op);
  err.step = s;
  return err;
}

/**
 * Runs the steps in the calling thread; the last one execs, so on success this
 * never returns. Only steps that a multithreaded process may take belong here
 * (no new user namespace, no fork-relay).
 */
export function runHere(steps: Step[]): never {
  const program = encode(steps);
  const err = [0];
  const step = getNsrun().here(
    program.words,
    program.words.length,
    program.strings,
    program.strings.length,
    err,
  ) as number;
  throw stepFailure(program, step, err[0]);
}

/** Options of spawnSteps(). */
export interface SpawnOptions {
  /** CLONE_NEW* flags for the clone itself: the child starts in those namespaces */
  cloneFlags?: number;
  /**
   * Called at each sync-parent step, while the child waits: the place to write
   * its uid_map/gid_map or bind its namespaces. A throw ends the child and
   * is rethrown by spawn.
   */
  onSync?: (child: Child, syncIndex: number) => void;
  /** the words a refused clone is reported with (default 'clone failed') */
  cloneWhat?: string;
}

/** A child made by spawnSteps(): its PID, and a pidfd the caller closes. */
export interface Child {
  pid: number;
  /** a pidfd for the child (close-on-exec) */
  pidfd: number;
}

/** The record a fork-sibling step sends: (-2, PID of the process that will exec). */
const SIBLING_RECORD = -2;

function readRecord(fd: number): Int32Array | null {
  const buf = Buffer.alloc(8);
  let got = 0;
  while (got < 8) {
    const n = readSync(fd, buf, got, 8 - got, null);
    if (n === 0) return null;
    got += n;
  }
  return new Int32Array(buf.buffer, buf.byteOffset, 2);
}

/**
 * Clones a child that runs the steps and execs. Returns once the exec
 * happened, with the PID of the process that runs the program: the child's,
 * or, after a fork-sibling step, that of the sibling it forked (our child
 * too; the first child has exited and is reaped, and pidfd is then -1).
 * Throws NsError (ExecError for the exec) if a step failed, after reaping
 * what was made.
 */
export function spawnSteps(steps: Step[], options: SpawnOptions = {}): Child {
  const program = encode(steps);
  const out = new Int32Array(3);
  const err = new Int32Array(1);
  const pid = getNsrun().clone(
    program.words,
    program.words.length,
    program.strings,
    program.strings.length,
    options.cloneFlags ?? 0,
    out,
    err,
  ) as number;
  if (pid < 0) {
    if (err[0] === EPROTO) throw new NsError('malformed step program', err[0]);
    throw new NsError(options.cloneWhat ?? 'clone failed', err[0], 'clone3');
  }
  const child: Child = { pid, pidfd: out[0] };
  const [statusFd, syncFd] = [out[1], out[2]];
  let syncs = 0;
  let sibling = -1;
  try {
    for (;;) {
      const record = readRecord(statusFd);
      if (!record) break; // end of file: the exec happened
      const [step, errno] = record;
      if (step === SIBLING_RECORD) sibling = errno;
      else if (errno !== 0) throw stepFailure(program, step, errno);
      else {
        options.onSync?.(child, syncs++);
        writeSync(syncFd, Buffer.from([1]));
      }
    }
  } catch (e) {
    closeSync(syncFd); // a child still waiting sees end of file and exits
    if (sibling > 0) waitChild(sibling);
    waitChild(pid);
    closeSync(child.pidfd);
    throw e;
  } finally {
    closeSync(statusFd);
    try {
      closeSync(syncFd);
    } catch {
      // already closed above
    }
  }
  if (sibling < 0) return child;
  waitChild(pid); // it exited right after the fork
  closeSync(child.pidfd);
  return { pid: sibling, pidfd: -1 };
}

/** How a child ended: its exit code, or the signal that killed it. */
export type ExitStatus =
  { code: number; signal?: undefined } | { code?: undefined; signal: number };

/** Blocks until the child ends; its exit code or the signal that killed it. */
export function waitChild(pid: number): ExitStatus {
  const status = getNsrun().wait(pid) as number;
  if (status < 0) throw new NsError('waitpid failed', -status, 'waitpid');
  const sig = status & 0x7f;
  return sig === 0 ? { code: (status >> 8) & 0xff } : { signal: sig };
}

/**
 * From now until this process execs (the waiter, or a program in place), its
 * asynchronous signals are held instead of acted on; the exec raises them
 * again, blocked, so that the waiter receives them. Call it before a
 * spawnSteps() whose child the waiter will wait for: a signal sent to the
 * tool meanwhile is not lost, nor does it kill the tool half way.
 */
export function holdSignals(): void {
  if ((getNsrun().holdSignals() as number) < 0)
    throw new NsError('sigaction failed', errno(), 'sigaction');
}

/**
 * How the waiter treats signals (see native/nsrun.c, ns-waiter):
 * 'fork' keeps SIGINT and SIGTERM blocked (util-linux unshare --fork),
 * 'forward' passes them on (--forward-signals), 'follow' leaves the
 * caller's dispositions (a SIGTERM ends the waiter, as it ends nsenter's
 * parent) and stops when the program stops, 'standin' passes every signal on and
 * follows stops: it stands in for a program util-linux would have run in
 * its own place.
 */
export type WaiterMode = 'fork' | 'forward' | 'follow' | 'standin';

const ALL_SIGNALS = (1n << 64n) - 1n;

/**
 * Replaces this Node process with ns-waiter (same PID, so the child stays
 * ours), which waits for the child and leaves with its status or dies by its
 * signal. It takes the caller's argv (ps and pgrep show the tool as it was
 * invoked), descriptors, ignored signals and mask. Costs about a megabyte
 * instead of a Node runtime's forty. If the waiter cannot be started, the
 * child is killed and reaped before the error is thrown: no program runs on
 * without its waiter.
 */
export function becomeWaiter(child: Child, mode: WaiterMode = 'fork'): never {
  const waiter = join(nativeDir(), 'ns-waiter');
  const caller = callerState();
  const restore = restoreCallerSteps(caller).filter((s) => s.op !== 'signal-state');
  try {
    runHere([
      ...restore,
      // Every signal stays pending across the exec until the waiter's handlers are in place.
      { op: 'signal-state', ignored: caller.ignored, blocked: ALL_SIGNALS },
      {
        op: 'exec',
        what: 'ns-waiter',
        paths: [waiter],
        argv: caller.argv.length > 0 ? caller.argv : [waiter],
        env: [`NS_WAIT=${child.pid},${mode},${caller.blocked.toString(16)}`],
      },
    ]);
  } catch (e) {
    killAndReap(child);
    throw e;
  }
}

function killAndReap(child: Child): void {
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  waitChild(child.pid);
}
