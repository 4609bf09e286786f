/**
 * Questions about a namespace that only the kernel can answer: its parent and
 * owner (NS_GET_* ioctls), the network namespace behind a socket another
 * process holds (pidfd_getfd + SIOCGSKNS), and a network namespace's id as
 * seen from ours (rtnetlink RTM_GETNSID). koffi is loaded on first use only.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';
import { getLibc, libcGroup } from './native.js';
import { namespaceByFlag, type NamespaceType } from './namespaces.js';
import {
  NS_GET_NSTYPE,
  NS_GET_OWNER_UID,
  NS_GET_PARENT,
  NS_GET_USERNS,
  SIOCGSKNS,
  pidfdGetfd,
  pidfdOpen,
} from './calls.js';

/** Calls an ioctl that returns a namespace descriptor; the inode of that namespace, or 0 on any error. */
function relatedInode(fd: number, request: number): number {
  const rel = getLibc().ioctl(fd, request) as number;
  if (rel < 0) return 0;
  try {
    return fstatSync(rel).ino;
  } finally {
    closeSync(rel);
  }
}

/** A namespace's parent and owning user namespace (NS_GET_PARENT, NS_GET_USERNS). */
export interface NsRelations {
  /** the parent namespace (pid and user namespaces only), 0 if none or not visible */
  parent: number;
  /** the owning user namespace, 0 if none or not visible (the initial user namespace) */
  owner: number;
}

/** Parent and owner of the namespace open as fd; `hierarchical` asks for the parent too (pid, user). */
export function nsRelationsOfFd(fd: number, hierarchical: boolean): NsRelations {
  return {
    parent: hierarchical ? relatedInode(fd, NS_GET_PARENT) : 0,
    owner: relatedInode(fd, NS_GET_USERNS),
  };
}

/** Runs use(fd) on the namespace file at path, opened read-only; undefined if it cannot be opened. */
function withNamespaceFile<T>(path: string, use: (fd: number) => T): T | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

/** Parent and owner of the namespace file at path (e.g. /proc/PID/ns/user); undefined if it cannot be opened. */
export function nsRelations(path: string, hierarchical: boolean): NsRelations | undefined {
  return withNamespaceFile(path, (fd) => nsRelationsOfFd(fd, hierarchical));
}

/** NS_GET_OWNER_UID of the namespace at path: the creator's uid for a user namespace, 0 otherwise. */
export function nsOwnerUid(path: string): number {
  const out = new Uint32Array(1);
  const ok = withNamespaceFile(
    path,
    (fd) => getLibc().ioctl(fd, NS_GET_OWNER_UID, 'uint32_t *', out) >= 0,
  );
  return ok ? out[0] : 0;
}

/** A process opened by pidfd, to look at the sockets it holds. */
export class ProcessFds {
  private pidfd = -1;
  constructor(readonly pid: number) {}

  /**
   * The network namespace of the socket that is descriptor `fd` of the
   * process, as an open namespace descriptor the caller must close; -1 when
   * the process or the descriptor is gone or not ours to see.
   */
  socketNetnsFd(fd: number): number {
    try {
      if (this.pidfd < 0) this.pidfd = pidfdOpen(this.pid);
      const sock = pidfdGetfd(this.pidfd, fd);
      try {
        return getLibc().ioctl(sock, SIOCGSKNS) as number;
      } finally {
        closeSync(sock);
      }
    } catch {
      return -1;
    }
  }

  close(): void {
    if (this.pidfd >= 0) closeSync(this.pidfd);
    this.pidfd = -1;
  }
}

// rtnetlink: ask for the id our network namespace gives another one.
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const RTM_NEWNSID = 88;
const RTM_GETNSID = 90;
const NLM_F_REQUEST = 1;
const NETNSA_NSID = 1;
const NETNSA_FD = 3;

/** NETNSID of a namespace that is not assigned an id in ours (NETNSA_NSID_NOT_ASSIGNED). */
export const NETNSID_UNASSIGNED = -1;

