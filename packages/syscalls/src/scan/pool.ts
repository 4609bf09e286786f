/**
 * The /proc scan, run by the main thread and (on a busy machine) one worker
 * thread side by side. Nearly all of a scan is kernel time in system calls
 * on other processes' /proc directories, which two threads do in parallel
 * (lsns is single-threaded).
 *
 * The scan has two lanes of work over the list of tasks: descriptors, and
 * namespace links with (given a worker) PPID/UID/COMMAND, for which each
 * task's directory is opened once. The main thread starts at once with the
 * descriptors, then takes the links from the front of their range; the
 * worker joins when it has booted (some 30 ms later), taking the links from
 * the back and then whatever descriptors are left. The threads thus rarely
 * read descriptors at the same time (slow: see work()) nor the same
 * processes (they would wait on the same kernel locks). The worker sends its
 * chunks' results through a MessagePort that the main thread drains
 * synchronously (receiveMessageOnPort) once every chunk is done, so the main
 * thread never waits for the worker's start-up: if it has claimed
 * everything by then, the worker finds nothing to do.
 *
 * PPID/UID/COMMAND are only needed for the processes the rows show (the
 * lowest PID of each namespace), which are known once the links are read.
 * Reading them in the scan is worth it only with a worker: it then reads
 * them for every task, in parallel with the rest; without a worker the
 * caller reads them later for the processes shown.
 *
 * The worker is a bundle of its own (scan-worker.ts: this file and the /proc
 * reader, not the tool; dist/scan-worker.cjs beside the bundle that starts
 * it), and ts-nsls starts it before anything else when
 * /proc already shows a busy machine: a thread takes some 30 ms to boot,
 * which then overlaps the main thread's own start.
 */
import { readdirSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { NS_GONE, ProcScanner, type HeldFd } from '../procscan.js';
import { TYPES } from './types.js';

/**
 * node:worker_threads, loaded when first needed: it brings node:stream with
 * it (some 2.5 ms), which ts-unshare, ts-nsenter and a quiet machine's scan
 * never use.
 */
const threads = () => process.getBuiltinModule('node:worker_threads');

/** Tasks per claim: a few milliseconds of work, small enough for an even split. */
const CHUNK = 32;

/** With fewer tasks than this a worker costs more than it saves. */
const WORKER_MIN_TASKS = 600;

// control words in the shared Int32Array
const STATE = 0; // 1 while the scan runs, 2 after: a worker that comes late finds it over
const PARAM = 1; // bit t: TYPES[t]; WANT_* bits
const DONE = 2; // tasks finished, both lanes
const FD_NEXT = 3; // the descriptor lane's next unclaimed task
const FD_LEN = 4; // the descriptor lane's length: all tasks, or 0
const CTL_WORDS = 6;
// then one 64-bit word: the unclaimed range, front index low, back index high
const CLAIM_OFFSET = CTL_WORDS * 4;
const TASKS_OFFSET = CLAIM_OFFSET + 8;

const WANT_PPID = 1 << 16;
const WANT_UID = 1 << 17;
const WANT_COMMAND = 1 << 18;
const WANT_INFO = WANT_PPID | WANT_UID | WANT_COMMAND;

/** What one chunk of tasks [start, end) found; the same from either thread. */
type Chunk =
  | {
      /** [index, descriptors] of the processes that hold namespaces or sockets by descriptor */
      held: [number, readonly HeldFd[]][];
      error?: undefined;
      start?: undefined;
    }
  | {
      start: number;
      /** TYPES.length inodes per task: > 0, or 0 (unknown) */
      ns: Float64Array;
      /** 0 for a task that has gone */
      alive: Uint8Array;
      /** PPID, UID, COMMAND when asked for (only with a worker) */
      ppid?: Float64Array;
      uid?: Float64Array;
      command?: (string | undefined)[];
      error?: undefined;
    }
  | { error: string };

interface Shared {
  ctl: Int32Array;
  claim: BigInt64Array;
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

/**
 * The links and details of the tasks [start, end): each task's directory is
 * opened once for all of them. The same code in both threads.
 */
function runChunk(sh: Shared, start: number, end: number): Chunk {
  const sc = threadScanner();
  const param = Atomics.load(sh.ctl, PARAM);
  const tasks = sh.tasks;
  const n = end - start;
  const T = TYPES.length;
  const ns = new Float64Array(n * T);
  const alive = new Uint8Array(n);
  const info = (param & WANT_INFO) !== 0;
  const ppid = info ? new Float64Array(n) : undefined;
  const uid = info ? new Float64Array(n) : undefined;
  const command: (string | undefined)[] | undefined = info
    ? new Array(n).fill(undefined)
    : undefined;
  try {
    for (let k = 0; k < n; k++) {
      const pid = tasks[2 * (start + k)];
      const tgid = tasks[2 * (start + k) + 1];
      const dir = taskDir(pid, tgid);
      if (!(info ? sc.open(dir) : sc.openNamespaces(dir))) continue;
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
      // a process that went away shows 0 for both, as lsns' failed reads do
      // a thread's from its stat, a process's by pidfd (cheaper)
      if (param & WANT_PPID) ppid![k] = Math.max(0, sc.ppid(pid === tgid ? pid : undefined));
      if (param & WANT_UID) uid![k] = Math.max(0, sc.uid());
      if (param & WANT_COMMAND) command![k] = sc.command();
      sc.close();
    }
    return { start, ns, alive, ppid, uid, command };
  } catch (e) {
    sc.close();
    return { error: (e as Error).message };
  }
}

/** The descriptors of the processes among tasks [start, end). */
function runFdChunk(sh: Shared, start: number, end: number): Chunk {
  const sc = threadScanner();
  const tasks = sh.tasks;
  const held: [number, readonly HeldFd[]][] = [];
  try {
    for (let i = start; i < end; i++) {
      // descriptors are shared by a process's threads: asked once, of the process
      if (tasks[2 * i] !== tasks[2 * i + 1]) continue;
      const fds = sc.heldFds(tasks[2 * i]);
      if (fds.length > 0) held.push([i, fds]);
    }
    return { held };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/**
 * Claims CHUNK tasks of the links' lane from the front or the back of its
 * unclaimed range: the main thread works from the front, the worker from the
 * back, so that the two never read the same processes at the same time.
 * undefined when nothing is left.
 */
function claim(sh: Shared, front: boolean): [number, number] | undefined {
  for (;;) {
    const v = Atomics.load(sh.claim, 0);
    const lo = Number(v & 0xffffffffn);
    const hi = Number(v >> 32n);
    if (lo >= hi) return undefined;
    const range: [number, number] = front
      ? [lo, Math.min(lo + CHUNK, hi)]
      : [Math.max(hi - CHUNK, lo), hi];
    const next = front
      ? (BigInt(hi) << 32n) | BigInt(range[1])
      : (BigInt(range[0]) << 32n) | BigInt(lo);
    if (Atomics.compareExchange(sh.claim, 0, v, next) === v) return range;
  }
}

/** Claims and runs descriptor chunks until none is left. */
function workFds(sh: Shared, done: (c: Chunk) => void): void {
  const len = Atomics.load(sh.ctl, FD_LEN);
  for (let start; (start = Atomics.add(sh.ctl, FD_NEXT, CHUNK)) < len;) {
    const end = Math.min(start + CHUNK, len);
    done(runFdChunk(sh, start, end));
    Atomics.add(sh.ctl, DONE, end - start);
    Atomics.notify(sh.ctl, DONE);
  }
}

/**
 * Claims and runs chunks until none is left; each result goes to `done`.
 * The main thread first reads every process's descriptors, the worker
 * starts on the links: reading descriptor links from two threads at once is
 * slow, because the processes of a busy machine share many open files
 * (inherited stdio) and both threads then fight over the same file's
 * reference count in the kernel.
 */
function work(sh: Shared, front: boolean, done: (c: Chunk) => void): void {
  if (front) workFds(sh, done);
  for (let r; (r = claim(sh, front));) {
    done(runChunk(sh, r[0], r[1]));
    Atomics.add(sh.ctl, DONE, r[1] - r[0]);
    Atomics.notify(sh.ctl, DONE);
  }
  if (!front) workFds(sh, done);
}

interface WorkerData {
  /** one word: 0 while there is no scan yet, 1 when it is posted on the port, 2 when there is none */
  go: SharedArrayBuffer;
  port: MessagePort;
}

/** What the main thread posts the worker when the scan starts. */
interface ScanMessage {
  buffer: SharedArrayBuffer;
  tasks: number;
}

function sharedFrom(buffer: SharedArrayBuffer, tasks: number): Shared {
  return {
    ctl: new Int32Array(buffer, 0, CTL_WORDS),
    claim: new BigInt64Array(buffer, CLAIM_OFFSET, 1),
    tasks: new Int32Array(buffer, TASKS_OFFSET, 2 * tasks),
  };
}

/** The worker's life (scan-worker.ts): help with the scan if it is still running, then end. */
export function serveScans(): void {
  // Both threads scan from now on, and TurboFan's background compiles of
  // their hot code (tens of ms for a run that lasts a fraction of a second)
  // would take CPU from them: baseline code is good enough. The flag is
  // process-wide; it is set here, once the worker has booted, because V8
  // refuses Node's code cache under changed flags, and a worker started
  // after the change compiles Node's internals from source (twice the boot).
  process.getBuiltinModule('node:v8').setFlagsFromString('--no-turbofan');
  const { workerData, receiveMessageOnPort } = threads();
  const { go, port } = workerData as WorkerData;
  const word = new Int32Array(go);
  Atomics.wait(word, 0, 0);
  const posted = Atomics.load(word, 0) === 1 && receiveMessageOnPort(port);
  if (posted) {
    const { buffer, tasks } = posted.message as ScanMessage;
    const sh = sharedFrom(buffer, tasks);
    if (Atomics.load(sh.ctl, STATE) === 1) work(sh, false, (c) => port.postMessage(c));
  }
  port.close();
}

interface ScanWorker {
  go: Int32Array;
  port: MessagePort;
}
let worker: ScanWorker | undefined;
/** /proc's entries as read by startScanWorker(), for the scan to use */
let procListing: string[] | undefined;

/** "always" or "never" (TS_NSLS_WORKER): for tests and measurements. */
const workerMode = () => process.env.TS_NSLS_WORKER;

/** Starts the scan worker (once). It never keeps the tool alive nor fails it: the main thread can do everything alone. */
function spawnWorker(): ScanWorker {
  if (worker) return worker;
  const go = new SharedArrayBuffer(4);
  const { MessageChannel, Worker } = threads();
  const channel = new MessageChannel();
  const data: WorkerData = { go, port: channel.port2 };
  // from source (tsx) the worker is the .ts file next to this one
  const file = import.meta.url.endsWith('.ts') ? './scan-worker.ts' : './scan-worker.cjs';
  const w = new Worker(new URL(file, import.meta.url), {
    workerData: data,
    transferList: [channel.port2],
    stdout: true,
    stderr: true,
  });
  w.unref();
  w.on('error', () => {});
  const word = new Int32Array(go);
  // a tool that ends without scanning (--help, an error) lets the worker end too
  process.on('exit', () => {
    if (Atomics.compareExchange(word, 0, 0, 2) === 0) Atomics.notify(word, 0);
  });
  return (worker = { go: word, port: channel.port1 });
}

/**
 * Called first thing by cli.ts: on a busy machine (by the number of
 * processes in /proc) the worker starts booting now, while the main thread
 * loads the rest of the tool and parses its options.
 */
export function startScanWorker(): void {
  const mode = workerMode();
  if (mode === 'never') return;
  try {
    procListing = readdirSync('/proc');
  } catch {
    return; // no /proc: the tool reports it where it reads it (this runs for --help too)
  }
  // /proc has some 60 other entries
  if (mode === 'always' || procListing.length >= WORKER_MIN_TASKS + 60) spawnWorker();
}

/** The entries of /proc: the ones startScanWorker() read, else read now. */
export function readProc(): string[] {
  const names = procListing ?? readdirSync('/proc');
  procListing = undefined;
  return names;
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
  const buffer = new SharedArrayBuffer(TASKS_OFFSET + 2 * count * 4);
  const sh = sharedFrom(buffer, count);
  sh.tasks.set(tasks);

  const mode = workerMode();
  let port: MessagePort | undefined;
  if (worker || mode === 'always' || (mode !== 'never' && count >= WORKER_MIN_TASKS))
    port = spawnWorker().port;

  const T = TYPES.length;
  const out: TaskScan = {
    ns: new Float64Array(count * T),
    alive: new Uint8Array(count),
    held: new Map(),
  };
  // without a worker the details wait until the rows show which processes need them
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
    (info && want.ppid ? WANT_PPID : 0) |
    (info && want.uid ? WANT_UID : 0) |
    (info && want.command ? WANT_COMMAND : 0);
  ctl[FD_LEN] = fds ? count : 0;
  sh.claim[0] = BigInt(count) << 32n;
  Atomics.store(ctl, STATE, 1);
  if (worker) {
    const message: ScanMessage = { buffer, tasks: count };
    worker.port.postMessage(message);
    if (Atomics.compareExchange(worker.go, 0, 0, 1) === 0) Atomics.notify(worker.go, 0);
  }

  let error: string | undefined;
  const take = (c: Chunk) => {
    if (c.error !== undefined) {
      error ??= c.error;
      return;
    }
    if (c.start === undefined) {
      for (const [i, h] of c.held) out.held.set(i, h);
      return;
    }
    out.ns.set(c.ns, c.start * T);
    out.alive.set(c.alive, c.start);
    if (out.info && c.ppid && c.uid && c.command) {
      out.info.ppid.set(c.ppid, c.start);
      out.info.uid.set(c.uid, c.start);
      for (let k = 0; k < c.command.length; k++) out.info.command[c.start + k] = c.command[k];
    }
  };
  work(sh, true, take);
  // chunks the worker claimed: wait for them, then take its results
  const total = count + ctl[FD_LEN];
  for (let d; (d = Atomics.load(ctl, DONE)) < total;)
    if (Atomics.wait(ctl, DONE, d, 10_000) === 'timed-out')
      throw new Error('the scan worker stopped answering');
  // a worker that has not started yet need not: it finds the scan over and ends
  Atomics.store(ctl, STATE, 2);
  Atomics.notify(ctl, STATE);
  for (let m; port && (m = threads().receiveMessageOnPort(port));) take(m.message as Chunk);
  port?.close();
  if (error) throw new Error(error);
  return out;
}
