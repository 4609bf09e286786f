import { cliConfig } from '../../scripts/tsup-cli.js';

const config = cliConfig('ts-nsls');

// plus the scan worker thread's own entry (pool.ts loads it next to the tool)
export default Array.isArray(config)
  ? config
  : {
      ...config,
      entry: {
        ...(config.entry as Record<string, string>),
        'ts-nsls-scan': 'src/scan-worker.ts',
      },
    };
