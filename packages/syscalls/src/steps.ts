/**
 * Steps: what the native runner does between clone and exec, in order.
 * Policy lives here (which steps, what a failure is called); native/nsrun.c
 * only carries them out. Every step may name itself for error messages
 * (`what`), e.g. 'mount /proc failed'.
 */
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from './calls.js';
import { errnoOf } from './errors.js';
import table from '../../../native/steps.json';

/** A new proc mounted on target, as util-linux's --mount-proc mounts it. */
export function mountProcStep(target: string): Step {
  return {
    op: 'mount',
    source: 'proc',
    target,
    fstype: 'proc',
    flags: MS_NOSUID | MS_NOEXEC | MS_NODEV,
    what: `mount ${target} failed`,
  };
}

/** Bytes for the program: a string is encoded as UTF-8, a Buffer passes as it is. */
export type Bytes = string | Buffer;

/** One step of a program for the native runner (the low-level API). */
export type Step = { what?: string } & (
  | { op: 'unshare'; flags: number }
  | { op: 'setns'; fd: number; nstype: number }
  /** report to the parent and block until it releases this child (maps are written meanwhile) */
  | { op: 'sync-parent' }
  | {
      op: 'mount';
      source?: string;
      target: string;
      fstype?: string;
      flags: number;
      data?: string;
      /** an errno name that is not a failure, e.g. 'EINVAL' */
      ignore?: string;
    }
  | { op: 'write-file'; path: string; text: string; ignore?: string }
  | { op: 'sethostname'; name: string }
  | { op: 'chroot'; path: string }
  /** chroot(".") after an fchdir to the new root */
  | { op: 'chroot-dot' }
  | { op: 'chdir'; path: string }
  | { op: 'fchdir'; fd: number }
  | { op: 'setgroups'; ignore?: string }
  | { op: 'setresgid'; gid: number }
  | { op: 'setresuid'; uid: number }
  /** arm the parent-death signal; exit 1 if the parent (its pidfd, or -1) is already gone */
  | { op: 'pdeathsig'; signal: number; parentPidfd: number }
  /** clear FD_CLOEXEC so the program inherits the descriptor */
  | { op: 'keep-fd'; fd: number }
  | { op: 'close'; fd: number }
  /** dup2(fd, target): the program gets fd as target (e.g. a pipe as its stdout) */
  | { op: 'dup2'; fd: number; target: number }
  /** setsid(): a new session and process group, as child_process' detached */
  | { op: 'setsid' }
  /** fork; the parent waits and leaves with the child's status; the child goes on */
  | { op: 'fork-relay' }
  /**
   * fork; the parent passes every catchable signal on to the child and leaves
   * with its status; as init (PID 1) it also reaps every other process
   */
  | { op: 'fork-standin'; init: boolean }
  | { op: 'ambient-caps' }
  /**
   * the signal state the exec leaves (bit s-1 for signal s): these ignored,
   * every other disposition default, this mask; without it, all default and none blocked
   */
  | { op: 'signal-state'; ignored: bigint; blocked: bigint }
  /** setrlimit(resource, { soft, hard }) */
  | { op: 'setrlimit'; resource: number; soft: bigint; hard: bigint }
  /** setns that may fail: the failure is remembered under slot (0..31) for a later setns-retry */
  | { op: 'setns-soft'; fd: number; nstype: number; slot: number }
  /** setns only if the setns-soft of the same slot failed; this time a failure is fatal */
  | { op: 'setns-retry'; fd: number; nstype: number; slot: number }
  /**
   * setns(fd, always | (the setns-soft of slot failed ? extra : 0)), nothing
   * when that is 0: nsenter's second pass through a pidfd
   */
  | { op: 'setns-mask'; fd: number; always: number; extra: number; slot: number }
  /** open a directory now (a relative path resolves against the cwd of this moment) for fchdir-wd */
  | { op: 'open-wd'; path: string }
  | { op: 'fchdir-wd' }
  /** write text to a descriptor opened beforehand, e.g. a cgroup.procs file */
  | { op: 'write-fd'; fd: number; text: string }
  /**
   * fork a process that is a child of the spawning process (CLONE_PARENT) and
   * goes on with the next steps, while this one reports its PID and exits;
   * spawn only (see spawn)
   */
  | { op: 'fork-sibling' }
  /**
   * try each path in turn like execvp (a file without #! runs through
   * /bin/sh; no path at all is ENOENT); argv and env exactly as given
   */
  | { op: 'exec'; paths: Bytes[]; argv: Bytes[]; env: Bytes[] }
);

type OpName = keyof typeof table.ops;
const OPCODES: Record<OpName, number> = Object.fromEntries(
  Object.entries(table.ops).map(([name, op]) => [name, op.code]),
) as Record<OpName, number>;

