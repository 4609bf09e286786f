// The tsup settings every tool shares: one ESM executable with a shebang,
// @ns/* bundled from source, koffi left external (its native binary cannot be bundled).
import { defineConfig } from 'tsup';

export function cliConfig(name) {
  return defineConfig({
    entry: { [name]: 'src/cli.ts' },
    format: ['esm'],
    target: 'node20',
    clean: true,
    splitting: false,
    banner: { js: '#!/usr/bin/env node' },
    external: ['koffi'],
    noExternal: [/^@ns\//, 'yargs', 'yargs-parser'],
    esbuildOptions(options) {
      options.conditions = ['source'];
    },
  });
}
