/** ts-nsls' options: one table for parsing, help and completion. */
import { ToolError, type OptionSpec } from '@ns/cli';
import { COLUMNS } from './columns.js';
import { LSNS_TYPES as TYPES } from '@ns/syscalls/internal';

const TREES = ['process', 'owner', 'parent'];

export const OPTIONS: OptionSpec[] = [
  { name: 'json', short: 'J', arg: 'none', desc: 'use JSON output format' },
  { name: 'list', short: 'l', arg: 'none', desc: 'use list format output' },
  { name: 'noheadings', short: 'n', arg: 'none', desc: "don't print headings" },
  {
    name: 'output',
    short: 'o',
    arg: 'required',
    argName: '<list>',
    complete: { list: COLUMNS.map((c) => c.id) },
    desc: 'define which output columns to use',
  },
  { name: 'output-all', arg: 'none', label: '    --output-all', desc: 'output all columns' },
  { name: 'persistent', short: 'P', arg: 'none', desc: 'namespaces without processes' },
  {
    name: 'task',
    short: 'p',
    arg: 'required',
    argName: '<pid>',
    complete: 'pid',
    desc: 'print process namespaces',
  },
  { name: 'filter', short: 'Q', arg: 'required', argName: '<expr>', desc: 'apply display filter' },
  { name: 'raw', short: 'r', arg: 'none', desc: 'use the raw output format' },
  { name: 'notruncate', short: 'u', arg: 'none', desc: "don't truncate text in columns" },
  { name: 'nowrap', short: 'W', arg: 'none', desc: "don't use multi-line representation" },
  {
    name: 'type',
    complete: TYPES,
    check: (v) => {
      if (!(TYPES as readonly string[]).includes(v!))
        throw new ToolError(`unknown namespace type: ${v}`);
    },
    short: 't',
    arg: 'required',
    argName: '<name>',
    repeat: true,
    desc: 'namespace type (mnt, net, ipc, user, pid, uts, cgroup, time)',
  },
  {
    name: 'tree',
    complete: TREES,
    check: (v) => {
      if (v !== undefined && !TREES.includes(v)) throw new ToolError(`unknown tree type: ${v}`);
    },
    short: 'T',
    arg: 'optional',
    argName: '<rel>',
    desc: 'use tree format (parent, owner, or process)',
  },
  {
    name: 'threads',
    arg: 'none',
    label: '    --threads',
    desc: 'look at every thread, not only processes',
  },
  {
    name: 'pids',
    arg: 'none',
    label: '    --pids',
    desc: 'add PIDS: all member PIDs of each namespace',
  },
  {
    name: 'compare',
    arg: 'none',
    label: '    --compare <pid> <pid>',
    desc: ['for each namespace type, whether', 'the two processes share it'],
  },

  { name: 'list-columns', short: 'H', arg: 'none', group: 2, desc: 'list the available columns' },
  { name: 'help', short: 'h', arg: 'none', group: 2, desc: 'display this help' },
  { name: 'version', short: 'V', arg: 'none', group: 2, desc: 'display version' },
];
