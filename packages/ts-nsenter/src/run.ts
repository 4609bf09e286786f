/** Carrying out a plan: in place (exec replaces this process), or in a child we then wait for natively. */
import { becomeWaiter, holdSignals, NsError, runHere, spawnSteps } from '@ns/syscalls';
import { closeSync, openSync } from 'node:fs';
import type { Plan } from './plan.js';
import type { Resolved } from './resolve.js';

export function run(plan: Plan, resolved: Resolved, pid?: number): never {
  try {
    if (!plan.child) runHere(plan.steps);
    // Between the clone and the waiter's exec, a signal neither ends this process
    // half way nor is lost: it is held, and the waiter receives it.
    holdSignals();
    const program = spawnSteps(plan.steps);
    // After nsenter's own fork the waiter stops when the program stops and
    // continues it, as nsenter's parent does; a child made only because Node
    // cannot setns into a user or time namespace is stood in for.
    becomeWaiter(program, plan.fork ? 'follow' : 'standin');
  } catch (e) {
    throw explain(e, resolved, pid);
  }
}

/**
 * A setns through the pidfd refused with EPERM is often a target we may not
 * look into at all; util-linux, opening /proc/PID/ns/* files, says so as
 * "cannot open ...: Permission denied". Find out, on the error path only.
 */
function explain(e: unknown, resolved: Resolved, pid?: number): unknown {
  if (!(e instanceof NsError) || e.errno !== 1 || pid === undefined) return e;
  const m = /^reassociate to namespace 'ns\/(\w+)' failed$/.exec(e.nsWhat);
  if (!m) return e;
  const pidfdSourced = [...resolved.entries].some(
    ([type, source]) => source === 'pidfd' && (type === 'mnt' ? 'mnt' : type) === m[1],
  );
  if (!pidfdSourced) return e;
  const path = `/proc/${pid}/ns/${m[1]}`;
  try {
    closeSync(openSync(path, 'r'));
  } catch (err) {
    const errno = Math.abs((err as NodeJS.ErrnoException).errno ?? 0);
    if (errno === 13) return new NsError(`cannot open ${path}`, errno, 'open', path);
  }
  return e;
}
