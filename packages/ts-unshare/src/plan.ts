/**
 * From parsed options to a plan: which namespaces, which steps in the child
 * (or in place), and what the parent does while the child waits. The order of
 * the steps is util-linux unshare's (see the reference, "order of operations").
 */
import { ToolError, type ParsedArgs } from '@ns/cli';
import {
  CLONE_NEWTIME,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  NAMESPACES,
  PROPAGATION,
  callerState,
  mountProcStep,
  envName,
  execPaths,
  getenvRaw,
  loginShell,
  restoreCallerSteps,
  userById,
  type Bytes,
  type NamespaceType,
  type Step,
  type WaiterMode,
} from '@ns/syscalls';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseSignal } from './signals.js';
import { parseRange, resolveId, type IdRange, type RangeSpec } from './idmap.js';

export interface Request {
  /** namespace type -> file to keep it alive on ('' for none) */
  namespaces: Map<NamespaceType, string>;
  fork: boolean;
  killChild?: number;
  forwardSignals: boolean;
  mountProc?: string;
  mountBinfmt?: string;
  loadInterp?: string;
  propagation: number | 'unchanged';
  propagationGiven: boolean;
  root?: string;
  wd?: string;
  setuid?: number;
  setgid?: number;
  mapUser?: number;
  mapGroup?: number;
  userRanges: RangeSpec[];
  groupRanges: RangeSpec[];
  owner?: { uid: number; gid: number };
  setgroups?: 'allow' | 'deny';
  keepCaps: boolean;
  monotonic?: bigint;
  boottime?: bigint;
  /** the program's environment and argv, raw bytes as the caller gave them */
  env: Bytes[];
  argv: Bytes[];
  /** the file to execute (searched in PATH), and the name failures are reported under */
  program: Bytes;
  programName: string;
}

const str = (v: unknown): string | undefined =>
  Array.isArray(v) ? String(v[v.length - 1]) : typeof v === 'string' ? v : undefined;

export function parseNumberId(text: string, kind: 'uid' | 'gid'): number {
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff)
    throw new ToolError(`failed to parse ${kind}: '${text}'`);
  return Number(text);
}

export function parseOffset(text: string, clock: string): bigint {
  if (!/^[-+]?\d+$/.test(text.trim()))
    throw new ToolError(`failed to parse ${clock} offset: '${text}'`);
  return BigInt(text.trim());
}

/** The login shell util-linux runs when no program is given: $SHELL, else /bin/sh, as "-name". */
function shellArgv(): string[] {
  const shell = loginShell();
  return [shell, `-${basename(shell)}`];
}

const PROPAGATIONS: Record<string, number | 'unchanged'> = {
  ...PROPAGATION,
  unchanged: 'unchanged',
};

export function parsePropagation(text: string): number | 'unchanged' {
  if (!Object.hasOwn(PROPAGATIONS, text))
    throw new ToolError(`unsupported propagation mode: ${text}`);
  return PROPAGATIONS[text];
}

export function parseSetgroups(text: string): 'allow' | 'deny' {
  if (text !== 'allow' && text !== 'deny')
    throw new ToolError(`unsupported --setgroups argument '${text}'`);
  return text;
}

export function parseOwner(text: string): { uid: number; gid: number } {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) throw new ToolError('failed to parse owner');
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

