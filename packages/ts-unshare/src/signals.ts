/** Signal names as util-linux accepts them: any case, optional SIG prefix, RTMIN+n, RTMAX-n. */
import { ToolError } from '@ns/cli';
import { signalNumbers } from '@ns/syscalls/internal';

/** The names --kill-child offers on TAB. */
export const signalNames = (): string[] =>
  Object.keys(signalNumbers()).filter((s) => s !== 'SIGUNUSED');

const SIGRTMIN = 34; // glibc's, which reserves the kernel's first two
const SIGRTMAX = 64;

export function parseSignal(text: string): number {
  const name = text.toUpperCase().replace(/^SIG/, '');
  const signals: Record<string, number> = signalNumbers();
  if (`SIG${name}` in signals && name !== 'UNUSED') return signals[`SIG${name}`];
  const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const n = rt[3] ? Number(rt[3]) * (rt[2] === '-' ? -1 : 1) : 0;
    const sig = base + n;
    if ((rt[1] === 'MIN' && n >= 0) || (rt[1] === 'MAX' && n <= 0))
      if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
  }
  throw new ToolError(`unknown signal: ${text}`);
}
