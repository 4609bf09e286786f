// The tsup settings every tool shares: one bundle, @ns/*
// bundled from source, koffi left external (its native binary cannot be
// bundled). CommonJS and minified because start-up time is the product:
// Node 20's ES module loader alone costs about 6 ms more than require().
import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

/**
 * The bundle is started by the tool's native launcher (native/launcher.c),
 * which sits beside it as dist/NAME and is the package's bin: no shebang.
 */
export function cliConfig(name) {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
  return defineConfig({
    define: { __TOOL_VERSION__: JSON.stringify(version) },
    entry: { [name]: 'src/cli.ts' },
    format: ['cjs'],
    shims: true,
    target: 'node20',
    clean: true,
    splitting: false,
    minify: true,
    external: ['koffi'],
    noExternal: [/^@ns\//],
    esbuildOptions(options) {
      options.conditions = ['source'];
    },
  });
}
