/**
 * ts-nsenter against the real kernel: targets made by util-linux unshare, as
 * root and as nobody, each scenario also run through /usr/bin/nsenter
 * (2.38.1) wherever it supports it, comparing what a user sees.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asUtilLinux, bin, run, sh, sideBySide } from './helpers.js';
import { nsLink, startTarget, stopAllTargets, stopTarget, type Target } from './nsenter-helpers.js';

const NSENTER = '/usr/bin/nsenter';
const { ours, theirs, oursAsNobody, theirsAsNobody, sameAsUtilLinux } = sideBySide(
  'ts-nsenter',
  NSENTER,
);

after(stopAllTargets);

/** Runs fn with a target started by argv, and kills the target afterwards whatever happens. */
function withTarget<T>(argv: string[], fn: (t: Target) => T): T {
  const t = startTarget(argv);
  try {
    return fn(t);
  } finally {
    stopTarget(t);
  }
}

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

describe('entering each namespace type of a target made by unshare', () => {
  const cases: [string, string, string[]][] = [
    ['uts', '-u', ['unshare', '-u', 'sleep', '600']],
    ['ipc', '-i', ['unshare', '-i', 'sleep', '600']],
    ['net', '-n', ['unshare', '-n', 'sleep', '600']],
    ['mnt', '-m', ['unshare', '-m', 'sleep', '600']],
    ['cgroup', '-C', ['unshare', '-C', 'sleep', '600']],
    // a new time namespace applies to children only, hence --fork
    ['time', '-T', ['unshare', '-T', '--fork', 'sleep', '600']],
  ];
  for (const [file, flag, argv] of cases)
    test(`${flag} enters the target's ${file} namespace, as nsenter does`, () =>
      withTarget(argv, (t) => {
        assert.notEqual(nsLink(t.pid, file), nsLink('self', file));
        const r = sameAsUtilLinux(['-t', String(t.pid), flag, 'readlink', `/proc/self/ns/${file}`]);
        assert.equal(r.stdout.trim(), nsLink(t.pid, file));
        assert.equal(r.status, 0);
      }));

  test('the FILE form, long and attached short', () =>
    withTarget(['unshare', '-n', 'sleep', '600'], (t) => {
      const file = `/proc/${t.pid}/ns/net`;
      for (const opt of [`--net=${file}`, `-n${file}`]) {
        const r = sameAsUtilLinux([opt, 'readlink', '/proc/self/ns/net']);
        assert.equal(r.stdout.trim(), nsLink(t.pid, 'net'));
      }
    }));

  test("hostname seen inside is the target's", () =>
    withTarget(['unshare', '-u', 'sh', '-c', 'hostname ns-target; exec sleep 600'], (t) => {
      const r = sameAsUtilLinux(['-t', String(t.pid), '-u', 'hostname']);
      assert.equal(r.stdout, 'ns-target\n');
    }));

  test('without a program: the login shell ($SHELL, argv[0] "-sh") in the target\'s UTS namespace', () =>
    withTarget(['unshare', '-u', 'sh', '-c', 'hostname shell-target; exec sleep 600'], (t) => {
      const r = ours(['-t', String(t.pid), '--uts'], {
        input: 'hostname; echo $0\n',
        env: { ...process.env, SHELL: '/bin/sh' },
      });
      assert.equal(r.stdout, 'shell-target\n-sh\n');
      assert.equal(r.status, 0);
    }));

  test('--all enters every namespace the target does not share with us', () =>
    withTarget(['unshare', '-Ur', '-uinmC', '-T', '-pf', '--mount-proc', 'sleep', '600'], (t) => {
      const files = ['user', 'uts', 'ipc', 'net', 'mnt', 'cgroup', 'pid', 'time'];
      const script = files.map((f) => `readlink /proc/self/ns/${f}`).join('; ');
      const r = sameAsUtilLinux(['-t', String(t.pid), '-a', 'sh', '-c', script]);
      assert.deepEqual(
        r.stdout.trim().split('\n'),
        files.map((f) => nsLink(t.pid, f)),
      );
    }));
});

