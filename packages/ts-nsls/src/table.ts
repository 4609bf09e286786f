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
  /** the rows under it in a tree: shared and empty until one is added (a listing has thousands of rows) */
  children: Row[];
  parent: Row | undefined;
}

const NO_CHILDREN: Row[] = [];

export class Table {
  readonly rows: Row[] = [];
  constructor(readonly columns: OutColumn[]) {}

  add(cells: Row['cells'], parent?: Row): Row {
    const row: Row = { cells, children: NO_CHILDREN, parent };
    if (parent) {
      if (parent.children === NO_CHILDREN) parent.children = [];
      parent.children.push(row);
    }
    this.rows.push(row);
    return row;
  }

  get isTree(): boolean {
    return this.columns.some((c) => c.tree);
  }

  /** Rows in printing order: depth first from the roots for a tree, else as added. */
  ordered(): Row[] {
    return this.isTree ? walkTree(this.rows).rows : this.rows;
  }
}

/**
 * The rows of a tree depth first, each with its tree art (ancestors'
 * continuation lines, then its own branch). The art of a row's children
 * starts with the row's own prefix, so each row costs one concatenation
 * instead of a walk up to the root. Iterative: a deep tree cannot overflow
 * the stack.
 */
function walkTree(all: Row[], utf8 = true): { rows: Row[]; art: string[] } {
  const [vert, branch, last] = utf8 ? ['│ ', '├─', '└─'] : ['| ', '|-', '`-'];
  const rows: Row[] = [];
  const art: string[] = [];
  // a stack of [row, prefix for its children]; roots are pushed in reverse to pop in order
  const stack: Row[] = [];
  const prefixes: string[] = [];
  for (let i = all.length - 1; i >= 0; i--)
    if (!all[i].parent) {
      stack.push(all[i]);
      prefixes.push('');
    }
  while (stack.length > 0) {
    const r = stack.pop()!;
    const own = prefixes.pop()!;
    rows.push(r);
    art.push(own);
    const kids = r.children;
    if (kids.length === 0) continue;
    // a root's children start at the margin; deeper ones continue their parent's line
    let base = '';
    if (r.parent) {
      const sibs = r.parent.children;
      base = own.slice(0, -2) + (sibs[sibs.length - 1] === r ? '  ' : vert);
    }
    for (let k = kids.length - 1; k >= 0; k--) {
      stack.push(kids[k]);
      prefixes.push(base + (k === kids.length - 1 ? last : branch));
    }
  }
  return { rows, art };
}

export interface PrintOptions {
  noHeadings: boolean;
  utf8: boolean;
  /** terminal width when stdout is a terminal and truncation is allowed */
  termWidth?: number;
  /**
   * where the text goes, some 64 KiB at a time (printHuman then returns ''):
   * a listing of thousands of rows is never held whole, nor as the many
   * small pieces it is joined from
   */
  write?: (text: string) => void;
  /**
   * libsmartcols 2.38's widths: the header's width is a column's minimum
   * even without headings, and a column exactly that wide still gets its
   * width hint. Otherwise 2.42's: without headings a column is as wide as
   * its data (an empty one takes no room), and the hint widens only a
   * column wider than its minimum.
   */
  widths238?: boolean;
}

const text = (v: Row['cells'][number]): string =>
  v === undefined ? '' : Array.isArray(v) ? v.join(',') : v;

/** The rows in printing order and, for a tree, the art in front of each. */
function layout(t: Table, utf8: boolean): { rows: Row[]; art: string[] | undefined } {
  return t.isTree ? walkTree(t.rows, utf8) : { rows: t.rows, art: undefined };
}

/**
 * The display width of s when it prints as it is: its length, or -1 when it
 * has control characters (to be escaped) or surrogate pairs (several code
 * units per column). One pass over the characters; nearly every cell is plain.
 */
function plainWidth(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || (c >= 0xd800 && c <= 0xdfff)) return -1;
  }
  return s.length;
}

