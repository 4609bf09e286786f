/**
 * Installed like a Unix tool: man pages and shell completions generated from
 * each tool's one option table, the README's install command from the clone,
 * and each packed tarball installed alone into an empty prefix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OptionSpec } from '@ns/cli';
import { NAMESPACE_TYPES } from '@ns/syscalls';
import { OPTIONS as UNSHARE } from '../packages/ts-unshare/src/options.js';
import { OPTIONS as NSENTER } from '../packages/ts-nsenter/src/options.js';
import { OPTIONS as NSLS } from '../packages/ts-nsls/src/options.js';
import { ROOT, bin, have, needs, run } from './helpers.js';

type Tool = 'ts-unshare' | 'ts-nsenter' | 'ts-nsls';
const TABLES: [Tool, OptionSpec[]][] = [
  ['ts-unshare', UNSHARE],
  ['ts-nsenter', NSENTER],
  ['ts-nsls', NSLS],
];
const SECTIONS = [
  'NAME',
  'SYNOPSIS',
  'DESCRIPTION',
  'OPTIONS',
  'EXIT STATUS',
  'NOTES',
  'EXAMPLES',
  'DIFFERENCES FROM UTIL-LINUX',
  'SEE ALSO',
];
const dist = (tool: Tool, file: string) => join(ROOT, 'packages', tool, 'dist', file);

let scratch: string;
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'ts-install-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('man pages', () => {
  for (const [tool, specs] of TABLES)
    test(`${tool}.1: util-linux's sections, every option of the table, no warning`, (t) => {
      const page = readFileSync(dist(tool, `${tool}.1`), 'utf8');
      for (const s of specs.filter((s) => s.desc)) {
        assert.ok(page.includes(`\\-\\-${s.name.replace(/-/g, '\\-')}`), `--${s.name}`);
        if (s.short) assert.ok(page.includes(`\\fB\\-${s.short}\\fR`), `-${s.short}`);
      }
      if (!needs(t, { man: 'man-db' })) return;
      const r = run('man', ['--warnings', '-l', dist(tool, `${tool}.1`)], {
        env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '' },
      });
      assert.equal(r.stderr, '');
      const headings = r.stdout.split('\n').filter((l) => /^[A-Z][A-Z -]+$/.test(l));
      assert.deepEqual(headings, SECTIONS);
      for (const s of specs.filter((s) => s.desc)) assert.ok(r.stdout.includes(`--${s.name}`));
    });
});

describe('bash completion, with no node on PATH', () => {
  let path: string;
  before(() => {
    // PATH holds one command, so command completion is seen to search it, and nothing else
    path = join(scratch, 'path');
    mkdirSync(path);
    symlinkSync('/bin/true', join(path, 'only-command-here'));
  });

  /** COMPREPLY for the words typed so far (the last one being completed), and compopt's options. */
  function complete(tool: Tool, words: string[]): { reply: string[]; compopt: string } {
    const script = `
      compopt() { printf '%s ' "$@" >> "$COMPOPT_LOG"; }
      source "$0"
      COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
      COMPREPLY=()
      _${tool.replace(/-/g, '_')}
      printf '%s\\n' "\${COMPREPLY[@]}"`;
    const log = join(scratch, 'compopt.log');
    writeFileSync(log, '');
    const r = run(
      '/bin/bash',
      ['--norc', '-c', script, dist(tool, `completions/${tool}`), tool, ...words],
      {
        env: { PATH: path, COMPOPT_LOG: log },
      },
    );
    assert.equal(r.stderr, '');
    return { reply: r.stdout.split('\n').filter(Boolean), compopt: readFileSync(log, 'utf8') };
  }

  test('values: propagation, setgroups, signals, namespace types, columns, PIDs, users', () => {
    const modes = ['slave', 'shared', 'private', 'unchanged'];
    assert.deepEqual(complete('ts-unshare', ['--propagation', '']).reply, modes);
    assert.deepEqual(complete('ts-unshare', ['--propagation', '=', '']).reply, modes);
    assert.deepEqual(complete('ts-unshare', ['--setgroups', 'a']).reply, ['allow']);
    assert.deepEqual(complete('ts-unshare', ['--kill-child', '=', 'SIGKI']).reply, ['SIGKILL']);
    assert.deepEqual(complete('ts-nsls', ['-t', '']).reply.sort(), [...NAMESPACE_TYPES].sort());
    const columns = complete('ts-nsls', ['-o', 'NS,TY']);
    assert.deepEqual(columns.reply, ['NS,TYPE']);
    assert.match(columns.compopt, /-o nospace/);
    assert.ok(complete('ts-nsenter', ['-t', '']).reply.includes(String(process.pid)));
    assert.ok(complete('ts-unshare', ['--map-user', 'ro']).reply.includes('root'));
    const dirs = complete('ts-unshare', ['--root', '/pro']);
    assert.deepEqual(dirs.reply, ['/proc']);
  });

  test('options: exactly those of the table, and the tool takes each of them', () => {
    for (const [tool, specs] of TABLES) {
      const offered = complete(tool, ['-']).reply.sort();
      const table = specs.flatMap((s) => [`--${s.name}`, ...(s.short ? [`-${s.short}`] : [])]);
      assert.deepEqual(offered, table.sort(), tool);
      for (const option of offered) {
        const r = run(bin(tool), [option, '--help']);
        assert.doesNotMatch(r.stderr, /unrecognized option|invalid option/, `${tool} ${option}`);
      }
    }
  });

  test('the program is a command; its arguments are files', () => {
    assert.ok(complete('ts-unshare', ['-u', 'only']).reply.includes('only-command-here'));
    const after = complete('ts-unshare', ['-u', 'ls', '/et']);
    assert.deepEqual(after.reply, []);
    assert.match(after.compopt, /-o default/);
    const afterValue = complete('ts-nsenter', ['-t', '1', '-u', 'ls', '']);
    assert.match(afterValue.compopt, /-o default/);
  });

  test('--completion prints the script; zsh gets it through bashcompinit', () => {
    const bash = run(bin('ts-unshare'), ['--completion', 'bash']);
    assert.equal(bash.stdout, readFileSync(dist('ts-unshare', 'completions/ts-unshare'), 'utf8'));
    assert.doesNotMatch(bash.stdout, /\bnode\b/);
    assert.match(run(bin('ts-nsls'), ['--completion', 'zsh']).stdout, /bashcompinit/);
    const fish = run(bin('ts-nsls'), ['--completion', 'fish']);
    assert.equal(fish.status, 1);
  });
});

