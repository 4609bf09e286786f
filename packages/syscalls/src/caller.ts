/**
 * The caller's process state, as the tool's launcher (native/launcher.c)
 * recorded it before Node started, and the steps that hand it back to the
 * program just before exec: descriptors, ignored and blocked signals,
 * resource limits, argv and environment as raw bytes.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import type { Bytes, Step } from './steps.js';

/** The caller's process state as the launcher recorded it. */
export interface CallerState {
  /** the caller's argv, raw bytes: [0] is the tool as invoked */
  argv: Buffer[];
  /** the caller's environment entries, raw and in order (duplicates and entries without '=' kept) */
  environ: Buffer[];
  /** descriptors open when the tool started, ascending; a missing 0, 1 or 2 was closed */
  fds: number[];
  /** signals the caller ignored, and its blocked mask: bit s-1 for signal s */
  ignored: bigint;
  blocked: bigint;
  /** getrlimit for each resource number: [soft, hard] */
  limits: [bigint, bigint][];
  /** false when no launcher ran (Node started directly): the state is Node's own */
  recorded: boolean;
}

const RECORD_MAGIC = 0x534e5354;
const RECORD_VERSION = 1;

let state: CallerState | undefined;

/**
 * The caller's state. Read once from the record the launcher left in
 * CALLER_RECORD_FD (the descriptor is closed and the variable removed);
 * without a launcher, the state this Node process itself has.
 */
export function callerState(): CallerState {
  if (state) return state;
  const fd = Number(process.env.CALLER_RECORD_FD);
  delete process.env.CALLER_RECORD_FD;
  if (!Number.isInteger(fd) || fd < 3) return (state = ownState());
  let record: Buffer;
  try {
    record = Buffer.alloc(fstatSync(fd).size);
    for (let off = 0; off < record.length;) {
      const n = readSync(fd, record, off, record.length - off, off);
      if (n === 0) break;
      off += n;
    }
    closeSync(fd);
  } catch {
    return (state = ownState());
  }
  return (state = parseRecord(record) ?? ownState());
}

function parseRecord(b: Buffer): CallerState | undefined {
  if (b.length < 40 || b.readUInt32LE(0) !== RECORD_MAGIC || b.readUInt32LE(4) !== RECORD_VERSION)
    return undefined;
  const [argc, envc, nfds, nlimits] = [8, 12, 16, 20].map((o) => b.readUInt32LE(o));
  const ignored = b.readBigUInt64LE(24);
  const blocked = b.readBigUInt64LE(32);
  let off = 40;
  const fds: number[] = [];
  for (let i = 0; i < nfds; i++, off += 4) fds.push(b.readInt32LE(off));
  const limits: [bigint, bigint][] = [];
  for (let i = 0; i < nlimits; i++, off += 16)
    limits.push([b.readBigUInt64LE(off), b.readBigUInt64LE(off + 8)]);
  const strings: Buffer[] = [];
  for (let i = 0; i < argc + envc; i++) {
    const end = b.indexOf(0, off);
    if (end < 0) return undefined;
    strings.push(b.subarray(off, end));
    off = end + 1;
  }
  return {
    argv: strings.slice(0, argc),
    environ: strings.slice(argc),
    fds,
    ignored,
    blocked,
    limits,
    recorded: true,
  };
}

/** Without a launcher: argv and environment as Node decoded them, the standard descriptors. */
function ownState(): CallerState {
  return {
    argv: process.argv.slice(1).map((a) => Buffer.from(a)),
    environ: Object.entries(process.env).map(([k, v]) => Buffer.from(`${k}=${v}`)),
    fds: [0, 1, 2],
    ignored: 0n,
    blocked: 0n,
    limits: [],
    recorded: false,
  };
}

/** The value of an environment entry as getenv(3) finds it (the first entry of that name). */
export function getenvRaw(environ: readonly Bytes[], name: string): Buffer | undefined {
  const prefix = Buffer.from(name + '=');
  for (const e of environ) {
    const entry = Buffer.from(e);
    if (entry.subarray(0, prefix.length).equals(prefix)) return entry.subarray(prefix.length);
  }
  return undefined;
}

/**
 * A variable of the caller's environment, as the tool's own settings come
 * from it (the tool's Node starts with an environment of the launcher's
 * making); without a launcher, this process's own.
 */
export function callerEnv(name: string): string | undefined {
  return getenvRaw(callerState().environ, name)?.toString();
}

/** The caller's environment as an object, for a helper the tool runs (newuidmap): the first entry of each name. */
export function callerEnvObject(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of callerState().environ) {
    const eq = e.indexOf(0x3d);
    if (eq <= 0) continue;
    const name = e.subarray(0, eq).toString();
    if (!(name in env)) env[name] = e.subarray(eq + 1).toString();
  }
  return env;
}

/** The name of an environment entry (all of it when it has no '='). */
export function envName(entry: Bytes): string {
  const bytes = Buffer.from(entry);
  const eq = bytes.indexOf(0x3d);
  return bytes.subarray(0, eq < 0 ? bytes.length : eq).toString();
}

/**
 * The steps that give the program the caller's state, to run last before
 * the exec: descriptors the caller passed stay open (Node marked them
 * close-on-exec), a standard descriptor the caller had closed is closed
 * again, and its signal dispositions, mask and limits come back.
 */
export function restoreCallerSteps(s: CallerState = callerState()): Step[] {
  const steps: Step[] = s.fds.map((fd) => ({ op: 'keep-fd', fd }));
  for (const fd of [0, 1, 2]) if (!s.fds.includes(fd)) steps.push({ op: 'close', fd });
  s.limits.forEach(([soft, hard], resource) =>
    steps.push({ op: 'setrlimit', resource, soft, hard, what: 'setrlimit failed' }),
  );
  steps.push({ op: 'signal-state', ignored: s.ignored, blocked: s.blocked });
  return steps;
}
