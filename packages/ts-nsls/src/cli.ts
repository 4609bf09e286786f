/**
 * ts-nsls: list the namespaces on this machine, as util-linux lsns does.
 *
 * main() reads the options, scan() collects processes and namespaces, and
 * the rows are built the way lsns builds them (a process tree by default,
 * owner/parent trees, or the members of one namespace) and printed by
 * table.ts as aligned text, raw or JSON.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import {
  formatHelp,
  parseArgs,
  printCompletion,
  runMain,
  ToolError,
  writeErr,
  type OptionValue,
} from '@ns/cli';
import { COLUMNS, column, findColumn, type Column, type ColumnId } from './columns.js';
import {
  LSNS_TYPES as TYPES,
  callerEnv,
  callerState,
  commandOf,
  connectRelations,
  inodeOf,
  isTerminal,
  ppidOf,
  scan,
  strerror,
  uidOf,
  userById,
  type LsnsType as NsType,
  type ScannedNamespace as Namespace,
  type ScannedProcess as Proc,
  type Scan,
} from '@ns/syscalls/internal';
import { FilterError, parseFilter, type Filter } from './filter.js';
import { OPTIONS } from './options.js';
import { writeOut as writeStdout } from './output.js';
import { printHuman, printJson, printRaw, Table, type OutColumn, type Row } from './table.js';

const PROG = 'ts-nsls';
/** The package's version, put in by the build (scripts/tsup-cli.js). */
declare const __TOOL_VERSION__: string;
const VERSION = __TOOL_VERSION__;

/** TS_NSLS_COMPAT=2.38 behaves like the lsns 2.38 release: only namespaces with processes, its messages. */
const COMPAT_238 = callerEnv('TS_NSLS_COMPAT') === '2.38';

type TreeKind = 'process' | 'owner' | 'parent';

function help(): string {
  const text = formatHelp(
    PROG,
    OPTIONS,
    { usage: '[options] [<namespace ID>]', about: 'List system namespaces.' },
    24,
  );
  const cols = COLUMNS.map((c) => ` ${c.id.padStart(11)}  ${c.help}`).join('\n');
  return text.replace(
    '\nFor more details',
    `\nAvailable output columns:\n${cols}\n\nFor more details`,
  );
}

/** stdout; a closed pipe ends ts-nsls as it ends lsns (output.ts) */
const writeOut = (text: string) => writeStdout(PROG, text);

/** getopt_long without '+': options may follow the namespace argument. */
function parseCommandLine(argv: string[]): {
  options: Record<string, OptionValue>;
  positional: string[];
} {
  const options: Record<string, OptionValue> = {};
  const positional: string[] = [];
  let rest = argv;
  while (rest.length > 0) {
    const parsed = parseArgs(OPTIONS, rest);
    for (const [k, v] of Object.entries(parsed.options)) {
      const old = options[k];
      options[k] = Array.isArray(old) && Array.isArray(v) ? [...old, ...v] : v;
    }
    if (parsed.rest.length === 0) break;
    if (rest[rest.length - parsed.rest.length - 1] === '--') {
      positional.push(...parsed.rest);
      break;
    }
    positional.push(parsed.rest[0]);
    rest = parsed.rest.slice(1);
  }
  return { options, positional };
}

function exclusive(a: string, b: string): never {
  throw new ToolError(
    COMPAT_238
      ? `mutually exclusive arguments: --${a} --${b}`
      : `options --${a} and --${b} cannot be combined`,
  );
}

const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const ERANGE = 34;

/**
 * util-linux's str2num_or_err and str2unum_or_err (strtoimax' rules: blanks,
 * a sign, decimal digits, then nothing): a number outside [low, high], or a
 * negative one for an unsigned argument (low undefined), is refused with
 * strerror(ERANGE) after it; anything else that is not a number without.
 */
function number(arg: string, what: string, low: bigint | undefined, high: bigint): bigint {
  const invalid = () => new ToolError(`${what}: '${arg}'`);
  const range = () => new ToolError(`${what}: '${arg}': ${strerror(ERANGE)}`);
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(arg);
  if (!m) throw invalid();
  const v = BigInt(m[1] + m[2]);
  const trailing = m[0].length < arg.length;
  if (low === undefined) {
    if (v < 0n || v > UINT64_MAX) throw range();
  } else if (v < -INT64_MAX - 1n || v > INT64_MAX) throw range();
  if (trailing) throw invalid();
  if ((low !== undefined && v < low) || v > high) throw range();
  return v;
}

/** -p and --compare: a PID (pid_t, from 1). */
const pidArgument = (arg: string) =>
  Number(number(arg, 'invalid PID argument', 1n, 2n ** 31n - 1n));

