/**
 * Users and groups through the C library's name service (getpwnam_r,
 * getpwuid_r, getgrnam_r): /etc/passwd and /etc/group, and LDAP, sssd or
 * whatever else nsswitch.conf names. Results are cached for the process.
 */
import { callerEnv } from './caller.js';
import { getKoffi } from './native.js';

/** A passwd entry. */
export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** A group entry. */
export interface GroupEntry {
  name: string;
  gid: number;
}

type Fn = (...args: unknown[]) => number;
let nss: { getpwnam: Fn; getpwuid: Fn; getgrnam: Fn } | undefined;

function bindings() {
  if (nss) return nss;
  const koffi = getKoffi();
  const lib = koffi.load('libc.so.6');
  koffi.struct('ns_passwd', {
    pw_name: 'const char *',
    pw_passwd: 'const char *',
    pw_uid: 'uint32_t',
    pw_gid: 'uint32_t',
    pw_gecos: 'const char *',
    pw_dir: 'const char *',
    pw_shell: 'const char *',
  });
  koffi.struct('ns_group', {
    gr_name: 'const char *',
    gr_passwd: 'const char *',
    gr_gid: 'uint32_t',
    gr_mem: 'void *',
  });
  return (nss = {
    getpwnam: lib.func(
      'int getpwnam_r(const char *name, _Out_ ns_passwd *pwd, uint8_t *buf, size_t len, _Out_ void **result)',
    ),
    getpwuid: lib.func(
      'int getpwuid_r(uint32_t uid, _Out_ ns_passwd *pwd, uint8_t *buf, size_t len, _Out_ void **result)',
    ),
    getgrnam: lib.func(
      'int getgrnam_r(const char *name, _Out_ ns_group *grp, uint8_t *buf, size_t len, _Out_ void **result)',
    ),
  });
}

const ERANGE = 34;

/** Calls a get*_r function, growing its buffer on ERANGE; the entry, or undefined when there is none. */
function lookup<T>(call: (out: T, buf: Buffer, result: unknown[]) => number): T | undefined {
  for (let size = 1024; size <= 1 << 20; size *= 4) {
    const out = {} as T;
    const result: unknown[] = [null];
    const rc = call(out, Buffer.alloc(size), result);
    if (rc === ERANGE) continue;
    return rc === 0 && result[0] ? out : undefined;
  }
  return undefined;
}

interface RawPasswd {
  pw_name: string;
  pw_uid: number;
  pw_gid: number;
  pw_dir: string;
  pw_shell: string;
}

const toUser = (p: RawPasswd | undefined): UserEntry | undefined =>
  p && { name: p.pw_name, uid: p.pw_uid, gid: p.pw_gid, home: p.pw_dir, shell: p.pw_shell };

/** A lookup by key, its answer (found or not) kept for the process. */
function cached<K, V>(look: (key: K) => V): (key: K) => V {
  const seen = new Map<K, V>();
  return (key) => {
    if (!seen.has(key)) seen.set(key, look(key));
    return seen.get(key)!;
  };
}

/** The user of that name, or undefined. */
export const userByName: (name: string) => UserEntry | undefined = cached((name) =>
  toUser(lookup<RawPasswd>((o, b, r) => bindings().getpwnam(name, o, b, b.length, r))),
);

/** The user with that uid, or undefined. */
export const userById: (uid: number) => UserEntry | undefined = cached((uid) =>
  toUser(lookup<RawPasswd>((o, b, r) => bindings().getpwuid(uid, o, b, b.length, r))),
);

/** The group of that name, or undefined. */
export const groupByName: (name: string) => GroupEntry | undefined = cached((name) => {
  const g = lookup<{ gr_name: string; gr_gid: number }>((o, b, r) =>
    bindings().getgrnam(name, o, b, b.length, r),
  );
  return g && { name: g.gr_name, gid: g.gr_gid };
});

/**
 * The shell util-linux runs when no program is given: $SHELL, else the
 * passwd entry's shell of the real user, else /bin/sh.
 */
export function loginShell(env: { SHELL?: string } = { SHELL: callerEnv('SHELL') }): string {
  return env.SHELL || userById(process.getuid!())?.shell || '/bin/sh';
}
