/**
 * What the program inherits: the caller's descriptors, ignored signals and
 * mask, limits, argv and environment bytes, closed stdio; exec's rules; the
 * waiting process's name and its signals. Each scenario runs through our tool
 * and through util-linux's, started by the same caller, and what the program
 * reports must be the same.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asNobody,
  needs,
  nobodyBin,
  asUtilLinux,
  bin,
  childrenOf,
  comm,
  run,
  waitFor,
  type Result,
} from './helpers.js';
import { startTarget, stopAllTargets, type Target } from './nsenter-helpers.js';

const HAVE_PYTHON = spawnSync('python3', ['-c', '0']).status === 0;
const NO_PYTHON = 'python3 is not installed (apt-get install python3): it plays the caller';

/**
 * The caller: a python3 process that sets up the state util-linux's tools
 * are known to pass on, then execve()s the tool with raw argv and
 * environment bytes (ctypes, so duplicates and entries without '=' survive).
 * The spec is JSON: fds to open (number -> path), signals to ignore and to
 * block, a soft RLIMIT_NOFILE, fds to close, and argv/env as hex.
 */
const CALLER = String.raw`
import ctypes, json, os, resource, signal, sys
spec = json.loads(sys.argv[1])
for fd, path in spec.get('open', {}).items():
    f = os.open(path, os.O_RDONLY)
    if f != int(fd):
        os.dup2(f, int(fd)); os.close(f)
    os.set_inheritable(int(fd), True)
for s in spec.get('ignore', []):
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, spec.get('block', []))
if 'nofile' in spec:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (spec['nofile'], hard))
for fd in spec.get('close', []):
    os.close(fd)
def arr(items):
    a = (ctypes.c_char_p * (len(items) + 1))(*items, None)
    return a
argv = [bytes.fromhex(x) for x in spec['argv']]
env = [bytes.fromhex(x) for x in spec['env']]
libc = ctypes.CDLL(None, use_errno=True)
libc.execve(argv[0], arr(argv), arr(env))
os.write(2, b'caller: execve failed\n')
os._exit(99)
`;

interface CallerSpec {
  open?: Record<number, string>;
  ignore?: number[];
  block?: number[];
  nofile?: number;
  close?: number[];
  argv: (string | Buffer)[];
  env?: (string | Buffer)[];
}

const hex = (b: string | Buffer) => Buffer.from(b).toString('hex');
const BASE_ENV = [`PATH=${process.env.PATH}`];

function caller(spec: CallerSpec): Result {
  const json = JSON.stringify({
    ...spec,
    argv: spec.argv.map(hex),
    env: (spec.env ?? BASE_ENV).map(hex),
  });
  return run('python3', ['-c', CALLER, json], { encoding: 'latin1' });
}

/**
 * Programs that report what they got, each exec'd directly (a shell would
 * change its signal mask and open descriptors of its own): descriptors,
 * ignored and blocked signals, the soft limit of open files, argv and
 * environment bytes.
 */
const PROBES: string[][] = [
  ['ls', '/proc/self/fd'],
  ['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status'],
  ['sh', '-c', 'ulimit -Sn'],
  ['env'],
];

const UL = { 'ts-unshare': '/usr/bin/unshare', 'ts-nsenter': '/usr/bin/nsenter' } as const;
type Tool = keyof typeof UL;

/** Runs the same caller spec with our tool and util-linux's in argv[0]; both results, made comparable. */
function both(
  tool: Tool,
  args: string[],
  spec: Omit<CallerSpec, 'argv'> & { program: (string | Buffer)[] },
) {
  const one = (exe: string) => {
    const r = caller({ ...spec, argv: [exe, ...args, ...spec.program] });
    return { ...r, stderr: asUtilLinux(r.stderr).replace(/^\/usr\/bin\/(\w+):/gm, '$1:') };
  };
  return { ours: one(bin(tool)), theirs: one(UL[tool]) };
}

