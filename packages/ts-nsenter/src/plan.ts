/**
 * The steps that enter the namespaces and run the program, in util-linux
 * nsenter's order: setns in two passes, root and working directory, cgroup,
 * fork, credentials, exec. And where they run: in this thread when that is
 * allowed (same PID, like nsenter), or in a cloned child.
 */
import {
  CLONE_NEWUSER,
  execPaths,
  getenvRaw,
  namespaceInfo,
  restoreCallerSteps,
  type Step,
} from '@ns/syscalls';
import type { Request } from './request.js';
import type { Resolved } from './resolve.js';

const CLONE_FS = 0x200;

export interface Plan {
  /**
   * Run in a child: Node's threads forbid setns into a user or time
   * namespace, and a PID namespace only applies to processes forked later.
   */
  child: boolean;
  /** nsenter's own fork (a PID namespace): the program is a child that nsenter waits for */
  fork: boolean;
  steps: Step[];
}

export function plan(r: Request, x: Resolved): Plan {
  const types = [...x.entries.keys()];
  const user = x.entries.has('user');
  const child = user || x.entries.has('time') || x.fork;
  const steps: Step[] = [];

  // Entering a user namespace sets uid and gid (0 unless given) unless told not to.
  const forceCreds = user && !r.preserveCredentials;
  const uid = x.uid ?? (forceCreds ? 0 : undefined);
  const gid = x.gid ?? (forceCreds ? 0 : undefined);
  // Drop supplementary groups while still privileged here: in the user namespace
  // setgroups may be denied. A failure is not fatal, as in util-linux.
  if (forceCreds) steps.push({ op: 'setgroups', ignore: 'EPERM', what: 'setgroups failed' });

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

  // Pass 2: the user namespace, then again whatever failed, now fatally. A privileged
  // caller so enters the user namespace last; the unprivileged owner of a user
  // namespace gets its capabilities there first, which the retries then need.
  const what = (type: string) =>
    `reassociate to namespace 'ns/${namespaceInfo(type as never).file}' failed`;
  const userSource = x.entries.get('user');
  if (userSource !== undefined)
    steps.push({
      op: 'setns',
      fd: userSource === 'pidfd' ? x.pidfd : userSource.fd,
      nstype: CLONE_NEWUSER,
      what: what('user'),
    });
  // The failed atomic call is retried one namespace at a time, so an error names its namespace.
  for (const [type, source] of x.entries)
    if (source === 'pidfd' && type !== 'user')
      steps.push({
        op: 'setns-retry',
        fd: x.pidfd,
        nstype: namespaceInfo(type).flag,
        slot: PIDFD_SLOT,
        what: what(type),
      });
  for (const [type, source] of x.entries)
    if (source !== 'pidfd' && type !== 'user')
      steps.push({
        op: 'setns-retry',
        fd: source.fd,
        nstype: namespaceInfo(type).flag,
        slot: slotOf(type),
        what: what(type),
      });

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

  if (x.fork) steps.push({ op: 'fork-sibling', what: 'fork failed' });

  if (gid !== undefined) {
    // EPERM here means setgroups is denied in the user namespace (or no group map
    // yet): nothing to drop then. util-linux 2.38 gives up with "setgroups failed".
    steps.push({ op: 'setgroups', ignore: 'EPERM', what: 'setgroups failed' });
    steps.push({ op: 'setresgid', gid, what: 'setgid() failed' });
  }
  if (uid !== undefined) steps.push({ op: 'setresuid', uid, what: 'setuid() failed' });
  if (r.keepCaps && user)
    steps.push({ op: 'ambient-caps', what: 'cannot set ambient capabilities' });

  steps.push(...restoreCallerSteps());
  steps.push({
    op: 'exec',
    paths: execPaths(x.program, getenvRaw(x.env, 'PATH')),
    argv: x.argv,
    env: x.env,
    what: x.programName,
  });
  return { child, fork: x.fork, steps };
}
