/**
 * The namespace scan, as lsns does it: every process under /proc (its
 * namespaces from readlink of /proc/PID/ns/TYPE, no ioctl needed), the lowest
 * member PID as representative; then (unless asked to behave like lsns 2.38)
 * namespaces held only by an open descriptor, only by a socket, or only by an
 * nsfs bind mount. Kernel questions (parents, owners, socket namespaces,
 * netnsid) go to @ns/syscalls, and only when the output needs the answer.
 */
import {
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  statSync,
} from 'node:fs';

/** lsns' order of types; only the order of reading depends on it. */
export const TYPES = ['mnt', 'net', 'pid', 'uts', 'ipc', 'user', 'cgroup', 'time'] as const;
export type NsType = (typeof TYPES)[number];

export interface Proc {
  pid: number;
  /** the thread group (process) this task belongs to: pid itself unless --threads */
  tgid: number;
  /** namespace inode per TYPES index, 0 when unknown */
  ns: number[];
  /** the member of the namespaces this process is in, filled as rows are printed */
  outline?: unknown;
  ppidCache?: number;
  uidCache?: number;
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
}

export interface Scan {
  procs: Map<number, Proc>;
  /** sorted by inode */
  namespaces: Namespace[];
  byId: Map<number, Namespace>;
  mounts: NsfsMount[];
}

export interface NsfsMount {
  /** e.g. net:[4026532191] */
  root: string;
  target: string;
}

type Syscalls = typeof import('@ns/syscalls');
let sys: Syscalls | undefined;
/** @ns/syscalls brings koffi: loaded only when an ioctl or netlink is needed. */
async function syscalls(): Promise<Syscalls> {
  return (sys ??= await import('@ns/syscalls'));
}

const LINK = /^([a-z]+):\[(\d+)\]$/;

function inodeOfLink(link: string): number {
  const open = link.indexOf('[');
  return open < 0 ? 0 : Number(link.slice(open + 1, -1));
}

/** Reads a process's namespaces; undefined when it has gone. */
function readProc(
  dir: string,
  pid: number,
  tgid: number,
  types: readonly number[],
): Proc | undefined {
  const ns = new Array<number>(TYPES.length).fill(0);
  let gone = 0;
  for (const i of types) {
    try {
      ns[i] = inodeOfLink(readlinkSync(`${dir}/ns/${TYPES[i]}`));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ESRCH') gone++;
      else if (code !== 'EACCES') throw e;
    }
  }
  if (types.length > 0 && gone === types.length) return undefined;
  return { pid, tgid, ns };
}

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

export async function scan(opt: ScanOptions): Promise<Scan> {
  const typeIdx = TYPES.flatMap((t, i) => (opt.types.has(t) ? [i] : []));
  const procs = new Map<number, Proc>();
  const list: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (opt.threads) {
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const t of tids) {
        const p = readProc(`/proc/${pid}/task/${t}`, Number(t), pid, typeIdx);
        if (p) list.push(p);
      }
    } else {
      const p = readProc(`/proc/${name}`, pid, pid, typeIdx);
      if (p) list.push(p);
    }
  }
  if (opt.threads) list.sort((a, b) => a.pid - b.pid);
  for (const p of list) procs.set(p.pid, p);

  const byId = new Map<number, Namespace>();
  for (const p of list)
    for (const i of typeIdx) {
      const id = p.ns[i];
      if (id === 0) continue;
      let ns = byId.get(id);
      if (!ns) {
        ns = { id, type: TYPES[i], nprocs: 0, procs: [], uidFallback: 0, parentId: 0, ownerId: 0 };
        byId.set(id, ns);
      }
      ns.procs.push(p);
      ns.nprocs++;
      if (!ns.proc || ns.proc.pid > p.pid) ns.proc = p;
    }

  const mounts = nsfsMounts();
  const processless: Namespace[] = [];
  const addProcessless = (type: string, id: number, openPath: string) => {
    if (byId.has(id) || !opt.types.has(type as NsType)) return;
    const ns: Namespace = {
      id,
      type: type as NsType,
      nprocs: 0,
      procs: [],
      openPath,
      uidFallback: 0,
      parentId: 0,
      ownerId: 0,
    };
    byId.set(id, ns);
    processless.push(ns);
  };
  if (opt.processless) {
    await scanDescriptors(list, opt, byId, addProcessless);
    for (const m of mounts) {
      const match = LINK.exec(m.root);
      if (match) addProcessless(match[1], Number(match[2]), m.target);
    }
  }

  const namespaces = [...byId.values()].sort((a, b) => a.id - b.id);
  if (opt.relations || opt.netnsid || processless.some((n) => n.type === 'user')) {
    const s = await syscalls();
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
  return { procs, namespaces, byId, mounts };
}

/**
 * Namespaces held only by a descriptor: nsfs descriptors show their type and
 * inode in readlink; a socket's network namespace needs pidfd_getfd and
 * SIOCGSKNS. Each socket is asked about once.
 */
