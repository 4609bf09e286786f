/** Reading namespaces from outside: /proc/PID/ns/* and namespace files. */
import { openSync, closeSync, statSync, readlinkSync } from 'node:fs';
import { NAMESPACES, type NamespaceType } from './namespaces.js';

/** A namespace as /proc/PID/ns shows it: type, inode and device. */
export interface NamespaceRef {
  type: NamespaceType;
  /** the namespace's inode number: its identity */
  inode: number;
  /** the nsfs device, with inode a complete identity */
  dev: number;
}

/** The namespaces process pid is in, keyed by type (types the kernel lacks are left out). */
export function namespacesOf(
  pid: number | 'self' = 'self',
): Partial<Record<NamespaceType, NamespaceRef>> {
  const out: Partial<Record<NamespaceType, NamespaceRef>> = {};
  for (const ns of NAMESPACES) {
    try {
      const st = statSync(`/proc/${pid}/ns/${ns.file}`);
      out[ns.type] = { type: ns.type, inode: st.ino, dev: st.dev };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return out;
}

/** The inode of one namespace of a process, e.g. namespaceInode(4242, 'uts'). */
export function namespaceInode(
  pid: number | 'self',
  type: NamespaceType,
  forChildren = false,
): number {
  const ns = NAMESPACES.find((n) => n.type === type)!;
  return statSync(`/proc/${pid}/ns/${forChildren ? ns.childrenFile : ns.file}`).ino;
}

/** `uts:[4026531838]` as readlink shows it. */
export function namespaceLink(pid: number | 'self', type: NamespaceType): string {
  return readlinkSync(`/proc/${pid}/ns/${NAMESPACES.find((n) => n.type === type)!.file}`);
}

/** Opens a namespace file read-only (Node opens every file close-on-exec). */
export function openNamespace(path: string): number {
  return openSync(path, 'r');
}

export { closeSync as closeNamespace };
