/**
 * The one planner: a run request (what ts-unshare's and ts-nsenter's
 * command lines and spawn()'s namespace options ask for) becomes a plan: the
 * steps, where they run (in this thread or in a cloned child), what the parent
 * does while the child waits, and how the waiter relays signals. It is a pure
 * function of the request and the caller: nothing here reads global state or
 * makes a system call, so every ordering rule of util-linux lives here once.
 *
 * Order (util-linux): entering (nsenter's two setns passes, its root and
 * working directory, cgroup, fork), then creating (unshare's owner, time
 * offsets, the sync with the parent, propagation, binfmt, root, working
 * directory, proc), then the credentials (setgroups, setresgid, setresuid),
 * capabilities, the hand-over of the caller's state, and the exec.
 */
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, PROPAGATION } from '../calls.js';
import { CLONE_NEWTIME, CLONE_NEWUSER } from '../namespaces.js';
import { NAMESPACES, namespaceInfo, type NamespaceType } from '../namespaces.js';
import { execPaths, type WaiterMode } from '../spawn.js';
import { mountProcStep, type Bytes, type Step } from '../steps.js';
import { getenvRaw } from '../caller.js';
import { idMap, mapText, type IdRange, type RangeSpec } from './idmap.js';

/** New namespaces, as util-linux unshare asks for them. */
export interface CreateRequest {
  /** namespace type -> file to keep it alive on ('' for none) */
  namespaces: Map<NamespaceType, string>;
  /** fork: the program is a child (unshare -f) */
  fork: boolean;
  /** the signal the program gets when its parent dies (unshare --kill-child) */
  killChild?: number;
  /** the parent passes SIGINT and SIGTERM on (unshare --forward-signals) */
  forwardSignals?: boolean;
  mountProc?: string;
  mountBinfmt?: string;
  loadInterp?: string;
  propagation: number | 'unchanged';
  /** the propagation was asked for (unshare then makes the proc mount private) */
  propagationGiven?: boolean;
  root?: string;
  wd?: string;
  /** the single mapping of our uid and gid (-r: 0, -c: ours, --map-user) */
  mapUser?: number;
  mapGroup?: number;
  userRanges?: RangeSpec[];
  groupRanges?: RangeSpec[];
  /** become this uid:gid before unsharing (unshare --owner) */
  owner?: { uid: number; gid: number };
  setgroups?: 'allow' | 'deny';
  monotonic?: bigint;
  boottime?: bigint;
  /** the hostname of a new uts namespace */
  hostname?: string;
  /**
   * where a single-threaded caller makes a PID namespace: a small init as its
   * PID 1 in front of the program (true), or the program as PID 1 (false)
   */
  init?: boolean;
}

/** Where a namespace is entered from: a descriptor of its own, or the target's pidfd. */
export type Source = { fd: number; name: string } | 'pidfd';

/** Namespaces to enter, opened beforehand (resolveEnter()): nsenter's half of a request. */
export interface Entered {
  /** the namespaces to enter, in util-linux's table order (user first) */
  entries: Map<NamespaceType, Source>;
  /** the target's pidfd (-1: none) */
  pidfd: number;
  rootFd?: number;
  wdFd?: number;
  wdns?: string;
  cgroupFd?: number;
  selinuxContext?: string;
  /** keep our ids in an entered user namespace (nsenter --preserve-credentials) */
  preserveCredentials?: boolean;
  /** fork so the program lands in the entered PID namespace */
  fork: boolean;
}

/** A whole request: what to enter, what to create, and the program. */
export interface RunRequest {
  enter?: Entered;
  create?: CreateRequest;
  /** ids to become last */
  setuid?: number;
  setgid?: number;
  /** keep the capabilities as ambient ones in a user namespace (--keep-caps) */
  keepCaps?: boolean;
  /** the file to execute (searched in PATH of env), argv and env, raw bytes */
  program: Bytes;
  argv: Bytes[];
  env: Bytes[];
  /** the PATH the program is searched in (default: env's) */
  path?: Bytes;
  /** the name an exec failure is reported under (default: program) */
  programName?: string;
  /** steps just before the exec that hand the program its descriptors and signals */
  handOver: Step[];
}

