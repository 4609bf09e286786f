/** Text, raw and JSON printing of given rows, as libsmartcols prints lsns' table (no kernel needed). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { column, type ColumnId } from '../src/columns.js';
import { printHuman, printJson, printRaw, rawEscape, Table, type OutColumn } from '../src/table.js';

function out(id: ColumnId, tree = false, wrap = false): OutColumn {
  const col = column(id);
  return { col, tree, right: !!col.right && !tree, trunc: !!col.trunc, wrap };
}

/** NS, TYPE, NPROCS, COMMAND with the process tree on COMMAND: a parent row and two children. */
function sample(): Table {
  const t = new Table([out('NS'), out('TYPE'), out('NPROCS'), out('COMMAND', true)]);
  const root = t.add(['4026531840', 'net', '120', '/sbin/init']);
  t.add(['4026532191', 'uts', '1', 'sleep 600'], root);
  t.add(['4026532192', 'ipc', '1', undefined], root);
  return t;
}

describe('table printing', () => {
  it('aligned text with width hints, right-aligned numbers and tree art', () => {
    assert.equal(
      printHuman(sample(), { noHeadings: false, utf8: true }),
      [
        '        NS TYPE NPROCS COMMAND',
        '4026531840 net     120 /sbin/init',
        '4026532191 uts       1 ├─sleep 600',
        '4026532192 ipc       1 └─',
        '',
      ].join('\n'),
    );
  });

  it('ASCII tree art outside UTF-8, no headings with -n, nothing for no rows', () => {
    const text = printHuman(sample(), { noHeadings: true, utf8: false });
    assert.equal(text.split('\n')[1], '4026532191 uts       1 |-sleep 600');
    assert.equal(text.split('\n').length, 4);
    assert.equal(printHuman(new Table([out('NS')]), { noHeadings: false, utf8: true }), '');
  });

  it('widths as libsmartcols 2.42 sets them: from the data alone without headings', () => {
    // NPROCS ("120") gets its width hint (5), not its header's width (6); UID ("0") its data's
    // width, PID ("2") too: a column no wider than its minimum keeps it, hint or not
    const t = new Table([out('TYPE'), out('NPROCS'), out('PID'), out('UID'), out('COMMAND')]);
    t.add(['user', '120', '2', '0', 'sleep 600']);
    assert.equal(printHuman(t, { noHeadings: true, utf8: true }), 'user    120 2 0 sleep 600\n');
    // with headings TYPE ("user") is as wide as its header: that width, not the hint
    assert.equal(
      printHuman(t, { noHeadings: false, utf8: true }),
      'TYPE NPROCS PID UID COMMAND\nuser    120   2   0 sleep 600\n',
    );
    // 2.38's: the header's width counts without headings too, then the hint where it is wider
    assert.equal(
      printHuman(t, { noHeadings: true, utf8: true, widths238: true }),
      'user     120   2   0 sleep 600\n',
    );
    assert.equal(
      printHuman(t, { noHeadings: false, utf8: true, widths238: true }),
      'TYPE  NPROCS PID UID COMMAND\nuser     120   2   0 sleep 600\n',
    );
  });

  it('a wrap column prints on several lines', () => {
    const t = new Table([out('NS'), out('NSFS', false, true)]);
    t.add(['4026532191', '/run/netns/a\n/tmp/b']);
    assert.equal(
      printHuman(t, { noHeadings: false, utf8: true }),
      '        NS NSFS\n4026532191 /run/netns/a\n           /tmp/b\n',
    );
  });

  it('raw: space separated, blanks and backslashes escaped, empty cells empty', () => {
    assert.equal(
      printRaw(sample(), { noHeadings: false, utf8: true }),
      [
        'NS TYPE NPROCS COMMAND',
        '4026531840 net 120 /sbin/init',
        '4026532191 uts 1 \\xe2\\x94\\x9c\\xe2\\x94\\x80sleep\\x20600',
        '4026532192 ipc 1 \\xe2\\x94\\x94\\xe2\\x94\\x80',
        '',
      ].join('\n'),
    );
    assert.equal(rawEscape('a\\b c'), 'a\\x5cb\\x20c');
  });

  it('JSON: typed values, null for empty cells, children for the tree', () => {
    const json = printJson(sample(), 'namespaces');
    assert.deepEqual(JSON.parse(json), {
      namespaces: [
        {
          ns: 4026531840,
          type: 'net',
          nprocs: 120,
          command: '/sbin/init',
          children: [
            { ns: 4026532191, type: 'uts', nprocs: 1, command: 'sleep 600' },
            { ns: 4026532192, type: 'ipc', nprocs: 1, command: null },
          ],
        },
      ],
    });
    // libsmartcols' layout: 3-space indentation, objects joined as "},{"
    assert.match(json, /^\{\n {3}"namespaces": \[\n {6}\{\n {9}"ns": 4026531840,/);
    assert.match(json, /\n {12}\},\{\n/);
  });

  it('JSON: a boolean column is true or false, null where empty', () => {
    const shared = { ...column('TYPE'), id: 'SHARED' as ColumnId, json: 'boolean' as const };
    const t = new Table([
      out('TYPE'),
      { col: shared, tree: false, right: false, trunc: false, wrap: false },
    ]);
    t.add(['uts', 'no']);
    t.add(['mnt', 'yes']);
    t.add(['time', undefined]);
    assert.deepEqual(JSON.parse(printJson(t, 'namespaces')).namespaces, [
      { type: 'uts', shared: false },
      { type: 'mnt', shared: true },
      { type: 'time', shared: null },
    ]);
  });

  it('JSON of an empty table keeps the key', () => {
    assert.equal(
      printJson(new Table([out('NS')]), 'namespaces'),
      '{\n   "namespaces": [\n\n   ]\n}\n',
    );
  });
});
