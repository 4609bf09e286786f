/**
 * The output table, printed the way libsmartcols prints lsns' table: aligned
 * columns (width rules and tree art included), raw with \xHH escapes, or
 * pretty-printed JSON with "children" arrays for trees.
 */
import type { Column } from './columns.js';

export interface OutColumn {
  col: Column;
  /** this column carries the tree art */
  tree: boolean;
  right: boolean;
  trunc: boolean;
  /** newline-separated cells print on several lines */
  wrap: boolean;
}

export interface Row {
  /** undefined: an empty cell (null in JSON); arrays only for list-valued JSON cells */
  cells: (string | number[] | undefined)[];
  children: Row[];
  parent?: Row;
}

export class Table {
  readonly rows: Row[] = [];
  constructor(readonly columns: OutColumn[]) {}

  add(cells: Row['cells'], parent?: Row): Row {
    const row: Row = { cells, children: [], parent };
    parent?.children.push(row);
    this.rows.push(row);
    return row;
  }

  get isTree(): boolean {
    return this.columns.some((c) => c.tree);
  }

  /** Rows in printing order: depth first from the roots for a tree, else as added. */
  ordered(): Row[] {
    if (!this.isTree) return this.rows;
    const out: Row[] = [];
    const walk = (r: Row) => {
      out.push(r);
      r.children.forEach(walk);
    };
    this.rows.filter((r) => !r.parent).forEach(walk);
    return out;
  }
}

export interface PrintOptions {
  noHeadings: boolean;
  utf8: boolean;
  /** terminal width when stdout is a terminal and truncation is allowed */
  termWidth?: number;
}

const text = (v: Row['cells'][number]): string =>
  v === undefined ? '' : Array.isArray(v) ? v.join(',') : v;

/** The tree art in front of a row: ancestors' continuation lines, then its own branch. */
function treeArt(row: Row, utf8: boolean): string {
  if (!row.parent) return '';
  const [vert, branch, last] = utf8 ? ['│ ', '├─', '└─'] : ['| ', '|-', '`-'];
  const isLast = (r: Row) => {
    const sibs = r.parent!.children;
    return sibs[sibs.length - 1] === r;
  };
  let art = isLast(row) ? last : branch;
  for (let a = row.parent; a.parent; a = a.parent) art = (isLast(a) ? '  ' : vert) + art;
  return art;
}

/** libsmartcols' safe encoding for terminals: control characters as \xHH. */
function safe(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x1f\x7f]/.test(s)) return s;
  // eslint-disable-next-line no-control-regex
  return s.replace(
    /[\x00-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** Display width: code points (wide characters are rare enough in this output). */
function width(s: string): number {
  if (!/[\uD800-\uDFFF]/.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function cut(s: string, w: number): string {
  return [...s].slice(0, w).join('');
}

export function printHuman(t: Table, o: PrintOptions): string {
  const cols = t.columns;
  const rows = t.ordered();
  // each cell as its lines (several only for wrap columns)
  const cells = rows.map((r) =>
    cols.map((c, i) => {
      const v = text(r.cells[i]);
      const lines = c.wrap ? v.split('\n').map(safe) : [safe(v)];
      if (c.tree) lines[0] = treeArt(r, o.utf8) + lines[0];
      return lines;
    }),
  );
  const widths = cols.map((c, i) => {
    const min = width(c.col.id);
    let w = 0;
    for (const r of cells) for (const l of r[i]) w = Math.max(w, width(l));
    if (w < min) return min;
    if (c.col.whint >= 1 && w < c.col.whint && min < c.col.whint) return c.col.whint;
    return w;
  });
  if (o.termWidth) {
    let total = widths.reduce((a, b) => a + b, 0) + widths.length - 1;
    for (let i = cols.length - 1; i >= 0 && total > o.termWidth; i--) {
      if (!cols[i].trunc) continue;
      const w = Math.max(width(cols[i].col.id), widths[i] - (total - o.termWidth));
      total -= widths[i] - w;
      widths[i] = w;
    }
  }
  const line = (parts: string[]) =>
    parts
      .map((p, i) => {
        const w = widths[i];
        // an empty last cell prints nothing, not even alignment blanks
        if (i === parts.length - 1 && p === '') return '';
        if (width(p) > w) p = cut(p, w);
        if (cols[i].right) return ' '.repeat(w - width(p)) + p;
        return i === parts.length - 1 ? p : p + ' '.repeat(w - width(p));
      })
      .join(' ');
  const out: string[] = [];
  if (!o.noHeadings && rows.length > 0) out.push(line(cols.map((c) => c.col.id)));
  for (const r of cells) {
    const n = Math.max(...r.map((l) => l.length));
    for (let k = 0; k < n; k++) out.push(line(r.map((l) => l[k] ?? '')));
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** Raw cells: blanks, backslashes, and every byte that is not printable ASCII as \xHH. */
export function rawEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s)) {
    if (b <= 0x20 || b >= 0x7f || b === 0x5c) out += `\\x${b.toString(16).padStart(2, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

export function printRaw(t: Table, o: PrintOptions): string {
  const rows = t.ordered();
  const out: string[] = [];
  if (!o.noHeadings && rows.length > 0)
    out.push(t.columns.map((c) => rawEscape(c.col.id)).join(' '));
  for (const r of rows)
    out.push(
      t.columns
        .map((c, i) => rawEscape((c.tree ? treeArt(r, o.utf8) : '') + text(r.cells[i])))
        .join(' '),
    );
  return out.length ? out.join('\n') + '\n' : '';
}

/** A JSON string as libsmartcols writes it: quotes, backslashes and control characters escaped. */
function jsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c >= 0x20) out += ch;
    else
      out +=
        { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' }[c] ??
        `\\u00${c.toString(16).padStart(2, '0')}`;
  }
  return out + '"';
}

export function printJson(t: Table, name: string): string {
  const keys = t.columns.map((c) => jsonString(c.col.id.toLowerCase()));
  const value = (c: OutColumn, v: Row['cells'][number]): string => {
    if (Array.isArray(v)) return `[${v.join(', ')}]`;
    if (v === undefined || v === '') return 'null';
    return c.col.json === 'number' ? v : jsonString(v);
  };
  const array = (key: string, rows: Row[], ind: string): string[] => {
    const lines = [`${ind}${key}: [`];
    if (rows.length === 0) lines.push('');
    rows.forEach((r, k) => {
      const inner = ind + '      ';
      if (k === 0) lines.push(`${ind}   {`);
      else lines[lines.length - 1] = `${ind}   },{`;
      const fields = t.columns.map((c, i) => `${inner}${keys[i]}: ${value(c, r.cells[i])}`);
      const kids = t.isTree && r.children.length ? array('"children"', r.children, inner) : [];
      if (kids.length) fields.push(kids.shift()!);
      lines.push(...fields.map((f, i) => (i < fields.length - 1 ? f + ',' : f)), ...kids);
      lines.push(`${ind}   }`);
    });
    lines.push(`${ind}]`);
    return lines;
  };
  const roots = t.isTree ? t.rows.filter((r) => !r.parent) : t.rows;
  return ['{', ...array(jsonString(name), roots, '   '), '}', ''].join('\n');
}
