/**
 * ts-unshare against the real kernel, as root and as nobody, and side by side
 * with util-linux unshare (/usr/bin/unshare, 2.38.1) wherever it supports the
 * same scenario.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import {
  bin,
  childrenOf,
  inPrivateMounts,
  needs,
  nobodyBin,
  run,
  sideBySide,
  waitFor,
  type Result,
  wordLines,
} from './helpers.js';

const UNSHARE = '/usr/bin/unshare';
const { ours, theirs, oursAsNobody, sameAsUtilLinux } = sideBySide('ts-unshare', UNSHARE);

const nsInode = (pid: number | 'self', file: string) => readlinkSync(`/proc/${pid}/ns/${file}`);

const alive = (pid: number) =>
  existsSync(`/proc/${pid}/stat`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

/** Resolves when a background tool ends, with its exit code or signal. */
const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

/** All a background tool printed on stdout, once it closed it. */
const output = (child: ChildProcess) =>
  new Promise<string>((resolve) => {
    let text = '';
    child.stdout!.on('data', (d) => (text += d));
    child.stdout!.once('end', () => resolve(text));
  });

/** Starts ts-unshare in the background; killed with all its children when the test file ends. */
const started: ChildProcess[] = [];
function background(args: string[]): ChildProcess {
  const child = spawn(bin('ts-unshare'), [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  return child;
}
function killTree(pid: number): void {
  for (const c of childrenOf(pid)) killTree(c);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
after(() => {
  for (const c of started) if (c.pid) killTree(c.pid);
});

describe('the mission examples (issue: foundation)', () => {
  test('-fp --mount-proc: the shell is PID 1 and /proc shows only the new namespace', () => {
    // the shell becomes ls: the only process of the new namespace, PID 1
    const args = ['-fp', '--mount-proc', 'sh', '-c', 'echo $$; exec ls /proc'];
    const r = sameAsUtilLinux(args);
    const pids = r.stdout.split('\n').filter((l) => /^\d+$/.test(l));
    assert.deepEqual(pids, ['1', '1']);
    assert.equal(r.status, 0);
  });

  test('--fork --pid --mount-proc readlink /proc/self prints 1', () => {
    assert.equal(
      sameAsUtilLinux(['--fork', '--pid', '--mount-proc', 'readlink', '/proc/self']).stdout,
      '1\n',
    );
  });

  test('-u: a hostname set inside stays inside', () => {
    const before = hostname();
    const r = sameAsUtilLinux(['-u', 'sh', '-c', 'hostname ts-unshare-test; hostname']);
    assert.equal(r.stdout, 'ts-unshare-test\n');
    assert.equal(hostname(), before);
  });

  test('-U runs as the overflow uid, -r as root, -c as itself', () => {
    assert.equal(sameAsUtilLinux(['-U', 'id', '-u']).stdout, '65534\n');
    assert.equal(sameAsUtilLinux(['-r', 'id', '-u']).stdout, '0\n');
    assert.equal(sameAsUtilLinux(['-c', 'id', '-u']).stdout, '0\n');
  });

  test('as nobody: -r maps root to 65534 and denies setgroups', () => {
    const r = sameAsUtilLinux(
      ['-r', 'sh', '-c', 'id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups'],
      true,
    );
    const lines = r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    assert.deepEqual(lines.slice(0, 4), ['0', '0 65534 1', '0 65534 1', 'deny']);
  });

  test('as nobody: --map-user and --map-group', () => {
    const r = sameAsUtilLinux(
      ['--map-user=5', '--map-group=7', 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map'],
      true,
    );
    assert.equal(
      r.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/).join(' '))
        .join('|'),
      '5|7|5 65534 1|',
    );
  });

  test('as nobody: -c, -U and -rfp --mount-proc', () => {
    assert.equal(sameAsUtilLinux(['-c', 'id', '-u'], true).stdout, '65534\n');
    assert.equal(sameAsUtilLinux(['-U', 'id', '-u'], true).stdout, '65534\n');
    assert.equal(
      sameAsUtilLinux(['-rfp', '--mount-proc', 'sh', '-c', 'echo $$'], true).stdout,
      '1\n',
    );
  });

  test('-n: only the loopback device', () => {
    const r = sameAsUtilLinux(['-n', 'ip', '-o', 'link']);
    assert.match(r.stdout, /^1: lo: /);
    assert.equal(r.stdout.trim().split('\n').length, 1);
  });

  test('-m: a tmpfs mounted inside is not visible outside', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts-unshare-m-'));
    try {
      const r = ours([
        '-m',
        'sh',
        '-c',
        `mount -t tmpfs none ${dir} && grep -c " ${dir} " /proc/self/mountinfo`,
      ]);
      assert.equal(r.stdout, '1\n');
      assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(` ${dir} `));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('output reaches a pipe and a closed pipe is no error', () => {
    const r = sameAsUtilLinux(['-u', 'sh', '-c', 'yes | head -1']);
    assert.equal(r.stdout, 'y\n');
    assert.equal(r.stderr, '');
  });

  test('without -f the command replaces the tool: same PID, new namespaces seen from outside', () => {
    const child = background(['-uinC', 'sleep', '30']);
    const pid = child.pid!;
    waitFor(
      () => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep',
      'sleep to replace ts-unshare',
    );
    for (const ns of ['uts', 'ipc', 'net'])
      assert.notEqual(nsInode(pid, ns), nsInode('self', ns), ns);
    for (const ns of ['mnt', 'pid', 'user'])
      assert.equal(nsInode(pid, ns), nsInode('self', ns), ns);
    killTree(pid);
  });
});

describe('errors and exit statuses', () => {
  test('a command that does not exist: 127; one that cannot be executed: 126', () => {
    assert.equal(sameAsUtilLinux(['-u', '/nonexistent']).status, 127);
    assert.equal(sameAsUtilLinux(['-fp', '--mount-proc', '/nonexistent']).status, 127);
    assert.equal(sameAsUtilLinux(['-u', '/etc/passwd']).status, 126);
    assert.equal(sameAsUtilLinux(['-r', '/etc/passwd']).status, 126);
  });

  test('unprivileged without -U: unshare failed: Operation not permitted', () => {
    const r = sameAsUtilLinux(['-u', 'true'], true);
    assert.equal(r.stderr, 'ts-unshare: unshare failed: Operation not permitted\n');
    assert.equal(r.status, 1);
  });

  test('bad options and arguments: util-linux messages, exit 1', () => {
    for (const args of [
      ['--bogus'],
      ['-x'],
      ['--propagation', 'bogus', 'true'],
      ['--setgroups', 'bogus', 'true'],
      ['--kill-child=FOO', 'true'],
      ['-S', 'abc', 'true'],
      ['-G', 'abc', 'true'],
      ['--setgroups=allow', '--map-group=0', 'true'],
    ])
      assert.equal(sameAsUtilLinux(args).status, 1, args.join(' '));
    assert.equal(
      ours(['--bogus']).stderr,
      "ts-unshare: unrecognized option '--bogus'\nTry 'ts-unshare --help' for more information.\n",
    );
  });

  test('--monotonic without -T (util-linux 2.38.1 misspells the option as -t)', () => {
    const r = ours(['--monotonic', '5', 'true']);
    assert.equal(
      r.stderr,
      'ts-unshare: options --monotonic and --boottime require unsharing of a time namespace (-T)\n',
    );
    assert.equal(r.status, 1);
    assert.equal(theirs(['--monotonic', '5', 'true']).status, 1);
  });

  test('the exit code of the command, and death by its signal', () => {
    assert.equal(sameAsUtilLinux(['-f', 'sh', '-c', 'exit 3']).status, 3);
    assert.equal(sameAsUtilLinux(['-f', 'sh', '-c', 'kill -TERM $$']).signal, 'SIGTERM');
    assert.equal(sameAsUtilLinux(['-fp', 'sh', '-c', 'exit 7']).status, 7);
    // util-linux 2.38.1 prints "sigprocmask unblock failed" and exits 1 here; we die by SIGKILL like newer versions.
    const r = ours(['-f', 'sh', '-c', 'kill -KILL $$']);
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(r.stderr, '');
  });
});

describe('everything util-linux unshare does', () => {
  test('--help names ts-unshare and lists every option', () => {
    const r = ours(['--help']);
    assert.equal(r.status, 0);
    assert.match(
      r.stdout,
      /^\nUsage:\n ts-unshare \[options\] \[<program> \[<argument>\.\.\.\]\]\n/,
    );
    for (const opt of [
      '--mount[=<file>]',
      '--kill-child',
      '--map-users',
      '--owner',
      '--clear-env',
      '--whitelist-env',
      '--mount-binfmt',
      '--load-interp',
    ])
      assert.ok(r.stdout.includes(opt), opt);
    assert.match(ours(['-V']).stdout, /^ts-unshare from /);
  });

  test('--map-user and --map-group, and the setgroups default they bring', () => {
    const r = sameAsUtilLinux([
      '--map-user=5',
      '--map-group=7',
      'sh',
      '-c',
      'id -u; id -g; cat /proc/self/setgroups',
    ]);
    assert.equal(r.stdout, '5\n7\ndeny\n');
    assert.equal(sameAsUtilLinux(['--map-user=root', 'id', '-u']).stdout, '0\n');
    assert.equal(
      sameAsUtilLinux(['--setgroups=deny', '-U', 'cat', '/proc/self/setgroups']).stdout,
      'deny\n',
    );
  });

  test('--map-users and --map-groups as root write range maps, punching a hole for the single map', () => {
    const r = ours(['--map-users=1:100000:10', '-r', 'cat', '/proc/self/uid_map']);
    assert.deepEqual(wordLines(r.stdout), ['0 0 1', '1 100000 10']);
    const all = ours(['--map-users=all', '-r', 'cat', '/proc/self/uid_map']);
    assert.deepEqual(wordLines(all.stdout), ['0 0 1', '1 1 4294967294']);
    const legacy = ours(['--map-groups=100000,0,65536', 'cat', '/proc/self/gid_map']);
    assert.equal(legacy.stdout.trim().split(/\s+/).join(' '), '0 100000 65536');
    assert.equal(
      ours(['--map-users=nonsense', 'true']).stderr,
      "ts-unshare: invalid mapping 'nonsense'\n",
    );
  });

  test('as nobody: range maps through newuidmap/newgidmap from /etc/subuid and /etc/subgid', (t) => {
    if (!needs(t, { newuidmap: 'uidmap', newgidmap: 'uidmap' })) return;
    // The tool must find nobody in /etc/subuid and /etc/subgid: copies that say so are
    // bound over them in a private mount namespace; the host's files are never touched.
    const dir = mkdtempSync(join(tmpdir(), 'ts-subid-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    for (const f of ['subuid', 'subgid']) {
      const text = existsSync(`/etc/${f}`) ? readFileSync(`/etc/${f}`, 'utf8') : '';
      writeFileSync(join(dir, f), text + 'nobody:300000:65536\n');
    }
    const withSubids = (exe: string, args: string[]) =>
      inPrivateMounts(
        `mount --bind ${dir}/subuid /etc/subuid && mount --bind ${dir}/subgid /etc/subgid`,
        ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', exe, ...args],
      );
    const ours = (args: string[]) => withSubids(nobodyBin('ts-unshare'), args);
    const ranges = ours([
      '--map-users=0:300000:65536',
      '--map-groups=0:300000:65536',
      'cat',
      '/proc/self/uid_map',
      '/proc/self/gid_map',
    ]);
    assert.equal(ranges.status, 0, ranges.stderr);
    assert.deepEqual(wordLines(ranges.stdout), ['0 300000 65536', '0 300000 65536']);
    const auto = ours(['--map-auto', 'cat', '/proc/self/uid_map']);
    assert.deepEqual(auto, withSubids(UNSHARE, ['--map-auto', 'cat', '/proc/self/uid_map']));
    assert.deepEqual(wordLines(auto.stdout), ['0 300000 65536']);
    const subids = ours(['--map-subids', 'cat', '/proc/self/gid_map']);
    assert.deepEqual(wordLines(subids.stdout), ['300000 300000 65536']);
    const withRoot = ours([
      '-r',
      '--map-users=1:300000:65536',
      '--map-groups=1:300000:65536',
      'cat',
      '/proc/self/uid_map',
    ]);
    assert.deepEqual(wordLines(withRoot.stdout), ['0 65534 1', '1 300000 65536']);
    const pidns = ours(['-rfp', '--mount-proc', '--map-auto', 'sh', '-c', 'echo $$']);
    assert.equal(pidns.stdout, '1\n');
  });

  test('--propagation: private by default, slave, shared, unchanged', () => {
    // Inside a throwaway mount namespace whose / is shared, so that every mode shows.
    const propagationOf = (tool: string, args: string[]) => {
      const r = run('/usr/bin/unshare', [
        '-m',
        '--propagation',
        'unchanged',
        'sh',
        '-c',
        `mount --make-rshared / && ${tool} -m ${args.join(' ')} cat /proc/self/mountinfo`,
      ]);
      const line = r.stdout.split('\n').find((l) => l.split(' ')[4] === '/') ?? '';
      return line.split(' - ')[0].split(' ').slice(6).join(' ').replace(/\d+/g, 'N');
    };
    const ts = bin('ts-unshare');
    assert.equal(propagationOf(ts, []), '');
    assert.equal(propagationOf(ts, ['--propagation', 'slave']), 'master:N');
    assert.equal(propagationOf(ts, ['--propagation', 'shared']), 'shared:N');
    assert.equal(propagationOf(ts, ['--propagation', 'unchanged']), 'shared:N');
    for (const mode of [
      [],
      ['--propagation', 'slave'],
      ['--propagation', 'shared'],
      ['--propagation', 'private'],
    ])
      assert.equal(propagationOf(ts, mode), propagationOf(UNSHARE, mode), mode.join(' '));
  });

  test('--root and --wd, then --mount-proc inside the new root', () => {
    assert.equal(sameAsUtilLinux(['-R', '/', '-w', '/tmp', 'pwd']).stdout, '/tmp\n');
    assert.equal(sameAsUtilLinux(['-R', '/', 'pwd']).stdout, '/\n');
    assert.equal(sameAsUtilLinux(['-w', '/nonexistent-dir', 'pwd']).status, 1);
    assert.equal(
      sameAsUtilLinux(['-R', '/', '-fp', '--mount-proc', 'readlink', '/proc/self']).stdout,
      '1\n',
    );
  });

  test('--setuid and --setgid, last, dropping supplementary groups', () => {
    assert.equal(
      sameAsUtilLinux(['-S', '1', '-G', '1', 'id']).stdout,
      'uid=1(daemon) gid=1(daemon) groups=1(daemon)\n',
    );
  });

  test('--keep-caps raises the user namespace capabilities into the ambient set', () => {
    const amb = (r: Result) => /CapAmb:\s+(\w+)/.exec(r.stdout)?.[1];
    const r = ours(['-r', '--keep-caps', 'cat', '/proc/self/status']);
    assert.notEqual(amb(r), '0000000000000000');
    assert.equal(amb(r), amb(theirs(['-r', '--keep-caps', 'cat', '/proc/self/status'])));
    assert.equal(amb(ours(['-r', 'cat', '/proc/self/status'])), '0000000000000000');
  });

  test('-T with --monotonic and --boottime offsets, with and without -f', () => {
    const r = sameAsUtilLinux([
      '-T',
      '--monotonic',
      '1000',
      '--boottime',
      '-5',
      'cat',
      '/proc/self/timens_offsets',
    ]);
    assert.match(r.stdout, /monotonic\s+1000\s+0\nboottime\s+-5\s+0/);
    const up = ours(['-T', '--boottime', '300000000', '-f', 'cat', '/proc/uptime']);
    assert.ok(Number(up.stdout.split(' ')[0]) > 300000000, up.stdout);
    assert.equal(
      ours(['-T', '--monotonic', 'abc', 'true']).stderr,
      "ts-unshare: failed to parse monotonic offset: 'abc'\n",
    );
  });

  test('persistent namespaces: --uts=FILE keeps it alive; a failure leaves no bind behind', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ts-unshare-persist-'));
    const uts = join(dir, 'uts');
    const net = join(dir, 'net');
    const mounted = (f: string) => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${f} `);
    t.after(() => {
      for (const f of [uts, net]) while (mounted(f)) run('umount', [f]);
      rmSync(dir, { recursive: true, force: true });
    });
    writeFileSync(uts, '');
    writeFileSync(net, '');
    for (const fork of [[], ['-f'], ['-m']]) {
      assert.equal(ours([...fork, `--uts=${uts}`, 'hostname', 'persisted']).status, 0);
      assert.ok(mounted(uts), `bound with ${fork}`);
      assert.equal(run('nsenter', [`--uts=${uts}`, 'hostname']).stdout, 'persisted\n');
      run('umount', [uts]);
      // The net bind fails (no such file): the uts bind made before it must not stay.
      const r = ours([...fork, `--uts=${uts}`, '--net=/nonexistent-ns-file', 'true']);
      assert.match(
        r.stderr,
        /^ts-unshare: mount \/proc\/\d+\/ns\/net on \/nonexistent-ns-file failed: No such file or directory\n$/,
      );
      assert.equal(r.status, 1);
      assert.ok(!mounted(uts), `nothing left after failure with ${fork}`);
    }
    // A command that cannot run is a failure too: nothing stays bound.
    assert.equal(ours(['-f', `--net=${net}`, '/nonexistent']).status, 127);
    assert.ok(!mounted(net));
    assert.equal(theirs([`--net=/nonexistent-ns-file`, 'true']).status, 1);
  });

  test('every namespace type can be kept on a file, and entered again from it', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ts-unshare-all-'));
    const types = ['uts', 'ipc', 'net', 'cgroup', 'user', 'mount', 'pid', 'time'];
    const statIno = (f: string) => run('stat', ['-c', '%i', f]).stdout.trim();
    const before = new Map(types.map((ty) => [ty, '']));
    t.after(() => {
      for (const ty of types) run('umount', [join(dir, ty)]);
      rmSync(dir, { recursive: true, force: true });
    });
    for (const ty of types) {
      writeFileSync(join(dir, ty), '');
      before.set(ty, statIno(join(dir, ty)));
    }
    const r = ours(['-f', ...types.map((ty) => `--${ty}=${join(dir, ty)}`), 'true']);
    assert.equal(r.status, 0, r.stderr);
    const inodes = types.map((ty) => statIno(join(dir, ty)));
    types.forEach((ty, k) => assert.notEqual(inodes[k], before.get(ty), `${ty} is bound`));
    assert.equal(new Set(inodes).size, types.length);
    const user = run('nsenter', [
      `--user=${join(dir, 'user')}`,
      '--preserve-credentials',
      'readlink',
      '/proc/self/ns/user',
    ]);
    assert.equal(user.stdout, `user:[${inodes[types.indexOf('user')]}]\n`);
  });

  test('--mount-proc=DIR mounts the new /proc elsewhere; --setgroups allow', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ts-unshare-proc-'));
    try {
      // the shell becomes ls, the one process of the new namespace
      const listed = sameAsUtilLinux(['-fp', `--mount-proc=${dir}`, 'sh', '-c', `exec ls ${dir}`]);
      assert.deepEqual(
        listed.stdout.split('\n').filter((l) => /^\d+$/.test(l)),
        ['1'],
      );
      assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(` ${dir} `));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const allow = ['--setgroups', 'allow', '-U', 'cat', '/proc/self/setgroups'];
    assert.equal(sameAsUtilLinux(allow).stdout, 'allow\n');
  });

  test('--clear-env and --whitelist-env', () => {
    const env = { ...process.env, UL_TEST_ENV: 'foo', UL_TEST_ENV1: 'foo', UL_TEST_ENV2: 'bar' };
    assert.equal(
      ours(['--clear-env', '/bin/sh', '-c', 'echo "${UL_TEST_ENV:-CLEARED}"'], { env }).stdout,
      'CLEARED\n',
    );
    assert.equal(
      ours(
        [
          '--whitelist-env',
          'UL_TEST_ENV1,PATH',
          'sh',
          '-c',
          'echo "${UL_TEST_ENV1}${UL_TEST_ENV2}"',
        ],
        { env },
      ).stdout,
      'foo\n',
    );
  });

  test('--owner makes the given user own the new user namespace', () => {
    const child = background(['--owner', '1:1', 'sleep', '30']);
    waitFor(() => childrenOf(child.pid!).length > 0, 'the child');
    const pid = childrenOf(child.pid!)[0];
    waitFor(() => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep', 'sleep');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /Uid:\s+1\s+1\s+1\s+1/);
    assert.notEqual(nsInode(pid, 'user'), nsInode('self', 'user'));
    assert.equal(ours(['--owner', 'abc', 'true']).stderr, 'ts-unshare: failed to parse owner\n');
    killTree(child.pid!);
  });

  test('--mount-binfmt mounts binfmt_misc in a new user and mount namespace', () => {
    const r = ours(['--mount-binfmt', '-fp', 'sh', '-c', 'ls /proc/sys/fs/binfmt_misc']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /register/);
  });
});

describe('binfmt_misc and help layout', () => {
  test('--load-interp registers an interpreter in the namespace binfmt_misc', () => {
    const r = ours([
      '-r',
      '--load-interp=:tsx:E::tstx::/bin/sh:',
      '-fp',
      'cat',
      '/proc/sys/fs/binfmt_misc/tsx',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^enabled\ninterpreter \/bin\/sh\n/);
  });

  test('--help lays the namespace options out exactly as util-linux does', () => {
    const block = (text: string) => text.split('\n').filter((l) => /^ -[muinpUCT], /.test(l));
    assert.deepEqual(block(ours(['--help']).stdout), block(theirs(['--help']).stdout));
  });
});

/**
 * Starts ts-unshare with a child in the background and returns once the tool
 * has become the native waiter and its child runs `program`.
 */
function startWaiting(args: string[], program = 'sleep') {
  const tool = background(args);
  const pid = tool.pid!;
  const isWaiter = () =>
    existsSync(`/proc/${pid}/exe`) && readlinkSync(`/proc/${pid}/exe`).endsWith('ns-waiter');
  // Ready once SIGINT (bit 1) and SIGTERM (bit 14) are blocked or caught: until then they are ignored.
  const handlesSignals = () => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mask = (name: string) => BigInt('0x' + new RegExp(`${name}:\\s+(\\w+)`).exec(status)![1]);
    return ((mask('SigBlk') | mask('SigCgt')) & 0x4002n) === 0x4002n;
  };
  const kid = () => childrenOf(pid)[0];
  waitFor(
    () =>
      isWaiter() &&
      handlesSignals() &&
      kid() !== undefined &&
      readFileSync(`/proc/${kid()}/comm`, 'utf8').trim() === program,
    `the waiter and ${program}`,
  );
  return { tool, pid, kid: kid() };
}

describe('the waiting parent', () => {
  test('is the native waiter, not a Node runtime, and stays under 4 MiB', () => {
    const { pid, kid } = startWaiting(['-fp', '--mount-proc', 'sleep', '30']);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    assert.ok(rss < 4096, `VmRSS ${rss} KiB`);
    assert.notEqual(nsInode(kid, 'pid'), nsInode('self', 'pid'));
    killTree(pid);
  });

  test("SIGINT and SIGTERM do not stop it; the exit code is the child's", async () => {
    const { tool, pid } = startWaiting(['-f', 'sh', '-c', 'sleep 1; exit 3'], 'sh');
    process.kill(pid, 'SIGINT');
    process.kill(pid, 'SIGTERM');
    assert.equal((await exited(tool)).code, 3);
  });

  test('--forward-signals passes SIGTERM on; the tool dies by the same signal', async () => {
    // PID 1 of the new namespace records what it receives, and leaves with 7
    const inPidns = startWaiting(
      ['-fp', '--forward-signals', 'sh', '-c', 'trap "echo TERM; exit 7" TERM; sleep 30 & wait'],
      'sh',
    );
    const printed = output(inPidns.tool); // read from now: unread output is dropped at exit
    waitFor(() => childrenOf(inPidns.kid).length > 0, 'the trap to be set');
    process.kill(inPidns.pid, 'SIGTERM');
    const end = await exited(inPidns.tool);
    assert.equal(end.code, 7);
    assert.equal(await printed, 'TERM\n');
    const plain = startWaiting(['--forward-signals', 'sleep', '30']);
    process.kill(plain.pid, 'SIGTERM');
    assert.equal((await exited(plain.tool)).signal, 'SIGTERM');
  });

  test('--kill-child: the child dies with the tool; without it the child outlives the tool', async () => {
    const killing = startWaiting(['--kill-child=term', 'sleep', '30']);
    process.kill(killing.pid, 'SIGKILL');
    await exited(killing.tool);
    waitFor(() => !alive(killing.kid), 'the child to die');
    const other = startWaiting(['-f', 'sleep', '30']);
    process.kill(other.pid, 'SIGKILL');
    await exited(other.tool);
    assert.ok(alive(other.kid));
    process.kill(other.kid, 'SIGKILL');
  });
});