/** -o LIST: replaces the columns, or with a leading + adds to them. */
function outputColumns(list: string, columns: Column[]): Column[] {
  const add = list.startsWith('+');
  const out = add ? [...columns] : [];
  for (const name of (add ? list.slice(1) : list).split(',')) {
    if (name === '') continue;
    const c = findColumn(name);
    if (!c) throw new ToolError(`unknown column: ${name}`);
    out.push(c);
  }
  return out;
}

let ownPid: number | undefined;
let ownCommandText: string | undefined;

/**
 * COMMAND of a process: for the tool's own (its PID as /proc numbers it),
 * the command line its caller gave, as the launcher recorded it, shown as
 * lsns shows a cmdline (its first 8 KiB, NULs as blanks, the last byte
 * dropped): /proc/self/cmdline is Node's. Started without the launcher
 * (node ts-nsls.cjs), that cmdline is the caller's own.
 */
function commandCell(p: Proc): string | undefined {
  ownPid ??= Number(readlinkSync('/proc/self'));
  if (p.tgid !== ownPid) return commandOf(p);
  if (ownCommandText === undefined) {
    const caller = callerState();
    if (!caller.recorded || caller.argv.length === 0) return commandOf(p);
    const line = Buffer.concat(caller.argv.flatMap((a) => [a, Buffer.alloc(1)])).subarray(0, 8192);
    const text = Buffer.from(line.subarray(0, line.length - 1));
    for (let i = 0; i < text.length; i++) if (text[i] === 0) text[i] = 0x20;
    ownCommandText = text.toString('utf8');
  }
  return ownCommandText;
}

/** The user name of a uid (the system's name service), or the number as lsns' idcache shows it. */
function userName(uid: number): string {
  return userById(uid)?.name ?? String(uid);
}

function isUtf8(): boolean {
  const locale = callerEnv('LC_ALL') || callerEnv('LC_CTYPE') || callerEnv('LANG') || '';
  return /utf-?8/i.test(locale);
}

/** What a namespace (and, in <namespace> mode, one of its processes) shows in each column. */
class Cells {
  constructor(
    private s: Scan,
    private nsfsSep: string,
  ) {}

  nsfs(ns: Namespace): string[] {
    const root = `${ns.type}:[${ns.id}]`;
    const out: string[] = [];
    for (const m of this.s.mounts)
      if (m.root === root && !out.includes(m.target)) out.push(m.target);
    return out;
  }

  get(id: ColumnId, ns: Namespace, proc: Proc | undefined): string | number[] | undefined {
    switch (id) {
      case 'NS':
        return String(ns.id);
      case 'TYPE':
        return ns.type;
      case 'PATH':
        return proc ? `/proc/${proc.pid}/ns/${ns.type}` : undefined;
      case 'NPROCS':
        return String(ns.nprocs);
      case 'PID':
        return proc ? String(proc.pid) : undefined;
      case 'PPID':
        return proc ? String(ppidOf(proc)) : undefined;
      case 'COMMAND':
        return proc ? commandCell(proc) : undefined;
      case 'UID':
        return String(proc ? uidOf(proc) : ns.uidFallback);
      case 'USER':
        return userName(proc ? uidOf(proc) : ns.uidFallback);
      case 'NETNSID':
        if (ns.type !== 'net' || ns.netnsid === undefined) return undefined;
        return ns.netnsid >= 0 ? String(ns.netnsid) : ns.netnsid === -1 ? 'unassigned' : undefined;
      case 'NSFS': {
        const paths = this.nsfs(ns);
        return paths.length ? paths.join(this.nsfsSep) : undefined;
      }
      case 'PNS':
        return String(ns.parentId);
      case 'ONS':
        return String(ns.ownerId);
      case 'NAME': {
        const first = this.nsfs(ns)[0];
        return first ? first.slice(first.lastIndexOf('/') + 1) : undefined;
      }
      case 'PIDS':
        return ns.procs.map((p) => p.pid).sort((a, b) => a - b);
    }
  }
}

function listColumns(o: { json: boolean; raw: boolean; noheadings: boolean }): string {
  const holder: Column = {
    id: 'HOLDER' as ColumnId,
    whint: 0,
    right: true,
    json: 'string',
    help: '',
  };
  const type: Column = { id: 'TYPE', whint: 0, json: 'string', help: '' };
  const desc: Column = { id: 'DESCRIPTION' as ColumnId, whint: 0, json: 'string', help: '' };
  const t = new Table(
    [holder, type, desc].map((col) => ({
      col,
      tree: false,
      right: !!col.right,
      trunc: false,
      wrap: false,
    })),
  );
  for (const c of COLUMNS) t.add([c.id, c.json === 'number' ? '<integer>' : '<string>', c.help]);
  if (o.json) return printJson(t, 'lsns-columns');
  const p = { noHeadings: true, utf8: isUtf8(), widths238: COMPAT_238 };
  return o.raw ? printRaw(t, p) : printHuman(t, p);
}

