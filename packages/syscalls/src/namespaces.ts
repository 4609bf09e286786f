/** The eight namespace types: clone flag, /proc/PID/ns name, and the name the tools print. */
export type NamespaceType = 'cgroup' | 'ipc' | 'mnt' | 'net' | 'pid' | 'time' | 'user' | 'uts';

/** clone(2) and unshare(2) flags of the eight namespace types. */
export const CLONE_NEWTIME = 0x00000080;
/** a new mount namespace */
export const CLONE_NEWNS = 0x00020000;
/** a new cgroup namespace */
export const CLONE_NEWCGROUP = 0x02000000;
/** a new UTS namespace */
export const CLONE_NEWUTS = 0x04000000;
/** a new IPC namespace */
export const CLONE_NEWIPC = 0x08000000;
/** a new user namespace */
export const CLONE_NEWUSER = 0x10000000;
/** a new PID namespace */
export const CLONE_NEWPID = 0x20000000;
/** a new network namespace */
export const CLONE_NEWNET = 0x40000000;

/** One namespace type: its flag and its files under /proc/PID/ns. */
export interface NamespaceInfo {
  type: NamespaceType;
  flag: number;
  /** file under /proc/PID/ns */
  file: string;
  /** for pid and time: the file of the namespace children will get */
  childrenFile: string;
}

const table: NamespaceInfo[] = [
  { type: 'user', flag: CLONE_NEWUSER, file: 'user', childrenFile: 'user' },
  { type: 'cgroup', flag: CLONE_NEWCGROUP, file: 'cgroup', childrenFile: 'cgroup' },
  { type: 'ipc', flag: CLONE_NEWIPC, file: 'ipc', childrenFile: 'ipc' },
  { type: 'uts', flag: CLONE_NEWUTS, file: 'uts', childrenFile: 'uts' },
  { type: 'net', flag: CLONE_NEWNET, file: 'net', childrenFile: 'net' },
  { type: 'pid', flag: CLONE_NEWPID, file: 'pid', childrenFile: 'pid_for_children' },
  { type: 'mnt', flag: CLONE_NEWNS, file: 'mnt', childrenFile: 'mnt' },
  { type: 'time', flag: CLONE_NEWTIME, file: 'time', childrenFile: 'time_for_children' },
];

/** In util-linux's order: user, cgroup, ipc, uts, net, pid, mnt, time. */
export const NAMESPACES: readonly NamespaceInfo[] = table;

/** The eight type names, in util-linux's order. */
export const NAMESPACE_TYPES: readonly NamespaceType[] = table.map((n) => n.type);

/** The table entry of a type. */
export function namespaceInfo(type: NamespaceType): NamespaceInfo {
  return table.find((n) => n.type === type)!;
}

/** The table entry of a CLONE_NEW* flag. */
export function namespaceByFlag(flag: number): NamespaceInfo | undefined {
  return table.find((n) => n.flag === flag);
}

/** The CLONE_NEW* bits of a list of types. */
export function cloneFlags(types: Iterable<NamespaceType>): number {
  let flags = 0;
  for (const t of types) flags |= namespaceInfo(t).flag;
  return flags;
}
