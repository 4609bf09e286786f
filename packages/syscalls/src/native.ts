/**
 * koffi bindings: libc for the calls Node's main thread may make itself, and
 * libnsrun (native/nsrun.c) for what must happen in a single thread or
 * between clone and exec. Loaded on first use.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Fn = (...args: unknown[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Koffi {
  load(path: string): { func(decl: string): Fn };
  errno(): number;
  struct(name: string, fields: Record<string, string>): unknown;
}

/** The C library functions the direct calls use (koffi bindings). */
export interface Libc {
  unshare: Fn;
  setns: Fn;
  mount: Fn;
  umount2: Fn;
  sethostname: Fn;
  ioctl: Fn;
  syscall: Fn;
  prctl: Fn;
  kill: Fn;
  strerror: Fn;
  close: Fn;
}

/** libnsrun.so: the step runner (native/nsrun.c). */
export interface Nsrun {
  here: Fn;
  clone: Fn;
  wait: Fn;
  check: Fn;
  holdSignals: Fn;
}

let koffi: Koffi | undefined;

/**
 * koffi. Its entry module costs about 4.5 ms at start-up (most of what a
 * tool pays beyond Node's own start), its native module alone under 1 ms:
 * where the platform package that koffi itself loads from is installed, and
 * its native module has that package's version, it is loaded directly;
 * anywhere else (musl, another layout), through koffi's entry.
 */
function loadKoffi(): Koffi {
  if (koffi) return koffi;
  const pkg = `@koromix/koffi-${process.platform}-${process.arch}`;
  try {
    // the package as require() would find it: in node_modules here or above
    // (found by hand: node:module alone costs some 0.3 ms of start-up)
    let dir = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(dir, 'node_modules', pkg, 'package.json')) && dir !== dirname(dir))
      dir = dirname(dir);
    const root = join(dir, 'node_modules', pkg);
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      version: string;
    };
    const module = { exports: {} as Koffi & { version?: string } };
    process.dlopen(module, join(root, `${process.platform}_${process.arch}`, 'koffi.node'));
    if (module.exports.version === version) return (koffi = module.exports);
  } catch {
    // not this layout: koffi's entry finds its module itself
  }
  const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);
  return (koffi = require('koffi') as Koffi);
}

/** koffi itself, for bindings that declare types of their own. */
export function getKoffi(): Koffi {
  return loadKoffi();
}

/** errno after the last koffi call of this thread. */
export function errno(): number {
  return loadKoffi().errno();
}

/**
 * A group of functions of a library, bound on the group's first use: each
 * caller declares what it calls, and a tool pays only for the groups it
 * uses (koffi parses each declaration, some 8 us apiece). library: its
 * file, looked up then.
 */
export function bindGroup<K extends string>(
  library: () => string,
  decls: Record<K, string>,
): () => Record<K, Fn> {
  let bound: Record<K, Fn> | undefined;
  return () => {
    if (bound) return bound;
    const lib = loadKoffi().load(library());
    const out = {} as Record<K, Fn>;
    for (const name of Object.keys(decls) as K[]) out[name] = lib.func(decls[name]);
    return (bound = out);
  };
}

/** A group of C library functions (bindGroup). */
export const libcGroup = <K extends string>(decls: Record<K, string>) =>
  bindGroup(() => 'libc.so.6', decls);

/** A group of libnsrun.so's functions (bindGroup): the step runner, the /proc reader. */
export const nsrunGroup = <K extends string>(decls: Record<K, string>) =>
  bindGroup(() => join(nativeDir(), 'libnsrun.so'), decls);

/** The libc bindings of the direct calls, bound on first use. */
export const getLibc: () => Libc = libcGroup({
  unshare: 'int unshare(int flags)',
  setns: 'int setns(int fd, int nstype)',
  mount:
    'int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)',
  umount2: 'int umount2(const char *target, int flags)',
  sethostname: 'int sethostname(const char *name, size_t len)',
  ioctl: 'int ioctl(int fd, unsigned long request, ...)',
  syscall: 'long syscall(long number, ...)',
  prctl: 'int prctl(int option, ...)',
  kill: 'int kill(int pid, int sig)',
  strerror: 'const char *strerror(int errnum)',
  close: 'int close(int fd)',
});

/** Where the native build put libnsrun.so and ns-waiter: beside this module once bundled. */
export function nativeDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [here, join(here, '..', 'dist')];
  const found = candidates.find((d) => existsSync(join(d, 'libnsrun.so')));
  if (!found)
    throw new Error(`libnsrun.so not found in ${candidates.join(' or ')}: run npm run build`);
  return found;
}

/** The step runner's bindings, loaded on first use. */
export const getNsrun: () => Nsrun = nsrunGroup({
  here: 'int nsrun_here(const int32_t *prog, int len, const void *strs, int strs_len, _Out_ int *err)',
  clone:
    'int nsrun_clone(const int32_t *prog, int len, const void *strs, int strs_len, uint32_t flags, int32_t *out, int32_t *err)',
  wait: 'int nsrun_wait(int pid)',
  check: 'int nsrun_check(const int32_t *prog, int len, const void *strs, int strs_len)',
  holdSignals: 'int nsrun_hold_signals(void)',
});
