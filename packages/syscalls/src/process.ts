/**
 * child_process for namespaces. spawn() and spawnSync() are child_process'
 * own, started on ns-run (native/nsrun.c built with -DNSRUN_RUNNER) with a
 * step program: the runner is single-threaded, so it carries the plan out in
 * place and execs the program, which so keeps the PID child_process knows,
 * its stdio and everything else child_process gives a child (uid and gid
 * excepted: they are the plan's last steps, after the namespaces). The
 * namespace options become a run request for the same planner the tools use.
 *
 * Between spawn() and its return the runner's steps run: we read its
 * reports on a socket until the exec closes it, doing the parent's work (id
 * maps, binds) when it asks, so that a failure is known before any event:
 * 'error' and 'close', never 'spawn' and 'exit', as child_process has it for
 * a program it cannot start.
 */
import type {
  ChildProcess,
  ChildProcessWithoutNullStreams,
  SpawnOptionsWithoutStdio,
  SpawnOptions,
  SpawnSyncOptions,
  SpawnSyncReturns,
} from 'node:child_process';
import { existsSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROPAGATION, closeFd, pidfdOpen } from './calls.js';
import { ExecError, NsError, RunError, errnoName, signalNumbers } from './errors.js';
import { libcGroup, nativeDir } from './native.js';
import { NAMESPACES, type NamespaceType } from './namespaces.js';
import type { IdRange } from './run/idmap.js';
import { resolveEnter, type EnterRequest } from './run/enter.js';
import { bindAll, unbindAll, writeMaps } from './run/carry.js';
import { plan, type CreateRequest, type Plan, type RunRequest } from './run/plan.js';
import { execPaths, stepFailure } from './spawn.js';
import { encode, type Step } from './steps.js';

/** The namespace half of spawn()'s options, in ts-unshare's and ts-nsenter's vocabulary. */
export interface NamespaceOptions {
  /** new namespaces for the program, e.g. ['uts', 'pid', 'mnt'] */
  namespaces?: readonly NamespaceType[];
  /** its hostname (a new uts namespace) */
  hostname?: string;
  /** mount a new /proc (true) or a proc filesystem on this path (a new mount namespace) */
  mountProc?: boolean | string;
  /** propagation of / in a new mount namespace (default 'private', as unshare) */
  propagation?: 'private' | 'shared' | 'slave' | 'unchanged';
  /** its root directory (chroot); cwd is then inside it */
  root?: string;
  /** in a new user namespace: root inside is us outside (unshare -r) */
  mapRootUser?: boolean;
  /** in a new user namespace: our ids inside are our ids outside (unshare -c) */
  mapCurrentUser?: boolean;
  /** in a new user namespace: maps of ranges (written from outside; newuidmap when not root) */
  uidMap?: IdRange[];
  gidMap?: IdRange[];
  /**
   * enter namespaces instead of creating them, as nsenter: those of a process
   * (every one that differs from ours, or the ones listed), or files by type
   */
  join?: { pid: number; namespaces?: NamespaceType[] } | Partial<Record<NamespaceType, string>>;
  /** keep new namespaces alive on existing files (bind mounts), as unshare --uts=FILE */
  keepAlive?: Partial<Record<NamespaceType, string>>;
  /** the signal the program gets when this process dies (true: SIGKILL) */
  killChild?: boolean | NodeJS.Signals;
  /**
   * in a new PID namespace, a small init as PID 1 in front of the program, so
   * that kill() and timeout reach it and orphans are reaped (default true);
   * false makes the program PID 1, as util-linux unshare -fp does
   */
  init?: boolean;
}

/** Options of spawn(): child_process.spawn's, and the namespaces on top. */
export interface NsSpawnOptions extends SpawnOptions, NamespaceOptions {}

/** Options of spawnSync(): child_process.spawnSync's, and the namespaces on top. */
export interface NsSpawnSyncOptions extends SpawnSyncOptions, NamespaceOptions {}

