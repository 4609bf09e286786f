/*
 * launcher: the executable of each tool (ts-unshare, ts-nsenter, ts-nsls).
 *
 * Node changes its process state as it starts, before any script runs: it
 * marks inherited descriptors close-on-exec, resets signal dispositions,
 * raises RLIMIT_NOFILE, reopens closed stdio on /dev/null, decodes argv and
 * the environment as UTF-8 and obeys NODE_OPTIONS. The program a tool runs
 * must get the caller's state instead. So this small program runs first: it
 * records the caller's state in a memfd (the "caller record"), then execs
 * Node on the tool's bundle, which sits beside it as NAME.cjs. The step
 * runner restores the recorded state just before it execs the program.
 *
 * The tools run as root for callers that may be hostile, so nothing of the
 * caller steers the tool's own Node:
 *   - the Node that runs is the one recorded at build or install, as an
 *     absolute path in node-path beside the bundle; it and every directory
 *     above it must belong to root or to the launcher's owner and be writable
 *     by no one else (as a setuid-aware program checks what it runs), and it
 *     is executed through the descriptor that was checked. PATH is never read.
 *   - Node's environment is made here: CALLER_RECORD_FD alone. NODE_OPTIONS,
 *     OPENSSL_CONF, SSL_*, UV_*, TZ, LD_* and the rest of the caller's
 *     variables reach the program only, through the record.
 *   - Node's argv is its flags and the bundle: the tool reads its arguments
 *     from the record, so an argv the kernel took from the caller always fits.
 *   - Node's own needs of RLIMIT_NOFILE, RLIMIT_AS, RLIMIT_DATA and
 *     RLIMIT_NPROC are met by raising the soft limit to the hard one, or as
 *     root the hard one too; otherwise one line names the limit. The program
 *     gets the caller's limits back from the record.
 *
 * The caller record (native byte order):
 *   u32 magic, u32 version, u32 argc, u32 envc, u32 nfds, u32 nlimits,
 *   u64 ignored signals, u64 blocked signals (bit s-1 for signal s),
 *   i32 fds[nfds]           descriptors open at start (a missing 0-2 was closed)
 *   u64 limits[nlimits][2]  getrlimit(0..nlimits-1): soft, hard
 *   argv then environ, each string NUL-terminated, as raw bytes.
 * Node finds the record's descriptor in CALLER_RECORD_FD.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RECORD_MAGIC 0x534e5354u /* "TSNS" */
#define RECORD_VERSION 1u
/*
 * Node aborts or crashes at start-up with fewer free descriptor numbers than
 * about 24 (its event loop, signal pipes, platform threads): a margin above.
 */
#define NODE_MIN_FILES 32
/*
 * V8 reserves its code range (512 MiB) and heap at start and dies by SIGTRAP
 * ("Fatal process OOM") when it cannot: Node 20 and 22 start from about
 * 740 MiB of address space, Node 24 and 26 from about 1.12 GiB. RLIMIT_DATA
 * counts the writable part of the mappings: Node 20 and 22 abort or hang in a
 * futex wait below about 100 MiB; Node 24 and 26 count the code range there
 * too and need about 565 MiB. (--jitless needs less address space but fails
 * at random near its own floor: not a way out.) The floors are the newest
 * Node's, with a margin.
 */
#define NODE_MIN_MEMORY (1280ull << 20)
#define NODE_MIN_DATA (640ull << 20)
/*
 * Node's threads count against RLIMIT_NPROC, and Node hangs when it cannot
 * make one. With --v8-pool-size=1 it runs 4 threads; the tool may clone one
 * child and that may fork once more. Below TIGHT_TASKS free, Node gets the
 * small pool.
 */
#define NODE_MIN_TASKS 5
#define TIGHT_TASKS 32

static const char *prog = "ts-launcher";

static void die_with(int status, const char *what, int err) {
  if (err)
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
  else
    fprintf(stderr, "%s: %s\n", prog, what);
  exit(status);
}

static void die(const char *what, int err) { die_with(1, what, err); }

