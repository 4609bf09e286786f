/**
 * What entering other processes' namespaces needs beyond spawn(): a child
 * whose program may end up as a sibling (fork-sibling: a fork after setns into
 * a PID namespace, parented to us so that no relay process stays behind), and
 * pidfd queries that keep a target process pinned while we look at it.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { ExecError, NsError } from './errors.js';
import { errno, getLibc, getNsrun } from './native.js';
import { encode, type Program, type Step } from './steps.js';
import { waitChild } from './spawn.js';

const SYS_pidfd_send_signal = 424;
/** the record a fork-sibling step sends: (-2, PID of the new process) */
const SIBLING_RECORD = -2;

function failure(program: Program, step: number, err: number): NsError {
  const s = program.origin[step];
  if (!s) return new NsError('step runner failed', err);
  if (s.op === 'exec') return new ExecError(s.what ?? s.argv[0], err);
  return new NsError(s.what ?? `${s.op} failed`, err, s.op);
}

function readRecord(fd: number): [number, number] | null {
  const buf = Buffer.alloc(8);
  let got = 0;
  while (got < 8) {
    const n = readSync(fd, buf, got, 8 - got, null);
    if (n === 0) return null;
    got += n;
  }
  return [buf.readInt32LE(0), buf.readInt32LE(4)];
}

/**
 * Clones a child that runs the steps and execs, and returns the PID of the
 * process that runs the program once its exec happened: the child's, or, if
 * the steps include fork-sibling, that of the sibling it forked (the child
 * itself has exited and been reaped by then). Either way the program is our
 * own child, to wait for with becomeWaiter. On a failing step: NsError
 * (ExecError for the exec), after reaping what was made.
 */
export function spawnProgram(steps: Step[]): { pid: number; pidfd: number } {
  const program = encode(steps);
  const out = new Int32Array(3);
  const err = new Int32Array(1);
  const pid = getNsrun().clone(
    program.words,
    program.words.length,
    program.strings,
    0,
    out,
    err,
  ) as number;
  if (pid < 0) throw new NsError('clone failed', err[0], 'clone3');
  const [pidfd, statusFd, syncFd] = out;
  closeSync(syncFd); // no sync-parent steps here
  let sibling = -1;
  try {
    for (;;) {
      const record = readRecord(statusFd);
      if (!record) break; // end of file: the exec happened
      const [step, code] = record;
      if (step === SIBLING_RECORD) sibling = code;
      else throw failure(program, step, code);
    }
  } catch (e) {
    if (sibling > 0) waitChild(sibling);
    waitChild(pid);
    closeSync(pidfd);
    throw e;
  } finally {
    closeSync(statusFd);
  }
  if (sibling < 0) return { pid, pidfd };
  waitChild(pid); // it exited right after the fork
  closeSync(pidfd);
  return { pid: sibling, pidfd: -1 };
}

/**
 * Whether the process behind a pidfd has not been reaped yet. While it has
 * not, its PID cannot name another process, so what was read from
 * /proc/PID before this check belongs to it.
 */
export function pidfdAlive(pidfd: number): boolean {
  const rc = Number(
    getLibc().syscall(
      SYS_pidfd_send_signal,
      'int',
      pidfd,
      'int',
      0,
      'void *',
      null,
      'unsigned int',
      0,
    ),
  );
  if (rc === 0) return true;
  const e = errno();
  if (e === 3 /* ESRCH */) return false;
  if (e === 1 /* EPERM: not ours to signal, but it exists */) return true;
  throw new NsError('pidfd_send_signal failed', e, 'pidfd_send_signal');
}

/** The pidfs inode of a pidfd (kernel 6.9+): a process identity that is never reused. */
export function pidfdInode(pidfd: number): bigint {
  return fstatSync(pidfd, { bigint: true }).ino;
}
