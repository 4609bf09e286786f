/**
 * Reading many /proc/PID directories quickly, for lsns-like scans.
 *
 * A batch of tasks goes to native/procscan.c (in libnsrun.so) in one call,
 * which reads their namespace links, details and descriptors with the
 * kernel's calls alone and writes numbers into typed arrays: crossing into
 * C once per batch instead of a dozen times per process, and building no
 * JavaScript string or object per link, is what made this the fastest way
 * (the system calls themselves are lsns' too). Only COMMAND comes back as
 * text. Works in worker threads too: each thread loads its own bindings.
 * Nothing is kept from one call to the next, on either side: each call has
 * buffers of its own, so calls may run at once.
 *
 * Each reading is a generator that yields its calls into C (ReadStep)
 * and gets their results back: runSync() makes them in the calling thread
 * (ts-nsls, listNamespacesSync, the exported readTasks), runAsync() on a
 * thread of koffi's pool, the event loop going on meanwhile
 * (listNamespaces). The same code reads either way.
 */
import { callerEnv } from '../caller.js';
import { NsError } from '../errors.js';
import { nsrunGroup } from '../native.js';

const lib = nsrunGroup({
  list: 'int nsscan_list(void *tasks, int32_t cap)',
  scan:
    'int nsscan(void *tasks, int32_t n, void *names, int32_t ntypes, uint32_t mask, void *ns, void *alive, ' +
    'void *ppid, void *uid, void *cmd, int32_t cmdcap, void *cmdoff, void *cmdlen, void *got, ' +
    'void *rec, int32_t cap, _Out_ int32_t *nrec, void *held, int32_t lanes)',
  fds: 'int nsscan_fds(void *tasks, int32_t n, void *names, int32_t ntypes, void *rec, int32_t cap, _Out_ int32_t *nrec)',
});

/** One call into native/procscan.c, lib()[fn](...args) returning an int; or a pause (below). */
export type ReadStep = { fn: 'list' | 'scan' | 'fds'; args: unknown[] } | { fn: 'pause' };

/**
 * A reading of /proc that yields its calls into C, and returns a T. Where
 * its JavaScript has much to do between two calls it yields PAUSE now and
 * then: runAsync() lets the event loop take a turn there once the stretch
 * since the last turn is long enough, runSync() goes straight on.
 */
export type Reading<T> = Generator<ReadStep, T, number>;

export const PAUSE: ReadStep = { fn: 'pause' };

/** The longest stretch of a reading's JavaScript runAsync() lets run without a turn of the event loop, ms. */
const SLICE_MS = 4;

const call = (fn: 'list' | 'scan' | 'fds', ...args: unknown[]): ReadStep => ({ fn, args });

/** Runs a reading in the calling thread, its calls into C too. */
export function runSync<T>(reading: Reading<T>): T {
  const fns = lib();
  for (let step = reading.next(); ;) {
    if (step.done) return step.value;
    const s = step.value;
    step = reading.next(s.fn === 'pause' ? 0 : fns[s.fn](...s.args));
  }
}

type AsyncFn = { async(...args: unknown[]): void };

/**
 * Runs a reading with each call into C on a thread of koffi's pool (the C
 * side keeps to the arrays of its call; JavaScript touches none of them
 * until the call is done): the event loop waits only for the JavaScript
 * between two calls, in stretches of SLICE_MS or so.
 */
export function runAsync<T>(reading: Reading<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const go = (next: () => IteratorResult<ReadStep, T>) => {
      const slice = performance.now();
      for (;;) {
        let step: IteratorResult<ReadStep, T>;
        try {
          step = next();
        } catch (e) {
          reject(e);
          return;
        }
        if (step.done) {
          resolve(step.value);
          return;
        }
        const s = step.value;
        if (s.fn === 'pause') {
          next = () => reading.next(0);
          if (performance.now() - slice < SLICE_MS) continue;
          setImmediate(go, next);
          return;
        }
        try {
          (lib()[s.fn] as unknown as AsyncFn).async(...s.args, (err: unknown, r: number) =>
            go(err ? () => reading.throw(err) : () => reading.next(r)),
          );
          return;
        } catch (e) {
          next = () => reading.throw(e); // not started (koffi's queue full): the reading's own cleanup runs
        }
      }
    };
    go(() => reading.next());
  });
}

/** A descriptor of a process that holds a namespace, or may (a socket holds its network namespace). */
export type HeldFd =
  /** an nsfs descriptor whose link names its type and inode */
  | { fd: number; kind: 'ns'; type: string; inode: number }
  /** a file on nsfs opened through a bind mount: the type needs NS_GET_NSTYPE */
  | { fd: number; kind: 'nsfs'; inode: number }
  /** a socket, identified by its own inode */
  | { fd: number; kind: 'socket'; inode: number };

