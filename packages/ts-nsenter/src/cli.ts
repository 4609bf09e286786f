/**
 * ts-nsenter: run a program in the namespaces of another process, as
 * util-linux nsenter does.
 *
 * readRequest() checks the command line; @ns/syscalls' resolveEnter() opens
 * everything before any namespace is entered (pinning the target by a
 * pidfd), its planner orders the steps, and runPlan() either execs in place
 * or clones a child and hands the waiting to the native waiter.
 */
import { formatHelp, parseArgs, printCompletion, runMain, writeOut } from '@ns/cli';
import {
  callerState,
  nodeCaller,
  plan,
  resolveEnter,
  restoreCallerSteps,
  runPlan,
} from '@ns/syscalls/internal';
import { OPTIONS } from './options.js';
import { readRequest } from './request.js';

const PROG = 'ts-nsenter';
/** The package's version, put in by the build (scripts/tsup-cli.js). */
declare const __TOOL_VERSION__: string;
const VERSION = __TOOL_VERSION__;

function main(): void | Promise<void> {
  const raw = callerState().argv.slice(1);
  const argv = raw.map(String);
  if (argv[0] === '--completion') return printCompletion(PROG, argv[1]);
  const args = parseArgs(OPTIONS, raw);
  if (args.options.help)
    return writeOut(
      formatHelp(PROG, OPTIONS, {
        usage: '[options] [<program> [<argument>...]]',
        about: 'Run a program with namespaces of other processes.',
      }),
    );
  if (args.options.version) return writeOut(`${PROG} from ts-namespace-tools ${VERSION}\n`);
  const request = readRequest(args);
  const caller = callerState();
  const resolved = resolveEnter(request, caller);
  const me = nodeCaller();
  const p = plan(
    { ...resolved, keepCaps: request.keepCaps, handOver: restoreCallerSteps(caller) },
    me,
  );
  runPlan(p);
}

runMain(PROG, main);
