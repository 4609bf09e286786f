/**
 * child_process for namespaces: spawn() returns a real ChildProcess whose
 * program runs in new (or joined) namespaces, spawnSync() returns what
 * child_process.spawnSync returns. Under them is the steps API: the options
 * become a step program, a cloned child carries it out and execs.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { MNT_DETACH, MS_BIND, PROPAGATION, closeFd, mount, pidfdOpen, umount } from './calls.js';
import { ExecError, NsError, signalNumbers } from './errors.js';
import { libcGroup } from './native.js';
import { NAMESPACES, cloneFlags, namespaceInfo, type NamespaceType } from './namespaces.js';
import { namespaceInode } from './proc.js';
import { execPaths, spawnSteps, type Child } from './spawn.js';
import { mountProcStep, type Step } from './steps.js';

import type { IdRange } from './run/idmap.js';

type StdioOne = 'pipe' | 'inherit' | 'ignore' | number | null | undefined;

/** Options of spawn(): child_process' own, and namespaces in ts-unshare's vocabulary. */
export interface NsSpawnOptions {
  /** working directory of the program (after `root`) */
  cwd?: string;
  /** its environment (default: process.env) */
  env?: NodeJS.ProcessEnv;
  /** argv[0] (default: the command) */
  argv0?: string;
  /** as child_process: 'pipe' (default), 'inherit', 'ignore', or one per fd 0-2 (a number: that fd) */
  stdio?: 'pipe' | 'inherit' | 'ignore' | StdioOne[];
  /** a session of its own (setsid) */
  detached?: boolean;
  /** aborting it kills the program with killSignal */
  signal?: AbortSignal;
  /** milliseconds, then killSignal */
  timeout?: number;
  killSignal?: NodeJS.Signals | number;
  /** new namespaces for the program, e.g. ['uts', 'pid', 'mnt'] */
  namespaces?: NamespaceType[];
  /** its hostname (a new uts namespace) */
  hostname?: string;
  /** mount a new /proc (true) or a proc filesystem on this path (a new mount namespace) */
  mountProc?: boolean | string;
  /** propagation of / in a new mount namespace (default 'private', as unshare) */
  propagation?: 'private' | 'shared' | 'slave' | 'unchanged';
  /** its root directory (chroot) */
  root?: string;
  /** in a new user namespace: root inside is us outside (unshare -r) */
  mapRootUser?: boolean;
  /** in a new user namespace: our ids inside are our ids outside (unshare -c) */
  mapCurrentUser?: boolean;
  /** in a new user namespace: explicit maps (written by the parent; as root for ranges) */
  uidMap?: IdRange[];
  gidMap?: IdRange[];
  /** ids to run as, set last */
  setuid?: number;
  setgid?: number;
  /**
   * enter namespaces instead of creating them, as nsenter: those of a process
   * (all its types, or the ones listed), or namespace files by type
   */
  join?: { pid: number; namespaces?: NamespaceType[] } | Partial<Record<NamespaceType, string>>;
  /** keep new namespaces alive on existing files (bind mounts), as unshare --uts=FILE */
  keepAlive?: Partial<Record<NamespaceType, string>>;
  /** the signal the program gets when this process dies (true: SIGKILL) */
  killChild?: boolean | NodeJS.Signals;
}

const signalNumber = (s: NodeJS.Signals | number | undefined, fallback: number): number =>
  s === undefined ? fallback : typeof s === 'number' ? s : signalNumbers()[s];
const signalName = (n: number): NodeJS.Signals | null =>
  (Object.entries(signalNumbers()).find(([, v]) => v === n)?.[0] as NodeJS.Signals) ?? null;

const calls = libcGroup({
  pipe2: 'int pipe2(_Out_ int *fds, int flags)',
  waitpid: 'int waitpid(int pid, _Out_ int *status, int options)',
  poll: 'int poll(uint8_t *fds, unsigned long n, int timeout)',
});
const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;
const __WALL = 0x40000000;

function pipe(): [number, number] {
  const fds = [0, 0];
  if (calls().pipe2(fds, O_CLOEXEC) < 0) throw new NsError('pipe failed', 24, 'pipe2');
  return [fds[0], fds[1]];
}

