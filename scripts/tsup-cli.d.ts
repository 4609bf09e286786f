import type { Options } from 'tsup';
export const SH_LAUNCHER: string;
export function cliConfig(name: string, options?: { banner?: string }): Options | Options[];
