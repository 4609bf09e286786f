/**
 * The parent's work for a spawnSync() whose program needs it (maps of
 * ranges, binds from outside a new mount namespace): child_process blocks
 * the calling thread until the program ends, so this worker answers the
 * runner meanwhile, as spawn() does in its own thread. It says how it went
 * in the shared state ([done, step, errno]) and, for an error of its own, on
 * the port.
 */
import { readSync, writeSync } from 'node:fs';
import { workerData, type MessagePort } from 'node:worker_threads';
import { bindAll, unbindAll, writeMaps } from './run/carry.js';
import type { ParentWork } from './run/plan.js';

const { sock, parent, privileged, state, port } = workerData as {
  sock: number;
  parent: ParentWork;
  privileged: boolean;
  state: Int32Array;
  port: MessagePort;
};

function finish(step: number, errno: number): void {
  state[1] = step;
  state[2] = errno;
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
}

const buf = Buffer.alloc(8);
let pid = 0;
let bound: string[] = [];
try {
  for (;;) {
    let got = 0;
    while (got < 8) {
      const n = readSync(sock, buf, got, 8 - got, null);
      if (n === 0) break;
      got += n;
    }
    if (got < 8) {
      finish(-1, 0); // the program runs
      break;
    }
    const [step, errno] = [buf.readInt32LE(0), buf.readInt32LE(4)];
    if (step === -3) pid = errno;
    else if (errno !== 0) {
      unbindAll(bound);
      finish(step, errno);
      break;
    } else {
      writeMaps(pid, parent, privileged);
      bound = bindAll(pid, parent.binds);
      writeSync(sock, Buffer.from([1]));
    }
  }
} catch (e) {
  unbindAll(bound);
  const err = e as Error & Record<string, unknown>;
  port.postMessage({
    message: err.message,
    errno: err.errno,
    status: err.status,
    nsWhat: err.nsWhat,
  });
  finish(-2, 0);
}