function compare(
  pids: string[],
  types: NsType[],
  o: { json: boolean; raw: boolean; noheadings: boolean },
): string {
  if (pids.length !== 2) throw new ToolError('--compare needs two PIDs');
  const [a, b] = pids.map(pidArgument);
  const inode = (pid: number, t: NsType): string | undefined => {
    try {
      const link = readlinkSync(`/proc/${pid}/ns/${t}`);
      return link.slice(link.indexOf('[') + 1, -1);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && t === 'mnt')
        throw new ToolError(`cannot open /proc/${pid}/ns: No such process`);
      return undefined;
    }
  };
  const mk = (id: string, json: Column['json'], right = false): OutColumn => ({
    col: { id: id as ColumnId, whint: 0, right, json, help: '' },
    tree: false,
    right,
    trunc: false,
    wrap: false,
  });
  const t = new Table([
    mk('TYPE', 'string'),
    mk('NS1', 'number', true),
    mk('NS2', 'number', true),
    mk('SHARED', 'boolean'),
  ]);
  for (const type of types) {
    const x = inode(a, type);
    const y = inode(b, type);
    t.add([type, x, y, x === undefined || y === undefined ? undefined : x === y ? 'yes' : 'no']);
  }
  if (o.json) return printJson(t, 'namespaces');
  const p = { noHeadings: o.noheadings, utf8: isUtf8(), widths238: COMPAT_238 };
  return o.raw ? printRaw(t, p) : printHuman(t, p);
}

