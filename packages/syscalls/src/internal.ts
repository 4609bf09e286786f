/**
 * What the tools use besides the public API: the caller record, steps and
 * their runners, the waiter, the planner, users and groups, and the /proc
 * scan engine. Not a stable interface.
 */
export * from './index.js';
export * from './calls.js';
export { errnoOf, signalNumbers } from './errors.js';
export { mountProcStep, type Bytes, type Step } from './steps.js';
export * from './caller.js';
export {
  becomeWaiter,
  execPaths,
  execStep,
  holdSignals,
  keepFds,
  runHere,
  spawnSteps,
  stepFailure,
  waitChild,
  type Child,
  type ExitStatus,
  type SpawnOptions,
  type WaiterMode,
} from './spawn.js';
export { pidfdAlive, pidfdInode } from './enter.js';
export * from './nsquery.js';
export * from './procscan.js';
export * from './users.js';
export * from './run/index.js';
export {
  TYPES as LSNS_TYPES,
  commandOf,
  connectRelations,
  inodeOf,
  nsfsMounts,
  ppidOf,
  scan,
  uidOf,
  type Namespace as ScannedNamespace,
  type NsType as LsnsType,
  type Proc as ScannedProcess,
  type Scan,
  type ScanOptions,
} from './scan/collect.js';
