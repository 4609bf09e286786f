/**
 * child_process' contract, row by row: each scenario through child_process
 * and through ours (with namespaces), compared as a caller sees it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cp from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { namespaceInode, spawn, spawnSync, umount } from '@ns/syscalls';

const ns = { namespaces: ['uts'] } as const;
/** The library as another program requires it. */
const LIB = JSON.stringify(
  join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.cjs'),
);

/** The events of a child until 'close', in order, and what its stdout said. */
function events(child: cp.ChildProcess): Promise<{ order: string[]; out: string; error?: Error }> {
  return new Promise((resolve) => {
    const order: string[] = [];
    let out = '';
    let error: Error | undefined;
    child.stdout?.on('data', (d) => {
      out += d;
      if (order.at(-1) !== 'data') order.push('data');
    });
    child.on('spawn', () => order.push('spawn'));
    child.on('exit', (code, signal) => order.push(`exit ${code} ${signal}`));
    child.on('error', (e) => {
      error = e;
      order.push(`error ${(e as NodeJS.ErrnoException).code}`);
    });
    child.on('close', (code, signal) => {
      order.push(`close ${code} ${signal}`);
      resolve({ order, out, error });
    });
  });
}

test('spawnSync writes a large input without blocking on a full pipe', { timeout: 20000 }, () => {
  const input = Buffer.alloc(200 * 1024, 'x');
  const theirs = cp.spawnSync('cat', [], { input, timeout: 10000 });
  const ours = spawnSync('cat', [], { input, timeout: 10000, ...ns });
  assert.equal(theirs.stdout.length, input.length);
  assert.equal(ours.stdout!.length, input.length);
  assert.equal(ours.status, 0);
});

test('spawnSync timeout with inherited stdio, and a child that ignores SIGTERM', () => {
  const inherit = spawnSync('sleep', ['5'], { stdio: 'inherit', timeout: 200, ...ns });
  assert.equal(inherit.signal, 'SIGTERM');
  assert.equal((inherit.error as NodeJS.ErrnoException).code, 'ETIMEDOUT');
  // the shell ignores TERM: child_process waits for it, without spinning
  const before = process.cpuUsage();
  const stubborn = spawnSync('sh', ['-c', 'trap "" TERM; sleep 1; exit 3'], {
    timeout: 100,
    ...ns,
  });
  const cpu = process.cpuUsage(before);
  assert.equal(stubborn.status, 3);
  assert.equal((stubborn.error as NodeJS.ErrnoException).code, 'ETIMEDOUT');
  assert.ok(cpu.user + cpu.system < 500_000, `${cpu.user + cpu.system} µs of CPU while waiting`);
});

test('maxBuffer: the child is killed and the error is ENOBUFS, as child_process', () => {
  const args = ['-c', 'head -c 100000 /dev/zero'];
  const theirs = cp.spawnSync('sh', args, { maxBuffer: 1000 });
  const ours = spawnSync('sh', args, { maxBuffer: 1000, ...ns });
  assert.equal((theirs.error as NodeJS.ErrnoException).code, 'ENOBUFS');
  assert.equal((ours.error as NodeJS.ErrnoException).code, 'ENOBUFS');
  assert.ok(ours.stdout!.length < 100000, 'the child was stopped early');
});

test('uid and gid are honoured, after the namespaces are made', () => {
  const r = spawnSync('sh', ['-c', 'id -u; id -g; readlink /proc/self/ns/uts'], {
    uid: 65534,
    gid: 65534,
    encoding: 'utf8',
    ...ns,
  });
  const [uid, gid, uts] = (r.stdout as string).trim().split('\n');
  assert.deepEqual([uid, gid], ['65534', '65534']);
  assert.notEqual(uts, readlinkSync('/proc/self/ns/uts'));
});

test('shell: true runs the command line through /bin/sh', () => {
  const theirs = cp.spawnSync('echo $0 "$((1+2))"', { shell: true, encoding: 'utf8' });
  const ours = spawnSync('echo $0 "$((1+2))"', { shell: true, encoding: 'utf8', ...ns });
  assert.equal(ours.stdout, theirs.stdout);
  assert.equal(ours.stdout, '/bin/sh 3\n');
});