let dir: string;
let target: Target;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ts-inherit-'));
  writeFileSync(join(dir, 'hello'), 'hello from fd 4\n');
  // a script without #!: execvp hands it to /bin/sh
  writeFileSync(join(dir, 'noshebang'), 'echo "no #! here: $0 $1"\n');
  chmodSync(join(dir, 'noshebang'), 0o755);
  target = startTarget(['/usr/bin/unshare', '-Ur', '--fork', '-p', '-u', 'sleep', '600']);
});
after(() => {
  stopAllTargets();
  rmSync(dir, { recursive: true, force: true });
});

/** Each way our tools run a program: in place, after a fork, in a child that stands in. */
const VARIANTS: [Tool, () => string[]][] = [
  ['ts-unshare', () => ['-u']],
  ['ts-unshare', () => ['-f', '-u']],
  ['ts-unshare', () => ['-r']],
  ['ts-unshare', () => ['-fp', '--mount-proc']],
  ['ts-nsenter', () => ['-t', String(target.pid), '-u']],
  ['ts-nsenter', () => ['-t', String(target.pid), '-U']],
  ['ts-nsenter', () => ['-t', String(target.pid), '-U', '-p']],
  ['ts-nsenter', () => ['-t', String(target.pid), '-U', '-p', '-F']],
];

describe(
  'the program inherits what util-linux would hand it',
  { skip: !HAVE_PYTHON && NO_PYTHON },
  () => {
    for (const [tool, args] of VARIANTS) {
      const name = () =>
        `${tool} ${args()
          .join(' ')
          .replace(/-t \d+/, '-t PID')}`;
      test(`descriptors, ignored signals and mask, limits, raw argv and env: ${name()}`, () => {
        const spec = {
          open: {
            4: join(dir, 'hello'),
            5: '/dev/null',
            9: '/etc/hostname',
            17: '/dev/null',
            40: '/dev/null',
          },
          ignore: [1, 3, 12], // HUP QUIT USR2, as `trap '' HUP QUIT USR2`
          block: [10, 28], // USR1 WINCH
          nofile: 1000,
          env: [
            ...BASE_ENV,
            'DUP=1',
            'DUP=2',
            'NOEQUALS',
            Buffer.from('BYTES=caf\xc3\xa9 \xfe\xff', 'latin1'),
            'NODE_OPTIONS=--require=/nonexistent-module.js',
          ],
        };
        const seen = [
          ...PROBES,
          ['printf', '[%s]', Buffer.from('f\xff', 'latin1'), 'caf\u00e9', ''],
        ].map((program) => {
          const { ours, theirs } = both(tool, args(), { ...spec, program });
          assert.equal(theirs.status, 0, `util-linux: ${theirs.stderr}`);
          assert.deepEqual(ours, theirs, `${name()} ${program.join(' ')}`);
          return ours.stdout;
        });
        // and it is what the caller set up, not the same mistake twice
        const [fds, signals, nofile, env, argv] = seen;
        for (const fd of [0, 1, 2, 4, 5, 9, 17, 40])
          assert.ok(fds.split('\n').includes(String(fd)), fds);
        // the caller's HUP QUIT USR2, and the PIPE and XFSZ that python3 itself ignores
        assert.equal(signals, 'SigBlk:\t0000000008000200\nSigIgn:\t0000000001001805\n');
        assert.equal(nofile, '1000\n');
        const bytes = (t: string) => Buffer.from(t, 'latin1');
        assert.ok(
          bytes(env).includes(bytes('DUP=1\nDUP=2\nNOEQUALS\nBYTES=caf\xc3\xa9 \xfe\xff\n')),
          env,
        );
        assert.ok(env.includes('NODE_OPTIONS=--require=/nonexistent-module.js\n'), env);
        assert.equal(argv, '[f\xff][caf\xc3\xa9][]');
      });
    }

    test('util-linux lsns/ioctl_ns: fd 4 reaches unshare --user --pid --mount-proc --fork bash', () => {
      const spec = {
        open: { 4: join(dir, 'hello') },
        program: ['bash', '-c', 'read -u 4 line; echo "$line"; readlink /proc/self'],
      };
      const args = ['--user', '--pid', '--mount-proc', '--fork'];
      const { ours, theirs } = both('ts-unshare', args, spec);
      assert.deepEqual(ours, theirs);
      // bash execs its last command: readlink is PID 1 of the new namespace
      assert.equal(ours.stdout, 'hello from fd 4\n1\n');
    });

    for (const [fd, name] of [
      [0, 'stdin'],
      [1, 'stdout'],
      [2, 'stderr'],
    ] as const) {
      test(`a closed ${name} stays closed for the program`, () => {
        const probe = ['sh', '-c', `[ -e /proc/$$/fd/${fd} ] && exit 0; exit 3`];
        for (const [tool, args] of VARIANTS) {
          const { ours, theirs } = both(tool, args(), { close: [fd], program: probe });
          assert.equal(ours.status, 3, `${tool} ${args().join(' ')}: ${ours.stderr}`);
          // util-linux nsenter's own namespace descriptors may land on the free number
          if (tool === 'ts-unshare') assert.deepEqual(ours, theirs, `${tool} ${args().join(' ')}`);
        }
      });
    }
    test('unshare -u sh -c "echo ok" >&-: the program sees EBADF', () => {
      const { ours, theirs } = both('ts-unshare', ['-u'], {
        close: [1],
        program: ['sh', '-c', 'echo ok'],
      });
      assert.deepEqual(ours, theirs);
      assert.equal(ours.status, 1);
    });

    test('a script without #! runs through /bin/sh; an empty program name is 127', () => {
      for (const [tool, args] of VARIANTS) {
        const script = both(tool, args(), { program: [join(dir, 'noshebang'), 'arg'] });
        assert.deepEqual(script.ours, script.theirs);
        assert.equal(script.ours.stdout, `no #! here: ${join(dir, 'noshebang')} arg\n`);
        const empty = both(tool, args(), { program: [''] });
        assert.deepEqual(empty.ours, empty.theirs);
        assert.equal(empty.ours.status, 127);
      }
    });
  },
);

