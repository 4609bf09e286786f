/** The one planner and what carries its plans out (see plan.ts). */
export * from './plan.js';
export { idMap, isRanged, mapText, type IdKind, type IdRange, type RangeSpec } from './idmap.js';
export { resolveEnter, type EnterRequest, type Id, type Resolved, type Target } from './enter.js';
export { bindAll, runPlan, unbindAll, writeMaps } from './carry.js';
