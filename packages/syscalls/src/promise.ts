/** spawn() as a promise, for scripts: resolves to the output, rejects with a typed error. */
import { spawn, type NsSpawnOptions } from './process.js';

/** What run() resolves to: the program's output and how it ended. */
export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The error run() rejects with: child_process' fields, and the result so far. */
export class RunFailure extends Error implements RunResult {
  stdout = '';
  stderr = '';
  code: number | null = null;
  signal: NodeJS.Signals | null = null;
  /** the error that kept the program from starting (ENOENT, a refused namespace), if one did */
  cause?: Error;
  constructor(message: string) {
    super(message);
    this.name = 'RunFailure';
  }
}

/**
 * spawn() as a promise, as execa has it: resolves to { stdout, stderr, code,
 * signal } when the program exits 0, rejects with a RunFailure (with the same
 * fields, and `cause` when it could not start) otherwise. `input` is written
 * to its stdin.
 */
export function run(
  file: string,
  args: readonly string[] = [],
  options: NsSpawnOptions & { input?: string | Buffer } = {},
): Promise<RunResult> {
  const { input, ...rest } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...rest, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let startError: Error | undefined;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin!.on('error', () => {}); // a program that does not read its input
    child.stdin!.end(input);
    child.on('error', (e) => (startError = e));
    child.on('close', (code, signal) => {
      if (!startError && code === 0) return resolve({ stdout, stderr, code, signal });
      const what = startError
        ? startError.message
        : `${file} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`;
      const failure = Object.assign(new RunFailure(`Command failed: ${what}`), {
        stdout,
        stderr,
        code: startError ? null : code,
        signal: startError ? null : signal,
        cause: startError,
      });
      reject(failure);
    });
  });
}