const NAMESPACE_KEYS = [
  'namespaces',
  'hostname',
  'mountProc',
  'propagation',
  'root',
  'mapRootUser',
  'mapCurrentUser',
  'uidMap',
  'gidMap',
  'join',
  'keepAlive',
  'killChild',
  'init',
] as const;

const calls = libcGroup({
  socketpair: 'int socketpair(int domain, int type, int protocol, _Out_ int *fds)',
  memfd_create: 'int memfd_create(const char *name, unsigned int flags)',
});
const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const MFD_CLOEXEC = 1;

/** A TypeError or RangeError with Node's code, as child_process' validation throws them. */
function nodeError(
  Kind: typeof TypeError | typeof RangeError,
  code: string,
  message: string,
): Error {
  return Object.assign(new Kind(message), { code });
}

function received(v: unknown): string {
  if (v == null) return ` Received ${v}`;
  if (typeof v === 'function') return ` Received function ${v.name}`;
  if (typeof v === 'object') {
    const name = (v as object).constructor?.name;
    return name ? ` Received an instance of ${name}` : ' Received [Object: null prototype]';
  }
  let shown = String(v);
  if (typeof v === 'string') shown = `'${shown.length > 28 ? shown.slice(0, 25) + '...' : shown}'`;
  return ` Received type ${typeof v} (${shown})`;
}

const typeError = (name: string, what: string, v: unknown) =>
  nodeError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" ${name.includes('.') ? 'property' : 'argument'} must be ${what}.${received(v)}`,
  );
const valueError = (name: string, v: unknown, reason = 'is invalid') =>
  nodeError(
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    `The ${name.includes('.') ? 'property' : 'argument'} '${name}' ${reason}. Received ${typeof v === 'string' ? `'${v}'` : JSON.stringify(v)}`,
  );

interface Normalized {
  file: string;
  args: string[];
  options: NsSpawnOptions & NsSpawnSyncOptions;
}

/** child_process' argument rules: (file, args?, options?), strings without NUL. */
function normalize(file: unknown, args: unknown, options: unknown): Normalized {
  if (typeof file !== 'string') throw typeError('file', 'of type string', file);
  if (file.length === 0) throw valueError('file', file, 'cannot be empty');
  if (Array.isArray(args)) args = [...args];
  else if (args == null) args = [];
  else if (typeof args === 'object') {
    options = args;
    args = [];
  } else throw typeError('args', 'an instance of Array', args);
  if (options === undefined) options = {};
  else if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw typeError('options', 'of type object', options);
  // as child_process: any argument as its string, a NUL byte refused
  const list = (args as unknown[]).map((a, i) => {
    if (typeof a === 'string' && a.includes('\0'))
      throw valueError(`args[${i}]`, a, 'must be a string without null bytes');
    return typeof a === 'string' ? a : `${a}`;
  });
  if (file.includes('\0')) throw valueError('file', file, 'must be a string without null bytes');
  return { file, args: list, options: options as Normalized['options'] };
}

