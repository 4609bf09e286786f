/**
 * The tools under a hostile caller: they run as root, started with whatever
 * environment, PATH, working directory and limits their caller has, and
 * nothing of that may steer the tool's own Node. Each scenario is checked
 * from outside (what ran, what the program saw, the status) and, where
 * util-linux has an answer, against util-linux.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  asNobody,
  bin,
  childrenOf,
  comm,
  inPrivateMounts,
  nobodyBin,
  run,
  waitFor,
  type Result,
} from './helpers.js';
import { startTarget, stopAllTargets } from './nsenter-helpers.js';

type Tool = 'ts-unshare' | 'ts-nsenter' | 'ts-nsls';
const TOOLS: Tool[] = ['ts-unshare', 'ts-nsenter', 'ts-nsls'];
/** A short run of each tool that works as root and as nobody. */
const SHORT: Record<Tool, string[]> = {
  'ts-unshare': ['-r', 'true'],
  'ts-nsenter': ['--version'],
  'ts-nsls': ['-n', '-o', 'TYPE', '-t', 'uts'],
};
const scratch = mkdtempSync(join(tmpdir(), 'ts-launcher-test-'));
after(() => {
  stopAllTargets();
  rmSync(scratch, { recursive: true, force: true });
});

/** Either it works, or one line says why, with a status and no signal; never a hang. */
function worksOrOneLine(r: Result, what: string, pattern?: RegExp): boolean {
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}\n${r.stderr}`);
  if (r.status === 0) return true;
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: ${r.stderr}`);
  if (pattern) assert.match(r.stderr.trimEnd(), pattern, what);
  return false;
}

