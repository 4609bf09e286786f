/**
 * Carrying out a plan for a tool: in place (the exec replaces this
 * process), or in a cloned child while this process does the parent's work
 * and then becomes the native waiter.
 */
import { writeFileSync } from 'node:fs';
import { callerEnvObject } from '../caller.js';
import { MNT_DETACH, MS_BIND, closeFd, mount, pidfdOpen, umount } from '../calls.js';
import { ExecError, NsError, RunError } from '../errors.js';
import { becomeWaiter, holdSignals, runHere, spawnSteps, type Child } from '../spawn.js';
import { isRanged, mapText, type IdRange } from './idmap.js';
import type { ParentWork, Plan } from './plan.js';

function writeProc(path: string, text: string, ignoreMissing = false): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (ignoreMissing && err.code === 'ENOENT') return;
    throw new NsError(`write failed ${path}`, Math.abs(err.errno ?? 5), 'write', path);
  }
}

/** Binds namespace files of pid; on a failure the binds made so far are undone. */
export function bindAll(pid: number, binds: ParentWork['binds']): string[] {
  const done: string[] = [];
  for (const b of binds) {
    const source = `/proc/${pid}/ns/${b.file}`;
    try {
      mount(source, b.target, null, MS_BIND);
    } catch (e) {
      unbindAll(done);
      throw new NsError(
        `mount ${source} on ${b.target} failed`,
        (e as NsError).errno,
        'mount',
        b.target,
      );
    }
    done.push(b.target);
  }
  return done;
}

export function unbindAll(targets: string[]): void {
  for (const t of [...targets].reverse()) {
    try {
      umount(t, MNT_DETACH);
    } catch {
      // nothing more to undo
    }
  }
}

/** Range maps written by newuidmap/newgidmap, for an unprivileged caller. */
function runIdmapHelper(helper: string, pid: number, ranges: IdRange[]): void {
  const args = [String(pid), ...ranges.flatMap((r) => [r.inner, r.outer, r.count].map(String))];
  // child_process is loaded here only: the common path should not pay for it.
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  // util-linux runs it with execvp and its own environment: the caller's.
  const result = spawnSync(helper, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: callerEnvObject(),
  });
  if (result.error) {
    const errno = Math.abs((result.error as NodeJS.ErrnoException).errno ?? 2);
    throw new ExecError(helper, errno);
  }
  if (result.status !== 0) throw new RunError(`${helper} failed`, result.status ?? 1);
}

/** The parent's share of a user namespace: setgroups, then the uid and gid maps. */
export function writeMaps(pid: number, work: ParentWork, privileged: boolean): void {
  const proc = `/proc/${pid}`;
  if (work.setgroups) writeProc(`${proc}/setgroups`, work.setgroups, true);
  if (work.uidMap) {
    if (!privileged && isRanged(work.uidMap)) runIdmapHelper('newuidmap', pid, work.uidMap);
    else writeProc(`${proc}/uid_map`, mapText(work.uidMap));
  }
  if (work.gidMap) {
    if (!privileged && isRanged(work.gidMap)) runIdmapHelper('newgidmap', pid, work.gidMap);
    else writeProc(`${proc}/gid_map`, mapText(work.gidMap));
  }
}

/**
 * Carries the plan out and never returns: the program replaces this process,
 * or this process becomes the waiter of the child that runs it. Throws if a
 * step fails, after undoing binds and reaping what was made.
 */
export function runPlan(plan: Plan): never {
  if (!plan.child) {
    // Everything here is allowed to Node's main thread, and the exec keeps this
    // thread's namespaces. A failing step after binds undoes them.
    try {
      runHere(plan.steps);
    } catch (e) {
      const failed = plan.steps.indexOf((e as NsError).step!);
      unbindAll(
        plan.binds
          .filter((i) => i < failed)
          .map((i) => (plan.steps[i] as { target: string }).target),
      );
      throw e;
    }
  }

  // Between the clone and the waiter's exec, a signal neither ends this process
  // half way nor is lost: it is held, and the waiter receives it.
  holdSignals();
  let parentPidfd = -1;
  const steps = plan.steps.map((s) => {
    if (s.op !== 'pdeathsig') return s;
    parentPidfd = parentPidfd >= 0 ? parentPidfd : pidfdOpen(process.pid);
    return { ...s, parentPidfd };
  });
  let bound: string[] = [];
  let child: Child;
  try {
    child = spawnSteps(steps, {
      cloneFlags: plan.cloneFlags,
      cloneWhat: plan.cloneFlags ? 'unshare failed' : 'fork failed',
      onSync: (c) => {
        writeMaps(c.pid, plan.parent, process.geteuid!() === 0);
        bound = bindAll(c.pid, plan.parent.binds);
      },
    });
  } catch (e) {
    unbindAll(bound);
    throw e;
  } finally {
    if (parentPidfd >= 0) closeFd(parentPidfd);
  }
  becomeWaiter(child, plan.waiterMode);
}
