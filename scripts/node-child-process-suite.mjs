#!/usr/bin/env node
/**
 * Runs Node's own child_process tests against @ns/syscalls' spawn() and
 * spawnSync(): each test/parallel/test-child-process-spawn*.js (spawnsync*
 * included) of an extracted Node test folder runs twice, once plain and once
 * with a preload that puts ours, with `namespaces: ['uts']` added to the
 * options, in place of child_process.spawn and .spawnSync.
 *
 *   node scripts/node-child-process-suite.mjs DIR [NAME...]
 *
 * DIR holds Node's test/common, test/fixtures and the tests (DIR or DIR/test);
 * NAMEs keep only the tests whose file name contains one of them. Needs
 * `npm run build` first, Linux, and the right to create a UTS namespace.
 *
 * Only the two exports are swapped: exec(), execFile(), fork() and the *Sync
 * variants call child_process' own internal spawn, not the export, so they
 * stay Node's. While ours runs, a call it makes to child_process.spawn or
 * .spawnSync (its runner) goes to Node's.
 *
 * A test that fails plain does not count; one that skips itself on this
 * machine is "cannot apply". Exit status 1 when a test passes plain and
 * fails with ours.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TIMEOUT_MS = 120_000;
const here = dirname(fileURLToPath(import.meta.url));
const lib = resolve(here, '..', 'packages', 'syscalls', 'dist', 'index.cjs');

const [dirArg, ...only] = process.argv.slice(2);
if (!dirArg || dirArg === '-h' || dirArg === '--help') {
  console.error('usage: node scripts/node-child-process-suite.mjs NODE_TEST_DIR [NAME...]');
  process.exit(2);
}
let testRoot = resolve(dirArg);
if (!existsSync(join(testRoot, 'common')) && existsSync(join(testRoot, 'test', 'common')))
  testRoot = join(testRoot, 'test');
const parallel = join(testRoot, 'parallel');
if (!existsSync(join(testRoot, 'common', 'index.js')) || !existsSync(parallel)) {
  console.error(`${dirArg}: no test/common/index.js and test/parallel here`);
  process.exit(2);
}
if (!existsSync(lib)) {
  console.error(`${lib} is missing: run npm run build first`);
  process.exit(2);
}

const tests = readdirSync(parallel)
  .filter((f) => /^test-child-process-spawn.*\.js$/.test(f))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (tests.length === 0) {
  console.error(`no test-child-process-spawn*.js in ${parallel}`);
  process.exit(2);
}

const SWAP = `'use strict';
// Puts @ns/syscalls' spawn() and spawnSync() in child_process' place,
// with namespaces: ['uts'] added to the options.
const cp = require('node:child_process');
const ns = require(${JSON.stringify(lib)});
const theirs = { spawn: cp.spawn, spawnSync: cp.spawnSync };
let inside = 0;

// (file, args?, options?) as child_process reads it; options that are not a
// plain object (null, a number, an array...) are left alone, for ours to
// refuse as child_process does.
function withUts(a) {
  const out = [...a];
  let at = 2;
  if (out[1] != null && typeof out[1] === 'object' && !Array.isArray(out[1])) at = 1;
  const o = out[at];
  if (o === undefined) {
    out[at] = { namespaces: ['uts'] };
  } else if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
    out[at] = { ...o, namespaces: ['uts'] };
  }
  return out;
}

for (const name of ['spawn', 'spawnSync']) {
  const ours = ns[name];
  const original = theirs[name];
  const swapped = {
    [name](...a) {
      // ours starts its runner with child_process' own
      if (inside > 0) return original.apply(this, a);
      inside++;
      try {
        return ours(...withUts(a));
      } finally {
        inside--;
      }
    },
  }[name];
  cp[name] = swapped;
}
require('node:module').syncBuiltinESMExports();
`;

/** Can ours start a program in a new UTS namespace here at all? */
function preflight() {
  if (process.platform !== 'linux') return 'needs Linux';
  try {
    const ns = createRequire(import.meta.url)(lib);
    const r = ns.spawnSync('/bin/sh', ['-c', 'exit 0'], { namespaces: ['uts'] });
    if (r.error) return `a new uts namespace: ${r.error.message}`;
    if (r.status !== 0) return `a new uts namespace: exit status ${r.status}`;
  } catch (e) {
    return `@ns/syscalls: ${e.message}`;
  }
  return undefined;
}

