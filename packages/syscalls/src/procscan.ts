/**
 * Reading many /proc/PID directories quickly, for lsns-like scans.
 *
 * Each process directory is opened once (O_PATH) and everything else is read
 * relative to that descriptor (readlinkat, openat, statx): the kernel walks
 * two path components instead of four, a PID reused meanwhile cannot be
 * confused with the process we opened, and failures come back as return
 * values, not as thrown errors (a thrown ENOENT costs far more than the
 * system call in Node). Results go into the caller's arrays or reused
 * buffers, so a scan of thousands of processes allocates little.
 *
 * Works in worker threads too (each thread loads its own bindings).
 */
import { NAMESPACE_TYPES } from './namespaces.js';
import { getKoffi } from './native.js';

type Fn = (...args: unknown[]) => number;

interface Bindings {
  openat: Fn;
  readlinkat: Fn;
  read: Fn;
  close: Fn;
  getdents64: Fn;
  statx: Fn;
  kcmp: Fn;
  pidfdOpen: Fn;
  pidfdSendSignal: Fn;
  ioctl: Fn;
  errno: () => number;
}

let bindings: Bindings | undefined;

function libc(): Bindings {
  if (bindings) return bindings;
  const koffi = getKoffi();
  const lib = koffi.load('libc.so.6');
  return (bindings = {
    openat: lib.func('int openat(int dirfd, const char *path, int flags)'),
    readlinkat: lib.func('long readlinkat(int dirfd, const char *path, _Out_ void *buf, size_t n)'),
    read: lib.func('long read(int fd, _Out_ void *buf, size_t n)'),
    close: lib.func('int close(int fd)'),
    getdents64: lib.func('long getdents64(int fd, _Out_ void *buf, size_t n)'),
    statx: lib.func(
      'int statx(int dirfd, const char *path, int flags, unsigned int mask, _Out_ void *buf)',
    ),
    // kcmp(2) has no glibc wrapper: syscall(SYS_kcmp, pid1, pid2, type, idx1, idx2)
    kcmp: lib.func(
      'long syscall(long n, int pid1, int pid2, int type, unsigned long i1, unsigned long i2)',
    ),
    pidfdOpen: lib.func('long syscall(long n, int pid, unsigned int flags)'),
    pidfdSendSignal: lib.func(
      'long syscall(long n, int pidfd, int sig, void *info, unsigned int flags)',
    ),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, _Inout_ void *arg)'),
    errno: () => koffi.errno(),
  });
}

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;
const STATX_UID = 0x8;
const STATX_INO = 0x100;
const STATX_SIZE = 0x200;
// x86_64 system call numbers (kcmp and the pidfd calls have no glibc wrappers here)
const SYS_KCMP = 312;
const SYS_PIDFD_SEND_SIGNAL = 424;
const SYS_PIDFD_OPEN = 434;
const KCMP_FILE = 0;
/** _IOWR(0xff, 11, struct pidfd_info) with the 64-byte first version of the struct (Linux 6.13+) */
const PIDFD_GET_INFO = ((3 << 30) | (64 << 16) | (0xff << 8) | 11) >>> 0;
const PIDFD_INFO_PID = 1; // pid, tgid and ppid
const EINVAL = 22;
const ENOTTY = 25;
const ENOSYS = 38;
const ENOENT = 2;
const ESRCH = 3;
const EACCES = 13;

/** The namespace names as nsfs shows them in a link ("net:[4026531840]"). */
const NS_NAMES = new Set<string>(NAMESPACE_TYPES);

/**
 * Paths as NUL-terminated bytes, encoded once: koffi passes a Buffer as it
 * is, where a string would be converted on every call (thousands of times
 * per scan for the same few names).
 */