function checkOptions(o: Normalized['options']): void {
  for (const id of ['uid', 'gid'] as const) {
    const v = o[id];
    if (v == null || (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0x7fffffff))
      continue;
    // The running Node's own words for a bad id (they differ between versions):
    // its check comes before anything starts.
    childProcess().spawnSync(process.execPath, ['-e', '0'], { [id]: v, stdio: 'ignore' });
    throw typeError(`options.${id}`, 'of type int32', v);
  }
  if (o.argv0 != null && typeof o.argv0 !== 'string')
    throw typeError('options.argv0', 'of type string', o.argv0);
  if (o.shell != null && typeof o.shell !== 'boolean' && typeof o.shell !== 'string')
    throw typeError('options.shell', 'of type string or boolean', o.shell);
  if (o.env != null && typeof o.env !== 'object')
    throw typeError('options.env', 'of type object', o.env);
  if (o.namespaces !== undefined) {
    if (!Array.isArray(o.namespaces))
      throw typeError('options.namespaces', 'an instance of Array', o.namespaces);
    for (const t of o.namespaces)
      if (!NAMESPACES.some((n) => n.type === t))
        throw valueError(
          'options.namespaces',
          t,
          `must be one of ${NAMESPACES.map((n) => n.type).join(', ')}`,
        );
  }
  for (const k of ['hostname', 'root'] as const)
    if (o[k] !== undefined && typeof o[k] !== 'string')
      throw typeError(`options.${k}`, 'of type string', o[k]);
  if (
    o.propagation !== undefined &&
    !['private', 'shared', 'slave', 'unchanged'].includes(o.propagation)
  )
    throw valueError('options.propagation', o.propagation);
  for (const k of ['uidMap', 'gidMap'] as const) {
    const m = o[k];
    if (m === undefined) continue;
    if (!Array.isArray(m) || m.length === 0)
      throw typeError(`options.${k}`, 'a non-empty Array', m);
    for (const r of m)
      if (
        ![r?.inner, r?.outer, r?.count].every(
          (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff,
        )
      )
        throw valueError(
          `options.${k}`,
          r,
          'must hold { inner, outer, count } of unsigned integers',
        );
  }
  const join = o.join as { pid?: unknown } | undefined;
  if (join !== undefined && (join === null || typeof join !== 'object'))
    throw typeError('options.join', 'of type object', join);
  if (join && 'pid' in join && (!Number.isInteger(join.pid) || (join.pid as number) <= 0))
    throw valueError('options.join.pid', join.pid, 'must be a positive integer');
  if (join && o.namespaces?.includes('pid'))
    throw valueError('options.namespaces', 'pid', 'cannot be created together with join');
}

const USER_FIELDS = ['mapRootUser', 'mapCurrentUser', 'uidMap', 'gidMap'] as const;

/** The run request of spawn()'s options, and the program it runs. */
function request(n: Normalized, sync: boolean): { req: RunRequest; opened: number[] } {
  const o = n.options;
  const uid = process.geteuid!();
  const gid = process.getegid!();
  let file = n.file;
  let args = n.args;
  if (o.shell) {
    // as child_process: the command line joined by spaces, run by the shell
    const command = [file, ...args].join(' ');
    file = typeof o.shell === 'string' ? o.shell : '/bin/sh';
    args = ['-c', command];
  }
  const envObject = o.env ?? process.env;
  const env = Object.entries(envObject)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  // child_process tells a Node child where its IPC channel is
  const stdio = stdioList(o.stdio);
  const ipc = stdio.indexOf('ipc');
  if (ipc >= 0 && !sync)
    env.push(
      `NODE_CHANNEL_FD=${ipc}`,
      `NODE_CHANNEL_SERIALIZATION_MODE=${o.serialization ?? 'json'}`,
    );

  const opened: number[] = [];
  let enter: RunRequest['enter'];
  if (o.join) {
    const byPid = 'pid' in o.join && typeof o.join.pid === 'number';
    const target = o.join as { pid: number; namespaces?: NamespaceType[] };
    const files = o.join as Partial<Record<NamespaceType, string>>;
    const namespaces = new Map<NamespaceType, string>();
    for (const ns of NAMESPACES) {
      if (byPid && target.namespaces?.includes(ns.type)) namespaces.set(ns.type, '');
      if (!byPid && files[ns.type]) namespaces.set(ns.type, files[ns.type]!);
    }
    const er: EnterRequest = {
      target: byPid ? { pid: target.pid } : undefined,
      namespaces,
      all: byPid && target.namespaces === undefined,
      userParent: false,
      preserveCredentials: false,
      keepCaps: false,
      env: false,
      noFork: false,
      joinCgroup: false,
      followContext: false,
      argv: [],
    };
    const x = resolveEnter(er, {
      environ: [],
      argv: [],
      fds: [],
      ignored: 0n,
      blocked: 0n,
      limits: [],
      recorded: false,
    });
    enter = x.enter;
    for (const s of x.enter.entries.values()) if (s !== 'pidfd') opened.push(s.fd);
    if (x.enter.pidfd >= 0) opened.push(x.enter.pidfd);
    // ids stay ours unless asked for: child_process has no notion of entering
    x.enter.preserveCredentials = true;
  }

  const created = new Map<NamespaceType, string>();
  for (const t of o.namespaces ?? []) created.set(t, '');
  if (o.hostname !== undefined) created.set('uts', created.get('uts') ?? '');
  if (o.mountProc) created.set('mnt', created.get('mnt') ?? '');
  if (USER_FIELDS.some((k) => o[k])) created.set('user', created.get('user') ?? '');
  for (const [t, f] of Object.entries(o.keepAlive ?? {})) if (f) created.set(t as NamespaceType, f);
  let create: CreateRequest | undefined;
  if (created.size > 0 || o.root !== undefined) {
    const single = o.mapRootUser ? [0, 0] : o.mapCurrentUser ? [uid, gid] : [undefined, undefined];
    const signals = signalNumbers();
    create = {
      namespaces: created,
      fork: false,
      killChild: o.killChild
        ? o.killChild === true
          ? signals.SIGKILL
          : signals[o.killChild]
        : undefined,
      mountProc: o.mountProc
        ? typeof o.mountProc === 'string'
          ? o.mountProc
          : '/proc'
        : undefined,
      propagation:
        o.propagation === 'unchanged' ? 'unchanged' : PROPAGATION[o.propagation ?? 'private'],
      root: o.root,
      wd: o.root !== undefined ? (o.cwd?.toString() ?? undefined) : undefined,
      mapUser: single[0],
      mapGroup: single[1],
      userRanges: o.uidMap,
      groupRanges: o.gidMap,
      hostname: o.hostname,
      init: o.init,
    };
  }
  const req: RunRequest = {
    enter,
    create,
    setuid: o.uid ?? undefined,
    setgid: o.gid ?? undefined,
    program: file,
    argv: [o.argv0 ?? (o.shell ? file : n.file), ...args],
    env,
    programName: n.file,
    handOver: [],
  };
  // In an entered mount namespace the working directory is looked up after entering.
  if (o.cwd !== undefined && o.root === undefined && enter?.entries.has('mnt'))
    req.handOver.push({ op: 'chdir', path: o.cwd.toString(), what: `cannot chdir to '${o.cwd}'` });
  return { req, opened };
}

type StdioEntry =
  NonNullable<SpawnOptions['stdio']> extends infer S
    ? S extends readonly (infer E)[]
      ? E
      : never
    : never;

function stdioList(s: SpawnOptions['stdio']): StdioEntry[] {
  if (s === undefined || s === null) return ['pipe', 'pipe', 'pipe'];
  if (typeof s === 'string') return [s, s, s] as StdioEntry[];
  if (!Array.isArray(s)) return s as never; // child_process refuses it
  const list = [...s] as StdioEntry[];
  while (list.length < 3) list.push(undefined as never);
  return list;
}

/** Every descriptor a step uses, given a new number: where the runner has it. */
function renumber(steps: Step[], at: (fd: number) => number): Step[] {
  return steps.map((s) => {
    switch (s.op) {
      case 'setns':
      case 'setns-soft':
      case 'setns-retry':
      case 'setns-mask':
      case 'fchdir':
      case 'write-fd':
        return { ...s, fd: at(s.fd) };
      case 'pdeathsig':
        return { ...s, parentPidfd: at(s.parentPidfd) };
      default:
        return s;
    }
  });
}

interface Launch {
  plan: Plan;
  program: ReturnType<typeof encode>;
  /** child_process' stdio: the caller's, then the program, the socket and the steps' descriptors */
  stdio: StdioEntry[];
  runnerArgs: string[];
  /** our end of the socket */
  sock: number;
  /** descriptors to close once the runner has its copies */
  theirs: number[];
  /** the caller's stdio entries: cp.stdio shows these only */
  keep: number;
  /** the working directory is a step (inside a new root or an entered mount namespace) */
  cwdInPlan: boolean;
  /** the program as exec gets it: child_process' spawnfile and spawnargs */
  spawnfile: string;
  spawnargs: string[];
}

/** Plans the run and lays out what the runner gets. Throws before anything starts. */
function prepare(n: Normalized, sync: boolean): Launch {
  const { req, opened } = request(n, sync);
  const theirs = [...opened];
  try {
    const extra = [...opened];
    let parentPidfd = -1;
    if (req.create?.killChild !== undefined) {
      parentPidfd = pidfdOpen(process.pid);
      extra.push(parentPidfd);
      theirs.push(parentPidfd);
    }
    const p = plan(req, {
      pid: 0,
      uid: process.geteuid!(),
      gid: process.getegid!(),
      threaded: false,
    });
    const stdio = stdioList(n.options.stdio);
    const keep = stdio.length;
    const pair = [0, 0];
    if (calls().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
      throw new NsError('socketpair failed', 24, 'socketpair');
    const [sock, theirSock] = pair;
    theirs.push(theirSock);
    const memfd = calls().memfd_create('ns-run', MFD_CLOEXEC);
    if (memfd < 0) {
      closeFd(sock);
      throw new NsError('memfd_create failed', 24, 'memfd_create');
    }
    theirs.push(memfd);
    // the steps' descriptors follow the program and the socket in the runner
    const at = (fd: number) => (fd < 0 ? fd : keep + 2 + extra.indexOf(fd));
    const steps = renumber(
      p.steps.map((s) => (s.op === 'pdeathsig' ? { ...s, parentPidfd } : s)),
      at,
    );
    const program = encode(steps);
    const head = Buffer.alloc(8);
    head.writeInt32LE(program.words.length, 0);
    head.writeInt32LE(program.strings.length, 4);
    writeSync(memfd, head);
    writeSync(
      memfd,
      Buffer.from(program.words.buffer, program.words.byteOffset, program.words.byteLength),
    );
    writeSync(memfd, program.strings);
    return {
      plan: p,
      program,
      stdio: [...stdio, memfd, theirSock, ...extra] as StdioEntry[],
      runnerArgs: [String(keep), String(keep + 1), String(keep)],
      sock,
      theirs,
      keep,
      cwdInPlan: n.options.root !== undefined || (req.enter?.entries.has('mnt') ?? false),
      spawnfile: String(req.program),
      spawnargs: req.argv.map(String),
    };
  } catch (e) {
    for (const fd of theirs) closeFd(fd);
    throw e;
  }
}

/** child_process' options for the runner: the caller's, less what the plan does itself. */
function runnerOptions(n: Normalized, l: Launch): SpawnOptions & SpawnSyncOptions {
  const o: Record<string, unknown> = { ...n.options };
  for (const k of [...NAMESPACE_KEYS, 'uid', 'gid', 'argv0', 'shell', 'env']) delete o[k];
  // a working directory inside a new root or an entered mount namespace is the plan's
  if (l.cwdInPlan) delete o.cwd;
  o.stdio = l.stdio;
  o.env = {};
  return o;
}

const RECORD = 8;
/** The runner's first record: (HELLO, its PID). */
const HELLO = -3;

/**
 * Reads the runner's reports until its exec closes the socket: does the
 * parent's work when asked; a failure record becomes the step's error.
 */
function follow(l: Launch, pid: number): Error | undefined {
  const buf = Buffer.alloc(RECORD);
  let bound: string[] = [];
  try {
    for (;;) {
      let got = 0;
      while (got < RECORD) {
        const n = readSync(l.sock, buf, got, RECORD - got, null);
        if (n === 0) break;
        got += n;
      }
      if (got < RECORD) return undefined; // end of file: the program runs
      const step = buf.readInt32LE(0);
      const errno = buf.readInt32LE(4);
      if (step === HELLO) continue; // the runner's PID: child_process told us
      if (errno !== 0) {
        unbindAll(bound);
        return stepFailure(l.program, step, errno);
      }
      writeMaps(pid, l.plan.parent, process.geteuid!() === 0);
      bound = bindAll(pid, l.plan.parent.binds);
      writeSync(l.sock, Buffer.from([1]));
    }
  } catch (e) {
    // The runner sees end of file at its wait and leaves; child_process reaps it.
    unbindAll(bound);
    return e as Error;
  }
}

/** child_process' error for a program that could not be started, or a step's. */
function spawnError(syscall: string, n: Normalized, e: Error): Error {
  const nsErr = e as NsError;
  if (typeof nsErr.errno !== 'number') return e;
  const code = errnoName(nsErr.errno);
  const message =
    e instanceof ExecError
      ? `${syscall} ${n.file} ${code}`
      : `${syscall} ${n.file} ${code}: ${e.message}`;
  return Object.assign(new Error(message), {
    errno: -nsErr.errno,
    code,
    syscall: `${syscall} ${n.file}`,
    path: n.file,
    spawnargs: n.args,
    ...(e instanceof ExecError ? {} : { step: nsErr.nsWhat }),
  });
}

const childProcess = () => process.getBuiltinModule('node:child_process');

/**
 * Options for child_process itself when the program is missing and the plan
 * would not change what the program's name resolves to (no new root, no new
 * or entered mount namespace): Node then reports it exactly as it does,
 * before any timeout starts. Undefined when the runner is needed.
 */
function plainWhenMissing(n: Normalized): SpawnOptions | undefined {
  const o = n.options;
  if (o.shell || o.root !== undefined || o.join || o.namespaces?.includes('mnt') || o.mountProc)
    return undefined;
  const path = (o.env ?? process.env).PATH;
  const missing = execPaths(n.file, path).every((f) => {
    try {
      statSync(f);
      return false;
    } catch (e) {
      return ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '');
    }
  });
  if (!missing) return undefined;
  const plain: Record<string, unknown> = { ...o };
  for (const k of NAMESPACE_KEYS) delete plain[k];
  return plain;
}
const runner = () => join(nativeDir(), 'ns-run');

/**
 * As child_process.spawn, with the program in new or entered namespaces: a
 * ChildProcess with its events, streams, kill(), unref(), pid the program's
 * (in a new PID namespace, the stand-in's that passes signals on). A program
 * that cannot be started, or a namespace the kernel refuses, is an 'error'
 * event followed by 'close', with child_process' error fields (a negative
 * errno, code, syscall, path, spawnargs; `step` says which step failed).
 */
export function spawn(
  file: string,
  args?: readonly string[],
  options?: SpawnOptionsWithoutStdio & NamespaceOptions,
): ChildProcessWithoutNullStreams;
export function spawn(
  file: string,
  options?: SpawnOptionsWithoutStdio & NamespaceOptions,
): ChildProcessWithoutNullStreams;
export function spawn(file: string, options?: NsSpawnOptions): ChildProcess;
export function spawn(
  file: string,
  args?: readonly string[],
  options?: NsSpawnOptions,
): ChildProcess;
export function spawn(file: string, args?: unknown, options?: unknown): ChildProcess {
  const n = normalize(file, args, options);
  checkOptions(n.options);
  const plain = plainWhenMissing(n);
  if (plain) return childProcess().spawn(n.file, n.args, plain);
  let l: Launch;
  try {
    l = prepare(n, false);
  } catch (e) {
    if (!(e instanceof NsError || e instanceof RunError)) throw e;
    return notStarted(n, e);
  }
  let cp: ChildProcess;
  try {
    cp = childProcess().spawn(runner(), l.runnerArgs, runnerOptions(n, l));
  } catch (e) {
    closeFd(l.sock);
    throw e;
  } finally {
    for (const fd of l.theirs) closeFd(fd);
  }
  cp.stdio.splice(l.keep);
  Object.assign(cp, { spawnfile: l.spawnfile, spawnargs: l.spawnargs });
  if (cp.pid === undefined) {
    closeFd(l.sock); // child_process reports why the runner did not start
    return cp;
  }
  const p = l.plan.parent;
  if (p.uidMap || p.gidMap || p.setgroups || p.binds.length > 0) {
    // The runner waits for us at its sync: answered here, before anything else runs.
    const failure = follow(l, cp.pid);
    closeFd(l.sock);
    if (failure) failed(cp, spawnError('spawn', n, failure));
    return cp;
  }
  watch(cp, l, n);
  return cp;
}

/**
 * Follows the runner's reports without blocking: 'spawn', 'exit' and 'close'
 * wait until the exec closed the socket (then they come as child_process
 * gives them) or a step failed (then the child did not start). The socket's
 * end is seen before the program's first output: it happens at the exec.
 */
function watch(cp: ChildProcess, l: Launch, n: Normalized): void {
  const { Socket } = process.getBuiltinModule('node:net');
  const sock = new Socket({ fd: l.sock, readable: true, writable: false });
  const emit = cp.emit.bind(cp);
  const held: [string | symbol, unknown[]][] = [];
  let settled = false;
  cp.emit = ((event: string | symbol, ...rest: unknown[]) => {
    if (event === 'spawn' || event === 'exit' || event === 'close' || event === 'error') {
      held.push([event, rest]);
      return true;
    }
    return emit(event, ...rest);
  }) as ChildProcess['emit'];
  const settle = (failure?: Error) => {
    if (settled) return;
    settled = true;
    sock.destroy();
    cp.emit = emit;
    if (failure) failed(cp, spawnError('spawn', n, failure), true);
    for (const [event, rest] of held) cp.emit(event, ...rest);
  };
  let pending = Buffer.alloc(0);
  const failure = () => {
    for (; pending.length >= RECORD; pending = pending.subarray(RECORD)) {
      const [step, errno] = [pending.readInt32LE(0), pending.readInt32LE(4)];
      if (step !== HELLO && errno !== 0) return stepFailure(l.program, step, errno);
    }
  };
  sock.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    const f = failure();
    if (f) settle(f);
  });
  sock.on('end', () => settle());
  sock.on('error', () => settle());
  // The program's output can be seen before the socket's end: the exec
  // happened, so what is left to read on the socket is final. Read it now.
  for (const stream of cp.stdio) {
    if (!stream) continue;
    const own = stream.emit.bind(stream);
    stream.emit = ((event: string | symbol, ...rest: unknown[]) => {
      if (!settled && (event === 'data' || event === 'readable' || event === 'end')) {
        const buf = Buffer.alloc(256);
        try {
          for (let n; (n = readSync(l.sock, buf, 0, buf.length, null)) > 0;)
            pending = Buffer.concat([pending, buf.subarray(0, n)]);
        } catch {
          // nothing more to read now
        }
        settle(failure());
      }
      return own(event, ...rest);
    }) as typeof stream.emit;
  }
}