struct buf {
  char *data;
  size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
      die("cannot record the caller's state", ENOMEM);
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void put_u32(struct buf *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(struct buf *b, uint64_t v) { put(b, &v, sizeof v); }

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* The caller's open descriptors, ascending. Everything open now came from the caller. */
static int *open_fds(int *count) {
  int n = 0, cap = 64;
  int *fds = malloc(cap * sizeof *fds);
  if (!fds)
    die("cannot record the caller's state", ENOMEM);
  DIR *dir = opendir("/proc/self/fd");
  if (dir) {
    int own = dirfd(dir);
    struct dirent *e;
    while ((e = readdir(dir))) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9')
        continue;
      int fd = atoi(e->d_name);
      if (fd == own)
        continue;
      if (n == cap && !(fds = realloc(fds, (cap *= 2) * sizeof *fds)))
        die("cannot record the caller's state", ENOMEM);
      fds[n++] = fd;
    }
    closedir(dir);
    qsort(fds, n, sizeof *fds, cmp_int);
  } else {
    /* No /proc: ask each descriptor up to the soft limit. */
    struct rlimit rl;
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (long)rl.rlim_cur : 65536;
    for (int fd = 0; fd < max; fd++) {
      if (fcntl(fd, F_GETFD) < 0)
        continue;
      if (n == cap && !(fds = realloc(fds, (cap *= 2) * sizeof *fds)))
        die("cannot record the caller's state", ENOMEM);
      fds[n++] = fd;
    }
  }
  *count = n;
  return fds;
}

/* How many tasks (threads) the real user runs now, from /proc/PID/status; -1 if unknown. */
static long tasks_of(uid_t uid) {
  DIR *proc = opendir("/proc");
  if (!proc)
    return -1;
  long total = 0;
  struct dirent *e;
  char path[64], line[256];
  while ((e = readdir(proc))) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    snprintf(path, sizeof path, "/proc/%.20s/status", e->d_name);
    FILE *f = fopen(path, "re");
    if (!f)
      continue;
    long real = -1, threads = 0;
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "Uid:", 4) == 0)
        real = strtol(line + 4, NULL, 10);
      else if (strncmp(line, "Threads:", 8) == 0)
        threads = strtol(line + 8, NULL, 10);
    }
    fclose(f);
    if (real == (long)uid)
      total += threads;
  }
  closedir(proc);
  return total;
}

/*
 * How many tasks the machine runs in all (the fourth field of /proc/loadavg,
 * one read): a bound on any user's count, so the per-process count above is
 * needed only when the limit is within reach of it. -1 if unknown.
 */
static long tasks_on_machine(void) {
  FILE *f = fopen("/proc/loadavg", "re");
  if (!f)
    return -1;
  long running, total;
  int ok = fscanf(f, "%*s %*s %*s %ld/%ld", &running, &total) == 2;
  fclose(f);
  return ok ? total : -1;
}

/*
 * This executable's real path, to find the bundle beside it: /proc/self/exe,
 * or where /proc is not mounted (a chroot), argv[0] resolved as the shell
 * found it (a path, or the first match in PATH). Leaves room for ".cjs".
 */
static int find_self(const char *arg0, char self[PATH_MAX]) {
  ssize_t n = readlink("/proc/self/exe", self, PATH_MAX - 5);
  if (n > 0) {
    self[n] = '\0';
    return 1;
  }
  char found[PATH_MAX];
  if (strchr(arg0, '/')) {
    if (!realpath(arg0, found))
      return 0;
  } else {
    const char *path = getenv("PATH");
    int ok = 0;
    for (const char *p = path ? path : "/usr/bin:/bin"; !ok && *p;) {
      const char *end = strchr(p, ':');
      size_t len = end ? (size_t)(end - p) : strlen(p);
      char candidate[PATH_MAX];
      struct stat st;
      /* only a file of root's or the caller's own: PATH must not choose whose launcher this is */
      if (snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, p, arg0) < (int)sizeof candidate)
        ok = access(candidate, X_OK) == 0 && realpath(candidate, found) != NULL &&
             stat(found, &st) == 0 && (st.st_uid == 0 || st.st_uid == getuid());
      p += len + (end != NULL);
    }
    if (!ok)
      return 0;
  }
  if (strlen(found) >= PATH_MAX - 5) {
    errno = ENAMETOOLONG;
    return 0;
  }
  strcpy(self, found);
  return 1;
}