/** The type names as C reads them: NUL-ended, one after the other (made once per list). */
const namesCache = new WeakMap<readonly string[], Buffer>();
function cNames(types: readonly string[]): Buffer {
  let b = namesCache.get(types);
  if (!b) namesCache.set(types, (b = Buffer.from(types.map((t) => `${t}\0`).join(''), 'latin1')));
  return b;
}

/**
 * The processes under /proc in ascending PID order, as (pid, pid) pairs for
 * readTasks(): read in C, no string per entry.
 */
export function listProcesses(): Int32Array {
  return runSync(listingProcesses());
}

/** listProcesses() as a Reading. */
export function* listingProcesses(): Reading<Int32Array> {
  for (let listRoom = 4096; ;) {
    const tasks = new Int32Array(2 * listRoom);
    const n = yield call('list', tasks, listRoom);
    if (n < 0) throw new NsError('cannot open /proc', -n, 'opendir', '/proc');
    if (n <= listRoom) return tasks.subarray(0, 2 * n);
    listRoom = n + 1024;
  }
}

/** What readTasks() reads besides the links. */
export interface DetailsWanted {
  ppid?: boolean;
  uid?: boolean;
  command?: boolean;
  /** the namespaces and sockets the processes hold by descriptor */
  fds?: boolean;
  /**
   * the details only of a task that is the first its thread meets of one of
   * its namespaces: a superset of each namespace's lowest PID, the process
   * a listing shows (TaskInfo.got says which were read)
   */
  firstOfNamespace?: boolean;
}

/** What readTasks() found, per task in the order given. */
export interface TaskInfo {
  /** types.length inodes per task: > 0, or 0 (not known: the link may not be read) */
  ns: Float64Array;
  /** 0 for a task that has gone (or whose every asked link is missing) */
  alive: Uint8Array;
  /** PPID and UID (0 for a task that has gone, as lsns shows them), COMMAND as lsns shows it */
  ppid?: Float64Array;
  uid?: Float64Array;
  command?: (string | undefined)[];
  /** with firstOfNamespace: 1 for the tasks whose details were read */
  got?: Uint8Array;
  /** task index to what its descriptors hold, for the processes that hold anything */
  held?: Map<number, readonly HeldFd[]>;
}

/**
 * Room for the COMMAND texts of a call of n tasks in `lanes` threads, each
 * with its share (a text is at most 8 KiB, a share holds two at least): up
 * to 1 MiB, those that do not fit are read after.
 */
const commandRoom = (n: number, lanes: number) => Math.min(1 << 20, (n + 2 * lanes) * 8192);

/**
 * Threads for a scan of n tasks: four, or one per 128 tasks (a thread costs
 * some 50 us to start), also on two processors: with both free four are as
 * fast as two, and beside a busy loop of the same session (whose share the
 * scheduler splits by thread; another session gets its half whatever we
 * do) a scan of 2,000 processes took 0.13-0.14 s in four, 0.15-0.17 s in
 * two and 0.17-0.19 s in one. TS_NSLS_THREADS=N sets it (tests, measurements).
 */
function lanesFor(n: number): number {
  const forced = Number(callerEnv('TS_NSLS_THREADS'));
  if (forced >= 1) return forced;
  return n < 256 ? 1 : Math.min(4, n >> 7);
}

/**
 * Reads tasks (pid, tgid pairs: /proc/TGID/task/PID, or /proc/PID where
 * they are equal): the inodes of the namespace links types[t] for each bit
 * t of mask, and what else is wanted; a large batch in several threads.
 */
export function readTasks(
  tasks: Int32Array,
  types: readonly string[],
  mask: number,
  want: DetailsWanted = {},
): TaskInfo {
  return runSync(readingTasks(tasks, types, mask, want));
}

