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
 * The caller record (native byte order):
 *   u32 magic, u32 version, u32 argc, u32 envc, u32 nfds, u32 nlimits,
 *   u64 ignored signals, u64 blocked signals (bit s-1 for signal s),
 *   i32 fds[nfds]           descriptors open at start (a missing 0-2 was closed)
 *   u64 limits[nlimits][2]  getrlimit(0..nlimits-1): soft, hard
 *   argv then environ, each string NUL-terminated, as raw bytes.
 * Node finds the record's descriptor in CALLER_RECORD_FD. Node itself starts
 * without the caller's NODE_* variables; the program still receives them.
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
#include <unistd.h>

#define RECORD_MAGIC 0x534e5354u /* "TSNS" */
#define RECORD_VERSION 1u
/* Node 20 crashes (SIGSEGV) at start-up with fewer descriptors than this. */
#define NODE_MIN_FILES 32
/*
 * Node's threads count against RLIMIT_NPROC, and Node hangs when it cannot
 * make one. With --v8-pool-size=1 it runs 4 threads; the tool may clone one
 * child and that may fork once more. Below TIGHT_TASKS free, Node gets the
 * small pool.
 */
#define NODE_MIN_TASKS 5
#define TIGHT_TASKS 32

static const char *prog = "ts-launcher";

static void die(const char *what, int err) {
  if (err)
    fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
  else
    fprintf(stderr, "%s: %s\n", prog, what);
  exit(1);
}

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
      if (snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, p, arg0) < (int)sizeof candidate)
        ok = access(candidate, X_OK) == 0 && realpath(candidate, found) != NULL;
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

int main(int argc, char **argv, char **envp) {
  char self[PATH_MAX];
  if (!find_self(argv[0], self))
    die("cannot find its own executable (is /proc mounted?)", errno);
  size_t n = strlen(self);
  const char *slash = strrchr(self, '/');
  prog = slash ? slash + 1 : self;
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

  struct rlimit limits[RLIM_NLIMITS];
  for (int r = 0; r < RLIM_NLIMITS; r++)
    if (getrlimit(r, &limits[r]) < 0)
      limits[r].rlim_cur = limits[r].rlim_max = RLIM_INFINITY;
  if (limits[RLIMIT_NOFILE].rlim_max < NODE_MIN_FILES + (rlim_t)nfds) {
    fprintf(stderr, "%s: too few open files allowed (RLIMIT_NOFILE %llu): Node.js needs %d\n",
            prog, (unsigned long long)limits[RLIMIT_NOFILE].rlim_max, NODE_MIN_FILES + nfds);
    return 1;
  }

  /*
   * A non-root caller under a finite RLIMIT_NPROC: Node gets the hard limit
   * (the program gets the caller's back) and, when few tasks are left, a
   * small thread pool; when too few are left, one line says so.
   */
  int small_pool = 0;
  struct rlimit nproc = limits[RLIMIT_NPROC];
  if (getuid() != 0 && nproc.rlim_max != RLIM_INFINITY) {
    long used = tasks_of(getuid());
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

  /* The record goes above every caller descriptor, so it takes no number of theirs (a closed 0-2 stays free). */
  int memfd = memfd_create("caller-record", 0);
  if (memfd < 0)
    die("memfd_create failed", errno);
  for (size_t off = 0; off < b.len;) {
    ssize_t w = write(memfd, b.data + off, b.len - off);
    if (w < 0)
      die("cannot write the caller record", errno);
    off += w;
  }
  int above = nfds ? fds[nfds - 1] + 1 : 3;
  int record = fcntl(memfd, F_DUPFD, above < 3 ? 3 : above);
  if (record < 0)
    die("cannot place the caller record", errno);
  close(memfd);

  /* Node's environment: the caller's, without the NODE_* variables that would steer Node itself. */
  char **nodeenv = calloc(envc + 2, sizeof *nodeenv);
  if (!nodeenv)
    die("cannot record the caller's state", ENOMEM);
  int k = 0;
  for (int i = 0; i < envc; i++)
    if (strncmp(envp[i], "NODE_", 5) != 0 && strncmp(envp[i], "CALLER_RECORD_FD=", 17) != 0)
      nodeenv[k++] = envp[i];
  char recordvar[32];
  snprintf(recordvar, sizeof recordvar, "CALLER_RECORD_FD=%d", record);
  nodeenv[k++] = recordvar;
  nodeenv[k] = NULL;

  /* Node argv: node --preserve-symlinks-main --max-semi-space-size=2 --no-turbofan [--v8-pool-size=1] BUNDLE ARGS...; the tool reads the exact bytes from the record. */
  char **nodeargv = calloc(argc + 6, sizeof *nodeargv);
  if (!nodeargv)
    die("cannot record the caller's state", ENOMEM);
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
  for (int i = 1; i < argc; i++)
    nodeargv[j++] = argv[i];
  nodeargv[j] = NULL;

  environ = nodeenv;
  execvp("node", nodeargv);
  int err = errno;
  fprintf(stderr, "%s: failed to execute node: %s\n", prog, strerror(err));
  return err == ENOENT ? 127 : 126;
}
