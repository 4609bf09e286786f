/**
 * ts-nsls against util-linux lsns on the same machine state. npm test runs
 * this file in a PID namespace of its own (scripts/run-tests.mjs --world):
 * both tools see only the processes this file starts, a world that holds
 * still while they look, so one run of each is compared, no retry.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asUtilLinux, bin, comm, needs, ROOT, run, sh } from './helpers.js';
import { childOf, firstLine, inode, Scene, settled } from './nsls-helpers.js';

const NSLS = bin('ts-nsls');
const COMPAT = { ...process.env, TS_NSLS_COMPAT: '2.38' };

function nsls(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return run(NSLS, [...args], { env });
}

/** Same stdout, stderr (with the tool's name) and status as lsns 2.38.1 in its mode. */
function sameAsLsns(args: string[], env: NodeJS.ProcessEnv = COMPAT): void {
  const ours = nsls(args, env);
  const theirs = run('lsns', args);
  ours.stderr = ours.stderr.replace(/\bts-nsls\b/g, 'lsns');
  assert.equal(ours.stdout, theirs.stdout, `stdout of ${args.join(' ')}`);
  assert.equal(ours.stderr, theirs.stderr, `stderr of ${args.join(' ')}`);
  assert.equal(ours.status, theirs.status, `status of ${args.join(' ')}`);
}

const scene = new Scene();
/** the files this file binds namespaces on, in a folder of its own (removed after the binds) */
const scratch = mkdtempSync(join(tmpdir(), 'ts-nsls-test-'));
const ids: Record<string, number> = {};