test('stdio: descriptors past 2, ipc, and numbers as the parent has them', async () => {
  const three = spawn('sh', ['-c', 'echo three >&3'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    ...ns,
  });
  let got = '';
  three.stdio[3]!.on('data', (d) => (got += d));
  await events(three);
  assert.equal(got, 'three\n');
  assert.equal(three.stdio.length, 4);

  const node = spawn(process.execPath, ['-e', 'process.send("hi"); process.disconnect()'], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    ...ns,
  });
  const message = await new Promise((resolve) => node.once('message', resolve));
  assert.equal(message, 'hi');
  await events(node);

  // ['ignore', 'pipe', 1]: the program's stderr is the parent's stdout, not the pipe
  const script = `
    const { spawn } = require(${LIB});
    const c = spawn('sh', ['-c', 'echo out; echo err >&2'], { stdio: ['ignore', 'pipe', 1], namespaces: ['uts'] });
    let piped = '';
    c.stdout.on('data', (d) => (piped += d));
    c.on('close', () => console.log('piped:' + JSON.stringify(piped)));`;
  const r = cp.spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(r.stdout, 'err\npiped:"out\\n"\n', r.stderr);
});

test('bad stdio and option values throw child_process errors, and nothing starts', () => {
  const fds = () => readdirSync('/proc/self/fd').length;
  spawnSync('true', [], ns); // what loads once is loaded
  const before = fds();
  const codes = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as NodeJS.ErrnoException).code;
    }
    return 'no throw';
  };
  const cases: [string, () => unknown, () => unknown][] = [
    [
      'stdio bogus',
      () => cp.spawn('true', [], { stdio: ['bogus' as never] }),
      () => spawn('true', [], { stdio: ['bogus' as never], ...ns }),
    ],
    [
      'timeout -1',
      () => cp.spawn('true', [], { timeout: -1 }),
      () => spawn('true', [], { timeout: -1, ...ns }),
    ],
    [
      'args a string',
      () => cp.spawn('echo', 'a b c' as never),
      () => spawn('echo', 'a b c' as never, ns),
    ],
    [
      'signal {}',
      () => cp.spawn('true', [], { signal: {} as never }),
      () => spawn('true', [], { signal: {} as never, ...ns }),
    ],
    ['file 5', () => cp.spawn(5 as never), () => spawn(5 as never)],
    ['file empty', () => cp.spawn(''), () => spawn('')],
  ];
  for (const [name, theirs, ours] of cases) {
    const want = codes(theirs);
    assert.notEqual(want, 'no throw', name);
    assert.equal(codes(ours), want, name);
  }
  assert.equal(fds(), before, 'no descriptor left behind');
});

test('kill with an unknown signal throws; kill() and timeout reach PID 1 of a new PID namespace', async () => {
  const sleeper = spawn('sleep', ['30'], { namespaces: ['pid'] });
  const ended = events(sleeper);
  await new Promise((r) => sleeper.once('spawn', r));
  assert.throws(() => sleeper.kill('SIGFOO' as never), { code: 'ERR_UNKNOWN_SIGNAL' });
  assert.equal(sleeper.kill(), true);
  assert.deepEqual((await ended).order, ['spawn', 'exit null SIGTERM', 'close null SIGTERM']);
  // the bare PID 1 of util-linux ignores TERM; the init in front of it passes it on
  const timed = spawnSync('sleep', ['30'], { namespaces: ['pid'], timeout: 200 });
  assert.equal(timed.signal, 'SIGTERM');
  // and reaps orphans: a grandchild left behind is no zombie
  const orphan = spawnSync(
    'sh',
    ['-c', 'sh -c "exit 0" & sleep 0.3; ps -o stat= -p $! 2>/dev/null || echo gone'],
    { namespaces: ['pid', 'mnt'], mountProc: true, encoding: 'utf8' },
  );
  assert.doesNotMatch(orphan.stdout as string, /Z/);
});

