/**
 * The namespace scan, as lsns does it: every process under /proc (its
 * namespaces from readlink of /proc/PID/ns/TYPE, no ioctl needed), the lowest
 * member PID as representative; then (unless asked to behave like lsns 2.38)
 * namespaces held only by an open descriptor, only by a socket, or only by an
 * nsfs bind mount. The /proc reading is native/procscan.c's through
 * readTasks() (several threads for a large batch): links and descriptors of
 * every process, with PPID, UID and COMMAND of each first task of a
 * namespace; then those of any other process the rows show, in a second
 * batch. Kernel questions (parents, owners, socket
 * namespaces, netnsid) go to @ns/syscalls, and only when the output needs the
 * answer.
 */
import { closeSync, fstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { TYPES, type NsType } from './types.js';
import {
  listingProcesses,
  PAUSE,
  readingTasks,
  readTasks,
  runSync,
  type HeldFd,
  type Reading,
  type TaskInfo,
} from './read.js';
import * as nsquery from '../nsquery.js';

export { TYPES, type NsType };

export interface Proc {
  pid: number;
  /** the thread group (process) this task belongs to: pid itself unless --threads */
  tgid: number;
  /** its place in Scan.inodes */
  index: number;
  /** the member of the namespaces this process is in, filled as rows are printed */
  outline?: unknown;
  ppidCache?: number;
  uidCache?: number;
  /** COMMAND, once read (null: unreadable) */
  commandCache?: string | null;
  /** the details its scan was asked for, read together when one of them is read late */
  wanted: InfoWanted;
}

/*
 * Every Proc and Namespace is made with the fields most of them get, set or
 * not: objects of one shape keep their fields inline, where fields added
 * later go to a separate store (tens of bytes per object, per row of a large
 * listing).
 */
function newProc(pid: number, tgid: number, index: number, wanted: InfoWanted): Proc {
  return {
    pid,
    tgid,
    index,
    outline: undefined,
    ppidCache: undefined,
    uidCache: undefined,
    commandCache: undefined,
    wanted,
  };
}

function newNamespace(id: number, type: NsType, proc: Proc | undefined): Namespace {
  return {
    id,
    type,
    nprocs: proc ? 1 : 0,
    proc,
    // the size it needs: an empty array that grows starts with room for 17
    procs: proc ? [proc] : [],
    uidFallback: 0,
    parentId: 0,
    ownerId: 0,
    outline: undefined,
    // openPath, netnsid, ghost, parentNs and ownerNs: added to the few that have them
  };
}

/** The inode of the namespace of type TYPES[t] that process p is in (0: not known). */
export function inodeOf(s: Scan, p: Proc, t: number): number {
  return s.inodes[p.index * TYPES.length + t];
}

export interface Namespace {
  id: number;
  type: NsType;
  nprocs: number;
  /** lowest member PID: the representative */
  proc?: Proc;
  procs: Proc[];
  /** where to open it when it has no process: a bind mount or /proc/PID/fd/N */
  openPath?: string;
  /** uid for USER/UID when there is no process: NS_GET_OWNER_UID */
  uidFallback: number;
  parentId: number;
  ownerId: number;
  netnsid?: number;
  /** NPROCS 0 and only found as a parent or owner of another (for the owner/parent trees) */
  ghost?: boolean;
  parentNs?: Namespace;
  ownerNs?: Namespace;
  outline?: unknown;
}

/** The details (of the processes shown) that the output wants. */
export interface InfoWanted {
  ppid: boolean;
  uid: boolean;
  command: boolean;
}

export interface ScanOptions {
  types: ReadonlySet<NsType>;
  /** look at threads (/proc/PID/task/TID) instead of processes only */
  threads: boolean;
  /** add namespaces held only by descriptors, sockets and bind mounts (lsns 2.41+) */
  processless: boolean;
  /** PNS/ONS or an owner/parent tree are wanted */
  relations: boolean;
  /** NETNSID is wanted */
  netnsid: boolean;
  /** PPID, UID, COMMAND of the processes shown are wanted */
  details: InfoWanted;
}

export interface Scan {
  procs: Map<number, Proc>;
  /** TYPES.length namespace inodes per process (Proc.index), 0 when not known */
  inodes: Float64Array;
  /** sorted by inode */
  namespaces: Namespace[];
  byId: Map<number, Namespace>;
  mounts: NsfsMount[];
  /**
   * Descriptors the scan keeps open: the namespaces held only by a socket
   * have no path of their own, their openPath is /proc/self/fd/N of one of
   * these. Each holds its namespace alive; closeScan() closes them.
   */
  opened: number[];
}

/** Closes the descriptors a scan kept open (Scan.opened): the scan holds no namespace after. */
export function closeScan(s: Scan): void {
  for (const fd of s.opened.splice(0)) closeSync(fd);
}

export interface NsfsMount {
  /** e.g. net:[4026532191] */
  root: string;
  target: string;
}

/** @ns/syscalls' ioctl and netlink parts (koffi is loaded only when one is called). */
type Syscalls = typeof nsquery;

const LINK = /^([a-z]+):\[(\d+)\]$/;

/** Parses the nsfs entries of /proc/self/mountinfo (octal escapes undone). */
export function nsfsMounts(): NsfsMount[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  if (!text.includes(' - nsfs ')) return [];
  const out: NsfsMount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - nsfs ');
    if (sep < 0) continue;
    const f = line.slice(0, sep).split(' ');
    const unescape = (s: string) =>
      s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    out.push({ root: unescape(f[3]), target: unescape(f[4]) });
  }
  return out;
}

