/** pidfd queries that keep a target process pinned while we look at it. */
import { fstatSync } from 'node:fs';
import { NsError } from './errors.js';
import { errno, getLibc } from './native.js';

const SYS_pidfd_send_signal = 424;

/**
 * Whether the process behind a pidfd has not been reaped yet. While it has
 * not, its PID cannot name another process, so what was read from
 * /proc/PID before this check belongs to it.
 */
export function pidfdAlive(pidfd: number): boolean {
  const rc = Number(
    getLibc().syscall(
      SYS_pidfd_send_signal,
      'int',
      pidfd,
      'int',
      0,
      'void *',
      null,
      'unsigned int',
      0,
    ),
  );
  if (rc === 0) return true;
  const e = errno();
  if (e === 3 /* ESRCH */) return false;
  if (e === 1 /* EPERM: not ours to signal, but it exists */) return true;
  throw new NsError('pidfd_send_signal failed', e, 'pidfd_send_signal');
}

/** The pidfs inode of a pidfd (kernel 6.9+): a process identity that is never reused. */
export function pidfdInode(pidfd: number): bigint {
  return fstatSync(pidfd, { bigint: true }).ino;
}
