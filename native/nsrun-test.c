/*
 * The native code's own test, built with -fsanitize=address,undefined by
 * scripts/test-native.mjs: a fuzz of the program checker (random, truncated
 * and corrupted programs are refused, never read out of bounds), real runs
 * of nsrun_clone whose children are waited for, and the batched /proc reader
 * (procscan.c) against readlink and against itself in several threads.
 */
#define _GNU_SOURCE
#include <signal.h>

/* The signal mask at each clone of nsrun_clone: every signal must be blocked there. */
static sigset_t mask_at_clone;
#define NSRUN_AT_CLONE() sigprocmask(SIG_SETMASK, NULL, &mask_at_clone)
#include "nsrun.c"
#include "procscan.c"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdio.h>

static int failures;
#define EXPECT(cond, ...)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      failures++;                                                                                  \
      fprintf(stderr, "nsrun-test: " __VA_ARGS__);                                                 \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

/* A small deterministic generator, so that a failure can be replayed. */
static uint64_t seed = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  seed ^= seed << 13;
  seed ^= seed >> 7;
  seed ^= seed << 17;
  return (uint32_t)seed;
}

/* A valid program: unshare(UTS), sethostname, keep-fd 1, exec /bin/sh -c 'hostname'. */
static const char strs[] = "box\0/bin/sh\0sh\0-c\0hostname; exit 7\0PATH=/bin\0";
enum { S_BOX = 0, S_SH = 4, S_ARG0 = 12, S_C = 15, S_SCRIPT = 18, S_ENV = 35 };
static const int32_t valid[] = {
    NSRUN_VERSION,
    OP_UNSHARE, 1, CLONE_NEWUTS,
    OP_SETHOSTNAME, 1, S_BOX,
    OP_KEEP_FD, 1, 1,
    OP_EXEC, 8, 3, S_ARG0, S_C, S_SCRIPT, 1, S_ENV, 1, S_SH,
};
#define VALID_LEN ((int)(sizeof valid / sizeof valid[0]))

/* Checks a program and, when it is accepted, builds and frees its exec arrays. */
static int check_and_prepare(const int32_t *prog, int len, const char *s, int slen) {
  int bad = nsrun_check(prog, len, s, slen);
  if (bad < 0) {
    struct nsrun_ctx c = CTX_INIT(prog, len, s, slen);
    EXPECT(prepare(&c) == 0, "prepare refused a checked program");
    release(&c);
  }
  return bad;
}

