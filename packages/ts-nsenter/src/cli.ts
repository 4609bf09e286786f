/** ts-nsenter: not yet more than --help and --version; its issue follows. */
import { formatHelp, parseArgs, runMain, ToolError, writeOut, type OptionSpec } from '@ns/cli';

const PROG = 'ts-nsenter';
const OPTIONS: OptionSpec[] = [
  { name: 'help', short: 'h', arg: 'none', desc: 'display this help' },
  { name: 'version', short: 'V', arg: 'none', desc: 'display version' },
];

runMain(PROG, () => {
  const args = parseArgs(OPTIONS, process.argv.slice(2));
  if (args.options.help)
    return writeOut(formatHelp(PROG, OPTIONS, { usage: '[options]', about: 'Not implemented yet.' }));
  if (args.options.version) return writeOut(`${PROG} from ts-namespace-tools 0.1.0\n`);
  throw new ToolError('not implemented yet');
});