/** The tasks to look at, as pid, tgid pairs in PID order: processes, or with threads every thread. */
function* listTasks(threads: boolean): Reading<Int32Array> {
  const processes = yield* listingProcesses();
  if (!threads) return processes;
  const pairs: [number, number][] = [];
  for (let i = 0; i < processes.length; i += 2) {
    const pid = processes[i];
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // gone
    }
    for (const t of tids) pairs.push([Number(t), pid]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return Int32Array.from(pairs.flat());
}

/**
 * The scan, as scanSync() does it; async for the callers that await it.
 * Each scan is a world of its own: nothing of one is kept for the next.
 */
export async function scan(opt: ScanOptions): Promise<Scan> {
  return scanSync(opt);
}

/** The namespaces and processes of the machine, read now (the calling thread waits for the /proc scan). */
export function scanSync(opt: ScanOptions): Scan {
  const opened: number[] = [];
  try {
    return runSync(scanning(opt, opened));
  } catch (e) {
    for (const fd of opened) closeSync(fd);
    throw e;
  }
}

/**
 * The scan as a Reading (scan/read.ts), to run in this thread or with the
 * reading of /proc on others; the descriptors it keeps open go to opened
 * as it opens them.
 */
export function* scanning(opt: ScanOptions, opened: number[]): Reading<Scan> {
  const typeIdx = TYPES.flatMap((t, i) => (opt.types.has(t) ? [i] : []));
  const tasks = yield* listTasks(opt.threads);
  const mask = typeIdx.reduce((m, i) => m | (1 << i), 0);
  // the details, too, of the tasks that may be shown: on a machine whose
  // processes each have namespaces of their own that is nearly all of them,
  // read with their links; the few others after, in readShownDetails()
  const found = yield* readingTasks(tasks, TYPES, mask, {
    fds: opt.processless,
    ...opt.details,
    firstOfNamespace: true,
  });

  // in stretches (512 processes, one type), a PAUSE between two
  const T = TYPES.length;
  const procs = new Map<number, Proc>();
  const list: Proc[] = [];
  const holders: [Proc, readonly HeldFd[]][] = [];
  const addProcs = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      if (!found.alive[i]) continue;
      const p = newProc(tasks[2 * i], tasks[2 * i + 1], i, opt.details);
      if (found.got![i]) keepDetails(p, found, i);
      list.push(p);
      procs.set(p.pid, p);
      const fds = found.held?.get(i);
      if (fds) holders.push([p, fds]);
    }
  };
  for (let i = 0; i < tasks.length / 2; i += 512) {
    addProcs(i, Math.min(i + 512, tasks.length / 2));
    yield PAUSE;
  }

  const byId = new Map<number, Namespace>();
  const addNamespaces = (i: number) => {
    // neighbours in PID order mostly share a namespace: ask the map only when it changes
    let last: Namespace | undefined;
    for (const p of list) {
      const id = found.ns[p.index * T + i];
      if (id === 0) continue;
      let ns = last?.id === id ? last : byId.get(id);
      if (!ns) byId.set(id, (ns = newNamespace(id, TYPES[i], p)));
      else {
        ns.procs.push(p);
        ns.nprocs++;
        if (ns.proc!.pid > p.pid) ns.proc = p;
      }
      last = ns;
    }
  };
  for (const i of typeIdx) {
    addNamespaces(i);
    yield PAUSE;
  }

  const mounts = nsfsMounts();
  const processless: Namespace[] = [];
  const addProcessless = (type: string, id: number, openPath: string) => {
    if (byId.has(id) || !opt.types.has(type as NsType)) return;
    const ns = newNamespace(id, type as NsType, undefined);
    ns.openPath = openPath;
    byId.set(id, ns);
    processless.push(ns);
  };
  if (opt.processless) {
    addHeld(holders, opt, byId, addProcessless, opened);
    for (const m of mounts) {
      const match = LINK.exec(m.root);
      if (match) addProcessless(match[1], Number(match[2]), m.target);
    }
  }

  yield PAUSE;
  const namespaces = [...byId.values()].sort((a, b) => a.id - b.id);
  yield* readShownDetails(namespaces, opt.details);
  if (opt.relations || opt.netnsid || processless.some((n) => n.type === 'user')) {
    const s = nsquery;
    const ids = opt.netnsid ? new s.NetnsIds() : undefined;
    try {
      for (const ns of namespaces) {
        const path = ns.proc ? `/proc/${ns.proc.pid}/ns/${ns.type}` : ns.openPath!;
        if (opt.relations) {
          const rel = s.nsRelations(path, ns.type === 'pid' || ns.type === 'user');
          if (rel) {
            ns.parentId = rel.parent;
            ns.ownerId = rel.owner;
          }
        }
        if (ids && ns.type === 'net') ns.netnsid = ids.idOf(path);
        if (!ns.proc && ns.type === 'user') ns.uidFallback = s.nsOwnerUid(path);
      }
    } finally {
      ids?.close();
    }
  }
  return { procs, inodes: found.ns, namespaces, byId, mounts, opened };
}

