/**
 * Opening what the plan needs, before any namespace is entered: namespace
 * files, the target's pidfd, root and working directories (a tunnel from the
 * caller's mount namespace), the target's environment, cgroup and ids.
 *
 * The target is pinned by a pidfd opened first. Whatever is read from
 * /proc/PID afterwards is checked by asking the pidfd whether the process is
 * still there: if it is, the PID was not reused in between.
 */
import {
  constants,
  closeSync,
  openSync,
  readFileSync,
  statSync,
  statfsSync,
  existsSync,
} from 'node:fs';
import { basename } from 'node:path';
import { getenvRaw, type CallerState } from '../caller.js';
import { SIOCGSKNS, closeFd, ioctl, nsGetUserns, pidfdGetfd, pidfdOpen } from '../calls.js';
import { pidfdAlive, pidfdInode } from '../enter.js';
import { NsError, RunError, strerror } from '../errors.js';
import { NAMESPACES, type NamespaceType } from '../namespaces.js';
import type { Bytes } from '../steps.js';
import { loginShell } from '../users.js';
import type { Entered, Source } from './plan.js';

export interface Target {
  pid: number;
  /** the pidfs inode the process must have (PID:INODE) */
  inode?: bigint;
}

export type Id = number | 'follow';

/** Namespaces to enter, as util-linux nsenter asks for them. */
export interface EnterRequest {
  target?: Target;
  /** namespace type -> FILE to enter, or '' for the target's; in util-linux's table order */
  namespaces: Map<NamespaceType, string>;
  all: boolean;
  netSocket?: number;
  userParent: boolean;
  setuid?: Id;
  setgid?: Id;
  preserveCredentials: boolean;
  keepCaps: boolean;
  /** DIR, or '' for the target's root */
  root?: string;
  /** DIR, or '' for the target's cwd */
  wd?: string;
  wdns?: string;
  env: boolean;
  noFork: boolean;
  joinCgroup: boolean;
  followContext: boolean;
  /** the program and its arguments, raw bytes; empty for the login shell */
  argv: Bytes[];
}

/** An EnterRequest opened: what to enter, and the program as the target's state makes it. */
export interface Resolved {
  enter: Entered;
  setuid?: number;
  setgid?: number;
  /** the program's environment, raw entries */
  env: Bytes[];
  /** argv as exec gets it, the file to execute, and the name a failure is reported under */
  argv: Bytes[];
  program: Bytes;
  programName: string;
}

const PIDFD_GET_USER_NAMESPACE = (0xff << 8) | 9;
const CGROUP2_SUPER_MAGIC = 0x63677270;

function errnoOfNode(e: unknown): number {
  return Math.abs((e as NodeJS.ErrnoException).errno ?? 5);
}

/** open(path, O_RDONLY) with util-linux's message on failure. */
function openOrFail(path: string, flags: number = constants.O_RDONLY): number {
  try {
    return openSync(path, flags);
  } catch (e) {
    throw new NsError(`cannot open ${path}`, errnoOfNode(e), 'open', path);
  }
}

/**
 * Opens what an EnterRequest names, before any namespace is entered, in
 * util-linux's order: namespace files, root and working directory, the
 * target's pidfd, then what is read from /proc/PID. The caller's state
 * gives the program's environment (unless --env takes the target's).
 */
