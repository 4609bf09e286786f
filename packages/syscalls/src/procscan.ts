/**
 * Reading many /proc/PID directories quickly, for lsns-like scans: the
 * batched reader of native/procscan.c, in the calling thread (scan/read.ts,
 * where it is also run off the main thread for listNamespaces()).
 */
export {
  listProcesses,
  readHeldFds,
  readTasks,
  type DetailsWanted,
  type HeldFd,
  type TaskInfo,
} from './scan/read.js';
