/**
 * listNamespaces(): the namespaces on this machine as records with the field
 * names and types of `ts-nsls -J` (and lsns -J). It runs the scan engine
 * ts-nsls itself is built on (scan/collect.ts, procscan.ts).
 */
import {
  closeScan,
  commandOf,
  scanInBackground,
  scanSync,
  TYPES,
  uidOf,
  type Namespace,
  type NsType,
  type Scan,
  type ScanOptions,
} from './scan/collect.js';
import type { NamespaceType } from './namespaces.js';
import { userById } from './users.js';

/** One namespace, as ts-nsls -J prints it. */
export interface NamespaceRecord {
  /** the namespace's inode number */
  ns: number;
  type: NamespaceType;
  /** how many processes are in it (0: held only by a bind mount, a descriptor or a socket) */
  nprocs: number;
  /** its lowest PID (null without a process), and the owner and command line lsns shows */
  pid: number | null;
  uid: number;
  user: string;
  command: string | null;
  /** every PID in it, ascending */
  pids: number[];
}

/** What listNamespaces() lists. */
export interface ListOptions {
  /** only these types (default: all eight) */
  types?: NamespaceType[];
  /** only the namespaces of this process (lsns -p) */
  pid?: number;
}

/**
 * The namespaces of this machine in the order of their inode numbers: those
 * of processes, and those held only by bind mounts, descriptors or sockets
 * (NPROCS 0), as newer lsns lists them. A process that ends during the scan,
 * or whose links may not be read, is left out, as lsns leaves it out.
 */
export async function listNamespaces(options: ListOptions = {}): Promise<NamespaceRecord[]> {
  return records(await scanInBackground(scanOptions(options)), options.pid);
}

/**
 * listNamespaces(), for scripts: the same list, the calling thread waiting
 * for the whole scan.
 */
export function listNamespacesSync(options: ListOptions = {}): NamespaceRecord[] {
  return records(scanSync(scanOptions(options)), options.pid);
}

/** What the scan reads for a listing. */
function scanOptions(options: ListOptions): ScanOptions {
  return {
    types: new Set<NsType>(options.types ?? TYPES),
    threads: false,
    processless: options.pid === undefined,
    relations: false,
    netnsid: false,
    details: { ppid: false, uid: true, command: true },
  };
}

/**
 * The namespaces of a scan as records (those of process pid only, given
 * pid); then the scan's descriptors are closed, the socket-held namespaces
 * among them: nothing of ours holds a namespace after.
 */
function records(s: Scan, pid: number | undefined): NamespaceRecord[] {
  try {
    return recordsOf(s.namespaces, pid);
  } finally {
    closeScan(s);
  }
}

function recordsOf(namespaces: Namespace[], pid: number | undefined): NamespaceRecord[] {
  const records: NamespaceRecord[] = [];
  for (const ns of namespaces) {
    if (ns.ghost) continue;
    if (pid !== undefined && !ns.procs.some((p) => p.pid === pid)) continue;
    // without a process, the owner lsns shows (NS_GET_OWNER_UID for a user namespace, else root)
    const uid = ns.proc ? uidOf(ns.proc) : ns.uidFallback;
    records.push({
      ns: ns.id,
      type: ns.type,
      nprocs: ns.nprocs,
      pid: ns.proc?.pid ?? null,
      uid,
      user: userById(uid)?.name ?? String(uid),
      command: (ns.proc && commandOf(ns.proc)) ?? null,
      pids: ns.procs.map((p) => p.pid).sort((a, b) => a - b),
    });
  }
  return records;
}
