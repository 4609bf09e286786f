import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    internal: 'src/internal.ts',
    'parent-worker': 'src/parent-worker.ts',
  },
  format: ['esm', 'cjs'],
  shims: true,
  dts: true,
  clean: true,
  target: 'node20',
  external: ['koffi'],
});
