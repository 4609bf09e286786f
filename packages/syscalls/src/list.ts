/**
 * listNamespaces(): the namespaces on this machine as records with the field
 * names and types of `ts-nsls -J` (and lsns -J). It runs the scan engine
 * ts-nsls itself is built on (scan/collect.ts, scan/read.ts).
 */
import { closeSync } from 'node:fs';
import { commandOf, scanning, TYPES, uidOf, type Namespace, type NsType } from './scan/collect.js';
import { PAUSE, runAsync, runSync, type Reading } from './scan/read.js';
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
 * /proc is read on other threads (native/procscan.c through koffi's pool);
 * the event loop waits only for the lists being built from what they read,
 * a few milliseconds at a time. Calls may overlap: none keeps anything for
 * another, nor holds a namespace or a descriptor once it has returned.
 */
export async function listNamespaces(options: ListOptions = {}): Promise<NamespaceRecord[]> {
  return runAsync(listing(options));
}

/**
 * listNamespaces(), for scripts: the same list, the calling thread waiting
 * for the whole scan.
 */
export function listNamespacesSync(options: ListOptions = {}): NamespaceRecord[] {
  return runSync(listing(options));
}

/**
 * The listing as a Reading (scan/read.ts). The descriptors the scan opens
 * (those of the socket-held namespaces) are closed before it returns or
 * fails: nothing of ours holds a namespace after.
 */
function* listing(options: ListOptions): Reading<NamespaceRecord[]> {
  const opened: number[] = [];
  try {
    const s = yield* scanning(
      {
        types: new Set<NsType>(options.types ?? TYPES),
        threads: false,
        processless: options.pid === undefined,
        relations: false,
        netnsid: false,
        details: { ppid: false, uid: true, command: true },
      },
      opened,
    );
    return yield* recordsOf(s.namespaces, options.pid);
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

/** The namespaces of a scan as records (those of process pid only, given pid). */
function* recordsOf(namespaces: Namespace[], pid: number | undefined): Reading<NamespaceRecord[]> {
  const records: NamespaceRecord[] = [];
  // in stretches of 512, a PAUSE between two
  const add = (from: number, to: number) => {
    for (let k = from; k < to; k++) {
      const ns = namespaces[k];
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
  };
  for (let k = 0; k < namespaces.length; k += 512) {
    add(k, Math.min(k + 512, namespaces.length));
    yield PAUSE;
  }
  return records;
}
