/**
 * listNamespaces(): the namespaces of the processes on this machine, as
 * records with the field names and types of `ts-nsls -J` (and lsns -J).
 */
import { readdirSync } from 'node:fs';
import { NAMESPACES, type NamespaceType } from './namespaces.js';
import { ProcScanner } from './procscan.js';
import { userById } from './users.js';

/** One namespace, as ts-nsls -J prints it. */
export interface NamespaceRecord {
  /** the namespace's inode number */
  ns: number;
  type: NamespaceType;
  /** how many processes are in it */
  nprocs: number;
  /** its lowest PID, and that process's owner and command line, as lsns shows them */
  pid: number;
  uid: number | null;
  user: string | null;
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
 * The namespaces that have processes, in the order of their inode numbers.
 * A process that ends during the scan, or whose links may not be read, is
 * left out, as lsns leaves it out.
 */
export function listNamespaces(options: ListOptions = {}): NamespaceRecord[] {
  const types = NAMESPACES.filter((n) => !options.types || options.types.includes(n.type));
  const pids = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .sort((a, b) => a - b);
  const scanner = new ProcScanner();
  const found = new Map<number, { type: NamespaceType; pids: number[] }>();
  try {
    for (const pid of pids) {
      if (!scanner.openNamespaces(`/proc/${pid}`)) continue;
      for (const n of types) {
        const inode = scanner.nsInode(n.file);
        if (inode <= 0) continue;
        const entry = found.get(inode) ?? { type: n.type, pids: [] };
        entry.pids.push(pid);
        found.set(inode, entry);
      }
    }
    const wanted = [...found].filter(
      ([, e]) => options.pid === undefined || e.pids.includes(options.pid),
    );
    return wanted
      .sort(([a], [b]) => a - b)
      .map(([ns, e]) => {
        const pid = e.pids[0];
        const open = scanner.open(`/proc/${pid}`);
        const uid = open ? scanner.uid() : -1;
        return {
          ns,
          type: e.type,
          nprocs: e.pids.length,
          pid,
          uid: uid >= 0 ? uid : null,
          user: uid >= 0 ? (userById(uid)?.name ?? String(uid)) : null,
          command: (open && scanner.command()) || null,
          pids: e.pids,
        };
      });
  } finally {
    scanner.close();
  }
}
