/**
 * The one column table: names, width hints and flags as libsmartcols gets
 * them from lsns, the JSON type, and the help text. Output, JSON, the
 * filter's value types, --help and --list-columns all read it.
 */

export type ColumnId =
  | 'NS'
  | 'TYPE'
  | 'PATH'
  | 'NPROCS'
  | 'PID'
  | 'PPID'
  | 'COMMAND'
  | 'UID'
  | 'USER'
  | 'NETNSID'
  | 'NSFS'
  | 'PNS'
  | 'ONS'
  | 'NAME'
  | 'PIDS';

export interface Column {
  id: ColumnId;
  /** width hint: libsmartcols widens a column to it when the data is wider than the header */
  whint: number;
  right?: boolean;
  /** may be truncated to fit a terminal */
  trunc?: boolean;
  /** cells may hold several lines (NSFS) */
  wrap?: boolean;
  /** boolean: true or false as libsmartcols reads the text (false: empty, or "0", "N", "n"...) */
  json: 'number' | 'string' | 'boolean';
  help: string;
  /** not in lsns: left out of --output-all so that its output stays lsns' */
  extra?: boolean;
}

export const COLUMNS: readonly Column[] = [
  { id: 'NS', whint: 10, right: true, json: 'number', help: 'namespace identifier (inode number)' },
  { id: 'TYPE', whint: 5, json: 'string', help: 'kind of namespace' },
  { id: 'PATH', whint: 0, json: 'string', help: 'path to the namespace' },
  {
    id: 'NPROCS',
    whint: 5,
    right: true,
    json: 'number',
    help: 'number of processes in the namespace',
  },
  { id: 'PID', whint: 5, right: true, json: 'number', help: 'lowest PID in the namespace' },
  { id: 'PPID', whint: 5, right: true, json: 'number', help: 'PPID of the PID' },
  { id: 'COMMAND', whint: 0, trunc: true, json: 'string', help: 'command line of the PID' },
  { id: 'UID', whint: 0, right: true, json: 'number', help: 'UID of the PID' },
  { id: 'USER', whint: 0, json: 'string', help: 'username of the PID' },
  {
    id: 'NETNSID',
    whint: 0,
    right: true,
    json: 'string',
    help: 'namespace ID as used by network subsystem',
  },
  {
    id: 'NSFS',
    whint: 0,
    wrap: true,
    json: 'string',
    help: 'nsfs mountpoint (usually used network subsystem)',
  },
  {
    id: 'PNS',
    whint: 10,
    right: true,
    json: 'number',
    help: 'parent namespace identifier (inode number)',
  },
  {
    id: 'ONS',
    whint: 10,
    right: true,
    json: 'number',
    help: 'owner namespace identifier (inode number)',
  },
  {
    id: 'NAME',
    whint: 0,
    json: 'string',
    extra: true,
    help: 'name the namespace is bound as (e.g. NAME of /run/netns/NAME)',
  },
  { id: 'PIDS', whint: 0, json: 'string', extra: true, help: 'all member PIDs (comma separated)' },
];

const byName = new Map(COLUMNS.map((c) => [c.id, c]));

export function column(id: ColumnId): Column {
  return byName.get(id)!;
}

/** The column a user-given name means (case-insensitive), or undefined. */
export function findColumn(name: string): Column | undefined {
  return byName.get(name.toUpperCase() as ColumnId);
}
