import { defineConfig } from 'tsup';

export default defineConfig({
  // the scan worker thread's entry beside the library (scan/pool.ts loads dist/scan-worker.cjs)
  entry: { index: 'src/index.ts', 'scan-worker': 'src/scan/scan-worker.ts' },
  format: ['esm', 'cjs'],
  shims: true,
  dts: true,
  clean: true,
  target: 'node20',
  external: ['koffi'],
});
