/**
 * Standard output as lsns' stdio has it: written synchronously (fd 1 as it
 * was inherited, not made non-blocking by a stream), and a reader that goes
 * away before all is written (`ts-nsls | head -1`) ends the tool as it ends
 * lsns: killed by SIGPIPE, or where the caller ignores or blocks SIGPIPE,
 * "write error" and status 1.
 */
import { writeSync } from 'node:fs';
import { writeErr } from '@ns/cli';
import { callerState, raiseDefault, signalNumbers } from '@ns/syscalls/internal';

/** Writes all of text to stdout, waiting out EAGAIN (a descriptor the caller made non-blocking). */
export function writeOut(prog: string, text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length;) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') brokenPipe(prog);
      if (code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/**
 * The write failed with EPIPE: the signal the kernel sent with it is
 * ignored by Node. A C program whose caller left SIGPIPE at its default
 * is killed by it (a shell shows status 141), so ts-nsls raises it again
 * with its default action; with SIGPIPE ignored or blocked by the caller
 * (the launcher recorded which), lsns' close_stdout() says "write error".
 */
function brokenPipe(prog: string): never {
  const sigpipe = signalNumbers().SIGPIPE;
  const caller = callerState();
  const bit = 1n << BigInt(sigpipe - 1);
  if (((caller.ignored | caller.blocked) & bit) === 0n) raiseDefault(sigpipe);
  writeErr(`${prog}: write error\n`);
  process.exit(1);
}
