/**
 * The namespace half of spawn() against util-linux: the same scenario
 * through unshare or nsenter and through the library, compared as a program
 * inside sees it (maps, hostname, /proc, namespace inodes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cp from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { NAMESPACE_TYPES, spawn, spawnSync, type NsSpawnOptions } from '@ns/syscalls';

const has = (tool: string) => cp.spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** What a program prints, through spawn() (async: it may need the parent's work). */
function output(file: string, args: string[], options: NsSpawnOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
  });
}

const util = (args: string[]) => {
  const r = cp.spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

const SHOW_IDS = 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -g';

test('as unshare -r: root inside is us, setgroups denied', { skip: !has('unshare') }, async () => {
  const theirs = util(['unshare', '-r', 'sh', '-c', SHOW_IDS]);
  const ours = await output('sh', ['-c', SHOW_IDS], { mapRootUser: true });
  assert.equal(ours, theirs);
  const sync = spawnSync('sh', ['-c', SHOW_IDS], { mapRootUser: true, encoding: 'utf8' });
  assert.equal(sync.stdout, theirs);
});

// util-linux 2.38 runs newuidmap for these even as root, which refuses
// without /etc/subuid lines for root: the maps are checked as written.
test('as unshare --map-users/--map-groups: maps of ranges, from outside', async () => {
  const ours = await output('sh', ['-c', SHOW_IDS], {
    uidMap: [{ inner: 0, outer: 100000, count: 65536 }],
    gidMap: [{ inner: 0, outer: 100000, count: 65536 }],
  });
  const sync = spawnSync('sh', ['-c', SHOW_IDS], {
    uidMap: [{ inner: 0, outer: 100000, count: 65536 }],
    gidMap: [{ inner: 0, outer: 100000, count: 65536 }],
    encoding: 'utf8',
  });
  assert.equal(sync.stdout, ours, 'spawnSync writes them through its worker');
  const map = (line: string) => line.trim().split(/\s+/).join(' ');
  const got = ours.trim().split('\n');
  assert.deepEqual(got.slice(0, 2).map(map), ['0 100000 65536', '0 100000 65536']);
  // our own ids (root outside) are not in the maps: the overflow ids inside, as with unshare
  assert.deepEqual(got.slice(2), ['allow', '65534', '65534']);
});

test(
  'as unshare -fp --mount-proc with a hostname: PID 1, its own /proc',
  { skip: !has('unshare') },
  async () => {
    const script = 'echo $$; ls /proc | grep -c "^[0-9]"; cat /proc/1/comm';
    const theirs = util(['unshare', '-fpmu', '--mount-proc', 'sh', '-c', script]);
    const ours = await output('sh', ['-c', script], {
      namespaces: ['pid', 'mnt', 'uts'],
      mountProc: true,
      init: false,
    });
    assert.equal(ours, theirs);
    const host = await output('hostname', [], { hostname: 'box' });
    assert.equal(host, 'box\n');
  },
);

test(
  'as nsenter -t PID -a: the same namespaces as the target',
  { skip: !has('nsenter') },
  async () => {
    const holder = spawn('sleep', ['30'], {
      namespaces: ['uts', 'ipc', 'net', 'mnt'],
      stdio: 'ignore',
    });
    try {
      await new Promise((r) => holder.once('spawn', r));
      const links = NAMESPACE_TYPES.filter((t) => t !== 'user')
        .map((t) => `/proc/self/ns/${t}`)
        .join(' ');
      const script = `readlink ${links}`;
      const theirs = util(['nsenter', '-t', String(holder.pid), '-a', 'sh', '-c', script]);
      const ours = await output('sh', ['-c', script], { join: { pid: holder.pid! } });
      assert.equal(ours, theirs);
      const net = `net:[${readlinkSync(`/proc/${holder.pid}/ns/net`).slice(5, -1)}]`;
      assert.ok(ours.includes(net));
    } finally {
      holder.kill('SIGKILL');
    }
  },
);