/**
 * As child_process for a program it cannot start: 'error', then 'close'
 * with the negative errno; no 'spawn', no 'exit', no pid.
 */
function failed(cp: ChildProcess, err: Error, now = false): void {
  const code = (err as { errno?: number }).errno ?? -1;
  const emit = cp.emit.bind(cp);
  Object.defineProperty(cp, 'pid', { value: undefined, configurable: true, writable: true });
  cp.emit = ((event: string | symbol, ...rest: unknown[]) => {
    if (event === 'spawn' || event === 'exit') return false;
    if (event === 'close') {
      Object.assign(cp, { exitCode: code, signalCode: null });
      return emit('close', code, null);
    }
    return emit(event, ...rest);
  }) as ChildProcess['emit'];
  if (now) emit('error', err);
  else process.nextTick(() => emit('error', err));
}

/**
 * A ChildProcess for a request refused before the runner started (a join
 * target that is gone, a namespace file that cannot be opened): 'error',
 * then 'close', as child_process has them for a program it cannot start.
 */
function notStarted(n: Normalized, e: Error): ChildProcess {
  const cp = new (childProcess().ChildProcess)();
  const err = spawnError('spawn', n, e);
  const code = (err as { errno?: number }).errno ?? -1;
  Object.assign(cp, { spawnfile: n.file, spawnargs: [n.file, ...n.args], exitCode: code });
  process.nextTick(() => {
    cp.emit('error', err);
    cp.emit('close', code, null);
  });
  return cp;
}

