import { cliConfig } from '../../scripts/tsup-cli.js';

const config = cliConfig('ts-nsls');

// plus the scan worker thread's own entry (@ns/syscalls' scan/pool.ts loads it next to the tool)
export default Array.isArray(config)
  ? config
  : {
      ...config,
      entry: {
        ...(config.entry as Record<string, string>),
        'scan-worker': '../syscalls/src/scan/scan-worker.ts',
      },
    };