async function main(): Promise<void> {
  const argv = callerState().argv.slice(1).map(String);
  if (argv[0] === '--completion') return printCompletion(PROG, argv[1]);
  const { options: opt, positional } = parseCommandLine(argv);
  if (opt.help) return writeOut(help());
  if (opt.version) return writeOut(`${PROG} from ts-namespace-tools ${VERSION}\n`);

  const json = !!opt.json;
  const raw = !!opt.raw;
  if (json && raw) exclusive('json', 'raw');
  if (opt.persistent && opt.task !== undefined) exclusive('persistent', 'task');
  const noheadings = !!opt.noheadings;

  const typeArgs = (opt.type as string[] | undefined) ?? [];
  for (const t of typeArgs)
    if (!(TYPES as readonly string[]).includes(t))
      throw new ToolError(`unknown namespace type: ${t}`);
  const types = new Set<NsType>(typeArgs.length ? (typeArgs as NsType[]) : TYPES);

  let tree: TreeKind | undefined;
  if (opt.tree !== undefined) {
    const rel = opt.tree === '' || opt.tree === true ? 'owner' : String(opt.tree);
    if (rel !== 'process' && rel !== 'owner' && rel !== 'parent')
      throw new ToolError(`unknown tree type: ${rel}`);
    tree = rel;
  }

  if (opt['list-columns']) return writeOut(listColumns({ json, raw, noheadings }));
  if (opt.compare)
    return writeOut(
      compare(
        positional,
        TYPES.filter((t) => types.has(t)),
        { json, raw, noheadings },
      ),
    );

  const task = opt.task !== undefined ? pidArgument(String(opt.task)) : undefined;
  // a <namespace> argument: its columns and process tree; namespace 0 is none, as in lsns
  let nsGiven = false;
  let nsArg: bigint | undefined;
  if (positional.length > 0) {
    if (task !== undefined) throw new ToolError('--task is mutually exclusive with <namespace>');
    nsGiven = true;
    nsArg = number(positional[0], 'invalid namespace argument', undefined, UINT64_MAX) || undefined;
  }
  // lsns makes the process tree the default only with its default columns or a <namespace>
  if (!tree && !opt.list && (nsGiven || !opt['output-all'])) tree = 'process';

  let columns: Column[];
  if (opt['output-all']) columns = COLUMNS.filter((c) => !c.extra);
  else if (nsGiven) columns = (['PID', 'PPID', 'USER', 'COMMAND'] as const).map(column);
  else
    columns = (
      types.has('net') && typeArgs.length
        ? (['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NETNSID', 'NSFS', 'COMMAND'] as const)
        : (['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'COMMAND'] as const)
    ).map(column);
  if (opt.output !== undefined) columns = outputColumns(String(opt.output), columns);
  if (opt.pids && !columns.some((c) => c.id === 'PIDS')) {
    const at = columns.findIndex((c) => c.id === 'PID');
    columns.splice(at < 0 ? columns.length : at + 1, 0, column('PIDS'));
  }

  let filter: Filter | undefined;
  // an empty expression is no filter (libsmartcols parses it to none)
  if (opt.filter !== undefined && opt.filter !== '') {
    try {
      filter = parseFilter(String(opt.filter), (name) => {
        writeErr(`${PROG}: unknown column: ${name}\n`);
        throw new ToolError('failed to initialize filter');
      });
    } catch (e) {
      if (e instanceof FilterError) throw new ToolError(e.message);
      throw e;
    }
  }

  const wanted = new Set<ColumnId>([...columns.map((c) => c.id), ...(filter?.columns ?? [])]);
  const s = await scan({
    types,
    details: {
      ppid: wanted.has('PPID') || tree === 'process',
      uid: wanted.has('UID') || wanted.has('USER'),
      command: wanted.has('COMMAND'),
    },
    threads: !!opt.threads,
    processless: !COMPAT_238,
    relations: wanted.has('PNS') || wanted.has('ONS') || tree === 'owner' || tree === 'parent',
    netnsid: wanted.has('NETNSID'),
  });

  const nowrap = !!opt.nowrap || raw;
  const cells = new Cells(s, nowrap ? ',' : '\n');
  const outCols: OutColumn[] = columns.map((col) => {
    const isTree =
      (tree === 'process' && col.id === 'COMMAND') ||
      ((tree === 'owner' || tree === 'parent') && col.id === 'NS');
    return {
      col,
      tree: isTree,
      right: !!col.right && !isTree,
      trunc: !!col.trunc && !opt.notruncate,
      wrap: !!col.wrap && !nowrap,
    };
  });
  const table = new Table(outCols);
  const rowCells = (ns: Namespace, proc: Proc | undefined) =>
    columns.map((c) => cells.get(c.id, ns, proc));
  const passes = (ns: Namespace, proc: Proc | undefined) =>
    !filter || filter.test((id) => [cells.get(id, ns, proc)].flat().join(','));

  if (nsArg !== undefined) {
    const ns = nsArg <= Number.MAX_SAFE_INTEGER ? s.byId.get(Number(nsArg)) : undefined;
    if (!ns) throw new ToolError(`not found namespace: ${nsArg}`);
    const ti = TYPES.indexOf(ns.type);
    const shown = new Set<Proc>();
    const show = (p: Proc) => {
      const parent = s.procs.get(ppidOf(p));
      if (
        tree === 'process' &&
        parent &&
        !shown.has(parent) &&
        inodeOf(s, parent, ti) === inodeOf(s, p, ti)
      )
        show(parent);
      if (shown.has(p)) return;
      shown.add(p);
      if (!passes(ns, p)) return;
      p.outline = table.add(
        rowCells(ns, p),
        tree === 'process' ? (parent?.outline as Row | undefined) : undefined,
      );
    };
    for (const p of ns.procs) if (!shown.has(p)) show(p);
  } else {
    if (tree === 'owner' || tree === 'parent') {
      await connectRelations(s, 'parent');
      await connectRelations(s, 'owner');
    }
    const selected = (ns: Namespace) =>
      (task === undefined || ns.procs.some((p) => p.pid === task)) &&
      (!opt.persistent || ns.nprocs === 0) &&
      passes(ns, ns.proc);
    const show = (ns: Namespace) => {
      if (tree === 'owner' || tree === 'parent') {
        // the parent tree shows a namespace without a parent after its owner, at the same level
        const rel = tree === 'owner' ? ns.ownerNs : ns.parentNs;
        const first = rel ?? (tree === 'parent' ? ns.ownerNs : undefined);
        if (first && !first.outline) show(first);
        ns.outline = table.add(rowCells(ns, ns.proc), rel?.outline as Row | undefined);
        return;
      }
      const parent = tree === 'process' && ns.proc ? s.procs.get(ppidOf(ns.proc)) : undefined;
      const row = table.add(rowCells(ns, ns.proc), parent?.outline as Row | undefined);
      if (ns.proc) ns.proc.outline = row;
    };
    for (const ns of s.namespaces) {
      if (ns.ghost && tree !== 'owner' && tree !== 'parent') continue;
      if (!ns.outline && selected(ns)) show(ns);
    }
  }

  const utf8 = isUtf8();
  if (json) return writeOut(printJson(table, 'namespaces'));
  if (raw) return writeOut(printRaw(table, { noHeadings: noheadings, utf8 }));
  const termWidth = isTerminal(1) ? process.stdout.columns || 80 : undefined;
  printHuman(table, {
    noHeadings: noheadings,
    utf8,
    termWidth,
    write: writeOut,
    widths238: COMPAT_238,
  });
}

// an explicit exit: ending by an empty event loop costs more
runMain(PROG, () => main().then(() => 0));
