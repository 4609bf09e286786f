/** spawn and spawnSync: child_process for namespaces, checked from outside. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn as spawnPlain, spawnSync as spawnPlainSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NAMESPACE_TYPES,
  NsError,
  listNamespaces,
  namespaceInode,
  spawn,
  spawnSync,
  umount,
} from '@ns/syscalls';

/** Everything a ChildProcess says, until 'close'. */
function finished(child: ChildProcess) {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise<{ stdout: string; stderr: string; exit: unknown[]; error?: Error }>(
    (resolve) => {
      let exit: unknown[] = [];
      child.on('exit', (...a) => (exit = a));
      child.on('close', () => resolve({ stdout, stderr, exit }));
      child.on('error', (error) => resolve({ stdout, stderr, exit, error }));
    },
  );
}

const zombies = () =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        return / Z /.test(stat.slice(stat.lastIndexOf(')'))) && stat.includes(` ${process.pid} `);
      } catch {
        return false;
      }
    });

test('a shell in new uts, pid and mount namespaces: hostname box, PID 1, its own /proc', async () => {
  const script = 'hostname; echo $$; ls /proc | grep -c "^[0-9]" >&2';
  const options = { namespaces: ['uts', 'pid', 'mnt'], hostname: 'box', mountProc: true } as const;
  // init: false is util-linux's unshare -fp: the program is PID 1
  const bare = spawn('sh', ['-c', script], { ...options, init: false });
  assert.ok(bare instanceof ChildProcess);
  assert.ok(bare.pid! > 0);
  const r = await finished(bare);
  assert.equal(r.stdout, 'box\n1\n');
  assert.deepEqual(r.exit, [0, null]);
  assert.match(r.stderr, /^[23]\n$/); // sh, and ls and grep: nothing of the host
  // by default an init is PID 1, the program PID 2
  const withInit = await finished(spawn('sh', ['-c', script], options));
  assert.equal(withInit.stdout, 'box\n2\n');
  assert.match(withInit.stderr, /^[34]\n$/);
});

test('joining the net namespace of a running process, or every namespace that differs', async () => {
  const holder = spawn('sleep', ['30'], { namespaces: ['net'], stdio: 'ignore' });
  try {
    await new Promise((r) => holder.once('spawn', r));
    const theirs = namespaceInode(holder.pid!, 'net');
    assert.notEqual(theirs, namespaceInode('self', 'net'));
    const r = spawnSync('readlink', ['/proc/self/ns/net'], {
      join: { pid: holder.pid!, namespaces: ['net'] },
      encoding: 'utf8',
    });
    assert.equal(r.stdout, `net:[${theirs}]\n`);
    const all = spawnSync('readlink', ['/proc/self/ns/net'], {
      join: { pid: holder.pid! },
      encoding: 'utf8',
    });
    assert.equal(all.stdout, `net:[${theirs}]\n`, 'by default every namespace that differs');
  } finally {
    holder.kill('SIGKILL');
  }
});

test('keepAlive: a new net namespace stays on a file after its program, until unmounted', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ns-keep-'));
  const file = join(dir, 'net');
  writeFileSync(file, '');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const before = statSync(file).ino;
  const r = spawnSync('readlink', ['/proc/self/ns/net'], {
    namespaces: ['net'],
    keepAlive: { net: file },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, String(r.stderr));
  assert.equal(r.stdout, `net:[${statSync(file).ino}]\n`);
  assert.notEqual(statSync(file).ino, before);
  umount(file);
  assert.equal(statSync(file).ino, before);
});

test('errors as child_process gives them: ENOENT, a refused namespace, one shape', async () => {
  const missing = await finished(spawn('/nonexistent-program', [], { namespaces: ['uts'] }));
  assert.equal((missing.error as NodeJS.ErrnoException).code, 'ENOENT');
  assert.deepEqual(
    { ...spawnSync('/nonexistent-program', ['a'], { namespaces: ['uts'] }).error },
    { ...spawnPlainSync('/nonexistent-program', ['a']).error },
  );
  // a mount namespace cannot be joined from a file that is none
  const refused = await finished(spawn('true', [], { join: { mnt: '/etc/hostname' } }));
  assert.deepEqual(
    { ...refused.error },
    {
      errno: -22,
      code: 'EINVAL',
      syscall: 'spawn true',
      path: 'true',
      spawnargs: [],
      step: "reassociate to namespace 'ns/mnt' failed",
    },
  );
  assert.equal(
    refused.error!.message,
    "spawn true EINVAL: reassociate to namespace 'ns/mnt' failed: Invalid argument",
  );
});

