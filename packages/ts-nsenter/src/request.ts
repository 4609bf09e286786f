/**
 * From parsed options to a Request: only what the command line says, checked
 * the way util-linux nsenter checks it. Nothing here touches the kernel.
 */
import { ToolError, type ParsedArgs } from '@ns/cli';
import {
  NAMESPACES,
  type EnterRequest,
  type Id,
  type NamespaceType,
  type Target,
} from '@ns/syscalls/internal';

const str = (v: unknown): string | undefined =>
  Array.isArray(v) ? String(v[v.length - 1]) : typeof v === 'string' ? v : undefined;

/** The long option of a namespace type: util-linux says --mount for mnt. */
export const optionOf = (type: NamespaceType): string => (type === 'mnt' ? 'mount' : type);

/**
 * PID[:INODE] as util-linux 2.42 reads it (strtoimax: leading blanks and a
 * sign allowed): a PID from 1 to 2^31-1, an inode above 0, or 'invalid PID
 * argument'. (2.38 said "failed to parse pid" and took 0 as no target.)
 */
export function parseTarget(text: string): Target {
  const m = /^[ \t\n\v\f\r]*\+?(\d+)(?::(\d+))?$/.exec(text);
  const pid = m ? Number(m[1]) : 0;
  const inode = m?.[2] !== undefined ? BigInt(m[2]) : undefined;
  if (!m || pid < 1 || pid > 0x7fffffff || inode === 0n || (inode ?? 0n) >= 1n << 64n)
    throw new ToolError('invalid PID argument');
  return { pid, inode };
}

export function parseId(text: string, kind: 'uid' | 'gid'): Id {
  if (text === 'follow') return 'follow';
  if (!/^\d+$/.test(text) || Number(text) > 0xffffffff)
    throw new ToolError(`failed to parse ${kind}: '${text}'`);
  return Number(text);
}

export function parseFd(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 0x7fffffff)
    throw new ToolError(`failed to parse file descriptor: '${text}'`);
  return Number(text);
}

export function readRequest({ options: o, order, rawRest }: ParsedArgs): EnterRequest {
  // util-linux checks exclusive options while parsing, so this comes first.
  if (order.includes('wd') && order.includes('wdns'))
    throw new ToolError('mutually exclusive arguments: --wdns --wd');
  const namespaces = new Map<NamespaceType, string>();
  for (const ns of NAMESPACES) {
    const v = o[optionOf(ns.type)];
    if (v !== undefined) namespaces.set(ns.type, str(v) ?? '');
  }
  const target = o.target !== undefined ? parseTarget(str(o.target)!) : undefined;
  const netSocket = o['net-socket'] !== undefined ? parseFd(str(o['net-socket'])!) : undefined;
  // util-linux skips one '=' (--wdns==DIR); no value is no --wdns at all
  const wdnsText = str(o.wdns);
  const wdns = wdnsText?.replace(/^=/, '') || undefined;
  return {
    target,
    namespaces,
    all: Boolean(o.all),
    netSocket,
    userParent: Boolean(o['user-parent']),
    setuid: o.setuid !== undefined ? parseId(str(o.setuid)!, 'uid') : undefined,
    setgid: o.setgid !== undefined ? parseId(str(o.setgid)!, 'gid') : undefined,
    preserveCredentials: Boolean(o['preserve-credentials']),
    keepCaps: Boolean(o['keep-caps']),
    root: o.root !== undefined ? (str(o.root) ?? '') : undefined,
    wd: o.wd !== undefined ? (str(o.wd) ?? '') : undefined,
    wdns,
    env: Boolean(o.env),
    noFork: Boolean(o['no-fork']),
    joinCgroup: Boolean(o['join-cgroup']),
    followContext: Boolean(o['follow-context']),
    argv: rawRest,
  };
}