export function readRequest({ options: o, order, rawRest }: ParsedArgs): Request {
  const namespaces = new Map<NamespaceType, string>();
  for (const ns of NAMESPACES) {
    const long = ns.type === 'mnt' ? 'mount' : ns.type;
    if (o[long] !== undefined) namespaces.set(ns.type, str(o[long]) ?? '');
  }
  const propagationText = str(o.propagation);
  const setgroups = o.setgroups !== undefined ? parseSetgroups(str(o.setgroups)!) : undefined;

  const euid = process.geteuid!();
  const egid = process.getegid!();
  let mapUser: number | undefined;
  let mapGroup: number | undefined;
  // Between -r, -c and --map-user/--map-group, the last one given wins, as in util-linux.
  for (const name of order) {
    if (name === 'map-root-user') [mapUser, mapGroup] = [0, 0];
    else if (name === 'map-current-user') [mapUser, mapGroup] = [euid, egid];
    else if (name === 'map-user') mapUser = resolveId(str(o['map-user'])!, 'uid');
    else if (name === 'map-group') mapGroup = resolveId(str(o['map-group'])!, 'gid');
  }
  const ranges = (v: unknown): string[] =>
    Array.isArray(v) ? v.map(String) : v ? [String(v)] : [];
  const userRanges = ranges(o['map-users']).map(parseRange);
  const groupRanges = ranges(o['map-groups']).map(parseRange);
  if (o['map-auto']) (userRanges.push('auto'), groupRanges.push('auto'));
  if (o['map-subids']) (userRanges.push('subids'), groupRanges.push('subids'));

  const owner = o.owner !== undefined ? parseOwner(str(o.owner)!) : undefined;

  let loadInterp = str(o['load-interp']);
  let mountBinfmt =
    o['mount-binfmt'] !== undefined || loadInterp ? str(o['mount-binfmt']) || '' : undefined;
  let mountProc = o['mount-proc'] !== undefined ? str(o['mount-proc']) || '/proc' : undefined;
  if (mountBinfmt === '') {
    // Without a directory, --mount-binfmt also mounts /proc to hold the default one.
    mountBinfmt = '/proc/sys/fs/binfmt_misc';
    mountProc ??= '/proc';
  }
  if (mountProc !== undefined && !namespaces.has('mnt')) namespaces.set('mnt', '');
  if (mountBinfmt !== undefined) {
    if (!namespaces.has('mnt')) namespaces.set('mnt', '');
    if (!namespaces.has('user')) namespaces.set('user', '');
  }
  const wantsUser =
    mapUser !== undefined ||
    mapGroup !== undefined ||
    userRanges.length > 0 ||
    groupRanges.length > 0 ||
    owner !== undefined;
  if (wantsUser && !namespaces.has('user')) namespaces.set('user', '');

  const monotonicText = str(o.monotonic);
  const boottimeText = str(o.boottime);
  const monotonic =
    monotonicText !== undefined ? parseOffset(monotonicText, 'monotonic') : undefined;
  const boottime = boottimeText !== undefined ? parseOffset(boottimeText, 'boottime') : undefined;
  if ((monotonic !== undefined || boottime !== undefined) && !namespaces.has('time'))
    throw new ToolError(
      'options --monotonic and --boottime require unsharing of a time namespace (-T)',
    );
  if (setgroups === 'allow' && mapGroup !== undefined)
    throw new ToolError('options --setgroups=allow and --map-group are mutually exclusive');

  // The caller's entries exactly, duplicates and entries without '=' included.
  let env: Bytes[] = callerState().environ;
  if (o['clear-env']) env = [];
  const whitelist = str(o['whitelist-env']);
  if (whitelist !== undefined) {
    const names = new Set(whitelist.split(','));
    env = env.filter((e) => names.has(envName(e)));
  }

  let argv: Bytes[] = rawRest;
  let program: Bytes = rawRest[0];
  if (rawRest.length === 0) {
    const [shell, arg0] = shellArgv();
    argv = [arg0];
    program = shell;
  }

  const killChildGiven = o['kill-child'] !== undefined;
  return {
    namespaces,
    fork: Boolean(o.fork) || killChildGiven || Boolean(o['forward-signals']),
    killChild: killChildGiven ? parseSignal(str(o['kill-child']) || 'SIGKILL') : undefined,
    forwardSignals: Boolean(o['forward-signals']),
    mountProc,
    mountBinfmt,
    loadInterp,
    propagation: parsePropagation(propagationText ?? 'private'),
    propagationGiven: propagationText !== undefined,
    root: str(o.root),
    wd: str(o.wd),
    setuid: o.setuid !== undefined ? parseNumberId(str(o.setuid)!, 'uid') : undefined,
    setgid: o.setgid !== undefined ? parseNumberId(str(o.setgid)!, 'gid') : undefined,
    mapUser,
    mapGroup,
    userRanges,
    groupRanges,
    owner,
    setgroups,
    keepCaps: Boolean(o['keep-caps']),
    monotonic,
    boottime,
    env,
    argv,
    program,
    programName: String(program),
  };
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
  /** clone a child (true) or run the steps in this thread and exec (false) */
  child: boolean;
  /** namespaces the clone itself creates */
  cloneFlags: number;
  /** namespaces created by an unshare step (in place: all of them) */
  unshareFlags: number;
  steps: Step[];
  parent: ParentWork;
  /**
   * how the waiter treats signals: as unshare --fork's parent, or standing
   * in for the program where util-linux would not have forked
   */
  waiterMode: WaiterMode;
  /** kill-child: the parent's pidfd must reach the child */
  killChild?: number;
}

