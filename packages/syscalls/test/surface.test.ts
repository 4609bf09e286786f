/** The public surface: the API of the README, nothing of the tools' machinery. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as api from '@ns/syscalls';
import { RunFailure, run } from '@ns/syscalls';

test('the package root exports the public API only; the machinery is ./internal', async () => {
  const names = Object.keys(api);
  for (const internal of [
    'spawnSteps',
    'runHere',
    'becomeWaiter',
    'holdSignals',
    'callerState',
    'scan',
    'readTasks',
    'plan',
    'runPlan',
  ])
    assert.ok(!names.includes(internal), `${internal} is not public`);
  for (const name of [
    'spawn',
    'spawnSync',
    'run',
    'listNamespaces',
    'NsError',
    'unshare',
    'setns',
    'NAMESPACES',
  ])
    assert.ok(names.includes(name), `${name} is public`);
  const internal = await import('@ns/syscalls/internal');
  assert.equal(typeof internal.spawnSteps, 'function');
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.equal(
    manifest.dependencies['@types/node'],
    undefined,
    '@types/node is no runtime dependency',
  );
});

test('run(): resolves to the output, rejects with RunFailure carrying it', async () => {
  const ok = await run('sh', ['-c', 'hostname; echo err >&2'], {
    namespaces: ['uts'],
    hostname: 'box',
  });
  assert.deepEqual(ok, { stdout: 'box\n', stderr: 'err\n', code: 0, signal: null });
  const failed = await run('sh', ['-c', 'echo out; exit 3'], { namespaces: ['uts'] }).catch(
    (e) => e,
  );
  assert.ok(failed instanceof RunFailure);
  assert.deepEqual([failed.stdout, failed.code, failed.signal], ['out\n', 3, null]);
  const missing = await run('/nonexistent-program', [], { namespaces: ['uts'] }).catch((e) => e);
  assert.ok(missing instanceof RunFailure);
  assert.equal((missing.cause as NodeJS.ErrnoException).code, 'ENOENT');
  const input = await run('cat', [], { namespaces: ['uts'], input: 'to stdin' });
  assert.equal(input.stdout, 'to stdin');
});
