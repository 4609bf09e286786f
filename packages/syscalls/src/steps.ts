/**
 * Steps: what the native runner does between clone and exec, in order.
 * Policy lives here (which steps, what a failure is called); native/nsrun.c
 * only carries them out. Every step may name itself for error messages
 * (`what`), e.g. 'mount /proc failed'.
 */
import { errnoOf } from './errors.js';

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
  | { op: 'dup2'; fd: number; target: number }
  /** fork; the parent waits and leaves with the child's status; the child goes on */
  | { op: 'fork-relay' }
  | { op: 'ambient-caps' }
  /** SIG_IGN that the exec keeps (every other signal is reset to its default) */
  | { op: 'ignore-signal'; signal: number }
  /** setns that may fail: the failure is remembered under slot (0..31) for a later setns-retry */
  | { op: 'setns-soft'; fd: number; nstype: number; slot: number }
  /** setns only if the setns-soft of the same slot failed; this time a failure is fatal */
  | { op: 'setns-retry'; fd: number; nstype: number; slot: number }
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
  /** try each path in turn like execvp; argv and env as given */
  | { op: 'exec'; paths: string[]; argv: string[]; env: string[] }
);

const VERSION = 1;
const OPCODES = {
  unshare: 1,
  setns: 2,
  'wait-parent': 3,
  'tell-parent': 4,
  mount: 5,
  'write-file': 6,
  sethostname: 7,
  chroot: 8,
  chdir: 9,
  fchdir: 10,
  setgroups: 11,
  setresgid: 12,
  setresuid: 13,
  pdeathsig: 14,
  'keep-fd': 15,
  'fork-relay': 16,
  'ambient-caps': 17,
  exec: 18,
  close: 19,
  dup2: 20,
  'chroot-dot': 21,
  'ignore-signal': 40,
  'setns-soft': 22,
  'setns-retry': 23,
  'open-wd': 24,
  'fchdir-wd': 25,
  'write-fd': 26,
  'fork-sibling': 27,
} as const;

export interface Program {
  words: Int32Array;
  strings: Buffer;
  /** the Step each native step index came from (sync-parent is two native steps) */
  origin: Step[];
}

/** Encodes steps as the native runner's flat int32 program plus one string buffer. */
export function encode(steps: Step[]): Program {
  const words: number[] = [VERSION];
  const chunks: Buffer[] = [];
  let size = 0;
  const str = (s: string | undefined): number => {
    if (s === undefined) return -1;
    const b = Buffer.from(s + '\0');
    chunks.push(b);
    size += b.length;
    return size - b.length;
  };
  const origin: Step[] = [];
  const emit = (step: Step, op: keyof typeof OPCODES, args: number[]) => {
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
      case 'ignore-signal':
        emit(s, s.op, [s.signal]);
        break;
      case 'setgroups':
        emit(s, s.op, [ignored(s.ignore)]);
        break;
      case 'setresgid':
        emit(s, s.op, [s.gid | 0]);
        break;
      case 'setresuid':
        emit(s, s.op, [s.uid | 0]);
        break;
      case 'pdeathsig':
        emit(s, s.op, [s.signal, s.parentPidfd]);
        break;
      case 'fork-relay':
      case 'ambient-caps':
      case 'chroot-dot':
      case 'fchdir-wd':
      case 'fork-sibling':
        emit(s, s.op, []);
        break;
      case 'setns-soft':
      case 'setns-retry':
        emit(s, s.op, [s.fd, s.nstype, s.slot]);
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
    }
  }
  return {
    words: Int32Array.from(words),
    strings: Buffer.concat([...chunks, Buffer.alloc(1)]),
    origin,
  };
}