export function plan(r: Request): Plan {
  let allFlags = 0;
  for (const t of r.namespaces.keys()) allFlags |= NAMESPACES.find((n) => n.type === t)!.flag;
  const user = r.namespaces.has('user');
  const mnt = r.namespaces.has('mnt');
  const pid = r.namespaces.has('pid');
  const binds = NAMESPACES.filter((n) => r.namespaces.get(n.type)).map((n) => ({
    file: n.childrenFile,
    target: r.namespaces.get(n.type)!,
  }));
  // Node is multithreaded: a new user namespace, a fork, or a /proc for a new
  // PID namespace need a child; so do bind targets that a new mount namespace would hide.
  const child =
    r.fork ||
    user ||
    r.owner !== undefined ||
    (pid && r.mountProc !== undefined) ||
    (binds.length > 0 && mnt);

  const steps: Step[] = [];
  let cloneFlags = 0;
  let unshareFlags = allFlags;
  if (child && r.owner === undefined) {
    // The clone creates the namespaces (a new PID namespace makes the child its PID 1),
    // except time: its offsets must be written before anyone enters it.
    cloneFlags = allFlags & ~CLONE_NEWTIME;
    unshareFlags = allFlags & CLONE_NEWTIME;
  }
  if (r.owner) {
    steps.push({ op: 'setgroups', what: 'setgroups failed' });
    steps.push({ op: 'setresgid', gid: r.owner.gid, what: 'setgid() failed' });
    steps.push({ op: 'setresuid', uid: r.owner.uid, what: 'setuid() failed' });
  }
  if (child && unshareFlags)
    steps.push({ op: 'unshare', flags: unshareFlags, what: 'unshare failed' });
  if (child && r.killChild !== undefined)
    steps.push({ op: 'pdeathsig', signal: r.killChild, parentPidfd: -1, what: 'prctl failed' });
  const offsets = [];
  if (r.boottime !== undefined) offsets.push(`7 ${r.boottime} 0`);
  if (r.monotonic !== undefined) offsets.push(`1 ${r.monotonic} 0`);
  for (const text of offsets)
    steps.push({
      op: 'write-file',
      path: '/proc/self/timens_offsets',
      text,
      what: 'failed to write to /proc/self/timens_offsets',
    });

  const parent: ParentWork = { binds };
  if (user) {
    const ranges = r.userRanges.length > 0 || r.groupRanges.length > 0;
    parent.uidMap = idMap(r.mapUser, process.geteuid!(), r.userRanges, 'uid', ranges || !!r.owner);
    parent.gidMap = idMap(
      r.mapGroup,
      process.getegid!(),
      r.groupRanges,
      'gid',
      ranges || !!r.owner,
    );
    parent.setgroups = r.setgroups ?? (r.mapGroup !== undefined && !ranges ? 'deny' : undefined);
  }
  if (child && (user || parent.binds.length > 0)) steps.push({ op: 'sync-parent' });
  if (!user && r.setgroups)
    steps.push({
      op: 'write-file',
      path: '/proc/self/setgroups',
      text: r.setgroups,
      what: 'write failed /proc/self/setgroups',
    });
  if (r.owner && pid) steps.push({ op: 'fork-relay', what: 'fork failed' });

  if (mnt && r.propagation !== 'unchanged')
    steps.push({
      op: 'mount',
      source: 'none',
      target: '/',
      flags: r.propagation,
      what: 'cannot change root filesystem propagation',
    });
  const binfmtFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  const binfmtEarly =
    r.loadInterp !== undefined && r.root !== undefined && interpFlags(r.loadInterp).includes('F');
  const binfmtSteps = (dir: string): Step[] => [
    {
      op: 'mount',
      source: 'binfmt_misc',
      target: dir,
      fstype: 'binfmt_misc',
      flags: binfmtFlags,
      what: `mount ${dir} failed`,
    },
    ...(r.loadInterp
      ? [
          {
            op: 'write-file' as const,
            path: `${dir}/register`,
            text: r.loadInterp,
            what: `write failed ${dir}/register`,
          },
        ]
      : []),
  ];
  if (binfmtEarly) steps.push(...binfmtSteps('/proc/sys/fs/binfmt_misc'));
  if (r.root !== undefined) {
    steps.push({ op: 'chroot', path: r.root, what: `cannot change root directory to '${r.root}'` });
    if (r.wd === undefined) steps.push({ op: 'chdir', path: '/', what: "cannot chdir to '/'" });
  }
  if (r.wd !== undefined)
    steps.push({ op: 'chdir', path: r.wd, what: `cannot chdir to '${r.wd}'` });
  if (r.mountProc !== undefined) {
    if (r.root === undefined && r.propagationGiven && r.propagation !== PROPAGATION.private)
      steps.push({
        op: 'mount',
        source: 'none',
        target: r.mountProc,
        flags: PROPAGATION.private,
        ignore: 'EINVAL',
        what: `cannot change ${r.mountProc} filesystem propagation`,
      });
    steps.push(mountProcStep(r.mountProc));
  }
  if (r.mountBinfmt !== undefined && !binfmtEarly) steps.push(...binfmtSteps(r.mountBinfmt));
  if (r.setgid !== undefined) {
    steps.push({ op: 'setgroups', what: 'setgroups failed' });
    steps.push({ op: 'setresgid', gid: r.setgid, what: 'setgid() failed' });
  }
  if (r.setuid !== undefined)
    steps.push({ op: 'setresuid', uid: r.setuid, what: 'setuid() failed' });
  if (r.keepCaps && user)
    steps.push({ op: 'ambient-caps', what: 'cannot set ambient capabilities' });
  steps.push(...restoreCallerSteps());
  steps.push({
    op: 'exec',
    paths: execPaths(r.program, getenvRaw(callerState().environ, 'PATH')),
    argv: r.argv,
    env: r.env,
    what: r.programName,
  });
  return {
    child,
    cloneFlags,
    unshareFlags,
    steps,
    parent,
    waiterMode: !r.fork ? 'standin' : r.forwardSignals ? 'forward' : 'fork',
    killChild: r.killChild,
  };
}