test('output larger than a pipe, async and sync, never blocks; kill and timeout end the program', async () => {
  const script = 'head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2; exit 4';
  const sync = spawnSync('sh', ['-c', script], { namespaces: ['ipc'] });
  assert.equal(sync.stdout!.length, 300000);
  assert.equal(sync.stderr!.length, 300000);
  assert.equal(sync.status, 4);
  const r = await finished(spawn('sh', ['-c', script], { namespaces: ['ipc'] }));
  assert.equal(r.stdout.length + r.stderr.length, 600000);
  assert.deepEqual(r.exit, [4, null]);
  const echo = spawnSync('cat', [], { input: 'to stdin\n', encoding: 'utf8', namespaces: ['uts'] });
  assert.equal(echo.stdout, 'to stdin\n');
  const long = spawn('sleep', ['30'], { namespaces: ['uts'] });
  const ended = finished(long);
  await new Promise((res) => long.once('spawn', res));
  assert.equal(long.kill(), true);
  assert.deepEqual((await ended).exit, [null, 'SIGTERM']);
  const timed = spawnSync('sleep', ['30'], { timeout: 100, namespaces: ['uts'] });
  assert.equal(timed.signal, 'SIGTERM');
  assert.equal((timed.error as NodeJS.ErrnoException).code, 'ETIMEDOUT');
});

test('nothing leaks: 300 spawns leave no descriptor, no zombie, no warning', async () => {
  const { readlinkSync } = await import('node:fs');
  // What this process holds open, by target: pipes, sockets, pidfds, namespace
  // files, memfds, /proc and /dev files, all that spawn could leave behind. Not
  // the files and folders Node itself has open at the moment (modules being
  // loaded, tsx's cache), which Node versions close at different times, nor
  // the listing's own descriptor, gone when its target is read.
  const fds = () =>
    readdirSync('/proc/self/fd')
      .flatMap((fd) => {
        let target: string;
        try {
          target = readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          return [];
        }
        const nodes = /^\/(?!proc\/|dev\/|memfd:)/.test(target) && !target.endsWith(' (deleted)');
        return nodes ? [] : [target];
      })
      .sort();
  // the first spawn loads what stays loaded (koffi, libc): list from after it
  await finished(spawn('true', [], { namespaces: ['uts'] }));
  const before = fds();
  for (let i = 0; i < 300; i += 10)
    await Promise.all(
      Array.from({ length: 10 }, () =>
        finished(spawn('true', [], { namespaces: ['uts', 'ipc'], stdio: 'pipe' })),
      ),
    );
  assert.deepEqual(fds(), before);
  assert.deepEqual(zombies(), []);
  // child_process' own children are still reaped by Node
  const plain = spawnPlain('true');
  const code = await new Promise((r) => plain.on('exit', r));
  assert.equal(code, 0);
});

test('listNamespaces: the records lsns -J prints, by type and by process', async () => {
  const holder = spawn('sleep', ['30'], { namespaces: ['net', 'uts'], stdio: 'ignore' });
  try {
    await new Promise((r) => holder.once('spawn', r));
    const inode = namespaceInode(holder.pid!, 'net');
    const mine = (await listNamespaces({ types: ['net'] })).find((n) => n.ns === inode);
    assert.deepEqual(mine, {
      ns: inode,
      type: 'net',
      nprocs: 1,
      pid: holder.pid,
      uid: 0,
      user: 'root',
      command: 'sleep 30',
      pids: [holder.pid],
    });
    const lsns = spawnSync(
      'lsns',
      ['-J', '-t', 'net', '-o', 'NS,TYPE,NPROCS,PID,USER,COMMAND', String(inode)],
      {
        encoding: 'utf8',
      },
    );
    if (lsns.status === 0 && !lsns.error) {
      // lsns <namespace> lists the processes of the namespace: here the one
      const [row] = JSON.parse(String(lsns.stdout)).namespaces;
      assert.deepEqual(
        {
          ns: row.ns,
          type: row.type,
          nprocs: row.nprocs,
          pid: row.pid,
          user: row.user,
          command: row.command,
        },
        {
          ns: mine!.ns,
          type: mine!.type,
          nprocs: mine!.nprocs,
          pid: mine!.pid,
          user: mine!.user,
          command: mine!.command,
        },
      );
    }
    const of = await listNamespaces({ pid: holder.pid! });
    assert.deepEqual(of.map((n) => n.type).sort(), [...NAMESPACE_TYPES].sort());
  } finally {
    holder.kill('SIGKILL');
  }
});
