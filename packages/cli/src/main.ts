/**
 * How every tool starts and ends: one line on stderr for a failure, the
 * util-linux exit status, never a stack trace, and quiet on a closed pipe.
 */
import { writeSync } from 'node:fs';
import { strerror } from '@ns/syscalls';
import { UsageError } from './options.js';

/** A failure the tool reports as `prog: message` and leaves with `status`. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly status = 1,
  ) {
    super(message);
  }
}

export function runMain(prog: string, main: () => void | number | Promise<void | number>): void {
  const fail = (err: unknown): never => {
    if (err instanceof UsageError) {
      process.stderr.write(`${prog}: ${err.message}\nTry '${prog} --help' for more information.\n`);
      process.exit(1);
    }
    if (err instanceof ToolError || (err instanceof Error && 'nsWhat' in err)) {
      process.stderr.write(`${prog}: ${err.message}\n`);
      const status =
        (err as { status?: number; exitStatus?: number }).exitStatus ?? (err as ToolError).status;
      process.exit(status ?? 1);
    }
    const sys = err as NodeJS.ErrnoException;
    if (sys?.code === 'EPIPE') process.exit(0);
    // A system call Node made for us: util-linux's words, the C library's text, never Node's.
    if (typeof sys?.errno === 'number' && sys.syscall) {
      const what = sys.syscall === 'write' ? 'write error' : `${sys.syscall} failed`;
      process.stderr.write(`${prog}: ${what}: ${strerror(-sys.errno)}\n`);
      process.exit(1);
    }
    // Anything else is a bug of ours: still one line, not a trace.
    process.stderr.write(`${prog}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  };
  try {
    const result = main();
    if (result instanceof Promise)
      result.then((code) => typeof code === 'number' && process.exit(code), fail);
    else if (typeof result === 'number') process.exit(result);
  } catch (err) {
    fail(err);
  }
}

/**
 * Writes to stdout synchronously (fd 1 is left as it was inherited, not made
 * non-blocking by a stream); a closed pipe ends the tool with status 0.
 */
export function writeOut(text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length;) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') process.exit(0);
      if (code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}