const netlink = libcGroup({
  socket: 'int socket(int domain, int type, int protocol)',
  send: 'long send(int fd, const void *buf, size_t len, int flags)',
  recv: 'long recv(int fd, _Out_ void *buf, size_t len, int flags)',
});

/** An NETLINK_ROUTE socket that answers RTM_GETNSID queries; one per listing. */
export class NetnsIds {
  private fd: number;
  private seq = 0;
  constructor() {
    this.fd = netlink().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  }

  /**
   * The id of the network namespace open as nsFd: a number >= 0,
   * NETNSID_UNASSIGNED, or undefined when the kernel does not tell.
   */
  idOfFd(nsFd: number): number | undefined {
    if (this.fd < 0) return undefined;
    // nlmsghdr (16) + rtgenmsg padded to 4 + rtattr NETNSA_FD with an int32
    const req = Buffer.alloc(28);
    req.writeUInt32LE(28, 0);
    req.writeUInt16LE(RTM_GETNSID, 4);
    req.writeUInt16LE(NLM_F_REQUEST, 6);
    req.writeUInt32LE(++this.seq, 8);
    req.writeUInt8(0, 16); // AF_UNSPEC
    req.writeUInt16LE(8, 20);
    req.writeUInt16LE(NETNSA_FD, 22);
    req.writeInt32LE(nsFd, 24);
    if (netlink().send(this.fd, req, req.length, 0) < 0) return undefined;
    const res = Buffer.alloc(256);
    const n = netlink().recv(this.fd, res, res.length, 0);
    if (n < 20 || res.readUInt16LE(4) !== RTM_NEWNSID) return undefined;
    const end = Math.min(n, res.readUInt32LE(0));
    for (let off = 20; off + 4 <= end;) {
      const len = res.readUInt16LE(off);
      if (len < 4) break;
      if (res.readUInt16LE(off + 2) === NETNSA_NSID && len >= 8) return res.readInt32LE(off + 4);
      off += (len + 3) & ~3;
    }
    return undefined;
  }

  /** The id of the network namespace at path (e.g. /proc/PID/ns/net), as idOfFd. */
  idOf(path: string): number | undefined {
    return withNamespaceFile(path, (fd) => this.idOfFd(fd));
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** One step up a namespace's chain of parents or owners. */
export interface NsAncestor {
  inode: number;
  /** its own parent (0 for none) and owner */
  parent: number;
  owner: number;
  /** NS_GET_OWNER_UID: its creator's uid for a user namespace, else 0 */
  ownerUid: number;
}

/**
 * The chain of parents (NS_GET_PARENT) or owners (NS_GET_USERNS) above the
 * namespace at path, nearest first, as far as the kernel lets us see.
 */
export function nsAncestors(path: string, kind: 'parent' | 'owner'): NsAncestor[] {
  const out: NsAncestor[] = [];
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return out;
  }
  const libc = getLibc();
  for (let depth = 0; depth < 64; depth++) {
    const up = libc.ioctl(fd, kind === 'parent' ? NS_GET_PARENT : NS_GET_USERNS) as number;
    closeSync(fd);
    if (up < 0) return out;
    fd = up;
    const rel = nsRelationsOfFd(fd, true); // ancestors are pid or user namespaces;
    const uid = new Uint32Array(1);
    const ownerUid = libc.ioctl(fd, NS_GET_OWNER_UID, 'uint32_t *', uid) < 0 ? 0 : uid[0];
    out.push({ inode: fstatSync(fd).ino, parent: rel.parent, owner: rel.owner, ownerUid });
  }
  closeSync(fd);
  return out;
}

/** NS_GET_NSTYPE of the namespace at path, as its /proc/PID/ns name; undefined if unknown. */
export function nsTypeOf(path: string): NamespaceType | undefined {
  return withNamespaceFile(path, (fd) => {
    const flag = getLibc().ioctl(fd, NS_GET_NSTYPE) as number;
    return flag < 0 ? undefined : namespaceByFlag(flag)?.type;
  });
}
