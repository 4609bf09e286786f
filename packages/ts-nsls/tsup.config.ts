import { SH_LAUNCHER, cliConfig } from '../../scripts/tsup-cli.js';

// ts-nsls runs no other program: it may start without NODE_EXTRA_CA_CERTS
const config = cliConfig('ts-nsls', { banner: SH_LAUNCHER });

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
