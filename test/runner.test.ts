/**
 * The step runner and the waiter, through the built tools: no privilege step
 * skipped, no process lost when the tool dies or its waiter cannot start,
 * options read as util-linux's getopt loop reads them, util-linux's messages.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  bin,
  comm,
  inPrivateMounts,
  processesRunning,
  run,
  sideBySide,
  sleepMs,
  waitFor,
  wordLines,
} from './helpers.js';
import { startTarget, stopAllTargets, type Target } from './nsenter-helpers.js';

const unshare = sideBySide('ts-unshare', '/usr/bin/unshare');
const nsenter = sideBySide('ts-nsenter', '/usr/bin/nsenter');

/** The mount points of this mount namespace. */
const mountPoints = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4]);

const running = processesRunning;

let dir: string;
let target: Target;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ts-runner-'));
  target = startTarget(['/usr/bin/unshare', '-Ur', '--fork', '-u', 'sleep', '600']);
});
after(() => {
  stopAllTargets();
  rmSync(dir, { recursive: true, force: true });
});

describe('privilege steps are never skipped', () => {
  test('uid or gid 4294967295 (-1 to the kernel, "unchanged") fails, in place and in a child', () => {
    for (const args of [
      ['-S', '4294967295'],
      ['-G', '4294967295'],
      ['-f', '-S', '4294967295'],
    ]) {
      const r = unshare.ours([...args, 'id', '-u']);
      const option = args.includes('-S') ? 'setuid' : 'setgid';
      assert.deepEqual(
        { stdout: r.stdout, stderr: r.stderr, status: r.status },
        // util-linux says "setuid failed"; we keep its newest spelling, "setuid() failed"
        { stdout: '', stderr: `ts-unshare: ${option}() failed: Invalid argument\n`, status: 1 },
      );
      const theirs = unshare.theirs([...args, 'id', '-u']);
      assert.equal(theirs.status, 1);
      assert.match(theirs.stderr, new RegExp(`^unshare: ${option} failed: Invalid argument\n$`));
    }
    const n = nsenter.ours(['-t', String(target.pid), '-u', '-S', '4294967295', 'id', '-u']);
    assert.equal(n.stderr, 'ts-nsenter: setuid() failed: Invalid argument\n');
    assert.equal(n.status, 1);
  });

  test('and the binds made before the failing step are undone', () => {
    for (const fork of [[], ['-f']]) {
      const file = join(dir, `uts${fork.length}`);
      writeFileSync(file, '');
      const r = unshare.ours([...fork, `--uts=${file}`, '-S', '4294967295', 'true']);
      assert.equal(r.status, 1, r.stderr);
      assert.ok(!mountPoints().includes(file), `${file} is still bound`);
    }
  });
});

describe('no process is lost', () => {
  test('--kill-child with --owner and -p: the program dies with the tool (it outlives the relay fork)', async () => {
    for (const extra of [['--owner', '65534:65534'], ['-S', '65534'], []]) {
      const argv = ['sleep', `${30 + extra.length}.5`];
      const tool = spawn(bin('ts-unshare'), ['-fp', '--kill-child', ...extra, ...argv], {
        stdio: 'ignore',
      });
      waitFor(() => running(argv).length === 1 && comm(tool.pid!) === 'ts-unshare', 'the program');
      process.kill(tool.pid!, 'SIGKILL');
      await new Promise((r) => tool.once('exit', r));
      waitFor(() => running(argv).length === 0, `${extra.join(' ')}: the program to die`);
    }
  });

  test('a waiter that cannot be started: one line, status 126, and the program is killed', (t) => {
    // a copy of the built tool whose ns-waiter is not executable, inside the tree so koffi resolves
    const dist = dirname(bin('ts-unshare'));
    const copy = mkdtempSync(join(dist, '..', '.no-waiter-'));
    t.after(() => rmSync(copy, { recursive: true, force: true }));
    cpSync(dist, copy, { recursive: true });
    chmodSync(join(copy, 'ns-waiter'), 0o644);
    const argv = ['sleep', '41.5'];
    const r = run(join(copy, 'ts-unshare'), ['-f', ...argv]);
    assert.equal(r.status, 126);
    assert.match(r.stderr, /^ts-unshare: failed to execute ns-waiter: Permission denied\n$/);
    sleepMs(100);
    assert.deepEqual(running(argv), []);
  });

  test('SIGKILL of the tool at any moment of -fp --mount-proc --kill-child leaves no process', async () => {
    for (let i = 0; i < 20; i++) {
      const argv = ['sleep', `51.${i}`];
      const tool = spawn(
        bin('ts-unshare'),
        [
          '-fp',
          '--mount-proc',
          '--kill-child',
          ...(i % 2 ? ['--owner', '65534:65534'] : []),
          ...argv,
        ],
        { stdio: 'ignore' },
      );
      sleepMs(Math.floor(Math.random() * 80));
      tool.kill('SIGKILL');
      await new Promise((r) => tool.once('exit', r));
      waitFor(() => running(argv).length === 0, `run ${i}: the program to die`);
    }
  });
});

