/** The -Q expression parser and evaluator, on given cell values (no kernel needed). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ColumnId } from '../src/columns.js';
import { FilterError, parseFilter } from '../src/filter.js';

const unknown = (name: string): never => {
  throw new Error(`unknown column: ${name}`);
};

/** Evaluates expr against one row given as column -> cell text. */
function test(expr: string, row: Partial<Record<ColumnId, string>>): boolean {
  return parseFilter(expr, unknown).test((id) => row[id]);
}

const row = { NS: '4026531840', TYPE: 'net', NPROCS: '12', COMMAND: 'sleep 600', NETNSID: '7' };

describe('filter', () => {
  it('compares numeric columns as numbers, others as strings', () => {
    assert.equal(test('NPROCS > 9', row), true); // "12" > "9" would be false as strings
    assert.equal(test('NPROCS == 12', row), true);
    assert.equal(test('NPROCS lt 12', row), false);
    assert.equal(test('TYPE == "net"', row), true);
    assert.equal(test("NETNSID == '7'", row), true);
  });

  it('and, or, not and parentheses', () => {
    assert.equal(test('TYPE == "net" && NPROCS > 1', row), true);
    assert.equal(test('TYPE == "uts" || NPROCS > 100', row), false);
    assert.equal(test('not TYPE == "uts"', row), true);
    assert.equal(test('!(TYPE == "net" and NPROCS > 1)', row), false);
    assert.equal(test('TYPE == "uts" or (NPROCS >= 12 and NS != 0)', row), true);
  });

  it('regular expressions', () => {
    assert.equal(test('COMMAND =~ "^sleep"', row), true);
    assert.equal(test('COMMAND !~ "sleep"', row), false);
  });

  it('a column alone is true unless empty or 0; empty cells only match !=', () => {
    assert.equal(test('NETNSID', row), true);
    assert.equal(test('NETNSID', { ...row, NETNSID: '' }), false);
    assert.equal(test('NPROCS', { ...row, NPROCS: '0' }), false);
    assert.equal(test('NETNSID == "7"', { ...row, NETNSID: undefined }), false);
    assert.equal(test('NETNSID != "7"', { ...row, NETNSID: undefined }), true);
  });

  it('reports the columns it reads, case-insensitively', () => {
    const f = parseFilter('type == "net" && nprocs > 1 && TYPE != "x"', unknown);
    assert.deepEqual(f.columns.sort(), ['NPROCS', 'TYPE']);
  });

  it('errors: syntax as lsns words it, unknown columns through the callback', () => {
    assert.throws(
      () => parseFilter('NPROCS >', unknown),
      (e) =>
        e instanceof FilterError &&
        e.message === 'failed to parse "NPROCS >": syntax error, unexpected end of file',
    );
    assert.throws(() => parseFilter('TYPE == "net', unknown), FilterError);
    assert.throws(() => parseFilter('(TYPE == "net"', unknown), FilterError);
    assert.throws(() => parseFilter('BOGUS == 1', unknown), /unknown column: BOGUS/);
  });
});