describe("the caller's PATH and environment do not choose the tool's Node", () => {
  test('a ./node in the working directory, or first in PATH, never runs', () => {
    const dir = join(scratch, 'evil');
    const marker = join(scratch, 'evil-ran');
    run('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'node'), `#!/bin/sh\ntouch ${marker}\nexit 99\n`);
    chmodSync(join(dir, 'node'), 0o755);
    for (const path of [':/usr/bin:/bin', `${dir}:/usr/bin:/bin`, '.:/usr/bin:/bin']) {
      for (const tool of TOOLS) {
        const r = run(bin(tool), SHORT[tool], { cwd: dir, env: { PATH: path } });
        assert.equal(existsSync(marker), false, `${tool} with PATH=${path} ran ./node`);
        assert.equal(r.status, 0, `${tool} PATH=${path}: ${r.stderr}`);
      }
    }
    // util-linux runs the only program named
    const r = run(bin('ts-unshare'), ['-u', '/bin/echo', 'x'], {
      cwd: dir,
      env: { PATH: ':/usr/bin:/bin' },
    });
    assert.deepEqual([r.stdout, r.status], ['x\n', 0]);
  });

  test('OPENSSL_CONF, NODE_*, UV_*, TZ reach the program, never the tool', () => {
    const bad = join(scratch, 'bad.cnf');
    writeFileSync(bad, 'not an openssl configuration [[[\n');
    const env = {
      PATH: '/usr/bin:/bin',
      OPENSSL_CONF: bad,
      SSL_CERT_FILE: bad,
      UV_THREADPOOL_SIZE: 'x',
      NODE_OPTIONS: '--require=/nonexistent.js',
      TZ: ':/nonexistent',
    };
    const show = ['sh', '-c', 'echo "$OPENSSL_CONF|$UV_THREADPOOL_SIZE|$NODE_OPTIONS|$TZ"'];
    const want = `${bad}|x|--require=/nonexistent.js|:/nonexistent\n`;
    for (const args of [['-u'], ['-r'], ['-fp', '--mount-proc']]) {
      const r = run(bin('ts-unshare'), [...args, ...show], { env });
      assert.deepEqual([r.stdout, r.stderr, r.status], [want, '', 0], args.join(' '));
    }
    const r = run(bin('ts-nsenter'), ['-t', String(process.pid), '-u', ...show], { env });
    assert.deepEqual([r.stdout, r.stderr, r.status], [want, '', 0]);
    const nsls = run(bin('ts-nsls'), [...SHORT['ts-nsls'], '-p', String(process.pid)], { env });
    assert.deepEqual([nsls.stdout, nsls.stderr, nsls.status], ['uts\n', '', 0]);
  });

  test('the Node recorded beside the bundle: gone, or writable by others, is one line', () => {
    const copy = join(scratch, 'copy');
    const dist = dirname(bin('ts-unshare'));
    run('cp', ['-a', dist, copy]);
    const tool = join(copy, 'ts-unshare');
    const nodePath = join(copy, 'node-path');
    const node = readFileSync(nodePath, 'utf8').trim();
    assert.ok(node.startsWith('/'), node);
    // koffi is found from the bundle's folder upward: give the copy the tree's
    run('ln', [
      '-s',
      join(dirname(dist), '..', '..', 'node_modules'),
      join(scratch, 'node_modules'),
    ]);
    assert.equal(run(tool, ['-u', 'true']).status, 0, 'the copy runs');

    writeFileSync(nodePath, join(scratch, 'no-such-node') + '\n');
    const gone = run(tool, ['-u', 'true']);
    assert.deepEqual(
      [gone.stderr, gone.status],
      [
        `ts-unshare: cannot run Node.js ${join(scratch, 'no-such-node')}: No such file or directory\n`,
        127,
      ],
    );

    const open = join(scratch, 'open');
    run('mkdir', ['-p', open]);
    chmodSync(open, 0o777);
    copyFileSync(node, join(open, 'node'));
    chmodSync(join(open, 'node'), 0o755);
    writeFileSync(nodePath, join(open, 'node') + '\n');
    const writable = run(tool, ['-u', 'true']);
    assert.equal(writable.status, 126, writable.stderr);
    assert.match(writable.stderr, /^ts-unshare: refusing to run Node\.js .*writable by others/);
    assert.equal(writable.stderr.split('\n').length, 2);

    writeFileSync(nodePath, node + '\n');
    chmodSync(nodePath, 0o666);
    const list = run(tool, ['-u', 'true']);
    assert.equal(list.status, 126, list.stderr);
    assert.match(list.stderr, /^ts-unshare: refusing .*node-path: is writable by others/);
  });
});

describe('limits: the tool starts, or one line names the limit', () => {
  const limited = (limit: string, tool: Tool, nobody: boolean): Result => {
    const exe = nobody ? nobodyBin(tool) : bin(tool);
    const argv = ['sh', '-c', `${limit} || exit 90; exec "$0" "$@"`, exe, ...SHORT[tool]];
    return run(...(nobody ? asNobody(argv) : (['sh', argv.slice(1)] as [string, string[]])), {
      cwd: '/',
      timeout: 30_000,
    });
  };
  // The dynamic loader needs about 3 MiB and fd 3: below, the shell's exec
  // fails in one line, as util-linux's does.
  const LOADER_KIB = 3000;
  const memory = [1000, LOADER_KIB, 10_000, 50_000, 100_000, 200_000, 400_000, 700_000, 1_100_000];
  const enough = [1_400_000, 2_000_000, 4_000_000];
  // Root raises a hard limit only with CAP_SYS_RESOURCE (a container's root may lack it).
  const capEff = /CapEff:\s*(\w+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1];
  const canRaise = ((BigInt('0x' + capEff) >> 24n) & 1n) === 1n;
  const TOO_LITTLE =
    /^ts-\w+: too little memory allowed \(RLIMIT_(AS|DATA) \d+ KiB\): Node\.js needs \d+ KiB$/;

  test('ulimit -v and -d from 1 MB to 4 GB: the tool starts, or one line names the limit', () => {
    for (const tool of TOOLS)
      for (const flag of ['-v', '-d'])
        for (const kib of [...memory, ...enough])
          for (const nobody of [false, true]) {
            const r = limited(`ulimit ${flag} ${kib}`, tool, nobody);
            const who = `${tool} ulimit ${flag} ${kib} as ${nobody ? 'nobody' : 'root'}`;
            if (enough.includes(kib) || (kib >= LOADER_KIB && !nobody && canRaise))
              assert.equal(r.status, 0, `${who}: ${r.stderr}`);
            else worksOrOneLine(r, who, kib >= LOADER_KIB ? TOO_LITTLE : undefined);
          }
  });

  test('ulimit -n 3 to 64: the tool starts, or one line names the limit', () => {
    const TOO_FEW =
      /^ts-\w+: too few open files allowed \(RLIMIT_NOFILE \d+\): Node\.js needs \d+$/;
    for (const tool of TOOLS)
      for (let n = 3; n <= 64; n += n < 40 ? 1 : 8) {
        const root = limited(`ulimit -n ${n}`, tool, false);
        if (n > 3 && canRaise)
          assert.equal(root.status, 0, `${tool} ulimit -n ${n}: ${root.stderr}`);
        else worksOrOneLine(root, `${tool} ulimit -n ${n}`, n > 3 ? TOO_FEW : undefined);
        const nobody = limited(`ulimit -n ${n}`, tool, true);
        worksOrOneLine(nobody, `${tool} ulimit -n ${n} as nobody`, n > 3 ? TOO_FEW : undefined);
      }
  });
  test('a descriptor above the open-files limit (fd 251, ulimit -n 200) reaches the program', () => {
    const script =
      'exec 251</dev/null; ulimit -n 200; exec "$0" -u sh -c "ls /proc/self/fd; ulimit -n"';
    const [ours, theirs] = [bin('ts-unshare'), 'unshare'].map((exe) =>
      run('bash', ['-c', script, exe]),
    );
    assert.deepEqual(ours, theirs);
    assert.match(ours.stdout, /^251$/m);
  });

  test('a soft limit below the hard one is raised for Node and given back to the program', () => {
    const r = run('sh', [
      '-c',
      'ulimit -S -v 50000; ulimit -S -n 10; exec "$0" -u sh -c "ulimit -S -v; ulimit -S -n"',
      bin('ts-unshare'),
    ]);
    assert.deepEqual([r.stdout, r.stderr, r.status], ['50000\n10\n', '', 0]);
  });

  test('as nobody, the per-process task count is read only when the limit is near', () => {
    // /proc/1/status is made a FIFO nobody reads from: a launcher that
    // opens every process's status blocks there
    const fifo = join(scratch, 'status-fifo');
    run('mkfifo', [fifo]);
    chmodSync(fifo, 0o644);
    chmodSync(scratch, 0o755);
    const [setpriv, nobody] = asNobody([
      'sh',
      '-c',
      'ulimit -u 100000; exec "$0" --help',
      nobodyBin('ts-unshare'),
    ]);
    const r = inPrivateMounts(`mount --bind '${fifo}' /proc/1/status && cd /`, [
      setpriv,
      ...nobody,
    ]);
    assert.equal(r.signal, null, 'the launcher blocked reading every /proc/PID/status');
    assert.equal(r.status, 0, r.stderr);
  });

  test("an argv the kernel took from the caller fits the tool's own exec", () => {
    // The longest last argument util-linux's unshare can be given, in an
    // otherwise fixed command line: ours must take the same.
    const argMax = Number(run('getconf', ['ARG_MAX']).stdout);
    const chunk = 'x'.repeat(100_000);
    const fill = Array.from({ length: Math.floor((argMax - 60_000) / 100_001) }, () => chunk);
    const works = (exe: string, extra: number) =>
      spawnSync(exe, ['-u', 'true', ...fill, 'y'.repeat(extra)], { env: {} }).status === 0;
    // util-linux's unshare under a name as long as ours: the kernel copies
    // the file name and argv[0], so both are handed the same bytes
    const ours = bin('ts-unshare');
    const theirs = join(scratch, 'u'.repeat(ours.length - scratch.length - 1));
    assert.equal(theirs.length, ours.length);
    symlinkSync(run('sh', ['-c', 'command -v unshare']).stdout.trim(), theirs);
    let lo = 0;
    let hi = 131_071;
    assert.ok(works(theirs, lo), 'util-linux takes the fixed part');
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (works(theirs, mid)) lo = mid;
      else hi = mid - 1;
    }
    assert.ok(lo < 131_071, 'the command line reached ARG_MAX');
    const r = spawnSync(ours, ['-u', 'true', ...fill, 'y'.repeat(lo)], {
      env: {},
      encoding: 'utf8',
    });
    assert.deepEqual([r.error?.message, r.stderr, r.status], [undefined, '', 0]);
  });
});

