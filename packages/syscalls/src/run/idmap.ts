/**
 * uid and gid maps: the lines a new user namespace gets, from a single
 * mapping (-r, -c, --map-user) and ranges (--map-users, uidMap), as
 * util-linux computes them.
 */
import { readFileSync } from 'node:fs';
import { RunError } from '../errors.js';
import { userById } from '../users.js';

/** One line of a uid or gid map: `count` ids from `outer` (ours) appear as `inner` inside. */
export interface IdRange {
  inner: number;
  outer: number;
  count: number;
}

/** A range as asked for: explicit, or one of util-linux's keywords. */
export type RangeSpec = IdRange | 'auto' | 'subids' | 'all';

export type IdKind = 'uid' | 'gid';

/** The text written to uid_map or gid_map (or given to newuidmap as words). */
export function mapText(ranges: readonly IdRange[]): string {
  return ranges.map((r) => `${r.inner} ${r.outer} ${r.count}\n`).join('');
}

/** A map that only an outside helper may write for an unprivileged caller. */
export const isRanged = (m?: readonly IdRange[]): boolean =>
  m !== undefined && (m.length > 1 || m[0].count > 1);

/**
 * The map lines for one kind of id: the single mapping (inner <- own id)
 * first, then the ranges, each range losing the id the single mapping took.
 */
export function idMap(
  single: number | undefined,
  own: number,
  specs: readonly RangeSpec[],
  kind: IdKind,
  withRanges: boolean,
  /** whose subordinate ranges 'auto' and 'subids' mean */
  user: number,
): IdRange[] | undefined {
  const ranges = specs.flatMap((s) => expandRange(s, kind, user));
  if (single === undefined && ranges.length === 0) return undefined;
  if (single === undefined) return ranges;
  const first: IdRange = { inner: single, outer: own, count: 1 };
  if (!withRanges) return [first];
  const out: IdRange[] = [first];
  for (const r of ranges) {
    // Punch the single mapping's inner id out of the range, as util-linux does.
    const inner = r.inner;
    const hit = single >= r.inner && single < r.inner + r.count;
    if (!hit) {
      out.push(r);
      continue;
    }
    const below = single - inner;
    if (below > 0) out.push({ inner, outer: r.outer, count: below });
    const above = r.count - below - 1;
    if (above > 0) out.push({ inner: single + 1, outer: r.outer + below + 1, count: above });
  }
  return out;
}

function expandRange(spec: RangeSpec, kind: IdKind, user: number): IdRange[] {
  if (typeof spec !== 'string') return [spec];
  if (spec === 'all') {
    const file = `/proc/self/${kind}_map`;
    return readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).map(Number))
      .map(([inner, , count]) => ({ inner, outer: inner, count }));
  }
  const range = subordinateRange(kind, user);
  return [{ inner: spec === 'auto' ? 0 : range.outer, outer: range.outer, count: range.count }];
}

/** The first /etc/subuid (or subgid) line for the user `uid`, by name or number. */
function subordinateRange(kind: IdKind, uid: number): { outer: number; count: number } {
  const file = kind === 'uid' ? '/etc/subuid' : '/etc/subgid';
  const name = userById(uid)?.name;
  if (name === undefined) throw new RunError(`you (user ${uid}) don't exist.`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new RunError(`could not open '${file}'`);
  }
  for (const line of text.split('\n')) {
    const [who, start, count] = line.split(':');
    if ((who === name || who === String(uid)) && start !== undefined && count !== undefined)
      return { outer: Number(start), count: Number(count) };
  }
  throw new RunError(`no line matching user "${name}" in ${file}`);
}