/** What the planner needs to know of the process that carries the plan out. */
export interface Caller {
  pid: number;
  uid: number;
  gid: number;
  /**
   * a multithreaded process (Node): it may not create or enter a user or
   * time namespace, nor fork to run steps, in its own thread. A
   * single-threaded one (the runner, ns-run) does everything in place, forks
   * for a new PID namespace and stands in for the program outside it.
   */
  threaded: boolean;
}

/** What the parent does for a child waiting at its sync step: maps and binds. */
export interface ParentWork {
  setgroups?: 'allow' | 'deny';
  uidMap?: IdRange[];
  gidMap?: IdRange[];
  /** namespace files of the child to bind onto the given files, in util-linux's order */
  binds: { file: string; target: string }[];
}

export interface Plan {
  /** clone a child (true), or run the steps in this thread and exec (false) */
  child: boolean;
  /** namespaces the clone itself creates */
  cloneFlags: number;
  /** the whole program: for a child, from the clone on; in place, from the first unshare on */
  steps: Step[];
  /** in place: the indexes of the bind steps, undone when a later step fails */
  binds: number[];
  parent: ParentWork;
  waiterMode: WaiterMode;
  /** the child gets this signal when we die: the steps need our pidfd */
  killChild?: number;
}

const CLONE_FS = 0x200;

export function plan(r: RunRequest, caller: Caller): Plan {
  const c = r.create;
  const e = r.enter;
  const created = new Set(c?.namespaces.keys() ?? []);
  let createFlags = 0;
  for (const t of created) createFlags |= namespaceInfo(t).flag;
  const binds = c
    ? NAMESPACES.filter((n) => c.namespaces.get(n.type)).map((n) => ({
        file: n.childrenFile,
        target: c.namespaces.get(n.type)!,
      }))
    : [];
  const enterUser = e?.entries.has('user') ?? false;
  const user = created.has('user') || enterUser;

  // A multithreaded caller needs a child for a new user namespace, a fork, a
  // /proc for a new PID namespace, bind targets a new mount namespace would
  // hide, and for entering a user or time namespace or a PID namespace.
  const createChild =
    c !== undefined &&
    (c.fork ||
      created.has('user') ||
      c.owner !== undefined ||
      (created.has('pid') && c.mountProc !== undefined) ||
      (binds.length > 0 && created.has('mnt')));
  const enterChild = e !== undefined && (enterUser || e.entries.has('time') || e.fork);
  const child = caller.threaded ? createChild || enterChild : false;

  const steps: Step[] = [];
  const bindSteps: number[] = [];
  if (e) steps.push(...enterSteps(e, child, caller.threaded));

  // The clone creates the namespaces (a new PID namespace makes the child its
  // PID 1), except time, whose offsets must be written before anyone enters
  // it, and all of them after entering or with --owner.
  let cloneFlags = 0;
  let unshareFlags = createFlags;
  if (child && !e && c?.owner === undefined) {
    cloneFlags = createFlags & ~CLONE_NEWTIME;
    unshareFlags = createFlags & CLONE_NEWTIME;
  }
  // Binds of a new mount namespace's sibling namespaces are made from outside
  // it: by the parent of a child, or by ours for a single-threaded caller.
  const bindOutside = child || (binds.length > 0 && created.has('mnt'));
  const parent: ParentWork = { binds: bindOutside ? binds : [] };
  if (c) {
    if (c.owner) steps.push(...credentialSteps(c.owner.uid, c.owner.gid));
    if (unshareFlags) steps.push({ op: 'unshare', flags: unshareFlags, what: 'unshare failed' });
    if (!bindOutside)
      for (const b of binds) {
        bindSteps.push(steps.length);
        const source = `/proc/${caller.threaded ? caller.pid : 'self'}/ns/${b.file}`;
        steps.push({
          op: 'mount',
          source,
          target: b.target,
          flags: MS_BIND,
          what: `mount ${source} on ${b.target} failed`,
        });
      }
    steps.push(...createSteps(c, caller, child, parent));
  }
  // In an entered user namespace the ids are 0 unless given or preserved.
  const forced = enterUser && !e?.preserveCredentials ? 0 : undefined;
  steps.push(...tailSteps(r, r.setuid ?? forced, r.setgid ?? forced, user));
  return {
    child,
    cloneFlags,
    steps,
    binds: bindSteps,
    parent,
    waiterMode: e
      ? e.fork
        ? 'follow'
        : 'standin'
      : !c?.fork
        ? 'standin'
        : c.forwardSignals
          ? 'forward'
          : 'fork',
    killChild: child ? c?.killChild : undefined,
  };
}