export function resolveEnter(r: EnterRequest, caller: CallerState): Resolved {
  const entries = new Map<NamespaceType, Source>();
  // Files named on the command line are opened first, as util-linux opens them while parsing.
  for (const ns of NAMESPACES) {
    const file = r.namespaces.get(ns.type);
    if (file) entries.set(ns.type, { fd: openOrFail(file), name: `ns/${ns.file}` });
  }
  const rootFd = r.root ? openOrFail(r.root) : undefined;
  const wdFd = r.wd ? openOrFail(r.wd) : undefined;

  if (r.followContext && !existsSync('/sys/fs/selinux/enforce'))
    throw new RunError('--follow-context is not supported: SELinux is not enabled on this system');
  if (r.followContext && !r.target)
    throw new RunError('no target PID specified for --follow-context');
  if (r.all && !r.target) throw new RunError('no target PID specified for --all');

  const pid = r.target?.pid;
  let pidfd = -1;
  if (pid !== undefined) {
    try {
      pidfd = pidfdOpen(pid);
    } catch (e) {
      // Without a pidfd the /proc files below report what is wrong, as in util-linux.
      if (r.target?.inode !== undefined)
        throw new RunError(
          `failed to obtain a valid file descriptor for PID ${pid}: ${strerror((e as NsError).errno)}`,
        );
    }
    if (r.target?.inode !== undefined && pidfdInode(pidfd) !== r.target.inode)
      throw new RunError(`pidfd inode ${r.target.inode} not found for pid ${pid}`);
  }

  const wanted = new Set(r.namespaces.keys());
  if (r.all) {
    for (const ns of NAMESPACES) {
      if (wanted.has(ns.type) || !existsSync(`/proc/self/ns/${ns.file}`)) continue;
      if (ns.type === 'user') {
        // setns into one's own user namespace is refused: --all leaves it out.
        const path = `/proc/${pid}/ns/user`;
        let ino: number;
        try {
          ino = statSync(path).ino;
        } catch (e) {
          throw new NsError(`stat of ${path} failed`, errnoOfNode(e), 'stat', path);
        }
        if (ino === statSync('/proc/self/ns/user').ino) continue;
      }
      wanted.add(ns.type);
    }
  }

  // util-linux 2.41+: nothing to enter is an error, never a run in the
  // caller's namespaces (--all finds none where /proc is not mounted);
  // -N and --user-parent name a network and a user namespace.
  if (wanted.size === 0 && r.netSocket === undefined && !r.userParent)
    throw new RunError('no namespace specified');

  const fromTarget = NAMESPACES.filter((ns) => wanted.has(ns.type) && !entries.has(ns.type));
  // util-linux 2.41+: a namespace without a file of its own needs a target
  if ((fromTarget.length > 0 || r.netSocket !== undefined || r.userParent) && pid === undefined)
    throw new RunError('no target PID specified');
  for (const ns of fromTarget)
    entries.set(
      ns.type,
      pidfd >= 0
        ? 'pidfd'
        : { fd: openOrFail(`/proc/${pid}/ns/${ns.file}`), name: `ns/${ns.file}` },
    );

  const fromProc = (what: string): string => {
    if (pid === undefined)
      throw new RunError(`neither filename nor target pid supplied for ${what}`);
    return `/proc/${pid}/${what}`;
  };
  const targetRoot = r.root === '' ? openOrFail(fromProc('root')) : rootFd;
  const targetWd = r.wd === '' ? openOrFail(fromProc('cwd')) : wdFd;

  let env: Bytes[] = caller.environ;
  if (r.env) {
    const path = fromProc('environ');
    try {
      // Raw bytes, entry by entry: the last NUL ends the last entry.
      const bytes = readFileSync(path);
      env = [];
      for (let off = 0; off < bytes.length;) {
        const end = bytes.indexOf(0, off);
        env.push(bytes.subarray(off, end < 0 ? bytes.length : end));
        off = end < 0 ? bytes.length : end + 1;
      }
    } catch (e) {
      throw new NsError(`cannot open ${path}`, errnoOfNode(e), 'open', path);
    }
  }

  let uid = typeof r.setuid === 'number' ? r.setuid : undefined;
  let gid = typeof r.setgid === 'number' ? r.setgid : undefined;
  if (r.setuid === 'follow' || r.setgid === 'follow') {
    const path = fromProc('');
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      throw new NsError(`cannot open ${path}`, errnoOfNode(e), 'stat', path);
    }
    if (r.setuid === 'follow') uid = st.uid;
    if (r.setgid === 'follow') gid = st.gid;
  }

  let cgroupFd: number | undefined;
  if (r.joinCgroup) {
    if (statfsSync('/sys/fs/cgroup').type !== CGROUP2_SUPER_MAGIC)
      throw new RunError('--join-cgroup is only supported in cgroup v2');
    const path = fromProc('cgroup');
    let lines: string[];
    try {
      lines = readFileSync(path, 'utf8').split('\n');
    } catch (e) {
      throw new NsError(`cannot open ${path}`, errnoOfNode(e), 'open', path);
    }
    // The cgroup v2 line ("0::/path"); util-linux takes the first line, wrong on hybrid hosts.
    const line = lines.find((l) => l.startsWith('0::')) ?? lines[0];
    const colon = line.lastIndexOf(':');
    if (colon < 0) throw new RunError('failed to get cgroup path');
    const procs = `/sys/fs/cgroup/${line.slice(colon + 1)}/cgroup.procs`;
    try {
      cgroupFd = openSync(procs, constants.O_WRONLY | constants.O_APPEND);
    } catch (e) {
      throw new NsError('failed to open cgroup.procs', errnoOfNode(e), 'open', procs);
    }
  }

  let selinuxContext: string | undefined;
  if (r.followContext) {
    try {
      selinuxContext = readFileSync(fromProc('attr/current'), 'utf8').replace(/\0?\n?$/, '');
    } catch {
      throw new RunError(`failed to get ${pid} SELinux context`);
    }
  }

  if (r.userParent) {
    // The parent of: the user namespace named by --user=FILE, else the target's, else any.
    const user = entries.get('user');
    let fd = user !== undefined && user !== 'pidfd' ? user.fd : -1;
    if (fd < 0 && pidfd >= 0) {
      try {
        fd = ioctl(pidfd, PIDFD_GET_USER_NAMESPACE);
      } catch {
        // older kernel: fall through
      }
    }
    if (fd < 0) {
      const own = [...entries.values()].filter(
        (s): s is { fd: number; name: string } => s !== 'pidfd',
      );
      fd = own.length > 0 ? own[0].fd : openOrFail(fromProc('ns/user'));
    }
    let parent: number;
    try {
      parent = nsGetUserns(fd);
    } catch (e) {
      throw new NsError('failed to open parent namespace', (e as NsError).errno);
    }
    entries.set('user', { fd: parent, name: 'ns/user' });
  }

  if (r.netSocket !== undefined) {
    let handle = pidfd;
    if (handle < 0) {
      try {
        handle = pidfdOpen(pid!);
      } catch (e) {
        throw new NsError(`failed to pidfd_open() for ${pid}`, (e as NsError).errno);
      }
    }
    const sock = pidfdGetfd(handle, r.netSocket);
    const netns = ioctl(sock, SIOCGSKNS, `ioctl(${sock}, SIOCGSKNS)`);
    closeFd(sock);
    entries.set('net', { fd: netns, name: 'ns/net' });
  }

  // Everything from /proc/PID was read while the process still existed: not from a reused PID.
  if (pidfd >= 0 && !pidfdAlive(pidfd)) throw new NsError(`cannot open /proc/${pid}`, 3);

  const ordered = new Map<NamespaceType, Source>();
  for (const ns of NAMESPACES)
    if (entries.has(ns.type)) ordered.set(ns.type, entries.get(ns.type)!);

  let argv = r.argv;
  let program = r.argv[0];
  if (argv.length === 0) {
    program = loginShell({ SHELL: getenvRaw(env, 'SHELL')?.toString() });
    argv = [`-${basename(program)}`];
  }
  return {
    enter: {
      entries: ordered,
      pidfd,
      rootFd: targetRoot,
      wdFd: targetWd,
      wdns: r.wdns,
      cgroupFd,
      selinuxContext,
      preserveCredentials: r.preserveCredentials,
      fork: ordered.has('pid') && !r.noFork,
    },
    setuid: uid,
    setgid: gid,
    env,
    argv,
    program,
    programName: String(program),
  };
}
