/**
 * From parsed options to a run request for the planner of @ns/syscalls:
 * only what the command line says, checked the way util-linux unshare
 * checks it. The order of the steps is the planner's.
 */
import { ToolError, type ParsedArgs } from '@ns/cli';
import {
  NAMESPACES,
  PROPAGATION,
  envName,
  getenvRaw,
  loginShell,
  restoreCallerSteps,
  type Bytes,
  type Caller,
  type CallerState,
  type NamespaceType,
  type RunRequest,
} from '@ns/syscalls/internal';
import { basename } from 'node:path';
import { parseSignal } from './signals.js';
import { parseRange, resolveId } from './idmap.js';

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

export function readRequest(
  { options: o, order, rawRest }: ParsedArgs,
  caller: CallerState,
  me: Caller,
): RunRequest {
  const namespaces = new Map<NamespaceType, string>();
  for (const ns of NAMESPACES) {
    const long = ns.type === 'mnt' ? 'mount' : ns.type;
    if (o[long] !== undefined) namespaces.set(ns.type, str(o[long]) ?? '');
  }
  const propagationText = str(o.propagation);
  const setgroups = o.setgroups !== undefined ? parseSetgroups(str(o.setgroups)!) : undefined;

  const euid = me.uid;
  const egid = me.gid;
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
  let env: Bytes[] = caller.environ;
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
  const create = {
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
    mapUser,
    mapGroup,
    userRanges,
    groupRanges,
    owner,
    setgroups,
    monotonic,
    boottime,
  };
  return {
    create,
    setuid: o.setuid !== undefined ? parseNumberId(str(o.setuid)!, 'uid') : undefined,
    setgid: o.setgid !== undefined ? parseNumberId(str(o.setgid)!, 'gid') : undefined,
    keepCaps: Boolean(o['keep-caps']),
    env,
    // util-linux searches the caller's PATH, whatever --clear-env leaves the program
    path: getenvRaw(caller.environ, 'PATH'),
    argv,
    program,
    programName: String(program),
    handOver: restoreCallerSteps(caller),
  };
}