test('a program that cannot start: streams exist, then error and close, no spawn', async () => {
  const theirs = cp.spawn('/nonexistent-program');
  const ours = spawn('/nonexistent-program', [], ns);
  assert.ok(ours.stdout && ours.stderr && ours.stdin);
  const [a, b] = await Promise.all([events(theirs), events(ours)]);
  assert.deepEqual(b.order, a.order);
  assert.deepEqual(b.order, ['error ENOENT', 'close -2 null']);
  assert.equal(ours.pid, undefined);
  // found missing by the runner, inside a new mount namespace: the same
  const inside = await events(spawn('/nonexistent-program', [], { namespaces: ['mnt'] }));
  assert.deepEqual(inside.order, a.order);
  // a join target that is gone: an event and a result, never a throw
  const gone = await events(spawn('true', [], { join: { pid: 2 ** 22 + 1 } }));
  assert.equal(gone.order.at(-1)?.startsWith('close'), true);
  assert.ok(gone.error, 'an error event');
  assert.ok(spawnSync('true', [], { join: { pid: 2 ** 22 + 1 } }).error);
  // a refused namespace the same way
  const refused = await events(spawn('true', [], { join: { mnt: '/etc/hostname' } }));
  assert.deepEqual(refused.order, ['error EINVAL', 'close -22 null']);
});

test('events: spawn, the data, exit, close; the program is in its namespaces', async () => {
  for (let i = 0; i < 3; i++) {
    const child = spawn('sh', ['-c', 'hostname; echo $$'], {
      namespaces: ['uts', 'pid', 'mnt'],
      hostname: 'box',
      mountProc: true,
    });
    const r = await events(child);
    assert.equal(r.out, 'box\n2\n');
    assert.equal(r.order[0], 'spawn');
    assert.equal(r.order.at(-1), 'close 0 null');
  }
});

test('an already aborted signal: AbortError, as child_process', async () => {
  const ac = new AbortController();
  ac.abort();
  const theirs = await events(cp.spawn('sleep', ['5'], { signal: ac.signal }));
  const ours = await events(spawn('sleep', ['5'], { signal: ac.signal, ...ns }));
  assert.equal(ours.error?.name, 'AbortError');
  assert.deepEqual(ours.order, theirs.order);
});

test('unref() lets the parent exit while a detached child runs on', () => {
  {
    const script = `
      const { spawn } = require(${LIB});
      const c = spawn('sleep', ['30'], { detached: true, stdio: 'ignore', namespaces: ['uts'] });
      console.log(c.pid);
      c.unref();`;
    const r = cp.spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.signal, null, 'the parent exited by itself');
    const pid = Number(r.stdout);
    assert.notEqual(namespaceInode(pid, 'uts'), namespaceInode('self', 'uts'));
    process.kill(pid, 'SIGKILL');
  }
});

test('from a worker thread: exit and close come, the program is a child of this process', async () => {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const { spawn } = require(${LIB});
    const c = spawn('sh', ['-c', 'echo $PPID'], { namespaces: ['uts'] });
    let out = '';
    let exited = false;
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', () => (exited = true));
    c.on('close', (code) => parentPort.postMessage({ code, out, exited }));`;
  const worker = new Worker(code, { eval: true });
  const got = await new Promise<{ code: number; out: string; exited: boolean }>(
    (resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    },
  );
  await worker.terminate();
  assert.deepEqual([got.code, got.exited], [0, true]);
  assert.equal(Number(got.out), process.pid);
});

test('spawnSync with work from outside: a bind beside a new mount namespace', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ns-keep-'));
  const file = join(dir, 'uts');
  writeFileSync(file, '');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync('readlink', ['/proc/self/ns/uts'], {
    namespaces: ['mnt', 'uts'],
    keepAlive: { uts: file },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, String(r.stderr ?? r.error));
  assert.equal(r.stdout, `uts:[${statSync(file).ino}]\n`, 'bound in our mount namespace');
  umount(file);
});