async function scanDescriptors(
  list: Proc[],
  opt: ScanOptions,
  byId: Map<number, Namespace>,
  add: (type: string, id: number, openPath: string) => void,
): Promise<void> {
  const seenSockets = new Set<number>();
  const notNsfs = new Set<string>();
  const nsfsDev = statSync('/proc/self/ns/user').dev;
  const wantNet = opt.types.has('net');
  for (const p of list) {
    if (p.pid !== p.tgid) continue;
    const dir = `/proc/${p.pid}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(dir);
    } catch {
      continue;
    }
    let holder: import('@ns/syscalls').ProcessFds | undefined;
    for (const fd of fds) {
      const path = `${dir}/${fd}`;
      // readlink is cheap and answers for most descriptors: pipes, anon inodes,
      // nsfs ones ("net:[INODE]") and sockets; only paths need a stat, since an
      // nsfs descriptor opened through a bind mount shows that path
      const link = safeReadlink(path);
      const m = LINK.exec(link);
      if (m && m[1] !== 'socket' && m[1] !== 'pipe') {
        if (!byId.has(Number(m[2]))) add(m[1], Number(m[2]), path);
        continue;
      }
      if (link[0] === '/' && notNsfs.has(link)) continue;
      if (link === '' || (link[0] !== '/' && !link.startsWith('socket:['))) continue;
      let st;
      try {
        st = statSync(path);
      } catch {
        continue; // closed meanwhile, or not ours to see
      }
      if (st.dev === nsfsDev) {
        if (byId.has(st.ino)) continue;
        const type = (await syscalls()).nsTypeOf(path);
        if (type) add(type, st.ino, path);
      } else if (!st.isSocket()) {
        // "/" is what a descriptor on a detached mount shows: never take it for a known file
        if (link !== '/') notNsfs.add(link);
      } else if (wantNet) {
        if (seenSockets.has(st.ino)) continue;
        seenSockets.add(st.ino);
        const s = await syscalls();
        holder ??= new s.ProcessFds(p.pid);
        const nsFd = holder.socketNetnsFd(Number(fd));
        if (nsFd < 0) continue;
        const id = fstatSync(nsFd).ino;
        // a socket's namespace has no path: its descriptor stays open for the rest of this short run
        if (!byId.has(id)) add('net', id, `/proc/self/fd/${nsFd}`);
        else closeSync(nsFd);
      }
    }
    holder?.close();
  }
}

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

/** PPID from /proc/PID/stat, parsed after the last ')'; lsns reads it for every process, we for those shown. */
export function ppidOf(p: Proc): number {
  if (p.ppidCache !== undefined) return p.ppidCache;
  let ppid = 0;
  try {
    const dir = p.pid === p.tgid ? `/proc/${p.pid}` : `/proc/${p.tgid}/task/${p.pid}`;
    const stat = readSmall(`${dir}/stat`).toString('latin1');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 2);
    ppid = Number(rest[1]);
  } catch {
    /* gone */
  }
  return (p.ppidCache = ppid);
}

/** The owner of /proc/PID, as lsns takes it. */
export function uidOf(p: Proc): number {
  if (p.uidCache !== undefined) return p.uidCache;
  try {
    p.uidCache = statSync(`/proc/${p.tgid}`).uid;
  } catch {
    p.uidCache = 0;
  }
  return p.uidCache;
}

let readBuf: Buffer | undefined;

/** The first 8 KiB of a /proc file in three system calls (readFileSync needs more). */
function readSmall(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = (readBuf ??= Buffer.allocUnsafe(8192));
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, null));
  } finally {
    closeSync(fd);
  }
}

/** COMMAND as lsns shows it: the first 8 KiB of cmdline with NULs as blanks and the last byte dropped, else comm. */
export function commandOf(p: Proc): string | undefined {
  const dir = p.pid === p.tgid ? `/proc/${p.pid}` : `/proc/${p.tgid}/task/${p.pid}`;
  for (const file of ['cmdline', 'comm']) {
    let fd: number;
    try {
      fd = openSync(`${dir}/${file}`, 'r');
    } catch {
      continue;
    }
    try {
      const buf = (readBuf ??= Buffer.allocUnsafe(8192));
      let n = 0;
      for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
      if (n <= 0) continue;
      for (let i = 0; i < n; i++) if (buf[i] === 0) buf[i] = 32;
      return buf.toString('utf8', 0, n - 1);
    } catch {
      continue;
    } finally {
      closeSync(fd);
    }
  }
  return undefined;
}

/**
 * Parents and owners that are not in the list (their processes are gone)
 * are added as NPROCS 0 "ghosts", as lsns does for its owner/parent trees.
 */
export async function connectRelations(s: Scan, kind: 'parent' | 'owner'): Promise<void> {
  const sc = await syscalls();
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
      ns = {
        id: a.inode,
        type,
        nprocs: 0,
        procs: [],
        uidFallback: a.ownerUid,
        parentId: a.parent,
        ownerId: a.owner,
        ghost: true,
      };
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