describe('installed like a Unix tool', () => {
  /** The tools work from an installed prefix, outside the clone, and man finds their pages. */
  function works(prefix: string, tools: Tool[]): void {
    const env = {
      PATH: `${join(prefix, 'bin')}:${process.env.PATH}`,
      MANPATH: join(prefix, 'share', 'man'),
    };
    for (const tool of tools) {
      const version = run(tool, ['--version'], { env, cwd: '/' });
      assert.equal(version.stdout, `${tool} from ts-namespace-tools 0.1.0\n`, version.stderr);
      if (have('man'))
        assert.match(run('man', ['-w', tool], { env }).stdout, new RegExp(`${tool}\\.1\\n$`));
    }
    if (tools.includes('ts-unshare'))
      assert.equal(
        run('ts-unshare', ['-u', 'sh', '-c', 'hostname box; hostname'], { env, cwd: '/' }).stdout,
        'box\n',
      );
  }

  test("the README's install command, from the clone", (t) => {
    if (!needs(t, { npm: 'npm' })) return;
    const prefix = join(scratch, 'from-clone');
    const packages = ['ts-unshare', 'ts-nsenter', 'ts-nsls'].map((p) => `./packages/${p}`);
    const r = run('npm', ['install', '-g', '--ignore-scripts', '--prefix', prefix, ...packages], {
      cwd: ROOT,
    });
    assert.equal(r.status, 0, r.stderr);
    works(prefix, ['ts-unshare', 'ts-nsenter', 'ts-nsls']);
  });

  test('each packed tarball, installed alone into an empty prefix', (t) => {
    if (!needs(t, { npm: 'npm' })) return;
    for (const [tool] of TABLES) {
      const packed = run('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch], {
        cwd: join(ROOT, 'packages', tool),
      });
      assert.equal(packed.status, 0, packed.stderr);
      const tarball = join(scratch, packed.stdout.trim().split('\n').pop()!);
      const prefix = join(scratch, `alone-${tool}`);
      const r = run('npm', [
        'install',
        '-g',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--prefix',
        prefix,
        tarball,
      ]);
      assert.equal(r.status, 0, r.stderr);
      works(prefix, [tool]);
    }
  });

  test('@ns/syscalls from its tarball, in a project of its own: ESM, CommonJS and strict TypeScript', (t) => {
    if (!needs(t, { npm: 'npm' })) return;
    const project = join(scratch, 'library-user');
    mkdirSync(project);
    const packed = run('npm', ['pack', '--ignore-scripts', '--pack-destination', project], {
      cwd: join(ROOT, 'packages', 'syscalls'),
    });
    assert.equal(packed.status, 0, packed.stderr);
    writeFileSync(join(project, 'package.json'), '{ "name": "library-user", "private": true }\n');
    const typescript = join(ROOT, 'node_modules', 'typescript');
    // a TypeScript project for Node has Node's types; the library names them as a peer
    const nodeTypes = join(ROOT, 'node_modules', '@types', 'node');
    const tarball = `./${packed.stdout.trim().split('\n').pop()}`;
    const install = run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, typescript, nodeTypes],
      { cwd: project },
    );
    assert.equal(install.status, 0, install.stderr);
    // the README's example, as it is written there
    const example = `spawn('sh', ['-c', 'hostname; echo $$'], {
  namespaces: ['uts', 'pid', 'mnt'],
  hostname: 'box',
  mountProc: true,
});
child.stdout.on('data', (d: Buffer) => process.stdout.write(d));
child.on('exit', (code: number | null) => console.log('exit', code));`;
    const untyped = example.replace(/: Buffer|: number \| null|!/g, '');
    const esm = `import { spawn } from '@ns/syscalls';\nconst child = ${untyped}\n`;
    const cjs = `const { spawn } = require('@ns/syscalls');\nconst child = ${untyped}\n`;
    writeFileSync(join(project, 'a.mjs'), esm);
    writeFileSync(join(project, 'b.cjs'), cjs);
    writeFileSync(
      join(project, 'c.mts'),
      `import { spawn } from '@ns/syscalls';\nconst child = ${example}\n`,
    );
    const compilerOptions = {
      strict: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      outDir: 'out',
    };
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, files: ['c.mts'] }),
    );
    const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    const built = run(process.execPath, [tsc, '-p', project]);
    assert.equal(built.status, 0, built.stdout + built.stderr);
    // the output and the exit come on their own streams: in either order
    for (const file of ['a.mjs', 'b.cjs', 'out/c.mjs']) {
      const r = run(process.execPath, [file], { cwd: project });
      assert.deepEqual(r.stdout.split('\n').sort(), ['', '2', 'box', 'exit 0'], file);
      assert.deepEqual([r.stderr, r.status], ['', 0], file);
    }
  });
});
