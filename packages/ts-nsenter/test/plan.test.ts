/** Option reading and step order, without touching the kernel. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '@ns/cli';
import { OPTIONS } from '../src/options.js';
import { readRequest } from '../src/request.js';
import {
  plan as planRun,
  type EnterRequest,
  type Entered,
  type NamespaceType,
  type Resolved,
  type Source,
} from '@ns/syscalls/internal';

const request = (argv: string[]) => readRequest(parseArgs(OPTIONS, argv));

function resolved(entries: [NamespaceType, Source][], more: Partial<Entered> = {}): Resolved {
  return {
    enter: {
      entries: new Map(entries),
      pidfd: 10,
      fork: entries.some(([t]) => t === 'pid'),
      ...more,
    },
    env: [Buffer.from('PATH=/bin')],
    argv: ['true'],
    program: 'true',
    programName: 'true',
  };
}

/** The plan for a command line, as ts-nsenter makes it, for a resolved target. */
function plan(r: EnterRequest, x: Resolved) {
  x.enter.preserveCredentials = r.preserveCredentials;
  return planRun(
    { ...x, keepCaps: r.keepCaps, handOver: [] },
    { pid: 1000, uid: 0, gid: 0, threaded: true },
  );
}

test('optional FILE only attached: -n/path is a file, -n /path is the program', () => {
  assert.equal(request(['-n/run/netns/x', 'ip']).namespaces.get('net'), '/run/netns/x');
  const r = request(['-t', '1', '-n', '/bin/true']);
  assert.equal(r.namespaces.get('net'), '');
  assert.deepEqual(r.argv, ['/bin/true']);
});

test('-t PID and PID:INODE; bad ones fail like util-linux', () => {
  assert.deepEqual(request(['-t', '42', '-u']).target, { pid: 42, inode: undefined });
  assert.deepEqual(request(['-t', '42:7', '-u']).target, { pid: 42, inode: 7n });
  // util-linux 2.42's words and range: 0 and 2^31 are no PIDs, ' +5' is 5
  for (const bad of ['abc', '0', '2147483648', '42:0', '-1', '5x'])
    assert.throws(() => request(['-t', bad]), { message: 'invalid PID argument' }, bad);
  assert.equal(request(['-t', ' +5', '-u']).target?.pid, 5);
  assert.throws(() => request(['-S', 'x']), { message: "failed to parse uid: 'x'" });
  assert.equal(request(['-S', 'follow']).setuid, 'follow');
  assert.throws(() => request(['-w', '-W', '/x']), {
    message: 'mutually exclusive arguments: --wdns --wd',
  });
});

test('two passes: the pidfd mask without user, then what is left with user, then the files', () => {
  const p = plan(
    request(['-t', '1', '-U', '-u', '-n']),
    resolved([
      ['user', 'pidfd'],
      ['uts', 'pidfd'],
      ['net', { fd: 5, name: 'ns/net' }],
    ]),
  );
  const ops = p.steps.map((s) => s.op);
  assert.deepEqual(ops.slice(0, 6), [
    'setgroups',
    'setns-soft',
    'setns-soft',
    'setns-mask',
    'setns-retry',
    'setgroups',
  ]);
  assert.equal(p.child, true);
  const soft = p.steps[1] as { fd: number; nstype: number };
  assert.deepEqual([soft.fd, soft.nstype], [10, 0x04000000]); // uts only: user waits for pass 2
  // pass 2 through the pidfd: user always, uts again if it failed; one message, as 2.41+
  assert.deepEqual(p.steps[3], {
    op: 'setns-mask',
    fd: 10,
    always: 0x10000000,
    extra: 0x04000000,
    slot: 0,
    what: 'reassociate to namespaces failed',
  });
  assert.equal(p.steps[4].what, "reassociate to namespace 'ns/net' failed");
  // credentials default to 0/0 in a user namespace
  assert.ok(p.steps.some((s) => s.op === 'setresuid' && s.uid === 0));
});

test('in place when allowed; a child for user, time, or a PID namespace without -F', () => {
  assert.equal(plan(request(['-t', '1', '-u']), resolved([['uts', 'pidfd']])).child, false);
  assert.equal(plan(request(['-t', '1', '-T']), resolved([['time', 'pidfd']])).child, true);
  const pid = plan(request(['-t', '1', '-p']), resolved([['pid', 'pidfd']]));
  assert.equal(pid.child, true);
  assert.ok(pid.steps.some((s) => s.op === 'fork-sibling'));
  const noFork = plan(
    request(['-t', '1', '-p', '-F']),
    resolved([['pid', 'pidfd']], { fork: false }),
  );
  assert.equal(noFork.child, false);
  // a mount namespace in place needs this thread's own fs_struct first
  const mnt = plan(request(['-t', '1', '-m']), resolved([['mnt', 'pidfd']]));
  assert.deepEqual(mnt.steps[0], { op: 'unshare', flags: 0x200, what: 'unshare failed' });
});

test('-r without -w keeps the current directory; --preserve-credentials sets no ids', () => {
  const p = plan(
    request(['-t', '1', '-U', '--preserve-credentials']),
    resolved([['user', 'pidfd']], { rootFd: 7 }),
  );
  const ops = p.steps.map((s) => s.op);
  assert.deepEqual(ops.slice(0, 6), [
    'setns-mask',
    'open-wd',
    'fchdir',
    'chroot-dot',
    'chdir',
    'fchdir-wd',
  ]);
  assert.ok(!ops.includes('setresuid') && !ops.includes('setgroups'));
});

test('-W takes its directory attached only, as util-linux 2.41+', () => {
  const apart = request(['-t', '1', '-m', '-W', '/x', 'prog']);
  assert.equal(apart.wdns, undefined);
  assert.deepEqual(apart.argv.map(String), ['/x', 'prog']);
  assert.equal(request(['-t', '1', '-m', '-W/x', 'prog']).wdns, '/x');
  assert.equal(request(['-t', '1', '-m', '--wdns==/x', 'prog']).wdns, '/x');
});