function interpFlags(rule: string): string {
  const fields = rule.split(rule[0] ?? ':');
  return fields[7] ?? '';
}

/**
 * The map lines for one kind of id: the single mapping (inner <- our own id)
 * first, then the ranges, each range losing the id the single mapping took.
 */
function idMap(
  single: number | undefined,
  own: number,
  specs: RangeSpec[],
  kind: 'uid' | 'gid',
  withRanges: boolean,
): IdRange[] | undefined {
  const ranges = specs.flatMap((s) => expandRange(s, kind));
  if (single === undefined && ranges.length === 0) return undefined;
  if (single === undefined) return ranges;
  const first: IdRange = { inner: single, outer: own, count: 1 };
  if (!withRanges) return [first];
  const out: IdRange[] = [first];
  for (const r of ranges) {
    // Punch the single mapping's inner and outer ids out of the range, as util-linux does.
    const inner = r.inner;
    const hit = single >= r.inner && single < r.inner + r.count;
    if (!hit) {
      out.push(r);
      continue;
    }
    const below = single - inner;
    if (below > 0) out.push({ inner, outer: r.outer, count: below });
    const above = r.count - below - 1;
    if (above > 0) out.push({ inner: single + 1, outer: r.outer + below + 1, count: above });
  }
  return out;
}

function expandRange(spec: RangeSpec, kind: 'uid' | 'gid'): IdRange[] {
  if (typeof spec !== 'string') return [spec];
  if (spec === 'all') {
    const file = `/proc/self/${kind}_map`;
    return readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number))
      .map(([inner, , count]) => ({ inner, outer: inner, count }));
  }
  const range = subordinateRange(kind);
  return [{ inner: spec === 'auto' ? 0 : range.outer, outer: range.outer, count: range.count }];
}

/** The first /etc/subuid (or subgid) line for this user, by name or number. */
function subordinateRange(kind: 'uid' | 'gid'): { outer: number; count: number } {
  const file = kind === 'uid' ? '/etc/subuid' : '/etc/subgid';
  const uid = process.geteuid!();
  const name = userById(uid)?.name;
  if (name === undefined) throw new ToolError(`you (user ${uid}) don't exist.`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ToolError(`could not open '${file}'`);
  }
  for (const line of text.split('\n')) {
    const [who, start, count] = line.split(':');
    if ((who === name || who === String(uid)) && start !== undefined && count !== undefined)
      return { outer: Number(start), count: Number(count) };
  }
  throw new ToolError(`no line matching user "${name}" in ${file}`);
}
