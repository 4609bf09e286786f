export { formatHelp, parseArgs, tokenize, UsageError } from './options.js';
export type { ArgKind, Completion, OptionSpec, OptionValue, ParsedArgs } from './options.js';
export { bashCompletion, manOptions, zshCompletion } from './docs.js';
export { runMain, ToolError, writeErr, writeOut } from './main.js';
export { printCompletion } from './completion.js';