/**
 * Namespaces held only by a descriptor (found by the descriptor
 * scan): nsfs descriptors show their type and inode in their link, an nsfs
 * file opened through a bind mount needs NS_GET_NSTYPE, and a socket's
 * network namespace needs pidfd_getfd and SIOCGSKNS. Each socket is asked
 * about once. In PID order, as lsns finds them.
 */
function addHeld(
  holders: [Proc, readonly HeldFd[]][],
  opt: ScanOptions,
  byId: Map<number, Namespace>,
  add: (type: string, id: number, openPath: string) => void,
  opened: number[],
): void {
  if (holders.length === 0) return;
  const seenSockets = new Set<number>();
  // pidfd_open takes a PID of our own namespace: with a /proc of another one the
  // PID names another process or none (lsns' pidfd_open then finds none, or that one)
  const wantNet = opt.types.has('net') && !procIsForeign();
  for (const [p, fds] of holders) {
    let holder: nsquery.ProcessFds | undefined;
    try {
      for (const h of fds) {
        const path = `/proc/${p.pid}/fd/${h.fd}`;
        if (h.kind === 'ns') {
          if (!byId.has(h.inode)) add(h.type, h.inode, path);
        } else if (h.kind === 'nsfs') {
          if (byId.has(h.inode)) continue;
          const type = nsquery.nsTypeOf(path);
          if (type) add(type, h.inode, path);
        } else if (wantNet) {
          if (seenSockets.has(h.inode)) continue;
          seenSockets.add(h.inode);
          holder ??= new nsquery.ProcessFds(p.pid);
          const nsFd = holder.socketNetnsFd(h.fd);
          if (nsFd < 0) continue;
          // a socket's namespace has no path: its descriptor stays open until closeScan()
          opened.push(nsFd);
          const id = fstatSync(nsFd).ino;
          if (!byId.has(id)) add('net', id, `/proc/self/fd/${nsFd}`);
          else closeSync(opened.pop()!);
        }
      }
    } finally {
      holder?.close();
    }
  }
}

/** Whether /proc numbers processes in another PID namespace than ours (unshare -pf, no --mount-proc). */
function procIsForeign(): boolean {
  return readlinkSync('/proc/self') !== String(process.pid);
}

/** Keeps the details readTasks() read of task k as p's. */
function keepDetails(p: Proc, r: TaskInfo, k: number): void {
  if (r.ppid) p.ppidCache = r.ppid[k];
  if (r.uid) p.uidCache = r.uid[k];
  if (r.command) p.commandCache = r.command[k] ?? null;
}

/**
 * Reads the details nobody read before: the one asked for and the others
 * the output wants, in one call. A process that has gone shows PPID and
 * UID 0, as lsns' failed reads do.
 */