function credentialSteps(uid: number | undefined, gid: number | undefined): Step[] {
  const steps: Step[] = [];
  if (gid !== undefined) {
    steps.push({ op: 'setgroups', what: 'setgroups failed' });
    steps.push({ op: 'setresgid', gid, what: 'setgid() failed' });
  }
  if (uid !== undefined) steps.push({ op: 'setresuid', uid, what: 'setuid() failed' });
  return steps;
}

/** unshare's order after the namespaces exist; the parent's maps go into `parent`. */
function createSteps(c: CreateRequest, caller: Caller, child: boolean, parent: ParentWork): Step[] {
  const steps: Step[] = [];
  const user = c.namespaces.has('user');
  const mnt = c.namespaces.has('mnt');
  if ((child || !caller.threaded) && c.killChild !== undefined)
    steps.push({ op: 'pdeathsig', signal: c.killChild, parentPidfd: -1, what: 'prctl failed' });
  const offsets = [];
  if (c.boottime !== undefined) offsets.push(`7 ${c.boottime} 0`);
  if (c.monotonic !== undefined) offsets.push(`1 ${c.monotonic} 0`);
  for (const text of offsets)
    steps.push({
      op: 'write-file',
      path: '/proc/self/timens_offsets',
      text,
      what: 'failed to write to /proc/self/timens_offsets',
    });

  if (user) {
    const userRanges = c.userRanges ?? [];
    const groupRanges = c.groupRanges ?? [];
    const ranges = userRanges.length > 0 || groupRanges.length > 0;
    const withRanges = ranges || c.owner !== undefined;
    parent.uidMap = idMap(c.mapUser, caller.uid, userRanges, 'uid', withRanges, caller.uid);
    parent.gidMap = idMap(c.mapGroup, caller.gid, groupRanges, 'gid', withRanges, caller.uid);
    parent.setgroups = c.setgroups ?? (c.mapGroup !== undefined && !ranges ? 'deny' : undefined);
  }
  if (user && !child && selfMapped(parent, caller)) {
    // A single-threaded process maps its own ids in place, as unshare -r does.
    if (parent.setgroups)
      steps.push({
        op: 'write-file',
        path: '/proc/self/setgroups',
        text: parent.setgroups,
        ignore: 'ENOENT',
        what: 'write failed /proc/self/setgroups',
      });
    for (const [kind, map] of [
      ['uid', parent.uidMap],
      ['gid', parent.gidMap],
    ] as const)
      if (map)
        steps.push({
          op: 'write-file',
          path: `/proc/self/${kind}_map`,
          text: mapText(map),
          what: `write failed /proc/self/${kind}_map`,
        });
    delete parent.setgroups;
    delete parent.uidMap;
    delete parent.gidMap;
  }
  const parentWork = parent.uidMap || parent.gidMap || parent.setgroups || parent.binds.length;
  if (parentWork) steps.push({ op: 'sync-parent' });
  if (!user && c.setgroups)
    steps.push({
      op: 'write-file',
      path: '/proc/self/setgroups',
      text: c.setgroups,
      what: 'write failed /proc/self/setgroups',
    });
  if (c.owner && c.namespaces.has('pid')) steps.push({ op: 'fork-relay', what: 'fork failed' });
  if (!caller.threaded && c.namespaces.has('pid')) {
    // The new PID namespace takes our next child: we stay outside and stand
    // in for it; its PID 1 is an init in front of the program, or the program.
    steps.push({ op: 'fork-standin', init: false, what: 'fork failed' });
    if (c.init !== false) steps.push({ op: 'fork-standin', init: true, what: 'fork failed' });
  }
  if (c.hostname !== undefined)
    steps.push({ op: 'sethostname', name: c.hostname, what: 'sethostname failed' });

  if (mnt && c.propagation !== 'unchanged')
    steps.push({
      op: 'mount',
      source: 'none',
      target: '/',
      flags: c.propagation,
      what: 'cannot change root filesystem propagation',
    });
  const binfmtFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  const binfmtEarly =
    c.loadInterp !== undefined && c.root !== undefined && interpFlags(c.loadInterp).includes('F');
  const binfmtSteps = (dir: string): Step[] => [
    {
      op: 'mount',
      source: 'binfmt_misc',
      target: dir,
      fstype: 'binfmt_misc',
      flags: binfmtFlags,
      what: `mount ${dir} failed`,
    },
    ...(c.loadInterp
      ? [
          {
            op: 'write-file' as const,
            path: `${dir}/register`,
            text: c.loadInterp,
            what: `write failed ${dir}/register`,
          },
        ]
      : []),
  ];
  if (binfmtEarly) steps.push(...binfmtSteps('/proc/sys/fs/binfmt_misc'));
  if (c.root !== undefined) {
    steps.push({ op: 'chroot', path: c.root, what: `cannot change root directory to '${c.root}'` });
    if (c.wd === undefined) steps.push({ op: 'chdir', path: '/', what: "cannot chdir to '/'" });
  }
  if (c.wd !== undefined)
    steps.push({ op: 'chdir', path: c.wd, what: `cannot chdir to '${c.wd}'` });
  if (c.mountProc !== undefined) {
    if (c.root === undefined && c.propagationGiven && c.propagation !== PROPAGATION.private)
      steps.push({
        op: 'mount',
        source: 'none',
        target: c.mountProc,
        flags: PROPAGATION.private,
        ignore: 'EINVAL',
        what: `cannot change ${c.mountProc} filesystem propagation`,
      });
    steps.push(mountProcStep(c.mountProc));
  }
  if (c.mountBinfmt !== undefined && !binfmtEarly) steps.push(...binfmtSteps(c.mountBinfmt));
  return steps;
}