describe('Node is not steered by the caller', () => {
  test('NODE_OPTIONS, NODE_EXTRA_CA_CERTS and --inspect reach the program, not the tool', () => {
    const env = {
      PATH: process.env.PATH,
      NODE_OPTIONS: '--require=/nonexistent-module.js --inspect=127.0.0.1:1',
      NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem',
    };
    for (const tool of ['ts-unshare', 'ts-nsenter'] as const) {
      const args = tool === 'ts-unshare' ? ['-u'] : ['-t', String(process.pid), '-u'];
      const r = run(bin(tool), [...args, 'sh', '-c', 'echo "$NODE_OPTIONS|$NODE_EXTRA_CA_CERTS"'], {
        env,
      });
      assert.deepEqual(r, {
        stdout: `${env.NODE_OPTIONS}|${env.NODE_EXTRA_CA_CERTS}\n`,
        stderr: '',
        status: 0,
        signal: null,
      });
    }
    const nsls = run(bin('ts-nsls'), ['-n', '-o', 'TYPE', '-t', 'uts', '-p', String(process.pid)], {
      env,
    });
    assert.deepEqual(nsls, { stdout: 'uts\n', stderr: '', status: 0, signal: null });
  });
});

describe('the waiting process', () => {
  const waiter = (tool: Tool, args: string[]) => {
    const child = spawn(bin(tool), args, { stdio: 'ignore' });
    // The launcher carries the tool's name, then Node's: the waiter is there
    // once the PID has the tool's name again and the program runs under it.
    waitFor(
      () => comm(child.pid!) === tool && childrenOf(child.pid!).some((c) => comm(c) === 'sleep'),
      'the waiter',
    );
    return child;
  };
  const ended = (child: ReturnType<typeof spawn>) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.exitCode !== null || child.signalCode !== null
        ? resolve({ code: child.exitCode, signal: child.signalCode })
        : child.once('exit', (code, signal) => resolve({ code, signal })),
    );

  test('is named after its tool: ps and pgrep find ts-unshare and ts-nsenter', async (t) => {
    if (!needs(t, { pgrep: 'procps', ps: 'procps' })) return;
    for (const [tool, args] of [
      ['ts-unshare', ['-f', '-u', 'sleep', '30']],
      ['ts-unshare', ['-r', 'sleep', '30']],
      ['ts-nsenter', ['-t', String(target.pid), '-U', 'sleep', '30']],
    ] as const) {
      const child = waiter(tool, [...args]);
      try {
        assert.equal(comm(child.pid!), tool);
        const pgrep = run('pgrep', ['-x', tool]);
        assert.ok(pgrep.stdout.split('\n').includes(String(child.pid)), `${tool}: ${pgrep.stdout}`);
        const ps = run('ps', ['-o', 'args=', '-p', String(child.pid)]);
        assert.equal(ps.stdout.trim(), [bin(tool), ...args].join(' '));
      } finally {
        for (const c of childrenOf(child.pid!)) process.kill(c, 'SIGKILL');
        await ended(child);
      }
    }
  });

  test('where util-linux would not fork, a signal to the PID the caller sees ends the program, also a signal sent before the waiter is ready', async () => {
    for (const [tool, args] of [
      ['ts-unshare', ['-r']],
      ['ts-nsenter', ['-t', String(target.pid), '-U']],
    ] as const) {
      // ours twice: once the program runs, and as soon as the tool has cloned it
      // (the waiter may not be there yet: the signal is held for it)
      for (const [exe, early] of [
        [bin(tool), false],
        [bin(tool), true],
        [UL[tool], false],
      ] as const) {
        const child = spawn(exe, [...args, 'sleep', '30'], { stdio: 'ignore' });
        const program = () =>
          comm(child.pid!) === 'sleep' || childrenOf(child.pid!).some((c) => comm(c) === 'sleep');
        const ready = () => program() && (exe === UL[tool] || comm(child.pid!) === tool);
        waitFor(early ? () => childrenOf(child.pid!).length > 0 : ready, 'the program', 10_000);
        const start = Date.now();
        process.kill(child.pid!, 'SIGTERM');
        assert.deepEqual(await ended(child), { code: null, signal: 'SIGTERM' }, `${exe} ${early}`);
        assert.ok(Date.now() - start < 5000);
      }
    }
    // timeout(1) sends SIGTERM to the PID it started
    for (const exe of [bin('ts-unshare'), UL['ts-unshare']]) {
      const start = Date.now();
      const r = run('timeout', ['1', exe, '-r', 'sleep', '10']);
      assert.equal(r.status, 124, exe);
      assert.ok(Date.now() - start < 5000, `${exe} outlived timeout`);
    }
  });
});

describe('tight limits', () => {
  /** Either it works, or one line says which limit is in the way, with status 1; never a signal or a hang. */
  const worksOrSays = (r: Result, limit: RegExp) => {
    assert.equal(r.signal, null);
    if (r.status === 0) return;
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, limit);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  };
  test('ulimit -n 16', () => {
    for (const args of [['-u', 'true'], ['-r', 'true'], ['--help']])
      worksOrSays(
        run('sh', ['-c', `ulimit -n 16; exec "$0" "$@"`, bin('ts-unshare'), ...args], {
          timeout: 20_000,
        }),
        /^ts-unshare: .*RLIMIT_NOFILE/,
      );
  });
  test('ulimit -u 5 and 12 as nobody', () => {
    for (const n of [5, 12])
      worksOrSays(
        run(
          ...asNobody([
            'sh',
            '-c',
            `ulimit -u ${n}; exec "$0" "$@"`,
            nobodyBin('ts-unshare'),
            '-r',
            'true',
          ]),
          {
            timeout: 20_000,
          },
        ),
        /^ts-unshare: .*RLIMIT_NPROC/,
      );
  });
});