/** The wait status of a child, or undefined while it runs. */
function reap(
  pid: number,
  block: boolean,
): { code: number | null; signal: number | null } | undefined {
  const status = [0];
  const rc = calls().waitpid(pid, status, __WALL | (block ? 0 : WNOHANG));
  if (rc === 0) return undefined;
  if (rc < 0) return { code: null, signal: null };
  const sig = status[0] & 0x7f;
  return sig ? { code: null, signal: sig } : { code: (status[0] >> 8) & 0xff, signal: null };
}

interface Prepared {
  steps: Step[];
  cloneFlags: number;
  onSync?: (child: Child) => void;
  /** descriptors the child takes (pipe ends, namespace files, pidfds): closed here once it has them */
  theirs: number[];
  /** our ends of the stdio pipes, per fd 0-2 (-1: none) */
  ours: number[];
  /** undo on failure: our pipe ends, and binds made at the sync step */
  cleanup: () => void;
}

function stdioOf(options: NsSpawnOptions): StdioOne[] {
  const s = options.stdio ?? 'pipe';
  return typeof s === 'string' ? [s, s, s] : [s[0], s[1], s[2]];
}

/** The options as a step program, in util-linux's order (nsenter's for join, unshare's else). */
function prepare(command: string, args: readonly string[], o: NsSpawnOptions): Prepared {
  const steps: Step[] = [];
  const theirs: number[] = [];
  const ours = [-1, -1, -1];
  const bound: string[] = [];
  const cleanup = () => {
    for (const fd of ours.filter((f) => f >= 0)) closeFd(fd);
    for (const target of bound.reverse()) umount(target, MNT_DETACH);
  };
  try {
    // Joining: the namespaces of a process in one atomic setns on its pidfd, or files one by one.
    let join = 0;
    if (o.join && typeof o.join.pid === 'number') {
      const target = o.join as { pid: number; namespaces?: NamespaceType[] };
      const pidfd = pidfdOpen(target.pid);
      theirs.push(pidfd);
      // by default every namespace of the target that is not ours already (as nsenter -a)
      const types =
        target.namespaces ??
        NAMESPACES.map((n) => n.type).filter(
          (t) => namespaceInode(target.pid, t) !== namespaceInode('self', t),
        );
      join = cloneFlags(types);
      steps.push({
        op: 'setns',
        fd: pidfd,
        nstype: join,
        what: `setns into ${types.join(', ')} of ${target.pid} failed`,
      });
    } else if (o.join) {
      for (const ns of NAMESPACES) {
        const file = (o.join as Partial<Record<NamespaceType, string>>)[ns.type];
        if (!file) continue;
        const fd = openSync(file, 'r');
        theirs.push(fd);
        join |= ns.flag;
        steps.push({ op: 'setns', fd, nstype: ns.flag, what: `setns into ${file} failed` });
      }
    }
    // A joined PID namespace takes processes forked afterwards: the program is forked after setns.
    if (join & namespaceInfo('pid').flag) steps.push({ op: 'fork-sibling', what: 'fork failed' });

    const types = new Set(o.namespaces ?? []);
    if (o.hostname !== undefined) types.add('uts');
    if (o.mountProc) types.add('mnt');
    if (o.mapRootUser || o.mapCurrentUser || o.uidMap || o.gidMap) types.add('user');
    for (const t of Object.keys(o.keepAlive ?? {})) types.add(t as NamespaceType);
    const flags = cloneFlags(types);

    const keepAlive = NAMESPACES.filter((n) => o.keepAlive?.[n.type]);
    const user = types.has('user');
    // -r maps root inside to our id outside, -c our id to itself
    const ownMap = (own: number): IdRange[] | undefined =>
      o.mapRootUser || o.mapCurrentUser
        ? [{ inner: o.mapRootUser ? 0 : own, outer: own, count: 1 }]
        : undefined;
    const uidMap = o.uidMap ?? ownMap(process.geteuid!());
    const gidMap = o.gidMap ?? ownMap(process.getegid!());
    let onSync: Prepared['onSync'];
    if ((user && (uidMap || gidMap)) || keepAlive.length > 0) {
      steps.push({ op: 'sync-parent' });
      onSync = ({ pid }) => {
        const proc = `/proc/${pid}`;
        const text = (m: IdRange[]) => m.map((r) => `${r.inner} ${r.outer} ${r.count}\n`).join('');
        if (gidMap && process.geteuid!() !== 0) writeFileSync(`${proc}/setgroups`, 'deny');
        if (uidMap) writeFileSync(`${proc}/uid_map`, text(uidMap));
        if (gidMap) writeFileSync(`${proc}/gid_map`, text(gidMap));
        for (const n of keepAlive) {
          mount(`${proc}/ns/${n.childrenFile}`, o.keepAlive![n.type]!, null, MS_BIND);
          bound.push(o.keepAlive![n.type]!);
        }
      };
    }
    if (o.killChild) {
      const parent = pidfdOpen(process.pid);
      theirs.push(parent);
      const signal = signalNumber(
        o.killChild === true ? undefined : o.killChild,
        signalNumbers().SIGKILL,
      );
      steps.push({ op: 'pdeathsig', signal, parentPidfd: parent, what: 'prctl failed' });
    }
    if (o.hostname !== undefined)
      steps.push({ op: 'sethostname', name: o.hostname, what: 'sethostname failed' });
    if (types.has('mnt') && o.propagation !== 'unchanged') {
      steps.push({
        op: 'mount',
        source: 'none',
        target: '/',
        flags: PROPAGATION[o.propagation ?? 'private'],
        what: 'cannot change root filesystem propagation',
      });
    }
    if (o.root !== undefined) {
      steps.push({
        op: 'chroot',
        path: o.root,
        what: `cannot change root directory to '${o.root}'`,
      });
      if (o.cwd === undefined) steps.push({ op: 'chdir', path: '/', what: "cannot chdir to '/'" });
    }
    if (o.cwd !== undefined)
      steps.push({ op: 'chdir', path: o.cwd, what: `cannot chdir to '${o.cwd}'` });
    if (o.mountProc) {
      const target = typeof o.mountProc === 'string' ? o.mountProc : '/proc';
      steps.push(mountProcStep(target));
    }
    if (o.detached) steps.push({ op: 'setsid', what: 'setsid failed' });
    if (o.setgid !== undefined) {
      steps.push({ op: 'setgroups', what: 'setgroups failed' });
      steps.push({ op: 'setresgid', gid: o.setgid, what: 'setgid() failed' });
    }
    if (o.setuid !== undefined)
      steps.push({ op: 'setresuid', uid: o.setuid, what: 'setuid() failed' });

    // Standard descriptors: a pipe end, /dev/null, an fd of ours, or ours as they are.
    stdioOf(o).forEach((kind, fd) => {
      if (kind === 'pipe' || kind === undefined || kind === null) {
        const [r, w] = pipe();
        const [mine, child] = fd === 0 ? [w, r] : [r, w];
        ours[fd] = mine;
        theirs.push(child);
        steps.push({ op: 'dup2', fd: child, target: fd });
      } else if (kind === 'ignore') {
        const devnull = openSync('/dev/null', fd === 0 ? 'r' : 'w');
        theirs.push(devnull);
        steps.push({ op: 'dup2', fd: devnull, target: fd });
      } else if (typeof kind === 'number') steps.push({ op: 'dup2', fd: kind, target: fd });
      else steps.push({ op: 'keep-fd', fd });
    });
    const env = Object.entries(o.env ?? process.env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    steps.push({
      op: 'exec',
      paths: execPaths(command, (o.env ?? process.env).PATH),
      argv: [o.argv0 ?? command, ...args],
      env,
      what: command,
    });
    return { steps, cloneFlags: flags, onSync, theirs, ours, cleanup };
  } catch (e) {
    for (const fd of theirs) closeFd(fd);
    cleanup();
    throw e;
  }
}

/** Runs the prepared program; the PID of the process that execs it. Closes what the child took. */
function launch(command: string, p: Prepared, types: string): number {
  try {
    const child = spawnSteps(p.steps, {
      cloneFlags: p.cloneFlags,
      cloneWhat: types ? `cannot create new ${types} namespaces` : 'clone failed',
      onSync: p.onSync,
    });
    if (child.pidfd >= 0) closeFd(child.pidfd);
    return child.pid;
  } catch (e) {
    p.cleanup();
    throw e;
  } finally {
    for (const fd of p.theirs) closeFd(fd);
    p.theirs.length = 0;
  }
}

/** child_process' error for a program that could not be executed. */
function spawnError(command: string, args: readonly string[], e: unknown): Error {
  if (!(e instanceof ExecError)) return e as Error;
  const err = Object.assign(new Error(`spawn ${command} ${e.code}`), {
    errno: -e.errno,
    code: e.code,
    syscall: `spawn ${command}`,
    path: command,
    spawnargs: [...args],
  });
  return err;
}

/** child_process and net, loaded on first spawn(): a tool that only lists namespaces never pays for them. */
function nodeModules() {
  return {
    ChildProcess: process.getBuiltinModule('node:child_process').ChildProcess,
    Socket: process.getBuiltinModule('node:net').Socket,
  };
}

// Children spawned here: reaped on SIGCHLD (waitpid of their own PIDs only, so
// child_process' children stay libuv's), and a timer keeps the event loop
// alive while any runs.
const running = new Map<number, (code: number | null, signal: number | null) => void>();
let keepAlive: NodeJS.Timeout | undefined;
function onChildSignal(): void {
  for (const [pid, done] of running) {
    const end = reap(pid, false);
    if (!end) continue;
    running.delete(pid);
    done(end.code, end.signal);
  }
  if (running.size === 0 && keepAlive) {
    clearInterval(keepAlive);
    keepAlive = undefined;
    process.removeListener('SIGCHLD', onChildSignal);
  }
}
function watch(pid: number, done: (code: number | null, signal: number | null) => void): void {
  if (running.size === 0) process.on('SIGCHLD', onChildSignal);
  running.set(pid, done);
  keepAlive ??= setInterval(() => {}, 1 << 30);
  setImmediate(onChildSignal); // it may have ended already: after the caller's listeners are on
}

/**
 * Starts command in new or joined namespaces; a ChildProcess as
 * child_process.spawn returns it: stdio streams, 'spawn', 'exit', 'close'
 * and 'error' events, kill(), and pid, the program's PID. A program that
 * cannot be executed gives 'error' with code ENOENT or EACCES; a refused
 * namespace gives 'error' with an NsError.
 */
export function spawn(
  command: string,
  args: readonly string[] = [],
  options: NsSpawnOptions = {},
): ChildProcess {
  const { ChildProcess, Socket } = nodeModules();
  const cp = new ChildProcess();
  Object.assign(cp, { spawnfile: command, spawnargs: [command, ...args] });
  const types = [...new Set(options.namespaces ?? [])].join(', ');
  let pid: number;
  let p: Prepared;
  try {
    p = prepare(command, args, options);
    pid = launch(command, p, types);
  } catch (e) {
    process.nextTick(() => cp.emit('error', spawnError(command, args, e)));
    return cp;
  }
  const streams = p.ours.map((fd, i) =>
    fd < 0 ? null : new Socket({ fd, readable: i !== 0, writable: i === 0 }),
  );
  Object.assign(cp, {
    pid,
    stdin: streams[0],
    stdout: streams[1],
    stderr: streams[2],
    stdio: [streams[0], streams[1], streams[2]],
  });
  let exited = false;
  cp.kill = (signal?: NodeJS.Signals | number) => {
    if (exited) return false;
    try {
      process.kill(pid, signalNumber(signal, signalNumbers().SIGTERM));
      (cp as { killed: boolean }).killed = true;
      return true;
    } catch {
      return false;
    }
  };
  const killSignal = signalNumber(options.killSignal, signalNumbers().SIGTERM);
  const timer = options.timeout
    ? setTimeout(() => cp.kill(killSignal), options.timeout)
    : undefined;
  const onAbort = () => {
    cp.kill(killSignal);
    cp.emit(
      'error',
      Object.assign(new Error('The operation was aborted'), {
        name: 'AbortError',
        code: 'ABORT_ERR',
      }),
    );
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // 'close' follows 'exit' once every stdio stream has closed, as in child_process
  let open = streams.filter(Boolean).length + 1;
  let status: [number | null, NodeJS.Signals | null] = [null, null];
  const closed = () => {
    if (--open === 0) cp.emit('close', ...status);
  };
  for (const s of streams) s?.once('close', closed);
  process.nextTick(() => cp.emit('spawn'));
  watch(pid, (code, signal) => {
    exited = true;
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    status = [code, signal === null ? null : signalName(signal)];
    Object.assign(cp, { exitCode: code, signalCode: status[1] });
    // as child_process: stdin is done with, unread output is drained so that 'close' comes
    streams[0]?.destroy();
    for (const s of streams.slice(1)) if (s && s.listenerCount('data') === 0) s.resume();
    cp.emit('exit', ...status);
    closed();
  });
  return cp;
}

/** Options of spawnSync(): spawn()'s, and child_process.spawnSync's input, encoding, maxBuffer. */
export interface NsSpawnSyncOptions extends Omit<NsSpawnOptions, 'signal'> {
  /** written to the program's stdin */
  input?: string | Buffer;
  /** decode stdout and stderr */
  encoding?: BufferEncoding;
  /** the most bytes kept from stdout or stderr (default 1 MiB, as child_process) */
  maxBuffer?: number;
}

/** What spawnSync() returns: child_process.spawnSync's result. */
export interface NsSpawnSyncResult<T = Buffer | string> {
  pid: number;
  output: [null, T | null, T | null];
  stdout: T | null;
  stderr: T | null;
  status: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** As child_process.spawnSync: runs command in namespaces and waits; its output and status. */
export function spawnSync(
  command: string,
  args: readonly string[] = [],
  options: NsSpawnSyncOptions = {},
): NsSpawnSyncResult {
  const result: NsSpawnSyncResult = {
    pid: 0,
    output: [null, null, null],
    stdout: null,
    stderr: null,
    status: null,
    signal: null,
  };
  let p: Prepared;
  try {
    p = prepare(command, args, options);
    result.pid = launch(command, p, [...new Set(options.namespaces ?? [])].join(', '));
  } catch (e) {
    result.error = spawnError(command, args, e);
    return result;
  }
  const [inFd, outFd, errFd] = p.ours;
  const chunks: Buffer[][] = [[], [], []];
  const max = options.maxBuffer ?? 1024 * 1024;
  let input = options.input === undefined ? Buffer.alloc(0) : Buffer.from(options.input);
  if (inFd >= 0 && input.length === 0) closeSync(inFd);
  const open = new Set([outFd, errFd].filter((fd) => fd >= 0));
  if (inFd >= 0 && input.length > 0) open.add(inFd);
  const deadline = options.timeout ? Date.now() + options.timeout : Infinity;
  const buf = Buffer.alloc(65536);
  let killed = false;
  // poll the pipes: a program that fills one while we wait on another never blocks
  while (open.size > 0) {
    const fds = [...open];
    const pfd = Buffer.alloc(8 * fds.length);
    fds.forEach((fd, k) => {
      pfd.writeInt32LE(fd, 8 * k);
      pfd.writeInt16LE(fd === inFd ? 4 /* POLLOUT */ : 1 /* POLLIN */, 8 * k + 4);
    });
    const wait = deadline === Infinity ? -1 : Math.max(0, deadline - Date.now());
    const n = calls().poll(pfd, fds.length, wait);
    if (n === 0 && !killed) {
      process.kill(result.pid, signalNumber(options.killSignal, signalNumbers().SIGTERM));
      killed = true;
      result.error = Object.assign(new Error(`spawnSync ${command} ETIMEDOUT`), {
        code: 'ETIMEDOUT',
      });
      continue;
    }
    fds.forEach((fd, k) => {
      if (pfd.readInt16LE(8 * k + 6) === 0) return;
      if (fd === inFd) {
        try {
          const w = writeSync(fd, input);
          input = input.subarray(w);
        } catch {
          input = Buffer.alloc(0);
        }
        if (input.length === 0) {
          closeSync(fd);
          open.delete(fd);
        }
        return;
      }
      let got = 0;
      try {
        got = readSync(fd, buf, 0, buf.length, null);
      } catch {
        got = 0;
      }
      if (got === 0) {
        closeSync(fd);
        open.delete(fd);
      } else chunks[fd === outFd ? 1 : 2].push(Buffer.from(buf.subarray(0, got)));
    });
  }
  const end = reap(result.pid, true)!;
  result.status = end.code;
  result.signal = end.signal === null ? null : signalName(end.signal);
  const decode = (c: Buffer[]) => {
    const b = Buffer.concat(c).subarray(0, max);
    return options.encoding && options.encoding !== ('buffer' as BufferEncoding)
      ? b.toString(options.encoding)
      : b;
  };
  if (outFd >= 0) result.stdout = decode(chunks[1]);
  if (errFd >= 0) result.stderr = decode(chunks[2]);
  result.output = [null, result.stdout, result.stderr];
  return result;
}