/** Maps a process may write for itself once in the namespace: one line of its own id. */
function selfMapped(parent: ParentWork, caller: Caller): boolean {
  const own = (m: IdRange[] | undefined, id: number) =>
    m === undefined || (m.length === 1 && m[0].count === 1 && m[0].outer === id);
  return own(parent.uidMap, caller.uid) && own(parent.gidMap, caller.gid);
}

function interpFlags(rule: string): string {
  const fields = rule.split(rule[0] ?? ':');
  return fields[7] ?? '';
}

/** nsenter's order: setns in two passes, root and working directory, cgroup, fork. */
function enterSteps(x: Entered, child: boolean, threaded: boolean): Step[] {
  const types = [...x.entries.keys()];
  const user = x.entries.has('user');
  const steps: Step[] = [];

  // Entering a user namespace sets uid and gid (0 unless given) unless told not to.
  // Drop supplementary groups while still privileged here: in the user namespace
  // setgroups may be denied. A failure is not fatal, as in util-linux.
  if (user && !x.preserveCredentials)
    steps.push({ op: 'setgroups', ignore: 'EPERM', what: 'setgroups failed' });

  // A multithreaded process may enter a mount namespace only with its own fs_struct.
  if (!child && x.entries.has('mnt'))
    steps.push({ op: 'unshare', flags: CLONE_FS, what: 'unshare failed' });

  // Pass 1: everything but the user namespace; failures are only remembered.
  // The target's namespaces come in one setns(pidfd, mask): all from the same moment.
  let mask = 0;
  for (const [type, source] of x.entries)
    if (source === 'pidfd' && type !== 'user') mask |= namespaceInfo(type).flag;
  const PIDFD_SLOT = 0;
  const slotOf = (type: string) => 1 + types.indexOf(type as never);
  if (mask) steps.push({ op: 'setns-soft', fd: x.pidfd, nstype: mask, slot: PIDFD_SLOT });
  for (const [type, source] of x.entries)
    if (source !== 'pidfd' && type !== 'user')
      steps.push({
        op: 'setns-soft',
        fd: source.fd,
        nstype: namespaceInfo(type).flag,
        slot: slotOf(type),
      });

  // Pass 2, as util-linux 2.41+: whatever is left, now fatally. Through the
  // pidfd in one call (its user namespace included: the kernel enters that
  // first), then the files, the user namespace's first (table order). A
  // privileged caller so enters the user namespace last; the unprivileged
  // owner of a user namespace gets its capabilities there first, which the
  // rest then needs.
  const what = (type: string) =>
    `reassociate to namespace 'ns/${namespaceInfo(type as never).file}' failed`;
  const userSource = x.entries.get('user');
  const always = userSource === 'pidfd' ? CLONE_NEWUSER : 0;
  if (always || mask)
    steps.push({
      op: 'setns-mask',
      fd: x.pidfd,
      always,
      extra: mask,
      slot: PIDFD_SLOT,
      what: 'reassociate to namespaces failed',
    });
  for (const [type, source] of x.entries) {
    if (source === 'pidfd') continue;
    if (type === 'user')
      steps.push({ op: 'setns', fd: source.fd, nstype: CLONE_NEWUSER, what: what('user') });
    else
      steps.push({
        op: 'setns-retry',
        fd: source.fd,
        nstype: namespaceInfo(type).flag,
        slot: slotOf(type),
        what: what(type),
      });
  }

  // Root and working directory: opened before entering, used now.
  if (x.rootFd !== undefined) {
    if (x.wdFd === undefined && x.wdns === undefined)
      steps.push({ op: 'open-wd', path: '.', what: 'cannot open current working directory' });
    steps.push({
      op: 'fchdir',
      fd: x.rootFd,
      what: 'change directory by root file descriptor failed',
    });
    steps.push({ op: 'chroot-dot', what: 'chroot failed' });
    steps.push({ op: 'chdir', path: '/', what: 'cannot change directory to /' });
  }
  const wdWhat = 'change directory by working directory file descriptor failed';
  if (x.wdns !== undefined) {
    steps.push({ op: 'open-wd', path: x.wdns, what: 'cannot open current working directory' });
    steps.push({ op: 'fchdir-wd', what: wdWhat });
  } else if (x.wdFd !== undefined) steps.push({ op: 'fchdir', fd: x.wdFd, what: wdWhat });
  else if (x.rootFd !== undefined) steps.push({ op: 'fchdir-wd', what: wdWhat });

  // "0" moves the writing process; the fork below inherits the cgroup.
  if (x.cgroupFd !== undefined)
    steps.push({ op: 'write-fd', fd: x.cgroupFd, text: '0', what: 'write cgroup.procs failed' });
  if (x.selinuxContext !== undefined)
    steps.push({
      op: 'write-file',
      path: '/proc/thread-self/attr/exec',
      text: x.selinuxContext,
      what: `failed to set exec context to '${x.selinuxContext}'`,
    });

  // The program is forked into the entered PID namespace: a sibling for a
  // tool's child (the tool waits for it), a child we stand in for otherwise.
  if (x.fork)
    steps.push(
      threaded
        ? { op: 'fork-sibling', what: 'fork failed' }
        : { op: 'fork-standin', init: false, what: 'fork failed' },
    );

  return steps;
}

