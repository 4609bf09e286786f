/** listNamespaces: what it lists, and what it leaves behind, checked from outside. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { once } from 'node:events';
import { listNamespaces, listNamespacesSync, type NamespaceRecord } from '@ns/syscalls';

const hasPython = spawnSync('python3', ['-c', '0']).status === 0;

/** This process's descriptors and what each points to ("3 -> net:[4026532291]"). */
function openFds(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push(`${fd} -> ${readlinkSync(`/proc/self/fd/${fd}`)}`);
    } catch {
      // the descriptor readdir itself used, closed by now
    }
  }
  return out.sort();
}

/**
 * A process whose socket holds a network namespace no process is in: it
 * makes the namespace, opens a socket there, goes back to ours and waits.
 * Resolves to the process and that namespace's inode.
 */
async function socketHolder(): Promise<{ child: ChildProcess; inode: number }> {
  const script = [
    'import ctypes, os, socket, sys',
    'libc = ctypes.CDLL(None, use_errno=True)',
    "ours = os.open('/proc/self/ns/net', os.O_RDONLY)",
    'assert libc.unshare(0x40000000) == 0',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    "inode = os.stat('/proc/self/ns/net').st_ino",
    'assert libc.setns(ours, 0x40000000) == 0',
    'os.close(ours)',
    'print(inode, flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, inode: Number(String(line).trim()) };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

test(
  'a network namespace held only by a socket: listed, and neither a descriptor nor the namespace kept after',
  { skip: !hasPython && 'python3 is not installed (apt-get install python3)' },
  async (t) => {
    await listNamespaces(); // koffi and the libraries loaded, as by any earlier call
    const { child, inode } = await socketHolder();
    t.after(() => kill(child));
    assert.notEqual(readlinkSync('/proc/self/ns/net'), `net:[${inode}]`);
    const before = openFds();
    const ours = () => openFds().filter((fd) => fd.endsWith(` -> net:[${inode}]`));

    const listed = (await listNamespaces()).find((n) => n.ns === inode);
    assert.deepEqual(listed && { type: listed.type, nprocs: listed.nprocs, pid: listed.pid }, {
      type: 'net',
      nprocs: 0,
      pid: null,
    });
    assert.deepEqual(ours(), [], 'no descriptor of ours holds the namespace');
    assert.deepEqual(openFds(), before, 'every descriptor the call opened is closed');
    assert.equal(listNamespacesSync().find((n) => n.ns === inode)?.nprocs, 0);
    assert.deepEqual(openFds(), before, 'nor by the synchronous call');

    // with its holder gone, the namespace is gone: nothing on the machine (us included) holds it
    await kill(child);
    assert.equal(
      (await listNamespaces()).find((n) => n.ns === inode),
      undefined,
      `net:[${inode}] still held`,
    );
    assert.deepEqual(ours(), []);
  },
);

/** Processes each in a UTS namespace of its own, with a command line of its own: `sleep 3600.K`. */
async function utsHolders(n: number) {
  const holders = Array.from({ length: n }, (_, k) => {
    const child = spawn('unshare', ['-u', 'sleep', `3600.${k}`], { stdio: 'ignore' });
    return { child, command: `sleep 3600.${k}` };
  });
  const ready = async ({ child, command }: (typeof holders)[number]) => {
    // unshare runs sleep in its own place, as the same process
    for (let i = 0; i < 500; i++) {
      try {
        if (
          readFileSync(`/proc/${child.pid}/cmdline`, 'utf8') ===
          command.replace(' ', '\0') + '\0'
        )
          return;
      } catch {
        // not there yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${command} did not start`);
  };
  await Promise.all(holders.map(ready));
  return holders.map(({ child, command }): { child: ChildProcess; record: NamespaceRecord } => ({
    child,
    record: {
      ns: Number(/\d+/.exec(readlinkSync(`/proc/${child.pid}/ns/uts`))![0]),
      type: 'uts',
      nprocs: 1,
      pid: child.pid!,
      uid: 0,
      user: 'root',
      command,
      pids: [child.pid!],
    },
  }));
}

test('calls at once, and the synchronous one, each list what they were asked, as if alone', async (t) => {
  const holders = await utsHolders(3);
  t.after(() => Promise.all(holders.map(({ child }) => kill(child))));
  const expected = holders.map((h) => h.record);
  const ours = (list: NamespaceRecord[]) => expected.map((e) => list.find((r) => r.ns === e.ns));
  const utsOfHost = readlinkSync('/proc/self/ns/uts');

  const calls = () => [
    listNamespaces(),
    listNamespaces({ types: ['uts'] }),
    listNamespaces({ pid: holders[1].child.pid }),
    listNamespaces({ types: ['net', 'mnt'] }),
  ];
  for (let round = 0; round < 4; round++) {
    const [all, uts, one, netMnt] = await Promise.all(calls());
    assert.deepEqual(ours(all), expected);
    assert.deepEqual(ours(uts), expected);
    assert.ok(uts.every((r) => r.type === 'uts'));
    // the holder's own uts namespace, and the host's other seven it shares
    assert.deepEqual(
      one.find((r) => r.type === 'uts'),
      expected[1],
    );
    assert.equal(one.length, 8);
    assert.ok(one.every((r) => r.pids.includes(holders[1].child.pid!)));
    assert.ok(netMnt.every((r) => r.type === 'net' || r.type === 'mnt'));
    assert.ok(netMnt.some((r) => r.pids.includes(holders[0].child.pid!)));
  }
  const sync = listNamespacesSync({ types: ['uts'] });
  assert.deepEqual(ours(sync), expected);
  assert.ok(sync.some((r) => `uts:[${r.ns}]` === utsOfHost));
  assert.deepEqual(
    listNamespacesSync({ pid: holders[2].child.pid }).find((r) => r.type === 'uts'),
    expected[2],
  );
});

test('the event loop takes turns while listNamespaces() reads /proc', async () => {
  let turns = 0;
  let done = false;
  const turn = () => {
    if (done) return;
    turns++;
    setImmediate(turn);
  };
  setImmediate(turn);
  const list = await listNamespaces();
  done = true;
  assert.ok(list.some((r) => `${r.type}:[${r.ns}]` === readlinkSync('/proc/self/ns/net')));
  assert.ok(turns > 0, 'the call held the event loop from start to end');
});