const cPath = (s: string) => Buffer.from(`${s}\0`, 'latin1');
/** "ns/net" and the like, relative to a task directory */
const NS_LINKS = new Map([...NS_NAMES].map((n) => [n, cPath(`ns/${n}`)]));
/** "net" and the like, relative to its ns/ directory */
const NS_BARE = new Map([...NS_NAMES].map((n) => [n, cPath(n)]));
const FD = cPath('fd');
const STAT = cPath('stat');
const CMDLINE = cPath('cmdline');
const COMM = cPath('comm');
const EMPTY = cPath('');
/** descriptor numbers as names, made as they are met: processes share the low ones */
const fdNames: Buffer[] = [];
const fdName = (fd: number) =>
  fd < 1024 ? (fdNames[fd] ??= cPath(String(fd))) : cPath(String(fd));

/**
 * Since Linux 6.2 the size of /proc/PID/fd is its number of descriptors, so
 * a statx can tell whether a list is complete (on older kernels it is 0).
 */
function fdCountInSize(): boolean {
  const m = /^(\d+)\.(\d+)/.exec(process.getBuiltinModule('node:os').release());
  return !!m && (Number(m[1]) > 6 || (Number(m[1]) === 6 && Number(m[2]) >= 2));
}

/** A descriptor of a process that holds a namespace, or may (a socket holds its network namespace). */
export type HeldFd =
  /** an nsfs descriptor whose link names its type and inode */
  | { fd: number; kind: 'ns'; type: string; inode: number }
  /** a file on nsfs opened through a bind mount: the type needs NS_GET_NSTYPE */
  | { fd: number; kind: 'nsfs'; inode: number }
  /** a socket, identified by its own inode */
  | { fd: number; kind: 'socket'; inode: number };

const NONE: readonly HeldFd[] = Object.freeze([]);

/** What nsInode() reports when there is no inode. */
export const NS_GONE = -1;
/** ProcScanner.nsInode(): the link may not be read. */
export const NS_DENIED = 0;

/**
 * One thread's reader of /proc. open() a process (or task) directory, ask
 * about it, close() it; one directory at a time.
 */
export class ProcScanner {
  private lib = libc();
  private dir = -1;
  /** dir is the task's ns/ directory (openNamespaces), not the task's own */
  private nsOnly = false;
  /** link text and small files; views into it are valid until the next call */
  private buf = Buffer.allocUnsafe(8192);
  private dents = Buffer.allocUnsafe(16384);
  private stx = Buffer.alloc(256);
  /** link texts of descriptors already found not to be on nsfs (/dev/null, log files) */
  private notNsfs = new Set<string>();
  private nsfsMajor = -1;
  private nsfsMinor = -1;