/** libsmartcols' safe encoding for terminals: control characters as \xHH. */
function safe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(
    /[\x00-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** Display width: code points (wide characters are rare enough in this output). */
function width(s: string): number {
  const w = plainWidth(s);
  if (w >= 0) return w;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function cut(s: string, w: number): string {
  return [...s].slice(0, w).join('');
}

/** Blanks of each length, made once per length. */
const blanks: string[] = [''];
function pad(n: number): string {
  while (blanks.length <= n) blanks.push(blanks[blanks.length - 1] + ' ');
  return blanks[n];
}

export function printHuman(t: Table, o: PrintOptions): string {
  const cols = t.columns;
  const C = cols.length;
  const { rows, art } = layout(t, o.utf8);
  // every cell's first line and its width, flat by row; the rare cells of
  // several lines (wrap columns) keep their further lines aside
  const first: string[] = new Array(rows.length * C);
  const widthOf = new Int32Array(rows.length * C);
  let more: Map<number, string[]> | undefined;
  const widths = new Array<number>(C).fill(0);
  for (let r = 0; r < rows.length; r++) {
    const rc = rows[r].cells;
    for (let i = 0; i < C; i++) {
      let v = text(rc[i]);
      let w = plainWidth(v);
      if (cols[i].wrap && v.includes('\n')) {
        const lines = v.split('\n').map(safe);
        for (const l of lines) widths[i] = Math.max(widths[i], width(l));
        (more ??= new Map()).set(r * C + i, lines);
        v = lines[0];
        w = width(v);
      } else if (w < 0) {
        v = safe(v);
        w = width(v);
      }
      // the art is ASCII or box drawing: one column per code unit
      if (cols[i].tree && art) {
        v = art[r] + v;
        w += art[r].length;
      }
      first[r * C + i] = v;
      widthOf[r * C + i] = w;
      if (w > widths[i]) widths[i] = w;
    }
  }
  for (let i = 0; i < C; i++) {
    const c = cols[i];
    const w = widths[i];
    if (o.widths238) {
      const min = width(c.col.id);
      if (w < min) widths[i] = min;
      else if (c.col.whint >= 1 && w < c.col.whint && min < c.col.whint) widths[i] = c.col.whint;
      continue;
    }
    const min = o.noHeadings ? 1 : Math.max(1, width(c.col.id));
    if (w <= min) widths[i] = o.noHeadings && w === 0 ? 0 : min;
    else if (c.col.whint >= 1 && w < c.col.whint && min < c.col.whint) widths[i] = c.col.whint;
  }
  if (o.termWidth) {
    let total = widths.reduce((a, b) => a + b, 0) + widths.length - 1;
    for (let i = C - 1; i >= 0 && total > o.termWidth; i--) {
      if (!cols[i].trunc) continue;
      const w = Math.max(width(cols[i].col.id), widths[i] - (total - o.termWidth));
      total -= widths[i] - w;
      widths[i] = w;
    }
  }
  // one output line; w < 0: not measured yet
  const cell = (p: string, pw: number, i: number): string => {
    const w = widths[i];
    // an empty last cell prints nothing, not even alignment blanks
    if (i === C - 1 && p === '') return '';
    if (pw < 0) pw = width(p);
    if (pw > w) {
      p = cut(p, w);
      pw = width(p);
    }
    if (cols[i].right) return pad(w - pw) + p;
    return i === C - 1 ? p : p + pad(w - pw);
  };
  let out = '';
  if (!o.noHeadings && rows.length > 0) {
    for (let i = 0; i < C; i++) out += (i ? ' ' : '') + cell(cols[i].col.id, -1, i);
    out += '\n';
  }
  for (let r = 0; r < rows.length; r++) {
    if (o.write && out.length >= 65536) {
      o.write(out);
      out = '';
    }
    for (let i = 0; i < C; i++)
      out += (i ? ' ' : '') + cell(first[r * C + i], widthOf[r * C + i], i);
    out += '\n';
    if (!more) continue;
    // further lines of multi-line cells, the other cells blank
    let n = 1;
    for (let i = 0; i < C; i++) n = Math.max(n, more.get(r * C + i)?.length ?? 1);
    for (let k = 1; k < n; k++) {
      for (let i = 0; i < C; i++)
        out += (i ? ' ' : '') + cell(more.get(r * C + i)?.[k] ?? '', -1, i);
      out += '\n';
    }
  }
  if (!o.write) return out;
  o.write(out);
  return '';
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
  const { rows, art } = layout(t, o.utf8);
  const out: string[] = [];
  if (!o.noHeadings && rows.length > 0)
    out.push(t.columns.map((c) => rawEscape(c.col.id)).join(' '));
  rows.forEach((r, k) =>
    out.push(
      t.columns
        .map((c, i) => rawEscape((c.tree && art ? art[k] : '') + text(r.cells[i])))
        .join(' '),
    ),
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
    if (c.col.json === 'boolean') return /^[0Nn]/.test(v) ? 'false' : 'true';
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