/** Credentials, capabilities, the caller's state and the exec: the same for every request. */
function tailSteps(
  r: RunRequest,
  uid: number | undefined,
  gid: number | undefined,
  user: boolean,
): Step[] {
  const steps: Step[] = [];
  if (gid !== undefined) {
    // After entering, EPERM means setgroups is denied in the user namespace (or
    // no group map yet): nothing to drop then. util-linux 2.38 gives up there.
    const ignore = r.enter ? 'EPERM' : undefined;
    steps.push({ op: 'setgroups', ignore, what: 'setgroups failed' });
    steps.push({ op: 'setresgid', gid, what: 'setgid() failed' });
  }
  if (uid !== undefined) steps.push({ op: 'setresuid', uid, what: 'setuid() failed' });
  if (r.keepCaps && user)
    steps.push({ op: 'ambient-caps', what: 'cannot set ambient capabilities' });
  steps.push(...r.handOver);
  steps.push({
    op: 'exec',
    paths: execPaths(r.program, r.path ?? getenvRaw(r.env, 'PATH')),
    argv: r.argv,
    env: r.env,
    what: r.programName ?? String(r.program),
  });
  return steps;
}

/** This Node process as a caller: its PID and effective ids; multithreaded. */
export function nodeCaller(): Caller {
  return { pid: process.pid, uid: process.geteuid!(), gid: process.getegid!(), threaded: true };
}
