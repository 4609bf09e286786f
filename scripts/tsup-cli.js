// The tsup settings every tool shares: one executable with a shebang, @ns/*
// bundled from source, koffi left external (its native binary cannot be
// bundled). CommonJS and minified because start-up time is the product:
// Node 20's ES module loader alone costs about 6 ms more than require().
import { defineConfig } from 'tsup';

/**
 * The first two lines of a tool that runs no other program. /bin/sh reads
 * them: it drops NODE_EXTRA_CA_CERTS and starts Node on this same file, to
 * which the second line is a string and a comment. Node parses every
 * certificate named there at start-up, before any script runs (some 30 ms
 * for a system CA bundle, more than half of its start), and these tools
 * open no TLS connection. A tool that runs programs must not use it: they
 * would lose the variable too.
 */
export const SH_LAUNCHER = `#!/bin/sh\n':' //; unset NODE_EXTRA_CA_CERTS; exec node "$0" "$@"`;

export function cliConfig(name, { banner = '#!/usr/bin/env node' } = {}) {
  return defineConfig({
    entry: { [name]: 'src/cli.ts', yargs: '../cli/src/yargs-entry.ts' },
    format: ['cjs'],
    shims: true,
    target: 'node20',
    clean: true,
    splitting: false,
    minify: true,
    banner: { js: banner },
    external: ['koffi'],
    noExternal: [/^@ns\//, 'yargs', 'yargs-parser'],
    esbuildOptions(options) {
      options.conditions = ['source'];
    },
  });
}