const NUL = Buffer.alloc(1);

/** A uid or gid as the int32 word the runner takes; 4294967295 is -1, which it refuses. */
function id32(id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError(`bad id ${id}`);
  return id | 0;
}

/** A step program encoded for the native runner. */
export interface Program {
  words: Int32Array;
  strings: Buffer;
  /** the Step each native step index came from (sync-parent is two native steps) */
  origin: Step[];
}

/** Encodes steps as the native runner's flat int32 program plus one string buffer. */
export function encode(steps: Step[]): Program {
  const words: number[] = [table.version];
  const chunks: Buffer[] = [];
  let size = 0;
  const str = (s: Bytes | undefined): number => {
    if (s === undefined) return -1;
    const b = typeof s === 'string' ? Buffer.from(s) : s;
    if (b.includes(0)) throw new TypeError(`a NUL byte in a step's string: ${b}`);
    chunks.push(b, NUL);
    size += b.length + 1;
    return size - b.length - 1;
  };
  const split64 = (v: bigint): number[] => [
    Number(BigInt.asIntN(32, v)),
    Number(BigInt.asIntN(32, v >> 32n)),
  ];
  const origin: Step[] = [];
  const emit = (step: Step, op: OpName, args: number[]) => {
    for (const a of args)
      if (!Number.isInteger(a))
        throw new TypeError(`step ${op}: an argument is not an integer: ${JSON.stringify(step)}`);
    words.push(OPCODES[op], args.length, ...args);
    origin.push(step);
  };
  const ignored = (name?: string) => (name ? errnoOf(name) : 0);
  for (const s of steps) {
    switch (s.op) {
      case 'unshare':
        emit(s, s.op, [s.flags]);
        break;
      case 'setns':
        emit(s, s.op, [s.fd, s.nstype]);
        break;
      case 'sync-parent':
        emit(s, 'tell-parent', []);
        emit(s, 'wait-parent', []);
        break;
      case 'mount':
        emit(s, s.op, [
          str(s.source),
          str(s.target),
          str(s.fstype),
          s.flags | 0,
          str(s.data),
          ignored(s.ignore),
        ]);
        break;
      case 'write-file':
        emit(s, s.op, [str(s.path), str(s.text), ignored(s.ignore)]);
        break;
      case 'sethostname':
        emit(s, s.op, [str(s.name)]);
        break;
      case 'chroot':
      case 'chdir':
        emit(s, s.op, [str(s.path)]);
        break;
      case 'fchdir':
      case 'keep-fd':
      case 'close':
        emit(s, s.op, [s.fd]);
        break;
      case 'dup2':
        emit(s, s.op, [s.fd, s.target]);
        break;
      case 'signal-state':
        emit(s, s.op, [...split64(s.ignored), ...split64(s.blocked)]);
        break;
      case 'setrlimit':
        emit(s, s.op, [s.resource, ...split64(s.soft), ...split64(s.hard)]);
        break;
      case 'setgroups':
        emit(s, s.op, [ignored(s.ignore)]);
        break;
      case 'setresgid':
        emit(s, s.op, [id32(s.gid)]);
        break;
      case 'setresuid':
        emit(s, s.op, [id32(s.uid)]);
        break;
      case 'pdeathsig':
        emit(s, s.op, [s.signal, s.parentPidfd]);
        break;
      case 'fork-standin':
        emit(s, s.op, [s.init ? 1 : 0]);
        break;
      case 'fork-relay':
      case 'ambient-caps':
      case 'chroot-dot':
      case 'fchdir-wd':
      case 'fork-sibling':
      case 'setsid':
        emit(s, s.op, []);
        break;
      case 'setns-soft':
      case 'setns-retry':
        emit(s, s.op, [s.fd, s.nstype, s.slot]);
        break;
      case 'setns-mask':
        emit(s, s.op, [s.fd, s.always, s.extra, s.slot]);
        break;
      case 'open-wd':
        emit(s, s.op, [str(s.path)]);
        break;
      case 'write-fd':
        emit(s, s.op, [s.fd, str(s.text)]);
        break;
      case 'exec':
        emit(s, s.op, [
          s.argv.length,
          ...s.argv.map(str),
          s.env.length,
          ...s.env.map(str),
          s.paths.length,
          ...s.paths.map(str),
        ]);
        break;
      default:
        throw new TypeError(`unknown step op: ${JSON.stringify((s as { op: unknown }).op)}`);
    }
  }
  return {
    words: Int32Array.from(words),
    strings: Buffer.concat([...chunks, NUL]),
    origin,
  };
}