/** As child_process.spawnSync, with the program in new or entered namespaces. */
export function spawnSync(
  file: string,
  options?: NsSpawnSyncOptions,
): SpawnSyncReturns<Buffer | string>;
export function spawnSync(
  file: string,
  args?: readonly string[],
  options?: NsSpawnSyncOptions,
): SpawnSyncReturns<Buffer | string>;
export function spawnSync(
  file: string,
  args?: unknown,
  options?: unknown,
): SpawnSyncReturns<Buffer | string> {
  const n = normalize(file, args, options);
  checkOptions(n.options);
  const plain = plainWhenMissing(n);
  if (plain) return childProcess().spawnSync(n.file, n.args, plain);
  let l: Launch;
  try {
    l = prepare(n, true);
  } catch (e) {
    if (!(e instanceof NsError || e instanceof RunError)) throw e;
    return failedSync(n, e);
  }
  const p = l.plan.parent;
  const helper =
    p.uidMap || p.gidMap || p.setgroups || p.binds.length > 0 ? parentHelper(l) : undefined;
  let result: SpawnSyncReturns<Buffer | string>;
  try {
    result = childProcess().spawnSync(runner(), l.runnerArgs, runnerOptions(n, l));
  } finally {
    for (const fd of l.theirs) closeFd(fd);
  }
  if (Array.isArray(result.output)) result.output = result.output.slice(0, l.keep);
  if (helper) {
    const failure = helper.outcome();
    closeFd(l.sock);
    if (result.error || !failure) return result;
    return failedSync(n, failure);
  }
  // a failure record, if the runner left one (it is gone: nothing blocks)
  const buf = Buffer.alloc(RECORD);
  let failure: Error | undefined;
  for (;;) {
    let got = 0;
    try {
      got = readSync(l.sock, buf, 0, RECORD, null);
    } catch {
      got = 0;
    }
    if (got < RECORD) break;
    if (buf.readInt32LE(0) === HELLO) continue;
    failure = stepFailure(l.program, buf.readInt32LE(0), buf.readInt32LE(4));
    break;
  }
  closeFd(l.sock);
  if (result.error || !failure) return result;
  return failedSync(n, failure);
}

