/**
 * -Q/--filter: the libsmartcols filter language. Column names, numbers,
 * 'strings' and "strings"; comparisons == != < <= > >= (and eq ne lt le gt
 * ge), regular expressions =~ !~; and/&&, or/||, not/!, parentheses. A
 * column alone is true when its cell is neither empty nor 0.
 */
import { findColumn, type Column, type ColumnId } from './columns.js';

export class FilterError extends Error {}

type Node =
  | { k: 'col'; col: Column }
  | { k: 'num'; v: number }
  | { k: 'str'; v: string }
  | { k: 'bool'; v: boolean }
  | { k: 'not'; a: Node }
  | { k: 'and' | 'or'; a: Node; b: Node }
  | { k: 'cmp'; op: string; a: Node; b: Node };

type Tok = { t: 'id' | 'num' | 'str' | 'op' | 'eof'; v: string };

const OPS = ['==', '!=', '<=', '>=', '=~', '!~', '&&', '||', '<', '>', '!', '(', ')'];
const WORD_OPS: Record<string, string> = {
  and: '&&',
  or: '||',
  not: '!',
  eq: '==',
  ne: '!=',
  lt: '<',
  le: '<=',
  gt: '>',
  ge: '>=',
};

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let v = '';
      let j = i + 1;
      for (; j < src.length && src[j] !== c; j++)
        v += src[j] === '\\' && j + 1 < src.length ? src[++j] : src[j];
      if (j >= src.length) throw new FilterError('syntax error, unterminated string');
      out.push({ t: 'str', v });
      i = j + 1;
      continue;
    }
    const num = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(i));
    if (num) {
      out.push({ t: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_:.-]*/.exec(src.slice(i));
    if (id) {
      const w = WORD_OPS[id[0].toLowerCase()];
      out.push(w ? { t: 'op', v: w } : { t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new FilterError(`syntax error, unexpected '${c}'`);
    out.push({ t: 'op', v: op });
    i += op.length;
  }
  out.push({ t: 'eof', v: '' });
  return out;
}

export interface Filter {
  /** the columns the expression reads */
  columns: ColumnId[];
  test(get: (id: ColumnId) => string | undefined): boolean;
}

const MAX_DEPTH = 500;

export function parseFilter(src: string, onUnknownColumn: (name: string) => never): Filter {
  let toks: Tok[];
  try {
    toks = tokenize(src);
  } catch (e) {
    throw new FilterError(`failed to parse "${src}": ${(e as Error).message}`);
  }
  let pos = 0;
  const used = new Set<ColumnId>();
  const peek = () => toks[pos];
  const unexpected = (): never => {
    const t = peek();
    const what =
      t.t === 'eof'
        ? 'end of file'
        : t.t === 'str'
          ? 'string'
          : t.t === 'num'
            ? 'number'
            : `'${t.v}'`;
    throw new FilterError(`failed to parse "${src}": syntax error, unexpected ${what}`);
  };
  const eat = (v: string) => {
    if (peek().t === 'op' && peek().v === v) {
      pos++;
      return true;
    }
    return false;
  };
  // Each '(' and '!' recurses: a bound keeps absurd nesting a parse error, not a stack overflow.
  let depth = 0;
  const nested = <T>(parse: () => T): T => {
    if (++depth > MAX_DEPTH)
      throw new FilterError(`failed to parse "${src}": nesting deeper than ${MAX_DEPTH}`);
    const node = parse();
    depth--;
    return node;
  };
  const primary = (): Node => {
    const t = peek();
    if (eat('(')) {
      const e = nested(or);
      if (!eat(')')) unexpected();
      return e;
    }
    pos++;
    if (t.t === 'num') return { k: 'num', v: Number(t.v) };
    if (t.t === 'str') return { k: 'str', v: t.v };
    if (t.t === 'id') {
      const low = t.v.toLowerCase();
      if (low === 'true' || low === 'false') return { k: 'bool', v: low === 'true' };
      const col = findColumn(t.v);
      if (!col) onUnknownColumn(t.v);
      used.add(col!.id);
      return { k: 'col', col: col! };
    }
    pos--;
    return unexpected();
  };
  const cmp = (): Node => {
    const a = primary();
    const t = peek();
    if (t.t === 'op' && ['==', '!=', '<', '<=', '>', '>=', '=~', '!~'].includes(t.v)) {
      pos++;
      return { k: 'cmp', op: t.v, a, b: primary() };
    }
    return a;
  };
  // not binds looser than a comparison: not TYPE == "ipc" is not (TYPE == "ipc")
  const neg = (): Node => (eat('!') ? { k: 'not', a: nested(neg) } : cmp());
  const and = (): Node => {
    let a = neg();
    while (eat('&&')) a = { k: 'and', a, b: neg() };
    return a;
  };
  const or = (): Node => {
    let a = and();
    while (eat('||')) a = { k: 'or', a, b: and() };
    return a;
  };
  const tree = or();
  if (peek().t !== 'eof') unexpected();

  type Val = { v: string | number | boolean | undefined; numeric: boolean };
  const evalNode = (n: Node, get: (id: ColumnId) => string | undefined): Val => {
    switch (n.k) {
      case 'num':
        return { v: n.v, numeric: true };
      case 'str':
        return { v: n.v, numeric: false };
      case 'bool':
        return { v: n.v, numeric: false };
      case 'col': {
        const v = get(n.col.id);
        return { v: v === '' ? undefined : v, numeric: n.col.json === 'number' };
      }
      case 'not':
        return { v: !truthy(evalNode(n.a, get)), numeric: false };
      case 'and':
        return { v: truthy(evalNode(n.a, get)) && truthy(evalNode(n.b, get)), numeric: false };
      case 'or':
        return { v: truthy(evalNode(n.a, get)) || truthy(evalNode(n.b, get)), numeric: false };
      case 'cmp': {
        const a = evalNode(n.a, get);
        const b = evalNode(n.b, get);
        return { v: compare(n.op, a, b), numeric: false };
      }
    }
  };
  const truthy = (x: Val) =>
    x.v !== undefined && x.v !== false && x.v !== '' && x.v !== 0 && x.v !== '0';
  const compare = (op: string, a: Val, b: Val): boolean => {
    if (a.v === undefined || b.v === undefined) return op === '!=' || op === '!~';
    if (op === '=~' || op === '!~') {
      let re: RegExp;
      try {
        re = new RegExp(String(b.v));
      } catch {
        return false;
      }
      return re.test(String(a.v)) === (op === '=~');
    }
    let x: string | number = String(a.v);
    let y: string | number = String(b.v);
    if (a.numeric || b.numeric) {
      x = Number(a.v);
      y = Number(b.v);
    }
    switch (op) {
      case '==':
        return x === y;
      case '!=':
        return x !== y;
      case '<':
        return x < y;
      case '<=':
        return x <= y;
      case '>':
        return x > y;
      default:
        return x >= y;
    }
  };
  return { columns: [...used], test: (get) => truthy(evalNode(tree, get)) };
}
