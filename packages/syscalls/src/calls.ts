/**
 * Direct system calls for the calling thread. Note that from Node's main
 * thread unshare and setns affect that thread only (see the README), and a
 * new user namespace is refused: use spawnSteps() or runHere() for those.
 */
import { NsError } from './errors.js';
import { errno, getLibc, libcGroup } from './native.js';

const SYS_pidfd_open = 434;
const SYS_pidfd_getfd = 438;

function check(rc: number, what: string, syscall: string, path?: string): number {
  if (rc < 0) throw new NsError(what, errno(), syscall, path);
  return rc;
}

const tty = libcGroup({ isatty: 'int isatty(int fd)' });

/**
 * Whether fd is a terminal: isatty(3), where process.stdout.isTTY would
 * first build Node's stdout stream (node:stream and its kin, some 6 ms).
 */
export function isTerminal(fd: number): boolean {
  return tty().isatty(fd) === 1;
}

/** unshare(2) for the calling thread (CLONE_NEW* flags); throws NsError. */
export function unshare(flags: number): void {
  check(getLibc().unshare(flags), 'unshare failed', 'unshare');
}

/** setns(2) for the calling thread: a namespace file or pidfd, and the type(s) to enter; throws NsError. */
export function setns(fd: number, nstype = 0): void {
  check(getLibc().setns(fd, nstype), 'setns failed', 'setns');
}

/** mount(2) flags. */
export const MS_RDONLY = 0x1;
/** mount(2): ignore set-user-ID and set-group-ID bits */
export const MS_NOSUID = 0x2;
/** mount(2): no device files */
export const MS_NODEV = 0x4;
/** mount(2): no program execution */
export const MS_NOEXEC = 0x8;
/** mount(2): change the flags of a mount */
export const MS_REMOUNT = 0x20;
/** mount(2): a bind mount */
export const MS_BIND = 0x1000;
/** mount(2): move a mount */
export const MS_MOVE = 0x2000;
/** mount(2): with every mount below */
export const MS_REC = 0x4000;
/** mount(2): propagation private */
export const MS_PRIVATE = 1 << 18;
/** mount(2): propagation slave */
export const MS_SLAVE = 1 << 19;
/** mount(2): propagation shared */
export const MS_SHARED = 1 << 20;
/** The propagation of a new mount namespace's mounts, by util-linux's names: mount(2) flags for "/" (recursive). */
export const PROPAGATION = {
  private: MS_REC | MS_PRIVATE,
  shared: MS_REC | MS_SHARED,
  slave: MS_REC | MS_SLAVE,
} as const;
/** umount2(2): detach now, clean up when no longer busy. */
export const MNT_DETACH = 2;

/** mount(2); throws NsError with util-linux's words. */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(
    getLibc().mount(source, target, fstype, flags, data),
    `mount ${source ?? 'none'} on ${target} failed`,
    'mount',
    target,
  );
}

/** umount2(2); throws NsError. */
export function umount(target: string, flags = 0): void {
  check(getLibc().umount2(target, flags), `umount ${target} failed`, 'umount2', target);
}

/** sethostname(2) in the calling thread's UTS namespace; throws NsError. */
export function sethostname(name: string): void {
  check(getLibc().sethostname(name, Buffer.byteLength(name)), 'sethostname failed', 'sethostname');
}

/** A pidfd for PID: a handle that keeps naming that process even if the PID is reused. */
export function pidfdOpen(pid: number): number {
  return check(
    Number(getLibc().syscall(SYS_pidfd_open, 'int', pid, 'unsigned int', 0)),
    `pidfd_open ${pid} failed`,
    'pidfd_open',
  );
}

/** A copy of descriptor `fd` of the process behind `pidfd`. */
export function pidfdGetfd(pidfd: number, fd: number): number {
  return check(
    Number(getLibc().syscall(SYS_pidfd_getfd, 'int', pidfd, 'int', fd, 'unsigned int', 0)),
    `pidfd_getfd(${pidfd}, ${fd})`,
    'pidfd_getfd',
  );
}

/** kill(2); throws NsError. */
export function kill(pid: number, signal: number): void {
  check(getLibc().kill(pid, signal), `kill ${pid} failed`, 'kill');
}

const signals = libcGroup({
  signal: 'void *signal(int sig, void *handler)',
  raise: 'int raise(int sig)',
});

/**
 * Ends this process as killed by `signal`, as a C program whose signal is
 * left at its default action ends: the default action is set again (Node
 * ignores SIGPIPE, for one) and the signal raised in this thread. Returns
 * where that does not end the process: the signal is blocked in this
 * thread (it stays pending), or its default action is not to terminate.
 */
export function raiseDefault(signal: number): void {
  const s = signals();
  s.signal(signal, null); // SIG_DFL
  s.raise(signal);
}

/** Closes a descriptor; errors are ignored (there is nothing to do about them). */
export function closeFd(fd: number): void {
  getLibc().close(fd);
}

const NSIO = 0xb7;
/** ioctl(2) requests on namespace files (ioctl_ns(2)). */
export const NS_GET_USERNS = (NSIO << 8) | 0x1;
/** ioctl_ns(2): the parent namespace */
export const NS_GET_PARENT = (NSIO << 8) | 0x2;
/** ioctl_ns(2): the CLONE_NEW* type */
export const NS_GET_NSTYPE = (NSIO << 8) | 0x3;
/** ioctl_ns(2): the owner uid of a user namespace */
export const NS_GET_OWNER_UID = (NSIO << 8) | 0x4;
/** ioctl(2) on a socket: a descriptor of its network namespace. */
export const SIOCGSKNS = 0x894c;

/** ioctl without an argument, returning a number or a new descriptor; NsError on failure. */
export function ioctl(fd: number, request: number, what = 'ioctl failed'): number {
  return check(getLibc().ioctl(fd, request), what, 'ioctl');
}

/** NS_GET_USERNS: a descriptor for the user namespace that owns namespace fd. */
export function nsGetUserns(fd: number): number {
  return ioctl(fd, NS_GET_USERNS, 'NS_GET_USERNS failed');
}

/** NS_GET_PARENT: a descriptor for the parent of a pid or user namespace. */
export function nsGetParent(fd: number): number {
  return ioctl(fd, NS_GET_PARENT, 'NS_GET_PARENT failed');
}

/** NS_GET_NSTYPE: the CLONE_NEW* flag of namespace fd. */
export function nsGetType(fd: number): number {
  return ioctl(fd, NS_GET_NSTYPE, 'NS_GET_NSTYPE failed');
}

/** NS_GET_OWNER_UID: the uid that created user namespace fd. */
export function nsGetOwnerUid(fd: number): number {
  const out = new Uint32Array(1);
  check(
    getLibc().ioctl(fd, NS_GET_OWNER_UID, 'uint32_t *', out),
    'NS_GET_OWNER_UID failed',
    'ioctl',
  );
  return out[0];
}

/** SIOCGSKNS: a descriptor for the network namespace of socket fd. */
export function socketNetns(fd: number): number {
  return ioctl(fd, SIOCGSKNS, 'SIOCGSKNS failed');
}