static uint64_t sigbits(const sigset_t *set) {
  uint64_t bits = 0;
  for (int s = 1; s <= 64 && s < _NSIG; s++)
    if (sigismember(set, s) == 1)
      bits |= 1ull << (s - 1);
  return bits;
}

/* Whether a file or directory may decide what runs as the caller: its owner is root or the launcher's. */
static const char *untrusted(const struct stat *st, uid_t owner) {
  if (st->st_uid != 0 && st->st_uid != owner)
    return "belongs to another user";
  /* a sticky folder (/tmp) lets no one else replace what its owner put there */
  if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX)))
    return "is writable by others than its owner";
  return NULL;
}

static void refuse(const char *path, const char *why) {
  fprintf(stderr, "%s: refusing to run Node.js %s: %s\n", prog, path, why);
  exit(126);
}

/*
 * The Node this tool was built or installed for: the absolute path in
 * node-path (in DIR, beside the bundle), opened one component at a time
 * without following links, each component checked as untrusted() says.
 * Returns an O_PATH descriptor of the checked file, to execute it by.
 */
static int open_node(const char *dir, uid_t owner, char node[PATH_MAX]) {
  char list[PATH_MAX + 16];
  snprintf(list, sizeof list, "%s/node-path", dir);
  int lf = open(list, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (lf < 0) {
    int err = errno;
    fprintf(stderr, "%s: cannot read %s (which Node.js to run): %s\n", prog, list, strerror(err));
    exit(127);
  }
  if (fstat(lf, &st) < 0 || !S_ISREG(st.st_mode) || untrusted(&st, owner)) {
    fprintf(stderr, "%s: refusing %s: %s\n", prog, list,
            S_ISREG(st.st_mode) ? untrusted(&st, owner) : "not a regular file");
    exit(126);
  }
  ssize_t n = read(lf, node, PATH_MAX - 1);
  close(lf);
  if (n < 0)
    n = 0;
  node[n] = '\0';
  node[strcspn(node, "\n")] = '\0';
  if (node[0] != '/') {
    fprintf(stderr, "%s: %s does not hold an absolute path\n", prog, list);
    exit(127);
  }
  int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0)
    refuse(node, strerror(errno));
  if (untrusted(&st, owner))
    refuse(node, "/ is writable by others");
  char part[PATH_MAX];
  for (const char *p = node; *p;) {
    while (*p == '/')
      p++;
    size_t len = strcspn(p, "/");
    if (len == 0)
      break;
    memcpy(part, p, len);
    part[len] = '\0';
    p += len;
    int next = openat(fd, part, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    close(fd);
    if (next < 0) {
      fprintf(stderr, "%s: cannot run Node.js %s: %s\n", prog, node, strerror(err));
      exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
    }
    fd = next;
    if (fstat(fd, &st) < 0)
      refuse(node, strerror(errno));
    const char *why = S_ISLNK(st.st_mode) ? "a symbolic link is on its path" : untrusted(&st, owner);
    if (why) {
      char shown[PATH_MAX];
      snprintf(shown, sizeof shown, "%.*s", (int)(p - node), node);
      fprintf(stderr, "%s: refusing to run Node.js %s: %s %s\n", prog, node, shown,
              S_ISLNK(st.st_mode) ? "is a symbolic link" : why);
      exit(126);
    }
    if (*p && !S_ISDIR(st.st_mode)) {
      fprintf(stderr, "%s: cannot run Node.js %s: %s\n", prog, node, strerror(ENOTDIR));
      exit(127);
    }
  }
  if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
    refuse(node, "not an executable file");
  return fd;
}

/*
 * Makes room for Node under one limit: the soft limit goes up to NEED (or
 * the hard one, when RAISE_TO_HARD); a hard limit below NEED is raised too
 * where the kernel allows it (root). Otherwise one line names the limit.
 * The caller's values are already in the record, for the program.
 */
static void make_room(int resource, rlim_t need, int raise_to_hard, const char *what, const char *unit,
                      rlim_t scale) {
  struct rlimit rl;
  if (getrlimit(resource, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
    return;
  if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
    rl.rlim_cur = raise_to_hard ? rl.rlim_max : need;
    if (setrlimit(resource, &rl) == 0)
      return;
  } else {
    struct rlimit up = {need, need};
    if (setrlimit(resource, &up) == 0)
      return;
  }
  fprintf(stderr, "%s: %s (%s %llu%s): Node.js needs %llu%s\n", prog, what,
          resource == RLIMIT_NOFILE ? "RLIMIT_NOFILE" : resource == RLIMIT_AS ? "RLIMIT_AS" : "RLIMIT_DATA",
          (unsigned long long)(rl.rlim_max / scale), unit, (unsigned long long)(need / scale), unit);
  exit(1);
}

int main(int argc, char **argv, char **envp) {
  char self[PATH_MAX];
  if (!find_self(argv[0], self))
    die("cannot find its own executable (is /proc mounted?)", errno);
  size_t n = strlen(self);
  char *slash = strrchr(self, '/');
  prog = slash + 1;
  char bundle[PATH_MAX];
  memcpy(bundle, self, n);
  memcpy(bundle + n, ".cjs", 5); /* find_self left room for it */

  /* Signal state: what the caller ignored and blocked. */
  sigset_t ignored, blocked;
  sigemptyset(&ignored);
  sigprocmask(SIG_SETMASK, NULL, &blocked);
  for (int s = 1; s < _NSIG; s++) {
    struct sigaction sa;
    if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
      sigaddset(&ignored, s);
  }

  int nfds;
  int *fds = open_fds(&nfds);
  int envc = 0;
  while (envp[envc])
    envc++;

  /* The caller's limits, for the program, before any is changed for Node. */
  struct rlimit limits[RLIM_NLIMITS];
  for (int r = 0; r < RLIM_NLIMITS; r++)
    if (getrlimit(r, &limits[r]) < 0)
      limits[r].rlim_cur = limits[r].rlim_max = RLIM_INFINITY;

  /* Room for the descriptors the checks below and Node open. */
  make_room(RLIMIT_NOFILE, NODE_MIN_FILES + (rlim_t)nfds, 0, "too few open files allowed", "", 1);

  /* The Node to run, checked before anything of it is trusted. */
  struct stat me;
  if (stat(self, &me) < 0)
    die("cannot find its own executable", errno);
  *slash = '\0';
  char node[PATH_MAX];
  int nodefd = open_node(self, me.st_uid, node);
  /* The bundle and its folder answer to the same owners as the Node that runs it. */
  struct stat folder, st;
  const char *why = NULL;
  if (stat(self, &folder) < 0 || stat(bundle, &st) < 0)
    why = strerror(errno);
  else if (untrusted(&folder, me.st_uid))
    why = "its folder is writable by others";
  else
    why = untrusted(&st, me.st_uid);
  if (why) {
    fprintf(stderr, "%s: refusing to run %s: %s\n", prog, bundle, why);
    return 126;
  }
  *slash = '/';

  make_room(RLIMIT_AS, NODE_MIN_MEMORY, 1, "too little memory allowed", " KiB", 1024);
  make_room(RLIMIT_DATA, NODE_MIN_DATA, 1, "too little memory allowed", " KiB", 1024);

  /*
   * A non-root caller under a finite RLIMIT_NPROC: Node gets the hard limit
   * (the program gets the caller's back) and, when few tasks are left, a
   * small thread pool; when too few are left, one line says so. The user's
   * own count is read only when the machine's total comes near the limit.
   */
  int small_pool = 0;
  struct rlimit nproc = limits[RLIMIT_NPROC];
  if (getuid() != 0 && nproc.rlim_max != RLIM_INFINITY) {
    long machine = tasks_on_machine();
    long used = machine >= 0 && machine + TIGHT_TASKS <= (long)nproc.rlim_max ? machine : tasks_of(getuid());
    long left = used < 0 ? 0 : (long)nproc.rlim_max - used;
    if (left < NODE_MIN_TASKS) {
      fprintf(stderr,
              "%s: too few processes allowed (RLIMIT_NPROC %llu, %ld in use): Node.js needs %d more\n",
              prog, (unsigned long long)nproc.rlim_max, used, NODE_MIN_TASKS);
      return 1;
    }
    small_pool = left < TIGHT_TASKS;
    nproc.rlim_cur = nproc.rlim_max;
    setrlimit(RLIMIT_NPROC, &nproc);
  }

  struct buf b = {0};
  put_u32(&b, RECORD_MAGIC);
  put_u32(&b, RECORD_VERSION);
  put_u32(&b, argc);
  put_u32(&b, envc);
  put_u32(&b, nfds);
  put_u32(&b, RLIM_NLIMITS);
  put_u64(&b, sigbits(&ignored));
  put_u64(&b, sigbits(&blocked));
  for (int i = 0; i < nfds; i++)
    put(&b, &fds[i], sizeof(int32_t));
  for (int r = 0; r < RLIM_NLIMITS; r++) {
    put_u64(&b, limits[r].rlim_cur);
    put_u64(&b, limits[r].rlim_max);
  }
  for (int i = 0; i < argc; i++)
    put(&b, argv[i], strlen(argv[i]) + 1);
  for (int i = 0; i < envc; i++)
    put(&b, envp[i], strlen(envp[i]) + 1);

  /*
   * The record takes a free number above 2 (a closed 0-2 stays free), which
   * fits under the raised limit wherever the caller's descriptors are; the
   * tool closes it before anything of the caller's runs.
   */
  int memfd = memfd_create("caller-record", MFD_CLOEXEC);
  if (memfd < 0)
    die("memfd_create failed", errno);
  for (size_t off = 0; off < b.len;) {
    ssize_t w = write(memfd, b.data + off, b.len - off);
    if (w < 0)
      die("cannot write the caller record", errno);
    off += w;
  }
  int record = memfd > 2 ? memfd : fcntl(memfd, F_DUPFD, 3);
  if (record < 0)
    die("cannot place the caller record", errno);
  if (record != memfd)
    close(memfd);
  /* Node must see it: the only descriptor this launcher opened that survives the exec. */
  fcntl(record, F_SETFD, 0);

  char recordvar[32];
  snprintf(recordvar, sizeof recordvar, "CALLER_RECORD_FD=%d", record);
  char *nodeenv[] = {recordvar, NULL};

  /* Node argv: node --preserve-symlinks-main --max-semi-space-size=2 --no-turbofan [--v8-pool-size=1] BUNDLE. */
  char *nodeargv[8];
  int j = 0;
  nodeargv[j++] = "node";
  /* BUNDLE is already a real path (find_self): spare Node its lstat of every component. */
  nodeargv[j++] = "--preserve-symlinks-main";
  /*
   * V8's young generation grows to 2 x 16 MiB under a high allocation rate
   * (ts-nsls on a busy machine), all of it resident: 2 MiB halves the peak
   * RSS of a listing of 20,000 processes for no loss of time. The tools'
   * start-up never reaches that size.
   */
  nodeargv[j++] = "--max-semi-space-size=2";
  /*
   * A tool runs for a fraction of a second: TurboFan's background compiles
   * of its hot loops cost more CPU than the optimised code saves (ts-nsls at
   * 2,000 processes beside a busy program: 0.121 s against 0.127-0.140 s).
   * Node's code cache still applies under this flag (same start-up).
   */
  nodeargv[j++] = "--no-turbofan";
  if (small_pool)
    nodeargv[j++] = "--v8-pool-size=1";
  nodeargv[j++] = bundle;
  nodeargv[j] = NULL;

  /* The checked file itself, by its descriptor: nothing can be swapped in between. */
  syscall(SYS_execveat, nodefd, "", nodeargv, nodeenv, AT_EMPTY_PATH);
  int err = errno;
  fprintf(stderr, "%s: failed to execute %s: %s\n", prog, node, strerror(err));
  return err == ENOENT ? 127 : 126;
}
