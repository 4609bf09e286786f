/** Carrying out a plan: in place (exec replaces this process), or in a child we then wait for natively. */
import { becomeWaiter, runHere, spawnProgram } from '@ns/syscalls';
import type { Plan } from './plan.js';

export function run(plan: Plan): never {
  if (!plan.child) runHere(plan.steps);
  // Between the clone and the waiter's exec, Ctrl-C must not end this process alone.
  const ignore = () => {};
  process.on('SIGINT', ignore).on('SIGTERM', ignore);
  const program = spawnProgram(plan.steps);
  // The waiter stops when the program stops and continues it, as nsenter's parent does.
  becomeWaiter(program, { followStops: true });
}
