/** Parsing of user and group ids and id ranges for the map options. */
import { ToolError } from '@ns/cli';
import { groupByName, userByName, type RangeSpec } from '@ns/syscalls/internal';

/** A numeric id, or a user (uid) or group (gid) name from the system's name service. */
export function resolveId(text: string, kind: 'uid' | 'gid'): number {
  if (/^\d+$/.test(text) && Number(text) <= 0xffffffff) return Number(text);
  const id = kind === 'uid' ? userByName(text)?.uid : groupByName(text)?.gid;
  if (id !== undefined) return id;
  throw new ToolError(`failed to parse ${kind}: '${text}'`);
}

/** INNER:OUTER:COUNT, the legacy OUTER,INNER,COUNT, or one of auto, subids, all. */
export function parseRange(text: string): RangeSpec {
  if (text === 'auto' || text === 'subids' || text === 'all') return text;
  const colon = /^(\d+):(\d+):(\d+)$/.exec(text);
  if (colon) return { inner: Number(colon[1]), outer: Number(colon[2]), count: Number(colon[3]) };
  const comma = /^(\d+),(\d+),(\d+)$/.exec(text);
  if (comma) return { outer: Number(comma[1]), inner: Number(comma[2]), count: Number(comma[3]) };
  throw new ToolError(`invalid mapping '${text}'`);
}
