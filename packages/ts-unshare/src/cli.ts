/**
 * ts-unshare: run a program in new namespaces, as util-linux unshare does.
 *
 * main() reads the options into a run request; the planner of @ns/syscalls
 * turns it into steps, and runPlan() either execs in place (no child needed)
 * or clones a child and hands the waiting to the native waiter.
 */
import {
  formatHelp,
  parseArgs,
  printCompletion,
  runMain,
  writeOut,
  type OptionSpec,
} from '@ns/cli';
import { callerState, nodeCaller, plan, runPlan } from '@ns/syscalls/internal';
import { OPTIONS } from './options.js';
import { readRequest } from './request.js';

const PROG = 'ts-unshare';
/** The package's version, put in by the build (scripts/tsup-cli.js). */
declare const __TOOL_VERSION__: string;
const VERSION = __TOOL_VERSION__;

function help(specs: OptionSpec[]): string {
  return formatHelp(PROG, specs, {
    usage: '[options] [<program> [<argument>...]]',
    about: 'Run a program with some namespaces unshared from the parent.',
  });
}

function main(): void | Promise<void> {
  const raw = callerState().argv.slice(1);
  const argv = raw.map(String);
  if (argv[0] === '--completion') return printCompletion(PROG, argv[1]);
  const args = parseArgs(OPTIONS, raw);
  if (args.options.help) return writeOut(help(OPTIONS));
  if (args.options.version) return writeOut(`${PROG} from ts-namespace-tools ${VERSION}\n`);
  const me = nodeCaller();
  runPlan(plan(readRequest(args, callerState(), me), me));
}

runMain(PROG, main);
