import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, UsageError, type OptionSpec } from '@ns/cli';

const specs: OptionSpec[] = [
  { name: 'mount', short: 'm', arg: 'optional' },
  { name: 'fork', short: 'f', arg: 'none' },
  { name: 'pid', short: 'p', arg: 'optional' },
  { name: 'mount-proc', arg: 'optional' },
  { name: 'root', short: 'R', arg: 'required' },
  { name: 'map-users', arg: 'required', repeat: true },
  { name: 'map-user', arg: 'required' },
];

test('short options bundle and options stop at the program', () => {
  const r = parseArgs(specs, ['-fp', '--mount-proc', 'sh', '-c', 'echo -f']);
  assert.deepEqual(r.options, { fork: true, pid: '', 'mount-proc': '' });
  assert.deepEqual(r.rest, ['sh', '-c', 'echo -f']);
});

test('optional arguments are taken only when attached', () => {
  const r = parseArgs(specs, ['--mount-proc=/x', '-m/y', '--pid', '/bin/true']);
  assert.deepEqual(r.options, { 'mount-proc': '/x', mount: '/y', pid: '' });
  assert.deepEqual(r.rest, ['/bin/true']);
});

test('required arguments may be the next word, even one starting with a dash', () => {
  const r = parseArgs(specs, ['-R', '-weird', '--map-users=1:2:3', '--map-users', '4:5:6', 'id']);
  assert.deepEqual(r.options, { root: '-weird', 'map-users': ['1:2:3', '4:5:6'] });
  assert.deepEqual(r.rest, ['id']);
});

test('-- ends the options', () => {
  assert.deepEqual(parseArgs(specs, ['-f', '--', '-m']).rest, ['-m']);
});

test('unique prefixes of long options are accepted, ambiguous ones are not', () => {
  assert.deepEqual(parseArgs(specs, ['--fo']).options, { fork: true });
  assert.throws(() => parseArgs(specs, ['--map']), /option '--map' is ambiguous/);
});

test('getopt error messages', () => {
  const msg = (argv: string[]) => {
    try {
      parseArgs(specs, argv);
    } catch (e) {
      assert.ok(e instanceof UsageError);
      return e.message;
    }
    return 'no error';
  };
  assert.equal(msg(['--bogus']), "unrecognized option '--bogus'");
  assert.equal(msg(['-x']), "invalid option -- 'x'");
  assert.equal(msg(['-R']), "option requires an argument -- 'R'");
  assert.equal(msg(['--root']), "option '--root' requires an argument");
  assert.equal(msg(['--fork=1']), "option '--fork' doesn't allow an argument");
});
