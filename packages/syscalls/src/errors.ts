import { getLibc } from './native.js';
import type { Step } from './steps.js';

/**
 * errno names and numbers, from node:os on first use: a tool that never
 * fails need not load that module (a few tenths of a millisecond of start).
 */
const errnoNumbers = () =>
  process.getBuiltinModule('node:os').constants.errno as Record<string, number>;
let errnoNames: Map<number, string> | undefined;

/** Signal names and numbers, from node:os on first use, as the errno table. */
export const signalNumbers = () =>
  process.getBuiltinModule('node:os').constants.signals as Record<NodeJS.Signals, number>;

/** The errno's symbolic name, e.g. 'EPERM'. */
export function errnoName(errno: number): string {
  errnoNames ??= new Map(Object.entries(errnoNumbers()).map(([name, num]) => [num, name]));
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** The C library's text for an errno, e.g. 'Operation not permitted'. */
export function strerror(errno: number): string {
  return getLibc().strerror(errno) as string;
}

/** The number of an errno name, e.g. 2 for 'ENOENT' (0 if unknown). */
export function errnoOf(name: string): number {
  return errnoNumbers()[name] ?? 0;
}

/**
 * A failed system call. `what` says what failed in util-linux's words (for
 * example 'mount /proc failed'); the message is `what: strerror`.
 */
export class NsError extends Error {
  readonly code: string;
  readonly nsWhat: string;
  /** the step that failed, when a step program failed */
  step?: Step;
  constructor(
    what: string,
    readonly errno: number,
    readonly syscall?: string,
    readonly path?: string,
  ) {
    super(`${what}: ${strerror(errno)}`);
    this.name = 'NsError';
    this.nsWhat = what;
    this.code = errnoName(errno);
  }
}

/** The program could not be executed; util-linux exits 127 for ENOENT, else 126. */
export class ExecError extends NsError {
  readonly exitStatus: number;
  constructor(program: string, errno: number) {
    super(`failed to execute ${program}`, errno, 'execve', program);
    this.name = 'ExecError';
    this.exitStatus = errno === errnoOf('ENOENT') ? 127 : 126;
  }
}

/**
 * A request refused before any system call, in util-linux's words (for
 * example 'no namespace specified'); status is the exit status a tool leaves
 * with.
 */
export class RunError extends Error {
  constructor(
    message: string,
    readonly status = 1,
  ) {
    super(message);
    this.name = 'RunError';
  }
}