static void fuzz(void) {
  int32_t prog[96];
  char s[sizeof strs];
  memcpy(s, strs, sizeof strs);
  EXPECT(check_and_prepare(valid, VALID_LEN, strs, sizeof strs) == -1, "the valid program was refused");

  /* Every truncation of the valid program ends before or inside its exec: refused. */
  for (int len = 0; len < VALID_LEN; len++)
    EXPECT(check_and_prepare(valid, len, strs, sizeof strs) >= 0, "a truncation to %d words passed", len);
  /* A string buffer cut short, or not ending in NUL: refused. */
  for (int slen = 0; slen < (int)sizeof strs - 1; slen++)
    EXPECT(check_and_prepare(valid, VALID_LEN, strs, slen) >= 0, "strings cut to %d bytes passed", slen);
  s[sizeof strs - 1] = 'x';
  EXPECT(check_and_prepare(valid, VALID_LEN, s, sizeof strs) >= 0, "an unterminated buffer passed");
  s[sizeof strs - 1] = '\0';

  /* One word changed at random, many times: never a crash, and never an out-of-bounds string. */
  int accepted = 0;
  for (int round = 0; round < 200000; round++) {
    memcpy(prog, valid, sizeof valid);
    int k = rnd() % VALID_LEN;
    uint32_t r = rnd();
    prog[k] = r % 4 == 0 ? (int32_t)r : (int32_t)(r % 64) - 8;
    if (check_and_prepare(prog, VALID_LEN, strs, sizeof strs) < 0)
      accepted++;
  }
  /* Wholly random programs of random length. */
  int random_accepted = 0;
  for (int round = 0; round < 200000; round++) {
    int len = 1 + rnd() % 64;
    prog[0] = NSRUN_VERSION;
    for (int k = 1; k < len; k++)
      prog[k] = rnd() % 3 ? (int32_t)(rnd() % 40) - 2 : (int32_t)rnd();
    if (check_and_prepare(prog, len, strs, sizeof strs) < 0)
      random_accepted++;
  }
  /* Programs built step by step from the opcode table, with arguments now and then out of range. */
  int built_accepted = 0;
  for (int round = 0; round < 200000; round++) {
    int len = 1;
    prog[0] = NSRUN_VERSION;
    for (int steps = rnd() % 5; steps > 0 && len < 40; steps--) {
      int op = 1 + rnd() % (OP_COUNT - 1);
      const char *kinds = nsrun_op_args[op];
      if (!kinds || op == OP_EXEC)
        continue;
      prog[len++] = op;
      prog[len++] = (int32_t)strlen(kinds);
      for (const char *k = kinds; *k; k++)
        prog[len++] = *k == 's' ? (int32_t)(rnd() % (sizeof strs + 4)) - 2 : (int32_t)rnd();
    }
    int nargs = rnd() % 3, nenv = rnd() % 3, npaths = rnd() % 3;
    prog[len++] = OP_EXEC;
    prog[len++] = 3 + nargs + nenv + npaths - (rnd() % 8 == 0);
    prog[len++] = nargs;
    for (int k = 0; k < nargs; k++)
      prog[len++] = (int32_t)(rnd() % (sizeof strs + 2));
    prog[len++] = nenv;
    for (int k = 0; k < nenv; k++)
      prog[len++] = (int32_t)(rnd() % (sizeof strs + 2));
    prog[len++] = npaths;
    for (int k = 0; k < npaths; k++)
      prog[len++] = (int32_t)(rnd() % (sizeof strs + 2));
    if (check_and_prepare(prog, len, strs, sizeof strs) < 0)
      built_accepted++;
  }
  printf("nsrun-test: fuzz: well-formed were %d of 200000 one-word mutations, %d of 200000 random "
         "programs, %d of 200000 programs built from the table\n",
         accepted, random_accepted, built_accepted);
  fflush(stdout);
}

/* Runs a program in a clone and returns its wait status (or -1), reading the status pipe. */
static int clone_and_wait(const int32_t *prog, int len, int32_t *record) {
  int out[3], err = 0;
  int pid = nsrun_clone(prog, len, strs, sizeof strs, 0, out, &err);
  if (pid < 0)
    return -err - 1000;
  close(out[2]);
  ssize_t n = read(out[1], record, 8);
  if (n != 8)
    record[0] = record[1] = 0;
  close(out[1]);
  close(out[0]);
  return nsrun_wait(pid);
}

static void runs(void) {
  int32_t record[2];
  /* The caller's mask comes back after the clone; during it, no handler of the caller can run in the child. */
  sigset_t before, after;
  sigemptyset(&before);
  sigaddset(&before, SIGUSR2);
  sigprocmask(SIG_SETMASK, &before, NULL);
  sigemptyset(&mask_at_clone);
  int status = clone_and_wait(valid, VALID_LEN, record);
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 7, "the valid program: status %#x", status);
  sigprocmask(SIG_SETMASK, NULL, &after);
  EXPECT(sigismember(&after, SIGUSR2) == 1 && sigismember(&after, SIGINT) == 0,
         "the caller's mask was not given back");
  for (int s = 1; s < _NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP && (s < 32 || s >= SIGRTMIN))
      EXPECT(sigismember(&mask_at_clone, s) == 1, "signal %d was not blocked at the clone", s);
  sigemptyset(&before);
  sigprocmask(SIG_SETMASK, &before, NULL);

  /* A failing step comes back as (index, errno). */
  static const int32_t failing[] = {
      NSRUN_VERSION, OP_CHDIR, 1, S_ENV, OP_EXEC, 8, 3, S_ARG0, S_C, S_SCRIPT, 1, S_ENV, 1, S_SH,
  };
  status = clone_and_wait(failing, sizeof failing / sizeof failing[0], record);
  EXPECT(record[0] == 0 && record[1] == ENOENT, "chdir: record (%d, %d)", record[0], record[1]);
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 127, "chdir: status %#x", status);

  /* A malformed program never reaches a clone. */
  int out[3], err = 0;
  EXPECT(nsrun_clone(valid, VALID_LEN - 1, strs, sizeof strs, 0, out, &err) == -1 && err == EPROTO,
         "a malformed program was cloned");
}