describe('options as util-linux reads them', () => {
  test('each value is checked as it is read; --help ends the parse', () => {
    unshare.sameAsUtilLinux(['-S', 'nope', '-S', '0', 'true']);
    unshare.sameAsUtilLinux(['-S', '0', '-S', 'nope', 'true']);
    unshare.sameAsUtilLinux(['--kill-child=', 'true']);
    unshare.sameAsUtilLinux(['--kill-child=nope', 'true']);
    unshare.sameAsUtilLinux(['--bogus', '--help']);
    unshare.sameAsUtilLinux(['-S', 'nope', '--help']);
    const help = unshare.ours(['--help', '--bogus', '-S', 'nope']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^\nUsage:\n ts-unshare /);
    // the first bad value ends the parse; its words are 2.42's (2.38.1: "failed to parse pid")
    const bad = nsenter.ours(['-t', 'x', '-t', '1', '-u', 'true']);
    assert.equal(bad.status, nsenter.theirs(['-t', 'x', '-t', '1', '-u', 'true']).status);
    assert.match(bad.stderr, /^\S*nsenter: invalid PID argument\n$/);
    const nsHelp = nsenter.ours(['-h', '-t', 'x']);
    assert.equal(nsHelp.status, 0);
  });

  test("ts-nsls: -t '' and --tree= are errors; absurd -Q nesting is a one-line parse error", () => {
    const nsls = (args: string[]) => run(bin('ts-nsls'), args);
    const lsns = (args: string[]) => run('/usr/bin/lsns', args);
    for (const args of [['-t', ''], ['--tree='], ['-t', 'uts', '-t', 'bogus']]) {
      const [a, b] = [nsls(args), lsns(args)];
      assert.deepEqual({ ...a, stderr: a.stderr.replace('ts-nsls', 'lsns') }, b, args.join(' '));
    }
    const deep = nsls(['-Q', '('.repeat(100_000)]);
    assert.equal(deep.status, 1);
    assert.match(deep.stderr, /^ts-nsls: failed to parse "\(+": nesting deeper than \d+\n$/);
  });
});

describe("util-linux's messages", () => {
  test('a refused clone is "unshare failed"', () => {
    const r = unshare.oursAsNobody(['-f', '-u', 'true']);
    assert.equal(r.stderr, 'ts-unshare: unshare failed: Operation not permitted\n');
    assert.equal(r.status, 1);
  });

  test('a full disk is "write error: No space left on device", as lsns says', () => {
    for (const [tool, args] of [
      [bin('ts-nsls'), []],
      [bin('ts-unshare'), ['--help']],
    ] as const) {
      const r = run('sh', ['-c', '"$0" "$@" > /dev/full', tool, ...args]);
      assert.equal(r.status, 1, tool);
      assert.match(r.stderr, /^ts-\w+: write error: No space left on device\n$/);
    }
    // util-linux's words (its --help: output that never depends on what runs meanwhile)
    assert.equal(
      run('sh', ['-c', 'lsns --help > /dev/full']).stderr,
      'lsns: write error: No space left on device\n',
    );
  });
});

describe('users and groups through the name service', () => {
  test('a user only nsswitch.conf knows of (not in /etc/passwd): --map-user, --map-group and USER', (t) => {
    const module = [
      '/usr/lib/libnss_extrausers.so.2',
      '/usr/lib/x86_64-linux-gnu/libnss_extrausers.so.2',
    ];
    if (!module.some((m) => existsSync(m)))
      return t.skip('libnss_extrausers is not installed: apt-get install libnss-extrausers');
    // In a private mount namespace: an nsswitch.conf that adds the extrausers
    // database, and alice in it. The host's files are not touched.
    const nss = mkdtempSync(join(tmpdir(), 'ts-nss-'));
    t.after(() => rmSync(nss, { recursive: true, force: true }));
    writeFileSync(
      join(nss, 'nsswitch.conf'),
      'passwd: files extrausers\ngroup: files extrausers\n',
    );
    writeFileSync(join(nss, 'passwd'), 'alice:x:4242:4343:Alice:/nonexistent:/bin/false\n');
    writeFileSync(join(nss, 'group'), 'wonderland:x:4343:\n');
    const withAlice = (argv: string[]) =>
      inPrivateMounts(
        `mount --bind ${nss}/nsswitch.conf /etc/nsswitch.conf && mount -t tmpfs none /var/lib &&
         mkdir /var/lib/extrausers && cp ${nss}/passwd ${nss}/group /var/lib/extrausers/`,
        argv,
      );
    assert.doesNotMatch(readFileSync('/etc/passwd', 'utf8'), /^alice:/m);
    const maps = [
      '--map-user=alice',
      '--map-group=wonderland',
      'cat',
      '/proc/self/uid_map',
      '/proc/self/gid_map',
    ];
    const ours = withAlice([bin('ts-unshare'), ...maps]);
    assert.equal(ours.status, 0, ours.stderr);
    assert.deepEqual(wordLines(ours.stdout), ['4242 0 1', '4343 0 1']);
    assert.equal(ours.stdout, withAlice(['/usr/bin/unshare', ...maps]).stdout);
    // a process of uid 4242 alone in a uts namespace: the owner ts-nsls and lsns name
    const script = (tool: string) =>
      `unshare -u setpriv --reuid=4242 --regid=4343 --clear-groups sleep 30 & p=$!; until [ "$(stat -c %u /proc/$p)" = 4242 ]; do sleep 0.05; done; ${tool} -n -o USER -t uts -p $p; kill $p`;
    const user = withAlice(['sh', '-c', script(bin('ts-nsls'))]);
    assert.equal(user.stdout, 'alice\n', user.stderr);
    assert.equal(user.stdout, withAlice(['sh', '-c', script('lsns')]).stdout);
  });
});
