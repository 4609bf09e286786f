import type { Options } from 'tsup';
export function cliConfig(name: string): Options | Options[];
