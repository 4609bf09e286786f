/** listNamespaces: what it lists, and what it leaves behind, checked from outside. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { once } from 'node:events';
import { listNamespaces } from '@ns/syscalls';

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