  /** Opens a directory such as /proc/1234 or /proc/1234/task/1235; false if it is gone or not ours to see. */
  open(path: string): boolean {
    this.close();
    this.dir = this.lib.openat(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    this.nsOnly = false;
    return this.dir >= 0;
  }

  /**
   * Opens only the ns/ directory of such a directory, for nsInode() alone:
   * each link read then walks one path component less (a tenth cheaper).
   */
  openNamespaces(path: string): boolean {
    this.open(`${path}/ns`);
    this.nsOnly = true;
    return this.dir >= 0;
  }

  close(): void {
    if (this.dir >= 0) this.lib.close(this.dir);
    this.dir = -1;
  }

  /**
   * The inode of namespace link ns/NAME of the open directory: > 0; NS_DENIED
   * when it may not be read (EACCES); NS_GONE when the process has gone or
   * the kernel lacks the type (ENOENT, ESRCH). Other errors throw.
   */
  nsInode(name: string): number {
    const link = this.nsOnly ? NS_BARE.get(name) : NS_LINKS.get(name);
    const n = this.lib.readlinkat(
      this.dir,
      link ?? cPath(this.nsOnly ? name : `ns/${name}`),
      this.buf,
      64,
    );
    if (n < 0) {
      const e = this.lib.errno();
      if (e === ENOENT || e === ESRCH) return NS_GONE;
      if (e === EACCES) return NS_DENIED;
      throw new Error(`readlink ns/${name}: errno ${e}`);
    }
    return bracketNumber(this.buf, 0, n);
  }

  /** The owner of the open directory (what lsns shows as UID); -1 if gone. */
  uid(): number {
    if (this.lib.statx(this.dir, EMPTY, AT_EMPTY_PATH, STATX_UID, this.stx) < 0) return -1;
    return this.stx.readUInt32LE(20);
  }

  /**
   * The parent PID of the open directory's task; -1 if gone. Given its PID
   * (a process's, not a thread's), from a pidfd's PIDFD_GET_INFO, which
   * costs a third of reading /proc/PID/stat (the kernel fills in all of
   * stat's 52 fields, and takes the process's locks to do so); else, and
   * on kernels without it, parsed from stat after the last ')'.
   */
  ppid(pid?: number): number {
    if (pid !== undefined && this.pidfdInfo) {
      const v = this.ppidByPidfd(pid);
      if (v !== undefined) return v;
    }
    const n = this.readFile(STAT);
    if (n <= 0) return -1;
    const b = this.buf;
    let i = n - 1;
    while (i >= 0 && b[i] !== 0x29) i--; // the last ')'
    if (i < 0) return -1;
    i += 4; // ") S "
    let v = 0;
    for (; i < n && b[i] >= 0x30 && b[i] <= 0x39; i++) v = v * 10 + b[i] - 0x30;
    return v;
  }

  /** PIDFD_GET_INFO works here (x86_64 numbers; the kernel may lack it) */
  private pidfdInfo = process.arch === 'x64';
  private info = Buffer.alloc(64);

  /** ppid() by pidfd; undefined to read stat instead (a thread, an old kernel, gone). */
  private ppidByPidfd(pid: number): number | undefined {
    const lib = this.lib;
    const fd = lib.pidfdOpen(SYS_PIDFD_OPEN, pid, 0);
    if (fd < 0) {
      if (lib.errno() === ENOSYS) this.pidfdInfo = false;
      return undefined; // EINVAL: not a thread group leader; ESRCH: gone
    }
    const info = this.info;
    // the request mask; the kernel writes the whole struct back
    info.writeUInt32LE(PIDFD_INFO_PID, 0);
    const r = lib.ioctl(fd, PIDFD_GET_INFO, info);
    const e = r < 0 ? lib.errno() : 0;
    lib.close(fd);
    if (r < 0) {
      if (e === ENOTTY || e === EINVAL) this.pidfdInfo = false;
      return undefined;
    }
    return info.readUInt32LE(24); // ppid, after mask, cgroupid, pid and tgid
  }

  /**
   * COMMAND as lsns shows it: the first 8 KiB of cmdline with NULs as blanks
   * and the last byte dropped; for an empty cmdline (kernel threads) comm,
   * less its newline. undefined if both are unreadable or empty.
   */
  command(): string | undefined {
    for (const file of [CMDLINE, COMM]) {
      const n = this.readFile(file);
      if (n <= 0) continue;
      const b = this.buf;
      for (let i = 0; i < n; i++) if (b[i] === 0) b[i] = 0x20;
      return b.toString('utf8', 0, n - 1);
    }
    return undefined;
  }

  /**
   * Reads up to 8 KiB of a file of the open directory into buf; its length,
   * or -1. One read: these files (stat, cmdline, comm) come whole from one
   * read when the buffer is large enough, so a short read is the end.
   */
  private readFile(name: Buffer): number {
    const fd = this.lib.openat(this.dir, name, O_CLOEXEC);
    if (fd < 0) return -1;
    const n = this.lib.read(fd, this.buf, this.buf.length);
    this.lib.close(fd);
    return n;
  }

  /**
   * The last process whose descriptors were all read and found to hold
   * nothing (stdio on /dev/null, a log file, a pipe), with a pidfd to tell
   * whether it is still the same process.
   */
  private template: { pid: number; pidfd: number; fds: number[] } | undefined;
  /** kcmp and pidfds are there (x86_64, and the kernel has them) */
  private canCompare = process.arch === 'x64' && fdCountInSize();

  /**
   * heldFds(pid) by comparison with the template, or undefined when that
   * does not work out. Most processes inherit their descriptors from a
   * common parent, so descriptor N is often the very same open file as the
   * template's descriptor N: kcmp(KCMP_FILE) tells that in one system call,
   * and the same open file holds the same nothing, so only the descriptors
   * that differ have their link read. The number of descriptors (statx of
   * fd/, Linux 6.2+) equal to the template's, and each of the template's
   * numbers open here too (kcmp fails otherwise), mean there is no other
   * descriptor: fd/ need not be listed. Checked last: that the template
   * process is still alive, since kcmp takes a PID, and one reused by
   * another process meanwhile would have compared with that one's files.
   */
  private heldLikeTemplate(pid: number): readonly HeldFd[] | undefined {
    const t = this.template;
    if (!t || !this.canCompare) return undefined;
    const lib = this.lib;
    const base = `/proc/${pid}/fd`;
    if (lib.statx(AT_FDCWD, base, 0, STATX_SIZE, this.stx) < 0) return undefined;
    // stx_size: the number of descriptors (its low half is plenty)
    if (this.stx.readUInt32LE(40) !== t.fds.length) return undefined;
    let out: HeldFd[] | undefined;
    for (const fd of t.fds) {
      const r = lib.kcmp(SYS_KCMP, t.pid, pid, KCMP_FILE, fd, fd);
      if (r === 0) continue; // the same open file: nothing
      if (r < 0) {
        if (lib.errno() === ENOSYS) this.canCompare = false;
        return undefined; // not open here (or there): the numbers differ
      }
      // open here, but another file: read its link
      const name = cPath(`${base}/${fd}`);
      const n = lib.readlinkat(AT_FDCWD, name, this.buf, 4096);
      if (n <= 0) return undefined; // closed meanwhile
      const held = this.classify(AT_FDCWD, name, fd, n);
      if (held) (out ??= []).push(held);
    }
    // signal 0 only checks: it fails with ESRCH once the template process has ended
    if (
      lib.pidfdSendSignal(SYS_PIDFD_SEND_SIGNAL, t.pidfd, 0, null, 0) !== 0 &&
      lib.errno() === ESRCH
    ) {
      lib.close(t.pidfd);
      this.template = undefined;
      return undefined;
    }
    return out ?? NONE;
  }

  /** Makes process pid, whose descriptors fds hold nothing, the template. */
  private remember(pid: number, fds: number[]): void {
    if (!this.canCompare || fds.length === 0) return;
    const lib = this.lib;
    const pidfd = lib.pidfdOpen(SYS_PIDFD_OPEN, pid, 0);
    if (pidfd < 0) {
      if (lib.errno() === ENOSYS) this.canCompare = false;
      return;
    }
    if (this.template) lib.close(this.template.pidfd);
    this.template = { pid, pidfd, fds };
  }

  /**
   * The descriptors of process pid that hold a namespace or a socket. Most
   * links answer by their text alone ("net:[...]", "socket:[...]",
   * "pipe:[...]"); a path needs a statx to tell whether it is an nsfs file,
   * done once per distinct path. Returns a shared empty array when there is
   * nothing, which is nearly always. Of process pid, or without it of the
   * open directory, which must then be a process's (descriptors are the
   * thread group's).
   */
  heldFds(pid?: number): readonly HeldFd[] {
    const lib = this.lib;
    const like = pid === undefined ? undefined : this.heldLikeTemplate(pid);
    if (like) return like;
    const fdDir =
      pid === undefined
        ? lib.openat(this.dir, FD, O_DIRECTORY | O_CLOEXEC)
        : lib.openat(AT_FDCWD, `/proc/${pid}/fd`, O_DIRECTORY | O_CLOEXEC);
    if (fdDir < 0) return NONE;
    let out: HeldFd[] | undefined;
    try {
      const fds: number[] = [];
      const d = this.dents;
      for (let n; (n = lib.getdents64(fdDir, d, d.length)) > 0;) {
        // d_reclen at offset 16 (read by hand: Buffer's readers cost a call each)
        for (let off = 0; off < n; off += d[off + 16] | (d[off + 17] << 8)) {
          // d_name at offset 19: the descriptor number ("." and ".." are skipped)
          let fd = 0;
          let i = off + 19;
          if (d[i] < 0x30 || d[i] > 0x39) continue;
          for (; d[i] !== 0; i++) fd = fd * 10 + d[i] - 0x30;
          fds.push(fd);
        }
        // the kernel fills the buffer as far as it can: room left means the end
        if (n < d.length - 512) break;
      }
      for (const fd of fds) {
        const name = fdName(fd);
        const n = lib.readlinkat(fdDir, name, this.buf, 4096);
        if (n <= 0) continue; // closed meanwhile
        const held = this.classify(fdDir, name, fd, n);
        if (held) (out ??= []).push(held);
      }
      if (!out && pid !== undefined) this.remember(pid, fds);
    } finally {
      lib.close(fdDir);
    }
    return out ?? NONE;
  }

  /**
   * What the descriptor whose link text (n bytes) is in buf holds: an nsfs
   * link "type:[inode]", a socket, a path that may be on nsfs, or nothing.
   * name is its link relative to dirFd. Only the texts that matter are
   * decoded to strings.
   */
  private classify(dirFd: number, name: Buffer, fd: number, n: number): HeldFd | undefined {
    const b = this.buf;
    if (b[0] === 0x2f) return this.nsfsPath(dirFd, name, fd, b.toString('latin1', 0, n));
    const colon = indexOf(b, 0x3a, 0, n);
    if (colon < 0 || b[colon + 1] !== 0x5b) return undefined; // not "type:[...]"
    // "socket", or a namespace name (at most 6 letters): pipes, anon_inode:[...] and the like are not
    if (colon > 6) return undefined;
    const inode = bracketNumber(b, colon, n);
    if (inode <= 0) return undefined;
    if (isSocket(b, colon)) return { fd, kind: 'socket', inode };
    const type = b.toString('latin1', 0, colon);
    return NS_NAMES.has(type) ? { fd, kind: 'ns', type, inode } : undefined;
  }

  /** A descriptor showing a path: on nsfs (an open bind mount of a namespace), or not. */
  private nsfsPath(fdDir: number, name: Buffer, fd: number, link: string): HeldFd | undefined {
    // "/" is what a descriptor on a detached mount shows: never take it for a known file
    if (link !== '/' && this.notNsfs.has(link)) return undefined;
    if (this.nsfsMajor < 0) this.findNsfsDevice();
    if (this.lib.statx(fdDir, name, 0, STATX_INO, this.stx) < 0) return undefined;
    const s = this.stx;
    if (s.readUInt32LE(136) === this.nsfsMajor && s.readUInt32LE(140) === this.nsfsMinor)
      return { fd, kind: 'nsfs', inode: Number(s.readBigUInt64LE(32)) };
    if (link !== '/') this.notNsfs.add(link);
    return undefined;
  }

  /** The device of nsfs, from our own user namespace link. */
  private findNsfsDevice(): void {
    if (this.lib.statx(AT_FDCWD, '/proc/self/ns/user', 0, STATX_INO, this.stx) === 0) {
      this.nsfsMajor = this.stx.readUInt32LE(136);
      this.nsfsMinor = this.stx.readUInt32LE(140);
    } else this.nsfsMajor = this.nsfsMinor = 0x7fffffff;
  }
}

/** Whether the link text in b up to colon is "socket". */
function isSocket(b: Buffer, colon: number): boolean {
  return (
    colon === 6 &&
    b[0] === 0x73 && // s
    b[1] === 0x6f && // o
    b[2] === 0x63 && // c
    b[3] === 0x6b && // k
    b[4] === 0x65 && // e
    b[5] === 0x74 // t
  );
}

/** Where byte c first is in b[from, end), or -1 (Buffer.indexOf costs a call into C++). */
function indexOf(b: Buffer, c: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (b[i] === c) return i;
  return -1;
}

/** The number in "type:[12345]" from position `from`: 0 if there is none. */
function bracketNumber(b: Buffer, from: number, end: number): number {
  let i = indexOf(b, 0x5b, from, end); // '['
  if (i < 0) return 0;
  let v = 0;
  for (i++; i < end && b[i] >= 0x30 && b[i] <= 0x39; i++) v = v * 10 + b[i] - 0x30;
  return v;
}
