/**
 * How every tool starts and ends: one line on stderr for a failure, the
 * util-linux exit status, never a stack trace, and quiet on a closed pipe.
 */
import { writeSync } from 'node:fs';
import { RunError, strerror } from '@ns/syscalls/internal';
import { UsageError } from './options.js';

/** A failure the tool reports as `prog: message` and leaves with `status`. */
export class ToolError extends RunError {}

/**
 * A message on stderr, written directly: process.stderr would first build
 * Node's stream (node:stream and its kin, some 6 ms) for one line. A
 * closed or broken stderr loses the line, as util-linux's would.
 */
export function writeErr(text: string): void {
  try {
    writeAll(2, text);
  } catch {
    // nowhere left to say it
  }
}

export function runMain(prog: string, main: () => void | number | Promise<void | number>): void {
  const fail = (err: unknown): never => {
    if (err instanceof UsageError) {
      writeErr(`${prog}: ${err.message}\nTry '${prog} --help' for more information.\n`);
      process.exit(1);
    }
    if (err instanceof RunError || (err instanceof Error && 'nsWhat' in err)) {
      writeErr(`${prog}: ${err.message}\n`);
      const status =
        (err as { status?: number; exitStatus?: number }).exitStatus ?? (err as RunError).status;
      process.exit(status ?? 1);
    }
    const sys = err as NodeJS.ErrnoException;
    if (sys?.code === 'EPIPE') process.exit(0);
    // A system call Node made for us: util-linux's words, the C library's text, never Node's.
    if (typeof sys?.errno === 'number' && sys.syscall) {
      const what = sys.syscall === 'write' ? 'write error' : `${sys.syscall} failed`;
      writeErr(`${prog}: ${what}: ${strerror(-sys.errno)}\n`);
      process.exit(1);
    }
    // Anything else is a bug of ours: still one line, not a trace.
    writeErr(`${prog}: ${err instanceof Error ? err.message : String(err)}\n`);
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
  try {
    writeAll(1, text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
    throw err;
  }
}

/** All of text to fd, synchronously, waiting out EAGAIN (a descriptor the caller made non-blocking). */
function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length;) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}