function readDetails(p: Proc, want: keyof InfoWanted): void {
  const r = readTasks(new Int32Array([p.pid, p.tgid]), TYPES, 0, {
    ppid: p.ppidCache === undefined && (want === 'ppid' || p.wanted.ppid),
    uid: p.uidCache === undefined && (want === 'uid' || p.wanted.uid),
    command: p.commandCache === undefined && (want === 'command' || p.wanted.command),
  });
  keepDetails(p, r, 0);
}

/**
 * The details the output wants of the processes the rows show (each
 * namespace's lowest PID) that the scan did not read with their links, in
 * one batch before the rows ask for them.
 */
function* readShownDetails(namespaces: Namespace[], w: InfoWanted): Reading<void> {
  if (!w.ppid && !w.uid && !w.command) return;
  const missing = (p: Proc) =>
    (w.ppid && p.ppidCache === undefined) ||
    (w.uid && p.uidCache === undefined) ||
    (w.command && p.commandCache === undefined);
  const shown = [
    ...new Set(namespaces.flatMap((ns) => (ns.proc && missing(ns.proc) ? [ns.proc] : []))),
  ];
  if (shown.length === 0) return;
  const tasks = new Int32Array(2 * shown.length);
  shown.forEach((p, k) => tasks.set([p.pid, p.tgid], 2 * k));
  const r = yield* readingTasks(tasks, TYPES, 0, w);
  shown.forEach((p, k) => keepDetails(p, r, k));
}

/** PPID (0 when gone); lsns reads it for every process, we for those shown. */
export function ppidOf(p: Proc): number {
  if (p.ppidCache === undefined) readDetails(p, 'ppid');
  return p.ppidCache!;
}

/** The owner of /proc/PID, as lsns takes it (0 when gone). */
export function uidOf(p: Proc): number {
  if (p.uidCache === undefined) readDetails(p, 'uid');
  return p.uidCache!;
}

/** COMMAND as lsns shows it: cmdline with NULs as blanks and the last byte dropped, else comm. */
export function commandOf(p: Proc): string | undefined {
  if (p.commandCache === undefined) readDetails(p, 'command');
  return p.commandCache ?? undefined;
}

/**
 * Parents and owners that are not in the list (their processes are gone)
 * are added as NPROCS 0 "ghosts", as lsns does for its owner/parent trees.
 */
export async function connectRelations(s: Scan, kind: 'parent' | 'owner'): Promise<void> {
  const sc = nsquery;
  const attach = (ns: Namespace) => {
    const rid = kind === 'parent' ? ns.parentId : ns.ownerId;
    if (!rid) return;
    let rel = s.byId.get(rid);
    if (!rel) {
      const path = ns.proc ? `/proc/${ns.proc.pid}/ns/${ns.type}` : ns.openPath!;
      rel = ghostFor(sc, s, path, kind, kind === 'owner' ? 'user' : ns.type);
      if (!rel) return;
    }
    if (kind === 'parent') ns.parentNs = rel;
    else ns.ownerNs = rel;
  };
  for (const ns of [...s.namespaces]) if (ns.proc) attach(ns);
  for (const ns of s.namespaces) {
    ns.parentNs ??= ns.parentId ? s.byId.get(ns.parentId) : undefined;
    ns.ownerNs ??= ns.ownerId ? s.byId.get(ns.ownerId) : undefined;
  }
  s.namespaces.sort((a, b) => a.id - b.id);
}

/** Walks up from the namespace at path to the missing relative and adds it (and its own missing relatives). */
function ghostFor(
  sc: Syscalls,
  s: Scan,
  path: string,
  kind: 'parent' | 'owner',
  type: NsType,
): Namespace | undefined {
  const chain = sc.nsAncestors(path, kind);
  let child: Namespace | undefined;
  let first: Namespace | undefined;
  for (const a of chain) {
    let ns = s.byId.get(a.inode);
    const known = !!ns;
    if (!ns) {
      ns = newNamespace(a.inode, type, undefined);
      ns.uidFallback = a.ownerUid;
      ns.parentId = a.parent;
      ns.ownerId = a.owner;
      ns.ghost = true;
      s.byId.set(ns.id, ns);
      s.namespaces.push(ns);
    }
    if (child) {
      if (kind === 'parent') child.parentNs = ns;
      else child.ownerNs = ns;
    }
    first ??= ns;
    if (known) break;
    child = ns;
  }
  return first;
}
