/**
 * The /proc scan, run by the main thread and (on a busy machine) one worker
 * thread side by side. Nearly all of a scan is kernel time in system calls
 * on other processes' /proc directories, which two threads do in parallel
 * (lsns is single-threaded).
 *
 * The scan has three lanes of work over the list of tasks: namespace links,
 * descriptors, and PPID/UID/COMMAND. Each lane is cut into chunks that a
 * thread claims with an atomic counter. The main thread starts at once; the
 * worker joins when it has booted (some 30 ms later) and takes whatever is
 * left. The worker sends its chunks' results through a MessagePort that the
 * main thread drains synchronously (receiveMessageOnPort) once every chunk is
 * done, so the main thread never waits for the worker's start-up: if it has
 * claimed everything by then, the worker finds nothing to do.
 *
 * The threads take the lanes in different orders: reading descriptor links
 * from two threads at once is slow, because the processes of a busy machine
 * share many open files (inherited stdio) and both threads then fight over
 * the same file's reference count in the kernel.
 *
 * PPID/UID/COMMAND are only needed for the processes the rows show (the
 * lowest PID of each namespace), which are known once the links are read. A
 * lane for them is worth it only with a worker: it then reads them for every
 * task, in parallel with the rest; without a worker the caller reads them
 * later for the processes shown.
 *
 * The worker runs this same bundle (cli.ts asks isScanWorker() first).
 */
import { fileURLToPath } from 'node:url';
import {
  MessageChannel,
  Worker,
  isMainThread,
  receiveMessageOnPort,
  workerData,
  type MessagePort,
} from 'node:worker_threads';
import { NS_GONE, ProcScanner, type HeldFd } from '@ns/syscalls';
import { TYPES } from './types.js';

/** Tasks per claim: a millisecond or two of work, small enough for an even split. */
const CHUNK = 32;

/** With fewer tasks than this a worker costs more than it saves. */
const WORKER_MIN_TASKS = 600;

const NS_LANE = 0; // namespace links
const FD_LANE = 1; // descriptors
const INFO_LANE = 2; // PPID, UID, COMMAND
const LANES = 3;
const MAIN_ORDER = [NS_LANE, FD_LANE, INFO_LANE];
const WORKER_ORDER = [INFO_LANE, FD_LANE, NS_LANE];

// control words in the shared Int32Array
const STATE = 0; // 1 while the scan runs, 2 after: the worker waits on it
const PARAM = 1; // bit t: TYPES[t]; WANT_* bits
const DONE = 2; // tasks finished, all lanes
const LEN = 4; // + lane: the lane's length in tasks
const NEXT = 8; // + lane: its next unclaimed index
const CTL_WORDS = 12;

const WANT_PPID = 1 << 16;
const WANT_UID = 1 << 17;
const WANT_COMMAND = 1 << 18;

type Chunk =
  | {
      lane: typeof NS_LANE;
      start: number;
      /** TYPES.length inodes per task: > 0, or 0 (unknown) */
      ns: Float64Array;
      /** 0 for a task that has gone */
      alive: Uint8Array;
    }
  | {
      lane: typeof FD_LANE;
      /** [index, descriptors] of the processes that hold namespaces or sockets by descriptor */
      held: [number, readonly HeldFd[]][];
    }
  | {
      lane: typeof INFO_LANE;
      start: number;
      ppid: Float64Array;
      uid: Float64Array;
      command: (string | undefined)[];
    }
  | { lane: -1; error: string };

interface Shared {
  ctl: Int32Array;
  /** pid, tgid pairs */
  tasks: Int32Array;
}

export function taskDir(pid: number, tgid: number): string {
  return pid === tgid ? `/proc/${pid}` : `/proc/${tgid}/task/${pid}`;
}

let scanner: ProcScanner | undefined;

/** This thread's reader of /proc (one per thread: it keeps buffers and caches). */
export function threadScanner(): ProcScanner {
  return (scanner ??= new ProcScanner());
}

