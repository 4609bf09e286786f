export { formatHelp, parseArgs, tokenize, UsageError } from './options.js';
export type { ArgKind, OptionSpec, OptionValue, ParsedArgs } from './options.js';
export { runMain, ToolError, writeOut } from './main.js';
export { printCompletion } from './completion.js';
