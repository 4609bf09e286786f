/**
 * @ns/syscalls: child_process with namespaces (spawn, spawnSync, run), the
 * namespaces on the machine (listNamespaces), and the typed system calls a
 * program may make itself. The tools' own machinery (the caller record, the
 * steps, the planner, the waiter, the /proc scan) is @ns/syscalls/internal.
 */
export * from './namespaces.js';
export {
  MNT_DETACH,
  MS_BIND,
  MS_MOVE,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  MS_SHARED,
  MS_SLAVE,
  NS_GET_NSTYPE,
  NS_GET_OWNER_UID,
  NS_GET_PARENT,
  NS_GET_USERNS,
  PROPAGATION,
  closeFd,
  mount,
  nsGetOwnerUid,
  nsGetParent,
  nsGetType,
  nsGetUserns,
  pidfdGetfd,
  pidfdOpen,
  sethostname,
  setns,
  socketNetns,
  umount,
  unshare,
} from './calls.js';
export {
  closeNamespace,
  namespaceInode,
  namespaceLink,
  namespacesOf,
  openNamespace,
  type NamespaceRef,
} from './proc.js';
export { ExecError, NsError, RunError, errnoName, strerror } from './errors.js';
export {
  spawn,
  spawnSync,
  type NamespaceOptions,
  type NsSpawnOptions,
  type NsSpawnSyncOptions,
} from './process.js';
export { run, RunFailure, type RunResult } from './promise.js';
export {
  listNamespaces,
  listNamespacesSync,
  type ListOptions,
  type NamespaceRecord,
} from './list.js';
export type { IdRange } from './run/idmap.js';
