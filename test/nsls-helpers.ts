/** Namespaces for the ts-nsls tests to find, made with util-linux and iproute2, and removed again. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export function inode(pid: number, type: string): number {
  return Number(readlinkSync(`/proc/${pid}/ns/${type}`).replace(/\D/g, ''));
}

/** Everything a test made, undone in reverse order even when the test fails. */
export class Scene {
  private undo: (() => void)[] = [];
  private procs: ChildProcess[] = [];

  /** Starts a command in its own process group, killed as a group at cleanup. */
  start(argv: string[], stdio: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
    const child = spawn(argv[0], argv.slice(1), {
      detached: true,
      stdio: ['ignore', stdio, 'ignore'],
    });
    this.procs.push(child);
    this.undo.push(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    });
    return child;
  }

  /** Runs a setup command that must succeed, and registers how to undo it. */
  must(argv: string[], undo?: string[]): void {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
    if (undo) this.undo.push(() => spawnSync(undo[0], undo.slice(1)));
  }

  file(path: string): string {
    writeFileSync(path, '');
    this.undo.push(() => rmSync(path, { force: true }));
    return path;
  }

  cleanup(): void {
    for (const u of this.undo.reverse()) u();
    this.undo = [];
  }
}

/** Waits until pid's namespace of type differs from ours (the unshare/exec has happened). */
export async function settled(pid: number, type: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    try {
      const ino = inode(pid, type);
      if (ino !== inode(process.pid, type)) return ino;
    } catch {
      /* not yet */
    }
    await sleep(20);
  }
  throw new Error(`process ${pid} did not enter a new ${type} namespace`);
}

/** The first child of pid (e.g. the sleep behind an `unshare -f`). */
export async function childOf(pid: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      if (kids) return Number(kids.split(' ')[0]);
    } catch {
      /* not yet */
    }
    await sleep(20);
  }
  throw new Error(`process ${pid} has no child`);
}

/** Reads the first line a child prints. */
export function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.split('\n')[0]);
    });
    child.on('exit', () => reject(new Error('helper exited early')));
  });
}
