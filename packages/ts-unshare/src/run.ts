/** Carrying out a plan: in place, or in a child that the native waiter then waits for. */
import {
  becomeWaiter,
  callerEnvObject,
  closeFd,
  holdSignals,
  mount,
  MNT_DETACH,
  MS_BIND,
  NsError,
  pidfdOpen,
  runHere,
  spawnSteps,
  umount,
  ExecError,
  type Child,
  type Step,
} from '@ns/syscalls';
import { ToolError } from '@ns/cli';
import { writeFileSync } from 'node:fs';
import { mapText, type IdRange } from './idmap.js';
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

/** Binds namespace files; on a failure the binds made so far are undone. Returns what was bound. */
function bindAll(pid: number | 'self', binds: ParentWork['binds']): string[] {
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

function unbindAll(targets: string[]): void {
  for (const t of targets.reverse()) {
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
  if (result.status !== 0) throw new ToolError(`${helper} failed`, result.status ?? 1);
}

function writeMaps(child: Child, work: ParentWork): void {
  const proc = `/proc/${child.pid}`;
  const privileged = process.geteuid!() === 0;
  const ranged = (m?: IdRange[]) => m !== undefined && (m.length > 1 || m[0].count > 1);
  if (work.setgroups) writeProc(`${proc}/setgroups`, work.setgroups, true);
  if (work.uidMap) {
    if (!privileged && ranged(work.uidMap)) runIdmapHelper('newuidmap', child.pid, work.uidMap);
    else writeProc(`${proc}/uid_map`, mapText(work.uidMap));
  }
  if (work.gidMap) {
    if (!privileged && ranged(work.gidMap)) runIdmapHelper('newgidmap', child.pid, work.gidMap);
    else writeProc(`${proc}/gid_map`, mapText(work.gidMap));
  }
}

export function run(plan: Plan): void {
  if (!plan.child) {
    // Everything here is allowed to Node's main thread, and the exec keeps this
    // thread's namespaces. The binds are steps too, so that a failing bind or
    // exec can be answered by undoing the binds that came before it.
    const binds: Step[] = plan.parent.binds.map((b) => ({
      op: 'mount',
      source: `/proc/${process.pid}/ns/${b.file}`,
      target: b.target,
      flags: MS_BIND,
      what: `mount /proc/${process.pid}/ns/${b.file} on ${b.target} failed`,
    }));
    const unshareStep: Step[] = plan.unshareFlags
      ? [{ op: 'unshare', flags: plan.unshareFlags, what: 'unshare failed' }]
      : [];
    const steps = [...unshareStep, ...binds, ...plan.steps];
    try {
      runHere(steps);
    } catch (e) {
      const failed = steps.indexOf((e as NsError).step!);
      unbindAll(
        binds.filter((b) => steps.indexOf(b) < failed).map((b) => (b as { target: string }).target),
      );
      throw e;
    }
  }

  // Between the clone and the waiter's exec, a signal neither ends this process
  // half way nor is lost: it is held, and the waiter receives it.
  holdSignals();
  let parentPidfd = -1;
  if (plan.killChild !== undefined) {
    parentPidfd = pidfdOpen(process.pid);
    for (const s of plan.steps) if (s.op === 'pdeathsig') s.parentPidfd = parentPidfd;
  }
  let bound: string[] = [];
  let child: Child;
  try {
    child = spawnSteps(plan.steps, {
      cloneFlags: plan.cloneFlags,
      cloneWhat: 'unshare failed',
      onSync: (c) => {
        writeMaps(c, plan.parent);
        bound = bindAll(c.pid, plan.parent.binds);
      },
    });
  } catch (e) {
    unbindAll(bound);
    throw e;
  }
  if (parentPidfd >= 0) closeFd(parentPidfd);
  becomeWaiter(child, plan.waiterMode);
}
