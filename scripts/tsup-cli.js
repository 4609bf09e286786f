// The tsup settings every tool shares: one executable with a shebang, @ns/*
// bundled from source, koffi left external (its native binary cannot be
// bundled). CommonJS and minified because start-up time is the product:
// Node 20's ES module loader alone costs about 6 ms more than require().
import { defineConfig } from 'tsup';

export function cliConfig(name) {
  return defineConfig({
    entry: { [name]: 'src/cli.ts', yargs: '../cli/src/yargs-entry.ts' },
    format: ['cjs'],
    shims: true,
    target: 'node20',
    clean: true,
    splitting: false,
    minify: true,
    banner: { js: '#!/usr/bin/env node' },
    external: ['koffi'],
    noExternal: [/^@ns\//, 'yargs', 'yargs-parser'],
    esbuildOptions(options) {
      options.conditions = ['source'];
    },
  });
}