before(async () => {
  // uts+ipc, a pid namespace with its own /proc, a user namespace whose parent has no process
  const ui = scene.start(['unshare', '-ui', 'sleep', '600']);
  ids.uts = await settled(ui.pid!, 'uts');
  ids.uiPid = ui.pid!;
  const fp = scene.start(['unshare', '-fp', '--mount-proc', 'sleep', '600']);
  ids.pidns = await settled(await childOf(fp.pid!), 'pid');
  const uu = scene.start(['unshare', '-Ur', 'unshare', '-U', 'sleep', '600']);
  // two unshares in a row, then sleep: its user namespace once it is sleep (the first
  // unshare's namespace, seen in between, ends up with no process)
  await settled(uu.pid!, 'user');
  while (comm(uu.pid!) !== 'sleep') await new Promise((r) => setTimeout(r, 10));
  ids.innerUser = inode(uu.pid!, 'user');
  // a named netns with an id, two processes in it, and a second bind mount of it
  scene.must(['ip', 'netns', 'add', 'tsnslsA'], ['ip', 'netns', 'delete', 'tsnslsA']);
  scene.must(['ip', 'netns', 'set', 'tsnslsA', '4711']);
  const bind = scene.file(join(scratch, 'ts-nsls-test-bind'));
  scene.must(['mount', '--bind', '/run/netns/tsnslsA', bind], ['umount', bind]);
  const ne = scene.start([
    'ip',
    'netns',
    'exec',
    'tsnslsA',
    'sh',
    '-c',
    'sleep 600 & sleep 600 & wait',
  ]);
  ids.net = await settled(ne.pid!, 'net');
  ids.netPid = ne.pid!;
  await childOf(ne.pid!);
});
after(() => {
  scene.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

describe('ts-nsls as lsns 2.38.1', () => {
  const cases = [
    [],
    ['-l'],
    ['-r'],
    ['-J'],
    ['-n'],
    ['-u'],
    ['-o', 'NS,TYPE'],
    ['-o', '+PATH,PPID,UID'],
    ['--output', 'ns,type,pid'],
    ['--output-all'],
    ['--output-all', '-J'],
    ['--output-all', '-r'],
    ['-t', 'net'],
    ['-t', 'net', '-J'],
    ['-t', 'net', '-W'],
    ['-t', 'net', '-r'],
    ['-t', 'pid', '-t', 'user'],
    ['-t', 'uts', '-n', '-o', 'PID,NPROCS'],
    ['-n', '-r', '-o', 'NS,TYPE,NPROCS'],
    ['-T'],
    ['--tree=parent'],
    ['-Tprocess'],
    ['-T', '-J'],
    ['-Tparent', '-r'],
    ['-T', '-t', 'uts'],
    ['-Tparent', '-t', 'pid'],
    ['-T', '-o', 'NS,TYPE,PNS,ONS', '-J'],
    ['-t', 'user', '-o', 'NS,PNS,ONS'],
    ['-p', '99999999'],
    ['-J', '-p', '99999999'],
    // namespace 0 is none: every namespace, with the columns of the <namespace> mode
    ['0'],
    ['-J', '0'],
    ['-l', '00'],
  ];
  for (const args of cases) it(`lsns ${args.join(' ')}`, () => sameAsLsns(args));

  it('the default (newer lsns) output is lsns 2.38.1 output where no namespace lacks processes', () => {
    // The default mode differs from 2.38.1 only by namespaces without processes (bound,
    // held by a descriptor or a socket) and newer messages: this world has none of those.
    for (const args of [[], ['-J'], ['-l'], ['-r', '-t', 'net'], ['-o', 'NS,TYPE,PNS,ONS']])
      sameAsLsns(args, process.env);
  });

  it('the scan split over several threads (as on a busy machine) changes nothing', () => {
    const env = { ...COMPAT, TS_NSLS_THREADS: '3' };
    for (const args of [[], ['-J'], ['-l', '-o', '+PPID,UID,PATH']]) sameAsLsns(args, env);
    // --threads is ours alone: the same count with one scanning thread and with three,
    // for a namespace whose threads hold still
    const args = ['--threads', '-r', '-n', '-o', 'NS,NPROCS', '-Q', `NS == ${ids.uts}`];
    const one = nsls(args, { ...env, TS_NSLS_THREADS: '1' });
    const three = nsls(args, env);
    assert.equal(three.status, 0);
    assert.equal(three.stdout, `${ids.uts} 1\n`);
    assert.equal(three.stdout, one.stdout);
  });

  it('/proc of another PID namespace (unshare -pf without --mount-proc): PPIDs as /proc has them', () => {
    // The tool runs in a new PID namespace as the PID /proc gives the uts sleep, whose
    // parent is this test: a PID taken from /proc must not be looked up in the tool's
    // own namespace (pidfd_open, kcmp), where it names the tool, whose parent is sh.
    const args = [
      '-l',
      '-t',
      'uts',
      '-t',
      'ipc',
      '-t',
      'net',
      '-o',
      'NS,TYPE,NPROCS,PID,PPID,USER',
    ];
    const inside = (tool: string, env: NodeJS.ProcessEnv) =>
      run(
        'unshare',
        [
          '-pf',
          'sh',
          '-c',
          'echo "$0" >/proc/sys/kernel/ns_last_pid && "$@"; echo "status $?"',
          String(ids.uiPid - 1),
          tool,
          ...args,
        ],
        { env },
      );
    const theirs = inside('lsns', process.env);
    assert.match(theirs.stdout, new RegExp(`^${ids.uts} uts +1 +${ids.uiPid} +[02-9]\\d* `, 'm'));
    for (const env of [COMPAT, process.env]) assert.deepEqual(inside(NSLS, env), theirs);
  });

  it('-p PID', () => {
    sameAsLsns(['-p', String(ids.netPid)]);
    sameAsLsns(['-p', String(ids.uiPid), '-J']);
    sameAsLsns(['-r', '-n', '-t', 'net', '-p', String(ids.netPid), '-o', 'NS']);
  });
  it('<namespace>: the processes of one namespace', () => {
    sameAsLsns([String(ids.net)]);
    sameAsLsns([String(ids.net), '-l']);
    sameAsLsns(['-J', String(ids.net)]);
    sameAsLsns(['-n', '-o', 'NS,PNS,ONS', '-t', 'user', String(ids.innerUser)]);
  });
  it('NETNSID and NSFS', () => {
    sameAsLsns(['-t', 'net', '-o', 'NS,NETNSID,NSFS', '-p', String(ids.netPid)]);
    sameAsLsns(['-n', '-o', 'NSFS', '-t', 'net', '-p', String(ids.netPid), '--nowrap']);
  });
  it('the C locale draws the tree in ASCII', () => {
    for (const env of [{ LC_ALL: 'C' }, { LC_ALL: 'C.UTF-8' }]) {
      const ours = nsls(['-T'], { ...COMPAT, ...env }).stdout;
      const theirs = run('lsns', ['-T'], { env: { ...process.env, ...env } }).stdout;
      assert.equal(ours, theirs);
    }
    assert.match(nsls(['-T'], { ...process.env, LC_ALL: 'C' }).stdout, /`-/);
  });
  it('on a terminal: cut to its width as lsns does', () => {
    // script(1) gives each tool a terminal of the given width
    const onTerminal = (cols: number, argv: string[]) =>
      run('script', ['-qc', `stty cols ${cols} rows 50; ${argv.join(' ')}`, '/dev/null'], {
        env: COMPAT,
      }).stdout;
    for (const [cols, args] of [
      [50, []],
      [70, ['-o', 'NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER']],
      [60, ['--output-all']],
      [50, ['-u']],
    ] as const) {
      const ours = onTerminal(cols, [NSLS, ...args]);
      const theirs = onTerminal(cols, ['lsns', ...args]);
      assert.equal(ours, theirs, `${cols} columns, ${args.join(' ')}`);
      // COMMAND is what gives way: with the default columns every line fits
      if (args.length === 0)
        for (const line of ours.split('\r\n')) assert.ok(line.length <= cols, line);
    }
  });
  it('errors: messages and statuses', () => {
    for (const args of [
      ['-t', 'bogus'],
      ['-o', 'BOGUS'],
      ['123'],
      ['-J', '-r'],
      ['-p', 'abc'],
      ['abc'],
      ['-p', '1', '123'],
      ['-Tbogus'],
      ['-x'],
      ['--bogus'],
      ['-p'],
      ['-p', ''],
      ['-p', '0x5'],
      ['-p', '99999999999'],
      ['--', '18446744073709551616'],
    ])
      sameAsLsns(args);
  });
});

describe('ts-nsls beyond lsns 2.38.1', () => {
  it('newer wording for exclusive options, exit 1', () => {
    const r = nsls(['-J', '-r']);
    assert.equal(r.stderr, 'ts-nsls: options --json and --raw cannot be combined\n');
    assert.equal(r.status, 1);
    assert.equal(
      nsls(['-P', '-p', '1']).stderr,
      'ts-nsls: options --persistent and --task cannot be combined\n',
    );
  });

  it('lsns 2.42: -p 0 and negative PIDs are refused, -Q with an empty expression is no filter', () => {
    for (const pid of ['0', '-1']) {
      const r = nsls([`-p${pid}`]);
      assert.deepEqual(
        [r.stdout, r.stderr, r.status],
        ['', `ts-nsls: invalid PID argument: '${pid}': Numerical result out of range\n`, 1],
      );
    }
    const all = nsls(['-o', 'NS,TYPE,NPROCS,PID']);
    assert.deepEqual(nsls(['-o', 'NS,TYPE,NPROCS,PID', '-Q', '']), all);
    assert.equal(all.status, 0);
    // a blank expression is still an error
    assert.equal(
      nsls(['-Q', ' ']).stderr,
      'ts-nsls: failed to parse " ": syntax error, unexpected end of file\n',
    );
  });

  it('lsns 2.42 widths: from the data alone with -n, a header as wide as the data is the width', () => {
    // lsns 2.38.1 widens every column to its header, and then to its hint ("user    0")
    const rows = (args: string[]) => new Set(nsls(args).stdout.trimEnd().split('\n'));
    assert.deepEqual(rows(['-n', '-t', 'user', '-o', 'TYPE,UID']), new Set(['user  0']));
    assert.deepEqual(rows(['-t', 'user', '-o', 'TYPE,UID']), new Set(['TYPE UID', 'user   0']));
    sameAsLsns(['-n', '-t', 'user', '-o', 'TYPE,UID']);
    sameAsLsns(['-t', 'user', '-o', 'TYPE,UID']);
  });

  it("its own process: COMMAND is the tool's command line as the caller gave it, as lsns shows lsns", () => {
    // alone in a new uts namespace, -p $$ shows the tool's own row
    const own = (tool: string) =>
      run('unshare', ['-u', 'sh', '-c', 'exec "$0" -p $$ -t uts -n -o COMMAND', tool]);
    const theirs = own('lsns');
    assert.match(theirs.stdout, /^lsns -p \d+ -t uts -n -o COMMAND\n$/);
    const ours = own(NSLS);
    const anyPid = (text: string) => text.replace(/-p \d+/, '-p PID');
    assert.equal(anyPid(ours.stdout), anyPid(theirs.stdout).replace(/^lsns/, NSLS));
    assert.equal(ours.status, 0);
  });

  it('persistent, fd-held and socket-held namespaces (NPROCS 0), -P, NAME', async (t) => {
    const local = new Scene();
    t.after(() => local.cleanup());
    // bound on a file, no process
    const file = local.file(join(scratch, 'ts-nsls-test-uts'));
    local.must(['unshare', `--uts=${file}`, 'true'], ['umount', file]);
    const persistent = Number(
      spawnSync('stat', ['-L', '-c', '%i', file], { encoding: 'utf8' }).stdout,
    );
    // held only by a descriptor: the bind mount is gone
    local.must(['ip', 'netns', 'add', 'tsnslsFd'], ['ip', 'netns', 'delete', 'tsnslsFd']);
    const holder = local.start(['sh', '-c', 'exec sleep 600 4</run/netns/tsnslsFd']);
    await new Promise((r) => setTimeout(r, 200));
    const fdHeld = Number(
      spawnSync('stat', ['-L', '-c', '%i', `/proc/${holder.pid}/fd/4`], { encoding: 'utf8' })
        .stdout,
    );
    local.must(['ip', 'netns', 'delete', 'tsnslsFd']);
    // held only by a socket made inside it
    const sock = local.start(
      [
        process.execPath,
        '--conditions=source',
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { unshare, setns, CLONE_NEWNET } from '@ns/syscalls/internal';
         import { openSync, closeSync, readlinkSync } from 'node:fs';
         import dgram from 'node:dgram';
         const orig = openSync('/proc/thread-self/ns/net', 'r');
         unshare(CLONE_NEWNET);
         const ino = readlinkSync('/proc/thread-self/ns/net').replace(/\\D/g, '');
         const s = dgram.createSocket('udp4');
         s.bind(0, '127.0.0.1', () => { setns(orig, CLONE_NEWNET); closeSync(orig); console.log(ino); });
         setInterval(() => {}, 1000);`,
      ],
      'pipe',
    );
    const sockHeld = Number(await firstLine(sock));
    assert.notEqual(sockHeld, inode(process.pid, 'net'));

    const rows = nsls(['-P', '-r', '-n', '-o', 'NS,TYPE,NPROCS,PID,USER,NSFS,NAME']).stdout;
    assert.match(rows, new RegExp(`^${persistent} uts 0  root ${file} ts-nsls-test-uts$`, 'm'));
    assert.match(rows, new RegExp(`^${fdHeld} net 0  root  $`, 'm'));
    assert.match(rows, new RegExp(`^${sockHeld} net 0  root  $`, 'm'));
    for (const row of rows.trimEnd().split('\n'))
      assert.equal(row.split(' ')[2], '0', 'only NPROCS 0 with -P');
    // the upstream lsns/netns-from-sock and lsns/filedesc checks
    for (const [ns] of [[fdHeld], [sockHeld]])
      assert.equal(
        nsls(['--noheadings', '--raw', '--output', 'TYPE,NPROCS,USER', '-Q', `NS == ${ns}`]).stdout,
        'net 0 root\n',
      );
    // lsns 2.38.1 mode does not list them
    assert.doesNotMatch(
      nsls(['-r', '-n', '-o', 'NS'], COMPAT).stdout,
      new RegExp(`^${sockHeld}$`, 'm'),
    );
  });

  it('descriptors compared with those of a process holding nothing: a differing one is still read', async (t) => {
    const { readHeldFds } = await import('@ns/syscalls/internal');
    const local = new Scene();
    t.after(() => local.cleanup());
    local.must(['ip', 'netns', 'add', 'tsnslsCmp'], ['ip', 'netns', 'delete', 'tsnslsCmp']);
    // the child shares the parent's descriptors 1 and 2, its 4 is /dev/null, the parent's 4 the netns
    const parent = local.start([
      'sh',
      '-c',
      'exec 4</dev/null; sleep 600 & exec 4</run/netns/tsnslsCmp; exec sleep 600',
    ]);
    const child = await childOf(parent.pid!);
    await new Promise((r) => setTimeout(r, 200));
    const netns = Number(
      spawnSync('stat', ['-L', '-c', '%i', '/run/netns/tsnslsCmp'], { encoding: 'utf8' }).stdout,
    );
    // the child holds nothing and so becomes what the parent (and the child again) is compared with
    const tasks = Int32Array.from([child, child, parent.pid!, parent.pid!, child, child]);
    assert.deepEqual(readHeldFds(tasks, ['net']), [[1, [{ fd: 4, kind: 'nsfs', inode: netns }]]]);
  });

  it('the /proc reader keeps nothing from one call to the next', async (t) => {
    const { readHeldFds, readTasks } = await import('@ns/syscalls/internal');
    const local = new Scene();
    t.after(() => local.cleanup());
    const types = ['net', 'uts'];
    const held = (pid: number) => readHeldFds(new Int32Array([pid, pid]), types);
    const link = (pid: number, fd: number) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    };
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 250 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(cond());
    };
    // a process holding nothing, until SIGUSR1 puts its uts namespace on its descriptor 4:
    // one call must not take it for the same process as in the call before
    const p = local.start([
      'sh',
      '-c',
      'exec 4</dev/null; trap "exec 4</proc/self/ns/uts" USR1; while :; do sleep 0.05; done',
    ]).pid!;
    await until(() => link(p, 4) === '/dev/null');
    assert.deepEqual(held(p), []);
    process.kill(p, 'SIGUSR1');
    await until(() => link(p, 4).startsWith('uts:'));
    const uts = { fd: 4, kind: 'ns', type: 'uts', inode: inode(p, 'uts') };
    assert.deepEqual(held(p), [[0, [uts]]]);
    assert.deepEqual(readTasks(new Int32Array([p, p]), types, 3, { fds: true }).held!.get(0), [
      uts,
    ]);
    // a file found to be no namespace, then bound to one: another call must look again
    const file = local.file(join(scratch, 'ts-nsls-test-known'));
    const a = local.start(['sh', '-c', `exec 4<${file}; exec sleep 600`]).pid!;
    await until(() => link(a, 4) === file && comm(a) === 'sleep');
    assert.deepEqual(held(a), []);
    local.must(['unshare', `--uts=${file}`, 'true'], ['umount', file]);
    const bound = Number(spawnSync('stat', ['-L', '-c', '%i', file], { encoding: 'utf8' }).stdout);
    const b = local.start(['sh', '-c', `exec 5<${file}; exec sleep 600`]).pid!;
    await until(() => link(b, 5) === file && comm(b) === 'sleep');
    assert.deepEqual(held(b), [[0, [{ fd: 5, kind: 'nsfs', inode: bound }]]]);
    // and no pidfd stays open after a scan, in a Node process of its own
    const fresh = run(process.execPath, [
      '--conditions=source',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { listNamespaces, readHeldFds } from '@ns/syscalls/internal';
       import { readdirSync, readlinkSync } from 'node:fs';
       const pidfds = () => readdirSync('/proc/self/fd').filter((fd) => {
         try { return readlinkSync('/proc/self/fd/' + fd).includes('pidfd'); } catch { return false; }
       }).length;
       const before = pidfds();
       await listNamespaces();
       readHeldFds(new Int32Array([${a}, ${a}]), ['net']);
       console.log(before, pidfds());`,
    ]);
    assert.equal(fresh.stdout, '0 0\n', fresh.stderr);
  });

  it('-Q filter: comparisons, and/or/not, strings and numbers, errors', () => {
    const q = (expr: string) => nsls(['-n', '-r', '-o', 'NS', '-Q', expr]);
    assert.equal(q(`NS == ${ids.uts}`).stdout, `${ids.uts}\n`);
    assert.equal(q(`NS == ${ids.uts} && NPROCS == 1`).stdout, `${ids.uts}\n`);
    assert.equal(
      q(`(NS == ${ids.uts} or NS eq ${ids.net}) and not TYPE == "ipc"`).stdout,
      [ids.uts, ids.net].sort().join('\n') + '\n',
    );
    assert.equal(q(`NETNSID == '4711' && TYPE == 'net'`).stdout, `${ids.net}\n`);
    assert.equal(q(`NS == ${ids.uts} && NPROCS > 1`).stdout, '');
    const bad = q('NPROCS >');
    assert.equal(
      bad.stderr,
      'ts-nsls: failed to parse "NPROCS >": syntax error, unexpected end of file\n',
    );
    assert.equal(bad.status, 1);
    const unknown = q('FOO == 1');
    assert.equal(
      unknown.stderr,
      'ts-nsls: unknown column: FOO\nts-nsls: failed to initialize filter\n',
    );
    assert.equal(unknown.status, 1);
  });

  it('-H lists the columns (text and JSON)', () => {
    const text = nsls(['-H']).stdout;
    assert.match(text, /^ {5}NS <integer> namespace identifier \(inode number\)$/m);
    const json = JSON.parse(nsls(['-H', '-J']).stdout);
    assert.deepEqual(json['lsns-columns'][0], {
      holder: 'NS',
      type: '<integer>',
      description: 'namespace identifier (inode number)',
    });
  });

  it('nested user and pid namespaces: PNS/ONS and the trees', () => {
    const rows = nsls(['-r', '-n', '-l', '-o', 'NS,TYPE,PNS,ONS', '-t', 'user']).stdout;
    const inner = rows.split('\n').find((l) => l.startsWith(`${ids.innerUser} `))!;
    const [, , pns, ons] = inner.split(' ');
    assert.equal(pns, ons, 'a user namespace is owned by its parent');
    assert.notEqual(Number(pns), inode(process.pid, 'user'), 'its parent has no process');
    const tree = nsls(['-Tparent', '-t', 'user']).stdout;
    assert.match(
      tree,
      new RegExp(`^\\S*${pns}\\s+user\\s+0 `, 'm'),
      'the parent appears as a ghost with NPROCS 0',
    );
    assert.match(tree, new RegExp(`└─${ids.innerUser}`));
    const json = JSON.parse(nsls(['-J', '-Tparent', '-t', 'pid']).stdout);
    const root = json.namespaces.find((n: { ns: number }) => n.ns === inode(process.pid, 'pid'));
    assert.ok(root.children.some((c: { ns: number }) => c.ns === ids.pidns));
  });

  it('--threads, --pids and --compare', () => {
    // our own mount namespace holds this Node process and its threads (which row
    // comes first depends on how the kernel numbers namespaces)
    const ours = `NS == ${inode(process.pid, 'mnt')}`;
    const threads = nsls(['--threads', '-r', '-n', '-o', 'NPROCS', '-t', 'mnt', '-Q', ours]).stdout;
    const procs = nsls(['-r', '-n', '-o', 'NPROCS', '-t', 'mnt', '-Q', ours]).stdout;
    assert.ok(
      Number(threads) > Number(procs),
      `threads (${threads}) outnumber processes (${procs})`,
    );
    const pids = JSON.parse(
      nsls(['-J', '--pids', '-l', '-t', 'net', '-Q', `NS == ${ids.net}`]).stdout,
    ).namespaces[0];
    assert.equal(pids.pids.length, 3);
    assert.ok(pids.pids.includes(ids.netPid));
    assert.equal(pids.pid, Math.min(...pids.pids));
    const cmp = nsls(['--compare', String(ids.uiPid), String(process.pid), '-r', '-n']).stdout;
    assert.match(cmp, new RegExp(`^uts ${ids.uts} ${inode(process.pid, 'uts')} no$`, 'm'));
    assert.match(cmp, /^mnt (\d+) \1 yes$/m);
    // as JSON, shared is a boolean, as lsns -J writes a boolean column
    const json = JSON.parse(
      nsls(['--compare', String(ids.uiPid), String(process.pid), '-J']).stdout,
    );
    const byType = new Map(json.namespaces.map((r: { type: string }) => [r.type, r]));
    assert.deepEqual(byType.get('uts'), {
      type: 'uts',
      ns1: ids.uts,
      ns2: inode(process.pid, 'uts'),
      shared: false,
    });
    assert.equal((byType.get('mnt') as { shared: unknown }).shared, true);
  });

  it('pipes first: output a pipe holds is all written, raw output is one record per line', () => {
    // the status of ts-nsls itself goes to stderr: 0, all of it was written before head closed the pipe
    const script =
      '(ts-nsls; echo "rc=$?" >&2) | head -1; (ts-nsls -J; echo "rc=$?" >&2) | head -c 10 >/dev/null';
    const head = sh(script, { cwd: ROOT });
    assert.equal(head.stderr, 'rc=0\nrc=0\n');
    assert.match(head.stdout, /^ +NS TYPE/);
    const grep = sh('ts-nsls | grep uts', { cwd: ROOT });
    assert.match(grep.stdout, new RegExp(`^${ids.uts} uts `, 'm'));
    const raw = nsls(['-r', '-n', '-o', 'NS,COMMAND', '-t', 'net']).stdout.trimEnd().split('\n');
    for (const line of raw) assert.match(line, /^\d+ \S*$/);
  });

  it('a pipe closed before all is written: killed by SIGPIPE as lsns is, a write error where ignored', async (t) => {
    const local = new Scene();
    t.after(() => local.cleanup());
    // sixteen command lines of 8 KiB, each alone in a uts namespace: more than a pipe holds
    const long = 'x'.repeat(8000);
    const pids = Array.from(
      { length: 16 },
      () => local.start(['unshare', '-u', 'sh', '-c', 'sleep 600; :', long]).pid!,
    );
    for (const pid of pids) await settled(pid, 'uts');
    const script = (tool: string) =>
      [
        `(${tool}; echo "rc=$?" >&2) | head -1 >/dev/null`,
        `(${tool} -J; echo "rc=$?" >&2) | head -c 10 >/dev/null`,
        `(trap '' PIPE; ${tool}; echo "rc=$?" >&2) | head -1 >/dev/null`,
        `(trap '' PIPE; ${tool} -J; echo "rc=$?" >&2) | head -c 10 >/dev/null`,
      ].join('; ');
    const theirs = sh(script('lsns'));
    assert.equal(
      theirs.stderr,
      'rc=141\nrc=141\nlsns: write error\nrc=1\nlsns: write error\nrc=1\n',
    );
    assert.equal(asUtilLinux(sh(script('ts-nsls'), { cwd: ROOT }).stderr), theirs.stderr);
  });

  it('the executable starts Node without NODE_EXTRA_CA_CERTS, arguments unchanged', (t) => {
    if (!needs(t, { strace: 'strace' })) return;
    // Node 20 reads NODE_EXTRA_CA_CERTS as it starts, and warns when the file is
    // unreadable; later versions only at their first TLS connection, never made
    // here. What holds on every version: the environment the exec of Node
    // carries, and that no one opens the file.
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' };
    const args = ['-n', '-r', '-o', 'NS,TYPE', '-Q', `NS == ${ids.uts} || TYPE == "no such"`];
    const log = join(scratch, 'ts-nsls-test-strace');
    /** The run under strace -f, and the exec and open calls it made (arguments in full). */
    const traced = (argv: string[]) => {
      const trace = ['-f', '-qq', '-v', '-s', '4096', '-e', 'trace=execve,execveat,open,openat'];
      const result = run('strace', [...trace, '-o', log, ...argv], { env });
      const calls = readFileSync(log, 'utf8').split('\n');
      rmSync(log, { force: true });
      const execs = calls.filter((c) => /^\d+ +execve(at)?\(/.test(c));
      const opens = calls.filter((c) => /^\d+ +open(at)?\(/.test(c));
      return { result, execs, opens };
    };
    const bundle = JSON.stringify(`${NSLS}.cjs`);
    const launched = traced([NSLS, ...args]);
    assert.deepEqual(launched.result, {
      stdout: `${ids.uts} uts\n`,
      stderr: '',
      status: 0,
      signal: null,
    });
    // the caller's exec of the launcher, then the launcher's of Node on the bundle
    const [caller, ...node] = launched.execs;
    assert.ok(caller.includes('NODE_EXTRA_CA_CERTS=/nonexistent/ca.pem'), caller);
    assert.equal(node.length, 1, node.join('\n'));
    assert.ok(node[0].includes(bundle), node[0]);
    assert.ok(!node[0].includes('NODE_EXTRA_CA_CERTS'), node[0]);
    assert.deepEqual(
      launched.opens.filter((c) => c.includes('/nonexistent/ca.pem')),
      [],
    );
    // the check sees the variable where Node is given it: the bundle run by Node itself
    const direct = traced([process.execPath, `${NSLS}.cjs`, ...args]);
    assert.equal(direct.result.status, 0, direct.result.stderr);
    assert.equal(direct.execs.length, 1, direct.execs.join('\n'));
    assert.ok(direct.execs[0].includes(bundle), direct.execs[0]);
    assert.ok(direct.execs[0].includes('NODE_EXTRA_CA_CERTS=/nonexistent/ca.pem'), direct.execs[0]);
  });
});