/*
 * Before joining a user namespace the process stops being dumpable (it holds
 * the caller's descriptors); other namespaces leave it as it is.
 */
static void not_dumpable_into_user(void) {
  pid_t tester = fork();
  if (tester == 0) {
    int ok = 1;
    setns_hardened(-1, CLONE_NEWNET); /* fails (EBADF): only its side effect counts */
    ok &= prctl(PR_GET_DUMPABLE) == 1;
    setns_hardened(-1, CLONE_NEWUSER);
    ok &= prctl(PR_GET_DUMPABLE) == 0;
    _exit(ok ? 0 : 1);
  }
  int status;
  waitpid(tester, &status, 0);
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "setns into a user namespace left it dumpable");
}

/*
 * In a process of its own, clone3 refused with ENOSYS by a seccomp filter, as
 * the default profiles of Docker and flatpak refuse it: the runner falls back
 * to clone, and the program runs as before.
 */
static void clone3_refused(void) {
  pid_t tester = fork();
  if (tester == 0) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0)
      _exit(2);
    struct clone_args args;
    memset(&args, 0, sizeof args);
    if (syscall(SYS_clone3, &args, sizeof args) != -1 || errno != ENOSYS)
      _exit(3); /* the filter did not take */
    int32_t record[2];
    int status = clone_and_wait(valid, VALID_LEN, record);
    _exit(WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 4);
  }
  int status;
  waitpid(tester, &status, 0);
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "with clone3 refused: status %#x", status);
}

/*
 * procscan: a child holding a namespace by descriptor (its own uts link) and
 * a socket, scanned among this process's own tasks by nsscan in 1 and 3
 * threads: links as readlink shows them, the same records, and COMMANDs that
 * do not fit a thread's share of the buffer left for the caller (-2).
 */
