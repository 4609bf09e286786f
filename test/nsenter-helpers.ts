/** Targets for the ts-nsenter tests: real processes in namespaces made by util-linux unshare. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { childrenOf, comm, sleepMs } from './helpers.js';

export interface Target {
  /** the process to enter (the sleep) */
  pid: number;
  /** the process we started (unshare, or setpriv that became it) */
  leader: ChildProcess;
}

const started: ChildProcess[] = [];

/**
 * Starts argv (which must end up running `sleep`) in its own process group
 * and returns once the sleep runs: the leader itself after its exec, or, when
 * the leader forks (unshare --fork), its child.
 */
export function startTarget(argv: string[]): Target {
  const leader = spawn(argv[0], argv.slice(1), { stdio: 'ignore', detached: true });
  started.push(leader);
  const end = Date.now() + 10_000;
  for (;;) {
    const pid = leader.pid!;
    if (comm(pid) === 'sleep') return { pid, leader };
    const child = childrenOf(pid).find((c) => comm(c) === 'sleep');
    if (child) return { pid: child, leader };
    if (Date.now() > end || leader.exitCode !== null) {
      stopTarget({ pid, leader });
      throw new Error(`target ${argv.join(' ')} did not start`);
    }
    sleepMs(10);
  }
}

/** Kills a target's whole process group. */
export function stopTarget(t: Target): void {
  try {
    process.kill(-t.leader.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Kills every target still running: call from after(). */
export function stopAllTargets(): void {
  for (const leader of started) {
    try {
      process.kill(-leader.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export const nsLink = (pid: number | 'self', file: string): string =>
  readlinkSync(`/proc/${pid}/ns/${file}`);
