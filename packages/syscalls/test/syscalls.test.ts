/** @ns/syscalls used as a Node program would: real namespaces, checked from outside. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import {
  CLONE_NEWNET,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  ExecError,
  NAMESPACES,
  NsError,
  cloneFlags,
  closeFd,
  execStep,
  execPaths,
  keepFds,
  namespacesOf,
  nsGetType,
  nsGetUserns,
  nsGetParent,
  openNamespace,
  pidfdOpen,
  spawnSteps,
  strerror,
  waitChild,
  type Step,
} from '@ns/syscalls/internal';

test('the namespace table has the eight types in util-linux order', () => {
  assert.deepEqual(
    NAMESPACES.map((n) => n.type),
    ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time'],
  );
  assert.equal(cloneFlags(['uts', 'net']), CLONE_NEWUTS | CLONE_NEWNET);
});

test('namespacesOf reads inodes that readlink agrees with', () => {
  const mine = namespacesOf('self');
  for (const ns of NAMESPACES)
    assert.equal(
      readlinkSync(`/proc/self/ns/${ns.file}`),
      `${ns.type === 'mnt' ? 'mnt' : ns.type}:[${mine[ns.type]!.inode}]`,
    );
});

test('spawn runs a program in new namespaces; the parent sees them from outside', () => {
  const child = spawnSteps([...keepFds(), execStep(['sleep', '5'])], {
    cloneFlags: CLONE_NEWUTS | CLONE_NEWNET,
  });
  try {
    const theirs = namespacesOf(child.pid);
    const mine = namespacesOf('self');
    assert.notEqual(theirs.uts!.inode, mine.uts!.inode);
    assert.notEqual(theirs.net!.inode, mine.net!.inode);
    assert.equal(theirs.mnt!.inode, mine.mnt!.inode);
  } finally {
    process.kill(child.pid, 'SIGKILL');
    assert.deepEqual(waitChild(child.pid), { signal: 9 });
    closeFd(child.pidfd);
  }
});

test('a user namespace with maps written by the parent at the sync step', () => {
  const child = spawnSteps(
    [{ op: 'sync-parent' }, ...keepFds(), execStep(['sh', '-c', 'exit $(id -u)'])],
    {
      cloneFlags: CLONE_NEWUSER | CLONE_NEWPID,
      onSync: (c) => {
        const proc = `/proc/${c.pid}`;
        spawnSync('sh', ['-c', `echo deny > ${proc}/setgroups; echo '7 0 1' > ${proc}/uid_map`]);
      },
    },
  );
  assert.deepEqual(waitChild(child.pid), { code: 7 });
  closeFd(child.pidfd);
});

test('a failing step is an NsError naming what failed; a missing program an ExecError with 127', () => {
  assert.throws(
    () =>
      spawnSteps([
        { op: 'chdir', path: '/nonexistent', what: "cannot chdir to '/nonexistent'" },
        execStep(['true']),
      ]),
    (e: unknown) =>
      e instanceof NsError &&
      e.message === "cannot chdir to '/nonexistent': No such file or directory" &&
      e.code === 'ENOENT',
  );
  assert.throws(
    () => spawnSteps([execStep(['/nonexistent-program'])]),
    (e: unknown) => e instanceof ExecError && e.exitStatus === 127,
  );
  assert.equal(strerror(1), 'Operation not permitted');
});

test('NS_GET_* ioctls: type, owner and parent of namespaces', () => {
  const fd = openNamespace('/proc/self/ns/uts');
  try {
    assert.equal(nsGetType(fd), CLONE_NEWUTS);
    const owner = nsGetUserns(fd);
    assert.equal(nsGetType(owner), CLONE_NEWUSER);
    closeFd(owner);
    // The initial user namespace has no parent.
    const user = openNamespace('/proc/self/ns/user');
    assert.throws(
      () => nsGetParent(user),
      (e: unknown) => e instanceof NsError && e.code === 'EPERM',
    );
    closeFd(user);
  } finally {
    closeFd(fd);
  }
});

test('pidfdOpen names a live process and fails for a missing one', () => {
  const fd = pidfdOpen(process.pid);
  assert.match(readlinkSync(`/proc/self/fd/${fd}`), /pidfd/);
  closeFd(fd);
  assert.throws(
    () => pidfdOpen(2 ** 22 + 1),
    (e: unknown) => e instanceof NsError && e.code === 'ESRCH',
  );
});

test('execPaths searches PATH like execvp', () => {
  assert.deepEqual(execPaths('ls', '/a:/b'), ['/a/ls', '/b/ls']);
  assert.deepEqual(execPaths('./x', '/a'), ['./x']);
  assert.deepEqual(execPaths(Buffer.from('f\xff', 'latin1'), '/a'), [
    Buffer.from('/a/f\xff', 'latin1'),
  ]);
  // execvp: an empty name is no file at all (ENOENT), not a search of PATH
  assert.deepEqual(execPaths('', '/a:/b'), []);
});

test('a step the runner does not know, or an argument that is no integer, is refused before any clone', () => {
  assert.throws(
    () => spawnSteps([{ op: 'no-such-op' } as unknown as Step, execStep(['true'])]),
    /unknown step op: "no-such-op"/,
  );
  assert.throws(
    () => spawnSteps([{ op: 'unshare', flags: 'uts' } as unknown as Step, execStep(['true'])]),
    /step unshare: an argument is not an integer/,
  );
  assert.throws(() => spawnSteps([{ op: 'setresuid', uid: -5 }, execStep(['true'])]), /bad id -5/);
});

test('readTasks: links as readlink shows them, details, and what descriptors hold; the same in several threads', async (t) => {
  const { spawn } = await import('node:child_process');
  const { readTasks, readHeldFds } = await import('@ns/syscalls/internal');
  // a child holding its uts namespace open on descriptor 5
  const child = spawn('sh', ['-c', 'exec 5</proc/self/ns/uts; exec sleep 30'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const pid = child.pid!;
  for (let i = 0; i < 100 && !readlinkSync(`/proc/${pid}/exe`).endsWith('/sleep'); i++)
    await new Promise((r) => setTimeout(r, 20));
  const types = ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'];
  const inode = (p: number | string, type: string) =>
    Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${p}/ns/${type}`))![1]);
  const uts = inode(pid, 'uts');
  // the child, this process, a PID that does not exist; 150 times over
  const once = [pid, pid, process.pid, process.pid, 0x3fffffff, 0x3fffffff];
  const tasks = Int32Array.from({ length: once.length * 150 }, (_, i) => once[i % once.length]);
  const want = { uid: true, command: true, fds: true };
  const one = readTasks(tasks, types, 0xff, want);
  for (let k = 0; k < 3; k++) {
    assert.equal(one.alive[k], k === 2 ? 0 : 1, `task ${k} alive`);
    if (k < 2)
      types.forEach((type, i) =>
        assert.equal(one.ns[k * 8 + i], inode(k === 0 ? pid : 'self', type), type),
      );
  }
  assert.equal(one.command![0], 'sleep 30');
  assert.equal(one.uid![0], process.getuid!());
  assert.deepEqual(one.held!.get(0), [{ fd: 5, kind: 'ns', type: 'uts', inode: uts }]);
  assert.equal(one.held!.get(3)?.[0].inode, uts); // the child again, as the 150 times over
  assert.deepEqual(readHeldFds(tasks.subarray(0, 2), types), [
    [0, [{ fd: 5, kind: 'ns', type: 'uts', inode: uts }]],
  ]);
  // three threads, and details only for the first task of a namespace in each
  process.env.TS_NSLS_THREADS = '3';
  t.after(() => delete process.env.TS_NSLS_THREADS);
  const three = readTasks(tasks, types, 0xff, want);
  assert.deepEqual(three.ns, one.ns);
  assert.deepEqual(three.alive, one.alive);
  assert.deepEqual(
    [...three.held!].sort(([a], [b]) => a - b),
    [...one.held!].sort(([a], [b]) => a - b),
  );
  assert.deepEqual(three.command, one.command);
  const first = readTasks(tasks, types, 0xff, { command: true, firstOfNamespace: true });
  assert.equal(first.got![0], 1);
  assert.equal(first.command![0], 'sleep 30');
  assert.ok(first.got!.reduce((a, b) => a + b, 0) <= 3 * 2, 'at most two firsts per thread');
});

test('readTasks: a process holding more descriptors than a thread keeps is read again, in full', async (t) => {
  const { spawn } = await import('node:child_process');
  const { readTasks } = await import('@ns/syscalls/internal');
  // 300 descriptors of this process's uts namespace, as the child's 3..302
  const fd = openSync('/proc/self/ns/uts', 'r');
  const child = spawn('sleep', ['30'], {
    stdio: ['ignore', 'ignore', 'ignore', ...Array(300).fill(fd)],
  });
  closeSync(fd);
  t.after(() => child.kill('SIGKILL'));
  const pid = child.pid!;
  for (let i = 0; i < 100 && !readlinkSync(`/proc/${pid}/exe`).endsWith('/sleep'); i++)
    await new Promise((r) => setTimeout(r, 20));
  const uts = Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/uts'))![1]);
  const types = ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'];
  const found = readTasks(Int32Array.from([process.pid, process.pid, pid, pid]), types, 0xff, {
    fds: true,
  });
  assert.deepEqual(
    found.held!.get(1),
    Array.from({ length: 300 }, (_, i) => ({ fd: i + 3, kind: 'ns', type: 'uts', inode: uts })),
  );
});
