/*
 * The step runner's own test, built with -fsanitize=address,undefined by
 * scripts/test-native.mjs: a fuzz of the program checker (random, truncated
 * and corrupted programs are refused, never read out of bounds), and real
 * runs of nsrun_clone whose children are waited for.
 */
#define _GNU_SOURCE
#include <signal.h>

/* The signal mask at each clone of nsrun_clone: every signal must be blocked there. */
static sigset_t mask_at_clone;
#define NSRUN_AT_CLONE() sigprocmask(SIG_SETMASK, NULL, &mask_at_clone)
#include "nsrun.c"

#include <linux/filter.h>
#include <linux/seccomp.h>
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

int main(void) {
  fuzz();
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