/** spawnSync's result for a program that could not start, as child_process gives it. */
function failedSync(n: Normalized, failure: Error): SpawnSyncReturns<Buffer | string> {
  return {
    error: spawnError('spawnSync', n, failure),
    status: null,
    signal: null,
    output: null,
    pid: 0,
    stdout: null,
    stderr: null,
  } as unknown as SpawnSyncReturns<Buffer | string>;
}

/**
 * A worker that does the parent's work while child_process.spawnSync blocks
 * this thread; outcome() waits for it (it is done once the program execs or
 * the runner fails) and gives the failure, if any.
 */
function parentHelper(l: Launch): { outcome: () => Error | undefined } {
  const { Worker, MessageChannel, receiveMessageOnPort } =
    process.getBuiltinModule('node:worker_threads');
  const state = new Int32Array(new SharedArrayBuffer(12));
  const { port1, port2 } = new MessageChannel();
  // beside this module once built (from the sources: the build's, beside the native parts)
  const built = new URL('./parent-worker.js', import.meta.url);
  const file = existsSync(built) ? fileURLToPath(built) : join(nativeDir(), 'parent-worker.js');
  const worker = new Worker(file, {
    workerData: {
      sock: l.sock,
      parent: l.plan.parent,
      privileged: process.geteuid!() === 0,
      state,
      port: port2,
    },
    transferList: [port2],
  });
  worker.unref();
  return {
    outcome() {
      // The runner is gone: the worker has read its last record or is about to.
      Atomics.wait(state, 0, 0, 10_000);
      void worker.terminate();
      const [, step, errno] = state;
      const message = receiveMessageOnPort(port1)?.message as
        { message: string; errno?: number; status?: number; nsWhat?: string } | undefined;
      port1.close();
      if (message) {
        if (typeof message.errno === 'number' && message.nsWhat)
          return new NsError(message.nsWhat, Math.abs(message.errno));
        return new RunError(message.message, message.status ?? 1);
      }
      return errno ? stepFailure(l.program, step, errno) : undefined;
    },
  };
}