function run(file, preload) {
  return new Promise((done) => {
    const args = preload ? ['--require', preload, file] : [file];
    const child = spawn(process.execPath, args, {
      cwd: dirname(testRoot),
      env: { ...process.env, NODE_TEST_DIR: undefined, TEST_THREAD_ID: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // a test's own children, left behind, go with it
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      done({ code, signal, out, err, timedOut });
    });
  });
}

function verdict(r) {
  const skipped = /^1\.\.0 # Skipped: (.*)$/m.exec(r.out);
  if (r.code === 0 && skipped) return { skip: skipped[1] };
  if (r.code === 0 && !r.timedOut) return { pass: true };
  if (r.timedOut) return { pass: false, why: `timed out after ${TIMEOUT_MS / 1000}s` };
  const lines = (r.err + '\n' + r.out).split('\n').map((l) => l.trim());
  let i = lines.findIndex((l) => /^(?:Uncaught )?[A-Z]\w*Error\b|^Mismatched /.test(l));
  if (i < 0) i = lines.findIndex((l) => l && !/^node:|^\^|^at |^throw |^Node\.js v/.test(l));
  let first = i < 0 ? `exit ${r.code ?? r.signal}` : lines[i];
  // assert's "Expected values to be strictly equal:" says what only on the lines after
  if (first.endsWith(':')) {
    const rest = [];
    for (const l of lines.slice(i + 1)) {
      if (/^at |^Node\.js v/.test(l)) break;
      if (l && l !== '+ actual - expected') rest.push(l);
    }
    if (rest.length > 0) first += ' ' + rest.join(' ').replace(/\s+/g, ' ');
  }
  return { pass: false, why: first.length > 160 ? first.slice(0, 157) + '...' : first };
}

const work = mkdtempSync(join(tmpdir(), 'ns-cp-suite-'));
const preload = join(work, 'swap-child-process.cjs');
writeFileSync(preload, SWAP);
const cannot = preflight();
const width = Math.max(...tests.map((t) => t.length));
const count = { total: tests.length, cannot: 0, applicable: 0, plain: 0, ours: 0 };
const regressions = [];
try {
  for (const t of tests) {
    const file = join(parallel, t);
    const name = t.padEnd(width);
    if (cannot) {
      count.cannot++;
      console.log(`${name}  cannot apply: ${cannot}`);
      continue;
    }
    const plain = verdict(await run(file));
    if (plain.skip) {
      count.cannot++;
      console.log(`${name}  cannot apply: ${plain.skip}`);
      continue;
    }
    count.applicable++;
    if (!plain.pass) {
      console.log(`${name}  plain: fail  ours: -     (not counted) ${plain.why}`);
      continue;
    }
    count.plain++;
    const ours = verdict(await run(file, preload));
    if (ours.pass || ours.skip) {
      count.ours++;
      console.log(
        `${name}  plain: pass  ours: pass${ours.skip ? `  (skipped: ${ours.skip})` : ''}`,
      );
    } else {
      regressions.push(t);
      console.log(`${name}  plain: pass  ours: fail  ${ours.why}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(
  `\n${count.total} tests: ${count.cannot} cannot apply, ${count.applicable} applicable, ` +
    `${count.plain} pass plain, ${count.ours} of those pass with ours`,
);
console.log(`ours: ${count.ours} passed, ${count.plain - count.ours} failed`);
process.exitCode = regressions.length > 0 ? 1 : 0;