static void procscan(void) {
  int sv[2];
  EXPECT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: %s", strerror(errno));
  int nsfd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
  EXPECT(nsfd >= 0, "open ns/uts: %s", strerror(errno));
  pid_t child = fork();
  if (child == 0) {
    close(sv[1]);
    /* its descriptors are final: a socket and the uts namespace */
    EXPECT(write(sv[0], "r", 1) == 1, "child: write: %s", strerror(errno));
    pause();
    _exit(0);
  }
  char ready;
  EXPECT(read(sv[1], &ready, 1) == 1, "read: %s", strerror(errno));
  close(nsfd);
  close(sv[0]);
  close(sv[1]);
  /* this process, the child, the child again, a PID that does not exist; 200 tasks in all */
  enum { N = 200 };
  static int32_t tasks[2 * N];
  for (int i = 0; i < N; i++)
    tasks[2 * i] = tasks[2 * i + 1] = i % 4 == 3 ? 0x3fffffff : i % 4 == 0 ? getpid() : child;
  const char names[] = "mnt\0net\0pid\0uts\0ipc\0user\0cgroup\0time";
  char expected[64];
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/uts", child);
  ssize_t len = readlink(path, expected, sizeof expected);
  EXPECT(len > 0, "readlink %s: %s", path, strerror(errno));
  double uts = bracket_number(expected, len);
  for (int lanes = 1; lanes <= 3; lanes += 2) {
    static double ns[N * 8], ppid[N], uid[N], rec[64 * NSSCAN_REC];
    static uint8_t alive[N], held[N];
    static int32_t cmdoff[N], cmdlen[N];
    static char cmd[8192 + 100];
    int32_t nrec = -1;
    int r = nsscan(tasks, N, names, 8, 0xff, ns, alive, ppid, uid, cmd, sizeof cmd, cmdoff, cmdlen,
                   NULL, rec, 64, &nrec, held, lanes);
    /* the child's two descriptors (a socket and the uts namespace), for each of its 100 tasks: more than fit */
    EXPECT(r == 1 && nrec == 64, "nsscan in %d threads: %d, %d records", lanes, r, nrec);
    int unread = 0;
    for (int i = 0; i < N; i++) {
      int gone = i % 4 == 3;
      EXPECT(alive[i] == !gone, "task %d alive %d", i, alive[i]);
      if (!gone)
        EXPECT(ns[i * 8 + 3] == uts, "task %d uts %.0f, readlink %.0f", i, ns[i * 8 + 3], uts);
      if (!gone && i % 4 != 0)
        EXPECT(ppid[i] == getpid(), "task %d ppid %.0f", i, ppid[i]);
      if (cmdlen[i] == -2)
        unread++;
      else if (!gone)
        EXPECT(cmdlen[i] > 0 && memmem(cmd + cmdoff[i], (size_t)cmdlen[i], "nsrun-test", 10),
               "task %d command", i);
    }
    /* a thread's share holds a few COMMANDs at most: the rest is left for the caller */
    EXPECT(unread > 0, "in %d threads no COMMAND was left unread", lanes);
    /* the tasks whose records did not fit, read again: with those that did, every record once */
    static int32_t again[2 * N];
    static int32_t index[N];
    int m = 0, kept = 0;
    for (int i = 0; i < N; i++)
      if (!held[i]) {
        again[2 * m] = again[2 * m + 1] = tasks[2 * i];
        index[m++] = i;
      }
    static double all[256 * NSSCAN_REC];
    int32_t got = 0;
    int done = nsscan_fds(again, m, names, 8, all, 256, &got);
    EXPECT(done == m && nrec + got == 200, "nsscan_fds of %d tasks: %d, %d + %d records", m, done,
           nrec, got);
    for (int i = 0; i < nrec + got; i++) {
      double *p = i < nrec ? rec + i * NSSCAN_REC : all + (i - nrec) * NSSCAN_REC;
      int task = i < nrec ? (int)p[0] : index[(int)p[0]];
      kept += i < nrec && held[task];
      EXPECT(task % 4 != 0 && task % 4 != 3, "a record for task %d", task);
      EXPECT(p[2] == 9 || (p[2] == 3 && p[3] == uts), "record kind %.0f inode %.0f", p[2], p[3]);
    }
    EXPECT(kept == nrec, "%d of %d records kept are of tasks read again", nrec - kept, nrec);
  }
  /*
   * Details only for the first task of a namespace in each thread: here
   * every task is in the same namespaces, so one task per thread that got
   * any work, and in one thread the first.
   */
  for (int lanes = 1; lanes <= 3; lanes += 2) {
    static double ns[N * 8], uid[N];
    static uint8_t alive[N], got[N];
    int r = nsscan(tasks, N, names, 8, 0xff, ns, alive, NULL, uid, NULL, 0, NULL, NULL, got, NULL,
                   0, NULL, NULL, lanes);
    int n = 0;
    for (int i = 0; i < N; i++)
      n += got[i];
    EXPECT(r == 0 && got[0] == 1 && n >= 1 && n <= lanes,
           "first of a namespace in %d threads: %d, %d tasks read", lanes, r, n);
  }
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
}

int main(void) {
  fuzz();
  procscan();
  not_dumpable_into_user();
  if (geteuid() == 0) {
    runs();
    clone3_refused();
  }
  else
    printf("nsrun-test: runs skipped: they need root (a new UTS namespace)\n");
  if (failures)
    return 1;
  printf("nsrun-test: ok\n");
  return 0;
}
