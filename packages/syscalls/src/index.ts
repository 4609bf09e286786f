export * from './namespaces.js';
export * from './calls.js';
export {
  NsError,
  ExecError,
  RunError,
  errnoName,
  errnoOf,
  signalNumbers,
  strerror,
} from './errors.js';
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
  waitChild,
  type Child,
  type ExitStatus,
  type SpawnOptions,
  type WaiterMode,
} from './spawn.js';
export * from './proc.js';
export { pidfdAlive, pidfdInode } from './enter.js';
export * from './nsquery.js';
export * from './procscan.js';
export * from './users.js';
export {
  spawn,
  spawnSync,
  type NsSpawnOptions,
  type NsSpawnSyncOptions,
  type NamespaceOptions,
} from './process.js';
export { listNamespaces, type ListOptions, type NamespaceRecord } from './list.js';
/** The scan engine behind listNamespaces(), as ts-nsls uses it for its columns and trees. */
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
export * from './run/index.js';
