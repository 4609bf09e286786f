/** Parsing of user and group ids and id ranges for the map options. */
import { ToolError } from '@ns/cli';
import { readFileSync } from 'node:fs';

export interface IdRange {
  inner: number;
  outer: number;
  count: number;
}

export type RangeSpec = IdRange | 'auto' | 'subids' | 'all';

/** A numeric id or a name from /etc/passwd (uid) or /etc/group (gid). */
export function resolveId(text: string, kind: 'uid' | 'gid'): number {
  if (/^\d+$/.test(text) && Number(text) <= 0xffffffff) return Number(text);
  try {
    const file = kind === 'uid' ? '/etc/passwd' : '/etc/group';
    const entry = readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[0] === text);
    if (entry) return Number(entry[2]);
  } catch {
    // fall through to the parse error
  }
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

export function mapText(ranges: IdRange[]): string {
  return ranges.map((r) => `${r.inner} ${r.outer} ${r.count}\n`).join('');
}
