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
 * The map lines for one kind of id, as util-linux 2.42 makes them: the
 * single mapping (inner <- own id) first, then each range in the order
 * given. A range the single mapping touches on either side (inner or
 * outer; util-linux counts the id just past its end as touching) loses one
 * id, and is cut into up to three pieces that step over the single
 * mapping's inner id inside and its outer id outside.
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
  const touches = (id: number, start: number, count: number) => id >= start && id <= start + count;
  for (const r of ranges) {
    const count =
      touches(own, r.outer, r.count) || touches(single, r.inner, r.count) ? r.count - 1 : r.count;
    const outerOff = Math.min(Math.max(own - r.outer, 0), count);
    const innerOff = Math.min(Math.max(single - r.inner, 0), count);
    const lo: IdRange = { inner: r.inner, outer: r.outer, count: Math.min(innerOff, outerOff) };
    const step = (inner: number, outer: number, n: number): IdRange => ({
      inner: inner === single ? inner + 1 : inner,
      outer: outer === own ? outer + 1 : outer,
      count: n,
    });
    const mid = step(lo.inner + lo.count, lo.outer + lo.count, Math.abs(outerOff - innerOff));
    const hi = step(mid.inner + mid.count, mid.outer + mid.count, count - lo.count - mid.count);
    out.push(...[lo, mid, hi].filter((piece) => piece.count > 0));
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