/** Does one chunk of a lane: the same code in both threads. */
function runChunk(sh: Shared, lane: number, start: number, end: number): Chunk {
  const sc = threadScanner();
  const param = Atomics.load(sh.ctl, PARAM);
  const tasks = sh.tasks;
  const n = end - start;
  try {
    if (lane === NS_LANE) {
      const T = TYPES.length;
      const ns = new Float64Array(n * T);
      const alive = new Uint8Array(n);
      for (let k = 0; k < n; k++) {
        if (!sc.open(taskDir(tasks[2 * (start + k)], tasks[2 * (start + k) + 1]))) continue;
        let asked = 0;
        let gone = 0;
        for (let t = 0; t < T; t++) {
          if (!(param & (1 << t))) continue;
          asked++;
          const v = sc.nsInode(TYPES[t]);
          if (v === NS_GONE) gone++;
          else ns[k * T + t] = v;
        }
        if (asked === 0 || gone < asked) alive[k] = 1;
        sc.close();
      }
      return { lane, start, ns, alive };
    }
    if (lane === FD_LANE) {
      const held: [number, readonly HeldFd[]][] = [];
      for (let i = start; i < end; i++) {
        // descriptors are shared by a process's threads: asked once, of the process
        if (tasks[2 * i] !== tasks[2 * i + 1]) continue;
        const fds = sc.heldFds(tasks[2 * i]);
        if (fds.length > 0) held.push([i, fds]);
      }
      return { lane, held };
    }
    const ppid = new Float64Array(n);
    const uid = new Float64Array(n);
    const command: (string | undefined)[] = new Array(n).fill(undefined);
    for (let k = 0; k < n; k++) {
      if (!sc.open(taskDir(tasks[2 * (start + k)], tasks[2 * (start + k) + 1]))) continue;
      // a process that went away shows 0 for both, as lsns' failed reads do
      if (param & WANT_PPID) ppid[k] = Math.max(0, sc.ppid());
      if (param & WANT_UID) uid[k] = Math.max(0, sc.uid());
      if (param & WANT_COMMAND) command[k] = sc.command();
      sc.close();
    }
    return { lane: INFO_LANE, start, ppid, uid, command };
  } catch (e) {
    sc.close();
    return { lane: -1, error: (e as Error).message };
  }
}

/** Claims and runs chunks, lanes in the given order, until none is left; each result goes to `done`. */
function work(sh: Shared, order: readonly number[], done: (c: Chunk) => void): void {
  for (const lane of order) {
    const len = Atomics.load(sh.ctl, LEN + lane);
    for (;;) {
      const start = Atomics.add(sh.ctl, NEXT + lane, CHUNK);
      if (start >= len) break;
      const end = Math.min(start + CHUNK, len);
      done(runChunk(sh, lane, start, end));
      Atomics.add(sh.ctl, DONE, end - start);
      Atomics.notify(sh.ctl, DONE);
    }
  }
}

interface WorkerData {
  tsNslsScan: { buffer: SharedArrayBuffer; tasks: number; port: MessagePort };
}

function sharedFrom(buffer: SharedArrayBuffer, tasks: number): Shared {
  return {
    ctl: new Int32Array(buffer, 0, CTL_WORDS),
    tasks: new Int32Array(buffer, CTL_WORDS * 4, 2 * tasks),
  };
}

/** True in the scan worker thread: cli.ts then serves the scan instead of running the tool. */
export function isScanWorker(): boolean {
  return !isMainThread && !!(workerData as WorkerData | undefined)?.tsNslsScan;
}

/** The worker's life: help with the scan if it is still running, then end. */
export function serveScans(): void {
  const { buffer, tasks, port } = (workerData as WorkerData).tsNslsScan;
  const sh = sharedFrom(buffer, tasks);
  Atomics.wait(sh.ctl, STATE, 0);
  if (Atomics.load(sh.ctl, STATE) === 1) work(sh, WORKER_ORDER, (c) => port.postMessage(c));
  port.close();
}

export interface InfoWanted {
  ppid: boolean;
  uid: boolean;
  command: boolean;
}