/** readTasks() as a Reading. */
export function* readingTasks(
  tasks: Int32Array,
  types: readonly string[],
  mask: number,
  want: DetailsWanted = {},
  /** the COMMAND buffer of the call that reads again what did not fit in it */
  commandBuffer?: Buffer,
): Reading<TaskInfo> {
  const n = tasks.length >> 1;
  const T = types.length;
  const out: TaskInfo = { ns: new Float64Array(n * T), alive: new Uint8Array(n) };
  const ppid = want.ppid ? (out.ppid = new Float64Array(n)) : null;
  const uid = want.uid ? (out.uid = new Float64Array(n)) : null;
  const offsets = want.command ? new Int32Array(n) : null;
  const lengths = want.command ? new Int32Array(n) : null;
  const lanes = lanesFor(n);
  const cmd = want.command ? (commandBuffer ?? Buffer.allocUnsafe(commandRoom(n, lanes))) : null;
  const got = want.firstOfNamespace ? (out.got = new Uint8Array(n)) : null;
  const names = cNames(types);
  const count = [0];
  const held = want.fds ? new Uint8Array(n) : null;
  const records = want.fds ? new Float64Array(REC * FD_ROOM) : null;
  const r = yield call(
    'scan',
    tasks,
    n,
    names,
    T,
    mask,
    out.ns,
    out.alive,
    ppid,
    uid,
    cmd,
    cmd ? cmd.length : 0,
    offsets,
    lengths,
    got,
    records,
    records ? records.length / REC : 0,
    count,
    held,
    lanes,
  );
  if (r < 0) throw new NsError('reading /proc failed', -r);
  if (want.fds) {
    out.held = heldFromRecords(records!, count[0], 0, types);
    if (r === 1) {
      // the processes whose records did not fit, again with more room
      const again: number[] = [];
      for (let k = 0; k < n; k++) if (!held![k]) again.push(k);
      const sub = new Int32Array(2 * again.length);
      again.forEach((k, i) => sub.set(tasks.subarray(2 * k, 2 * k + 2), 2 * i));
      for (const [i, fds] of yield* readingHeldFds(sub, types, 2 * FD_ROOM))
        out.held.set(again[i], fds);
    }
  }
  if (want.command) {
    yield PAUSE;
    const command = (out.command = new Array<string | undefined>(n));
    const unread: number[] = [];
    const decode = (from: number, to: number) => {
      for (let k = from; k < to; k++)
        if (lengths![k] === -2) {
          if (!got || got[k]) unread.push(k);
        } else if (lengths![k] >= 0)
          command[k] = cmd!.toString('utf8', offsets![k], offsets![k] + lengths![k]);
    };
    for (let k = 0; k < n; k += 512) {
      decode(k, Math.min(k + 512, n));
      yield PAUSE;
    }
    // -2: not read, its thread's share of the buffer was full; read now (the buffer is free again)
    for (const k of unread) {
      const one = tasks.subarray(2 * k, 2 * k + 2);
      command[k] = (yield* readingTasks(one, types, 0, { command: true }, cmd!)).command![0];
    }
  }
  return out;
}

/** Descriptor records of one call: task index, descriptor, kind, inode; room for FD_ROOM at first. */
const REC = 4;
const FD_ROOM = 4096;

/**
 * The descriptors that hold a namespace or a socket, of each process among
 * tasks (pid, tgid pairs; threads are skipped, as they share their
 * process's descriptors): [task index, descriptors] for the processes that
 * hold any. Most links answer by their text alone ("net:[...]",
 * "socket:[...]"); a path needs a stat to tell whether it is on nsfs. Most
 * processes inherit their descriptors, so the call keeps the last process
 * whose descriptors held nothing as a template, and compares the others
 * with it by kcmp(KCMP_FILE) (native/procscan.c); the next call starts
 * afresh. room: how many records fit at first (doubled while one process
 * holds more).
 */
export function readHeldFds(
  tasks: Int32Array,
  types: readonly string[],
  room = FD_ROOM,
): [number, readonly HeldFd[]][] {
  return runSync(readingHeldFds(tasks, types, room));
}

/** readHeldFds() as a Reading. */
export function* readingHeldFds(
  tasks: Int32Array,
  types: readonly string[],
  room = FD_ROOM,
): Reading<[number, readonly HeldFd[]][]> {
  let records = new Float64Array(REC * room);
  const n = tasks.length >> 1;
  const names = cNames(types);
  const out: [number, readonly HeldFd[]][] = [];
  const count = [0];
  for (let done = 0; done < n;) {
    const r = yield call(
      'fds',
      tasks.subarray(2 * done),
      n - done,
      names,
      types.length,
      records,
      records.length / REC,
      count,
    );
    if (r < 0) throw new NsError('reading /proc failed', -r);
    if (r === 0 && count[0] === 0) {
      records = new Float64Array(records.length * 2); // one process holds more than fits
      continue;
    }
    out.push(...heldFromRecords(records, count[0], done, types));
    done += r;
  }
  return out;
}

/** Records (task index, descriptor, kind, inode) as what each task's descriptors hold, by task index + base. */
function heldFromRecords(
  rec: Float64Array,
  count: number,
  base: number,
  types: readonly string[],
): Map<number, HeldFd[]> {
  const T = types.length;
  const out = new Map<number, HeldFd[]>();
  for (let i = 0; i < count; i++) {
    const [task, fd, kind, inode] = rec.subarray(i * REC, i * REC + REC);
    const held: HeldFd =
      kind < T
        ? { fd, kind: 'ns', type: types[kind], inode }
        : kind === T
          ? { fd, kind: 'nsfs', inode }
          : { fd, kind: 'socket', inode };
    const list = out.get(base + task);
    if (list) list.push(held);
    else out.set(base + task, [held]);
  }
  return out;
}