describe('PID namespaces: fork, exit status, signals', () => {
  const target = ['unshare', '-pf', '--mount-proc', 'sleep', '600'];

  test('-p forks: the program is a process of the target namespace; -F keeps our PID', () =>
    withTarget(target, (t) => {
      for (const tool of [bin('ts-nsenter'), NSENTER]) {
        const cmd = tool === NSENTER ? NSENTER : tool;
        const forked = sh(
          `${cmd} -t ${t.pid} -p -m sh -c 'readlink /proc/self/ns/pid; test -d /proc/$$ && echo own-proc'`,
        );
        assert.equal(forked.stdout, `${nsLink(t.pid, 'pid')}\nown-proc\n`, tool);
        // exec keeps the PID: the outer $$ is the tool's PID, and with -F the program's too
        const inPlace = sh(`echo $$; exec ${cmd} -t ${t.pid} -p -F sh -c 'echo $$'`);
        const [outer, inner] = inPlace.stdout.trim().split('\n');
        assert.equal(inner, outer, tool);
      }
    }));

  test('exit status and death by signal are passed on, with and without a fork', () =>
    withTarget(target, (t) => {
      for (const ns of ['-p', '-u']) {
        sameAsUtilLinux(['-t', String(t.pid), ns, 'sh', '-c', 'exit 7']);
        const r = sameAsUtilLinux(['-t', String(t.pid), ns, 'sh', '-c', 'kill -TERM $$']);
        assert.equal(r.signal, 'SIGTERM');
      }
    }));

  test('a stopped program stops the waiting parent; continuing it continues the program', async () => {
    const t = startTarget(target);
    try {
      for (const tool of [[bin('ts-nsenter')], [NSENTER]]) {
        const child = spawn(
          tool[0],
          [...tool.slice(1), '-t', String(t.pid), '-p', 'sh', '-c', 'kill -STOP $$; echo resumed'],
          {
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        let out = '';
        child.stdout!.on('data', (d) => (out += d));
        const state = () =>
          readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
        const end = Date.now() + 10_000;
        while (state() !== 'T') {
          if (Date.now() > end) {
            child.kill('SIGKILL');
            assert.fail(`${tool.at(-1)} did not stop`);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        // the waiting process is native, not a Node runtime
        if (tool.length > 1)
          assert.equal(readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim(), 'ns-waiter');
        child.kill('SIGCONT');
        const code = await new Promise((r) => child.once('exit', r));
        assert.equal(code, 0);
        assert.equal(out, 'resumed\n');
      }
    } finally {
      stopTarget(t);
    }
  });
});

describe('user namespaces and credentials', () => {
  test('root enters a user namespace last (two passes) and becomes 0/0 there', () =>
    withTarget(['unshare', '-Ur', '-u', 'sleep', '600'], (t) => {
      const r = sameAsUtilLinux([
        '-t',
        String(t.pid),
        '-U',
        '-u',
        'sh',
        '-c',
        'id -u; id -g; readlink /proc/self/ns/user /proc/self/ns/uts',
      ]);
      assert.equal(r.stdout, `0\n0\n${nsLink(t.pid, 'user')}\n${nsLink(t.pid, 'uts')}\n`);
    }));

  test('nobody enters its own user namespace first, then the rest; setgroups deny is no failure', () =>
    withTarget([...NOBODY, 'unshare', '-Ur', '-n', 'sleep', '600'], (t) => {
      assert.equal(readFileSync(`/proc/${t.pid}/setgroups`, 'utf8').trim(), 'deny');
      const args = [
        '-t',
        String(t.pid),
        '-U',
        '-n',
        'sh',
        '-c',
        'id -u; readlink /proc/self/ns/net',
      ];
      const r = oursAsNobody(args);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, `0\n${nsLink(t.pid, 'net')}\n`);
      assert.equal(r.status, 0);
      // util-linux 2.38.1 fails here: the difference is on purpose
      const u = theirsAsNobody(args);
      assert.equal(u.stderr, 'nsenter: setgroups failed: Operation not permitted\n');
      // with --preserve-credentials both work
      sameAsUtilLinux(
        ['-t', String(t.pid), '-U', '-n', '--preserve-credentials', 'id', '-u'],
        true,
      );
    }));

  test("nobody without the user namespace, or into a root process: util-linux's refusals", () =>
    withTarget([...NOBODY, 'unshare', '-Ur', '-n', 'sleep', '600'], (t) => {
      // the statuses are 2.38.1's; the words 2.41's (one setns through the pidfd)
      const net = ['-t', String(t.pid), '-n', 'true'];
      const r = oursAsNobody(net);
      assert.equal(r.status, theirsAsNobody(net).status);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /: reassociate to namespaces failed: Operation not permitted\n$/);
      withTarget(['unshare', '-u', 'sleep', '600'], (root) => {
        const uts = ['-t', String(root.pid), '-u', 'true'];
        const p = oursAsNobody(uts);
        assert.equal(p.status, theirsAsNobody(uts).status);
        assert.match(p.stderr, /: reassociate to namespaces failed: Operation not permitted\n$/);
      });
    }));

  test('-S/-G set ids; follow takes the owner of /proc/PID', () =>
    withTarget([...NOBODY, 'sleep', '600'], (t) => {
      sameAsUtilLinux(['-t', String(t.pid), '-u', '-S', '65534', '-G', '65534', 'id']);
      const r = ours([
        '-t',
        String(t.pid),
        '-u',
        '-S',
        'follow',
        '-G',
        'follow',
        'sh',
        '-c',
        'id -u; id -g',
      ]);
      assert.equal(r.stdout, '65534\n65534\n');
    }));

  test("--user-parent enters the parent of the target's user namespace", () =>
    withTarget(['unshare', '-Ur', 'unshare', '-Ur', 'sleep', '600'], (t) => {
      const r = ours(['-t', String(t.pid), '--user-parent', 'readlink', '/proc/self/ns/user']);
      // the outer unshare made the parent; both unshares exec'd, so only the kernel knows it
      assert.equal(r.status, 0, r.stderr);
      assert.notEqual(r.stdout.trim(), nsLink(t.pid, 'user'));
      assert.notEqual(r.stdout.trim(), nsLink('self', 'user'));
    }));
});

describe('root and working directories', () => {
  const target = [
    'unshare',
    '-m',
    '--propagation',
    'private',
    'sh',
    '-c',
    'mount -t tmpfs tmpfs /mnt && mkdir /mnt/sub && echo hi > /mnt/sub/f && cd /mnt/sub && exec sleep 600',
  ];
  test('-w, -W, -r and --wd=DIR as nsenter has them', () =>
    withTarget(target, (t) => {
      const p = String(t.pid);
      assert.equal(
        sameAsUtilLinux(['-t', p, '-m', '-w', 'sh', '-c', 'pwd; cat f']).stdout,
        '/mnt/sub\nhi\n',
      );
      assert.equal(sameAsUtilLinux(['-t', p, '-m', '-W/mnt', 'pwd']).stdout, '/mnt\n');
      assert.equal(sameAsUtilLinux(['-t', p, '-m', '--wd=/etc', 'pwd']).stdout, '/etc\n');
      sameAsUtilLinux(['-t', p, '-m', '-r', 'pwd'], false);
      assert.equal(sameAsUtilLinux(['-t', p, '-m', 'ls', '/mnt']).stdout, 'sub\n');
      const both = sameAsUtilLinux(['-t', p, '-w', '-W', '/x', 'true']);
      assert.equal(
        asUtilLinux(both.stderr),
        'nsenter: mutually exclusive arguments: --wdns --wd\n',
      );
    }));
});

describe('errors: util-linux messages and statuses', () => {
  const cases: string[][] = [
    ['-t', '999999', '--uts', 'true'],
    ['--net=/etc/passwd', 'true'],
    ['--net=/proc/self/ns/uts', 'true'],
    ['--net=/nonexistent', 'true'],
    ['-t', String(process.pid), '-u', '/nonexistent'],
    ['-t', String(process.pid), '-u', '/etc/passwd'],
    ['--bogus'],
    ['-a', 'true'],
    ['-u', 'true'],
    ['-t', 'abc', '-u', 'true'],
    ['-S', 'abc', 'true'],
    ['-t', String(process.pid), '-U', 'true'],
  ];
  // where util-linux 2.41+ words it otherwise than the installed 2.38.1
  const newer = new Map([
    ['-u true', 'nsenter: no target PID specified\n'],
    ['-t abc -u true', 'nsenter: invalid PID argument\n'],
    [`-t ${process.pid} -U true`, 'nsenter: reassociate to namespaces failed: Invalid argument\n'],
  ]);
  for (const args of cases)
    test(args.join(' '), () => {
      const text = newer.get(args.join(' '));
      if (text === undefined) {
        const r = sameAsUtilLinux(args);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /^nsenter: |^ts-nsenter: /);
        return;
      }
      const [r, u] = [ours(args), theirs(args)];
      assert.equal(r.status, u.status);
      assert.equal(asUtilLinux(r.stderr), text);
    });
  test('127 and 126 for a program not found or not executable', () => {
    assert.equal(ours(['-t', String(process.pid), '-u', '/nonexistent']).status, 127);
    assert.equal(ours(['-t', String(process.pid), '-u', '/etc/passwd']).status, 126);
    assert.equal(ours(['-t', String(process.pid), '-p', '/nonexistent']).status, 127);
  });
  test('-Z says clearly that SELinux is missing', (t) => {
    if (existsSync('/sys/fs/selinux/enforce'))
      return t.skip('SELinux is enabled here: this checks the message where it is not');
    const r = ours(['-Z', '-t', String(process.pid), 'true']);
    assert.equal(
      r.stderr,
      'ts-nsenter: --follow-context is not supported: SELinux is not enabled on this system\n',
    );
    assert.equal(r.status, 1);
  });
});

describe('env, join-cgroup, net-socket, PID:INODE', () => {
  test("-e takes the target's environment", () =>
    withTarget(
      ['env', '-i', 'NS_TEST_VAR=from-target', 'PATH=/usr/bin:/bin', 'sleep', '600'],
      (t) => {
        const r = ours(['-t', String(t.pid), '-u', '-e', 'env']);
        assert.equal(r.stdout, 'NS_TEST_VAR=from-target\nPATH=/usr/bin:/bin\n');
      },
    ));

  test("-c joins the target's cgroup v2 and leaves stdin alone", () => {
    // This host mounts cgroup v1 at /sys/fs/cgroup: mount cgroup2 there in a private mount namespace.
    const dir = `/sys/fs/cgroup/ts-nsenter-test-${process.pid}`;
    const script = `
      set -e
      mount -t cgroup2 none /sys/fs/cgroup
      mkdir ${dir}
      sleep 600 & T=$!
      trap 'st=$?; kill $T; wait $T || true; rmdir ${dir}; exit $st' EXIT
      echo $T > ${dir}/cgroup.procs
      echo input | "$@" -t $T -c -u sh -c 'grep "^0::" /proc/self/cgroup; cat'
      echo input | "$@" -t $T -c -p sh -c 'grep "^0::" /proc/self/cgroup; cat'
    `;
    const r = run('unshare', [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      bin('ts-nsenter'),
    ]);
    const line = `0::/${dir.split('/').pop()}\ninput\n`;
    assert.equal(r.stdout, line + line, r.stderr);
    assert.equal(r.status, 0);
  });

  test('-N enters the network namespace of a socket the target holds', () => {
    const helper = `
import ctypes, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
orig = os.open('/proc/self/ns/net', os.O_RDONLY)
assert libc.unshare(0x40000000) == 0
s = socket.socket()
os.dup2(s.fileno(), 5)
print(os.readlink('/proc/self/ns/net'), flush=True)
assert libc.setns(orig, 0x40000000) == 0
time.sleep(600)
`;
    const outFile = join(tmpdir(), `ts-nsenter-sock-${process.pid}`);
    const out = openSync(outFile, 'w');
    const child = spawn('python3', ['-c', helper], {
      stdio: ['ignore', out, 'inherit'],
      detached: true,
    });
    closeSync(out);
    try {
      let netns = '';
      const end = Date.now() + 10_000;
      while (!netns.endsWith('\n') && Date.now() < end) {
        netns = readFileSync(outFile, 'utf8');
        spawnSync('sleep', ['0.02']);
      }
      assert.notEqual(netns.trim(), nsLink(child.pid!, 'net'));
      const r = ours(['-t', String(child.pid), '-N', '5', 'readlink', '/proc/self/ns/net']);
      assert.equal(r.stdout, netns);
      const bad = ours(['-t', String(child.pid), '-N', '99', 'true']);
      assert.match(bad.stderr, /^ts-nsenter: pidfd_getfd\(\d+, 99\): Bad file descriptor\n$/);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
      rmSync(outFile, { force: true });
    }
  });

  test('PID:INODE enters only the process with that pidfd inode', () =>
    withTarget(['unshare', '-u', 'sleep', '600'], (t) => {
      const ino = run('python3', [
        '-c',
        `import os; print(os.fstat(os.pidfd_open(${t.pid})).st_ino)`,
      ]).stdout.trim();
      const good = ours(['-t', `${t.pid}:${ino}`, '-u', 'readlink', '/proc/self/ns/uts']);
      assert.equal(good.stdout.trim(), nsLink(t.pid, 'uts'));
      const bad = ours(['-t', `${t.pid}:1${ino}`, '-u', 'true']);
      assert.equal(bad.stderr, `ts-nsenter: pidfd inode 1${ino} not found for pid ${t.pid}\n`);
      assert.equal(bad.status, 1);
    }));

  test('composes with ts-nsls', () =>
    withTarget(['unshare', '-n', 'sleep', '600'], (t) => {
      const r = sh(
        `ts-nsls -t net -n -o PID | grep -x ' *${t.pid}' | xargs -I{} ts-nsenter -t {} -n ip -brief link`,
      );
      assert.equal(r.stdout.trim().split(/\s+/)[0], 'lo', r.stderr);
    }));
});