export interface TaskScan {
  /** TYPES.length inodes per task, 0 unknown */
  ns: Float64Array;
  alive: Uint8Array;
  /** task index to the namespaces and sockets its descriptors hold */
  held: Map<number, readonly HeldFd[]>;
  /** PPID, UID, COMMAND per task, as wanted, when they were read (only with a worker) */
  info?: { ppid: Float64Array; uid: Float64Array; command: (string | undefined)[] };
}

/**
 * Scans the tasks (pid, tgid pairs): the namespace inodes of the types in
 * typeMask (bit t: TYPES[t]), and, if fds, the namespaces and sockets the
 * processes hold by descriptor.
 */
export function scanTasks(
  tasks: Int32Array,
  typeMask: number,
  fds: boolean,
  want: InfoWanted,
): TaskScan {
  const count = tasks.length / 2;
  const buffer = new SharedArrayBuffer((CTL_WORDS + 2 * count) * 4);
  const sh = sharedFrom(buffer, count);
  sh.tasks.set(tasks);

  let port: MessagePort | undefined;
  const mode = process.env.TS_NSLS_WORKER; // "always" or "never": for tests and measurements
  if (mode === 'always' || (mode !== 'never' && count >= WORKER_MIN_TASKS)) {
    const channel = new MessageChannel();
    const data: WorkerData = { tsNslsScan: { buffer, tasks: count, port: channel.port2 } };
    const worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: data,
      transferList: [channel.port2],
      stdout: true,
      stderr: true,
    });
    // it must never keep the tool alive, nor fail it: the main thread can do everything alone
    worker.unref();
    worker.on('error', () => {});
    port = channel.port1;
  }

  const T = TYPES.length;
  const out: TaskScan = {
    ns: new Float64Array(count * T),
    alive: new Uint8Array(count),
    held: new Map(),
  };
  const info = port && (want.ppid || want.uid || want.command);
  if (info)
    out.info = {
      ppid: new Float64Array(count),
      uid: new Float64Array(count),
      command: new Array(count).fill(undefined),
    };
  const ctl = sh.ctl;
  ctl[PARAM] =
    typeMask |
    (want.ppid ? WANT_PPID : 0) |
    (want.uid ? WANT_UID : 0) |
    (want.command ? WANT_COMMAND : 0);
  ctl[LEN + NS_LANE] = count;
  ctl[LEN + FD_LANE] = fds ? count : 0;
  ctl[LEN + INFO_LANE] = info ? count : 0;
  Atomics.store(ctl, STATE, 1);
  Atomics.notify(ctl, STATE);

  let error: string | undefined;
  const take = (c: Chunk) => {
    if (c.lane === NS_LANE) {
      out.ns.set(c.ns, c.start * T);
      out.alive.set(c.alive, c.start);
    } else if (c.lane === FD_LANE) for (const [i, h] of c.held) out.held.set(i, h);
    else if (c.lane === INFO_LANE) {
      out.info!.ppid.set(c.ppid, c.start);
      out.info!.uid.set(c.uid, c.start);
      for (let k = 0; k < c.command.length; k++) out.info!.command[c.start + k] = c.command[k];
    } else error ??= c.error;
  };
  work(sh, MAIN_ORDER, take);
  // chunks the worker claimed: wait for them, then take its results
  const total = ctl[LEN + NS_LANE] + ctl[LEN + FD_LANE] + ctl[LEN + INFO_LANE];
  for (let d; (d = Atomics.load(ctl, DONE)) < total;)
    if (Atomics.wait(ctl, DONE, d, 10_000) === 'timed-out')
      throw new Error('the scan worker stopped answering');
  // a worker that has not started yet need not: it finds the scan over and ends
  Atomics.store(ctl, STATE, 2);
  Atomics.notify(ctl, STATE);
  for (let m; port && (m = receiveMessageOnPort(port));) take(m.message as Chunk);
  port?.close();
  if (error) throw new Error(error);
  return out;
}