describe('ts-nsenter enters the right place or refuses', () => {
  test('--all without /proc: no namespace specified, as util-linux 2.41+', () => {
    const target = startTarget(['unshare', '-u', 'sleep', '60']);
    const r = inPrivateMounts('umount -l /proc', [
      bin('ts-nsenter'),
      '-t',
      String(target.pid),
      '-a',
      'sh',
      '-c',
      'hostname',
    ]);
    assert.deepEqual(
      [r.stdout, r.stderr, r.status],
      ['', 'ts-nsenter: no namespace specified\n', 1],
    );
  });

  test('SIGTERM, SIGINT and SIGHUP to the waiting parent end it at once, as nsenter', async () => {
    const target = startTarget(['unshare', '-fp', 'sleep', '60']);
    const nsenter = '/usr/bin/nsenter';
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
      for (const args of [['-p'], ['-a'], ['-F', '-p']])
        for (const exe of [nsenter, bin('ts-nsenter')]) {
          const child = spawn(exe, ['-t', String(target.pid), ...args, 'sleep', '30'], {
            stdio: 'ignore',
          });
          const program = () =>
            childrenOf(child.pid!).find((c) => comm(c) === 'sleep') ??
            (comm(child.pid!) === 'sleep' ? child.pid : undefined);
          waitFor(() => program() !== undefined, 'the program', 10_000);
          const pid = program()!;
          const ended = new Promise<[number | null, string | null]>((resolve) =>
            child.once('exit', (code, signal) => resolve([code, signal])),
          );
          process.kill(child.pid!, sig);
          const [code, signal] = await Promise.race([
            ended,
            new Promise<[string, null]>((resolve) =>
              setTimeout(() => resolve(['still running', null]), 5000),
            ),
          ]);
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone with it
          }
          if (code === 'still running') child.kill('SIGKILL');
          assert.deepEqual([code, signal], [null, sig], `${exe} ${args.join(' ')} ${sig}`);
        }
  });
});
