/** The option-to-plan logic of ts-unshare, without running anything. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '@ns/cli';
import {
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWTIME,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  callerState,
  nodeCaller,
  plan,
} from '@ns/syscalls/internal';
import { OPTIONS } from '../src/options.js';
import { readRequest } from '../src/request.js';
import { parseRange } from '../src/idmap.js';
import { parseSignal } from '../src/signals.js';

const planOf = (...argv: string[]) =>
  plan(readRequest(parseArgs(OPTIONS, argv), callerState(), nodeCaller()), nodeCaller());
const ops = (p: ReturnType<typeof planOf>) => p.steps.map((s) => s.op);

test('-u alone runs in place: unshare and exec in this thread', () => {
  const p = planOf('-u', 'hostname');
  assert.equal(p.child, false);
  assert.equal(p.cloneFlags, 0);
  assert.deepEqual(p.steps[0], { op: 'unshare', flags: CLONE_NEWUTS, what: 'unshare failed' });
  assert.deepEqual(ops(p), ['unshare', 'keep-fd', 'keep-fd', 'keep-fd', 'signal-state', 'exec']);
});

test('-fp --mount-proc clones into new PID and mount namespaces, private / then proc', () => {
  const p = planOf('-fp', '--mount-proc', 'sh');
  assert.equal(p.child, true);
  assert.equal(p.cloneFlags, CLONE_NEWPID | CLONE_NEWNS);
  const mounts = p.steps
    .filter((s) => s.op === 'mount')
    .map((s) => (s as { target: string }).target);
  assert.deepEqual(mounts, ['/', '/proc']);
});

test('-r: a child in a new user namespace, maps 0 to our ids, setgroups denied', () => {
  const p = planOf('-r', 'id');
  assert.equal(p.child, true);
  assert.equal(p.cloneFlags, CLONE_NEWUSER);
  assert.deepEqual(p.parent.uidMap, [{ inner: 0, outer: process.geteuid!(), count: 1 }]);
  assert.equal(p.parent.setgroups, 'deny');
  assert.ok(ops(p).includes('sync-parent'));
});

test('the time namespace is unshared in the child so offsets can be written first', () => {
  const p = planOf('-T', '--monotonic', '5', '-f', 'true');
  assert.equal(p.cloneFlags & CLONE_NEWTIME, 0);
  assert.deepEqual(ops(p).slice(0, 2), ['unshare', 'write-file']);
});

test('the last of -r, -c and --map-user wins', () => {
  assert.deepEqual(planOf('-r', '--map-user=5', 'true').parent.uidMap, [
    { inner: 5, outer: process.geteuid!(), count: 1 },
  ]);
  assert.deepEqual(planOf('--map-user=5', '-r', 'true').parent.uidMap, [
    { inner: 0, outer: process.geteuid!(), count: 1 },
  ]);
});

test('ranges: colon and legacy comma forms, keywords, errors', () => {
  assert.deepEqual(parseRange('1:100000:10'), { inner: 1, outer: 100000, count: 10 });
  assert.deepEqual(parseRange('100000,1,10'), { inner: 1, outer: 100000, count: 10 });
  assert.equal(parseRange('auto'), 'auto');
  assert.throws(() => parseRange('1:2'), /invalid mapping '1:2'/);
});

test('signal names as util-linux takes them', () => {
  assert.equal(parseSignal('SIGKILL'), 9);
  assert.equal(parseSignal('term'), 15);
  assert.equal(parseSignal('RTMIN+2'), 36);
  assert.equal(parseSignal('rtmax-1'), 63);
  assert.throws(() => parseSignal('9'), /unknown signal: 9/);
  assert.throws(() => parseSignal('FOO'), /unknown signal: FOO/);
});

test('short namespace options take no file; the long ones take it attached', () => {
  const p = parseArgs(OPTIONS, ['-uin', '--net=/run/x', 'true']);
  assert.deepEqual(p.options, { uts: '', ipc: '', net: '/run/x' });
});

test('a single mapping beside ranges: cut on both sides, as util-linux 2.42', () => {
  const me = nodeCaller();
  const maps = (...argv: string[]) =>
    plan(readRequest(parseArgs(OPTIONS, [...argv, 'true']), callerState(), me), me).parent.uidMap;
  // root: 1000 inside is us (0) outside; the range steps over 1000 inside and 0 outside
  if (me.uid === 0)
    assert.deepEqual(maps('--map-user=1000', '--map-users=0:0:65536'), [
      { inner: 1000, outer: 0, count: 1 },
      { inner: 0, outer: 1, count: 1000 },
      { inner: 1001, outer: 1001, count: 64535 },
    ]);
  // a range away from both ids keeps its count; one the single id touches
  // loses one, and steps over it (--map-auto -r: 1 100000 65535 in 2.42)
  assert.deepEqual(maps('-r', '--map-users=1:100000:1000'), [
    { inner: 0, outer: me.uid, count: 1 },
    { inner: 1, outer: 100000, count: 1000 },
  ]);
  assert.deepEqual(maps('-r', '--map-users=0:100000:1000'), [
    { inner: 0, outer: me.uid, count: 1 },
    { inner: 1, outer: 100000, count: 999 },
  ]);
});
