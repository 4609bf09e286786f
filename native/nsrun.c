/*
 * nsrun: the step runner of the ts namespace tools.
 *
 * A Node process is multithreaded, so some namespace work (a new user
 * namespace, setns into one, a fork that runs code before exec) cannot be
 * done from JavaScript. TypeScript prepares a flat list of steps; this file
 * only interprets it, either in the calling thread (then exec) or in a cloned
 * child (then exec), and reports the first failing step as (index, errno).
 *
 * Built twice from this one file: as libnsrun.so (loaded through koffi) and,
 * with -DNSRUN_WAITER, as ns-waiter, the small process that replaces Node
 * while a child runs, relays signals and mirrors the child's exit status.
 *
 * Program layout (int32 words): [NSRUN_VERSION, step...], each step
 * [op, argc, arg...]. String arguments are byte offsets into one buffer of
 * NUL-terminated strings; -1 means NULL. The opcodes and their argument
 * kinds come from native/steps.json, through the header the build generates
 * (nsrun-ops.h); a program is checked against them before anything runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsrun-ops.h"

/* native/nsrun-test.c looks at the signal mask at the moment of the clone. */
#ifndef NSRUN_AT_CLONE
#define NSRUN_AT_CLONE()
#endif

struct nsrun_exec {
  char **argv;
  char **envp;
  char **shell_argv; /* /bin/sh FILE ARGS... for a file the kernel cannot run (ENOEXEC) */
};

struct nsrun_ctx {
  const int32_t *prog;
  int len;
  const char *strs;
  int strs_len;
  struct nsrun_exec *execs; /* one per exec step, built before the clone */
  int nexecs;
  int sync_fd;              /* read end, child side */
  int status_fd;            /* write end, child side */
  uint32_t failed;          /* slots of soft setns steps that failed */
  int wd_fd;                /* the directory of the last open-wd */
  int pdeathsig;            /* armed by a pdeathsig step; re-armed where the kernel clears it */
  int death_watch;          /* a pidfd of the parent that pdeathsig watches (-1: none) */
  int signal_report;        /* a stand-in's pipe: an init writes the signal that ended the program */
  sigset_t ignored;         /* a signal-state step: dispositions and mask the exec leaves */
  sigset_t blocked;
};

static const char *str_at(const struct nsrun_ctx *c, int32_t off) {
  return off < 0 ? NULL : c->strs + off;
}

static void sigset_from_bits(sigset_t *set, uint32_t low, uint32_t high) {
  sigemptyset(set);
  for (int s = 1; s <= 64 && s < _NSIG; s++)
    if ((s <= 32 ? low >> (s - 1) : high >> (s - 33)) & 1)
      sigaddset(set, s);
}

/* Every disposition to its default, except those in ignored (SIG_IGN); then the mask. */
static void set_signals(const sigset_t *ignored, const sigset_t *mask) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  for (int s = 1; s < _NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP)
      continue;
    sa.sa_handler = ignored && sigismember(ignored, s) == 1 ? SIG_IGN : SIG_DFL;
    sigaction(s, &sa, NULL);
  }
  sigprocmask(SIG_SETMASK, mask, NULL);
}

/*
 * Signals that reach the tool between its clone and the waiter's exec: held
 * here (nsrun_hold_signals), raised again, blocked, just before an exec, so
 * that the waiter gets them pending and deals with them as it deals with any
 * signal. Without this, Node's own handlers would take them and the exec
 * would lose them.
 */
static volatile sig_atomic_t held[_NSIG];

static void hold(int sig) { held[sig] = 1; }

/* Asynchronous signals only: faults, SIGCHLD and the profiler's stay Node's. */
static int holdable(int s) {
  return s != SIGKILL && s != SIGSTOP && s != SIGCHLD && s != SIGSEGV && s != SIGBUS &&
         s != SIGFPE && s != SIGILL && s != SIGTRAP && s != SIGSYS && s != SIGPROF &&
         s != SIGPIPE && s != SIGCONT;
}

/* From now until an exec, the asynchronous signals of this process are held, not acted on. */
int nsrun_hold_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = hold;
  sa.sa_flags = SA_RESTART;
  sigfillset(&sa.sa_mask);
  for (int s = 1; s < _NSIG; s++)
    if (holdable(s) && sigaction(s, &sa, NULL) < 0 && errno != EINVAL)
      return -1;
  return 0;
}

/* Called with every signal blocked: the held ones become pending again, and so outlive the exec. */
static void raise_held(void) {
  for (int s = 1; s < _NSIG; s++)
    if (held[s]) {
      held[s] = 0;
      kill(getpid(), s);
    }
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t n = strlen(text);
  ssize_t w = write(fd, text, n);
  int saved = errno;
  close(fd);
  errno = saved;
  if (w < 0)
    return -1;
  if ((size_t)w != n) {
    errno = EIO;
    return -1;
  }
  return 0;
}

static int ambient_caps(void) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) < 0)
    return -1;
  data[0].inheritable = data[0].permitted;
  data[1].inheritable = data[1].permitted;
  if (syscall(SYS_capset, &hdr, data) < 0)
    return -1;
  for (int cap = 0; cap < 64; cap++) {
    uint32_t bit = 1u << (cap % 32);
    if ((data[cap / 32].permitted & bit) &&
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EINVAL)
      return -1;
  }
  return 0;
}

/*
 * A new process, fork-like (no new stack). clone3 first; where a seccomp
 * profile refuses it with ENOSYS (Docker's, flatpak's), the older clone.
 * glibc's fork() assumes glibc's own thread bookkeeping, which a raw clone of
 * a multithreaded process leaves stale: only system calls here.
 */
static pid_t clone_process(uint64_t flags, int *pidfd) {
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = flags;
  args.exit_signal = flags & CLONE_PARENT ? 0 : SIGCHLD;
  if (flags & CLONE_PIDFD)
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
  pid_t pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid >= 0 || errno != ENOSYS)
    return pid;
  /* clone(flags, stack, parent_tid, ...): CLONE_PIDFD stores the pidfd in parent_tid. */
  return syscall(SYS_clone, (unsigned long)flags | (unsigned long)args.exit_signal, NULL, pidfd,
                 NULL, NULL);
}

/* Mirror a child's wait status in this process: same exit code, or death by the same signal. */
static void mirror_status(int status) {
  if (WIFEXITED(status))
    _exit(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    sigset_t set;
    signal(sig, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), sig);
  }
  _exit(1);
}

/*
 * A stand-in: the child that runs the program gets every catchable signal
 * this process gets, so that kill() of the stand-in reaches the program
 * (the kernel drops an unhandled signal to PID 1 of a namespace, even from
 * outside it). As init (PID 1) it also reaps orphans; it leaves when the
 * program ends, and the kernel then ends the rest of its namespace.
 */
static pid_t standin_child;

static void pass_on(int sig) { kill(standin_child, sig); }

/*
 * An init (PID 1) cannot die by a signal it sends itself: the kernel drops it.
 * When the program dies by one, the init writes its number on `report` (the
 * stand-in outside reads it and dies by it) and exits 128 + signal.
 * `reported`: the read end, for the stand-in outside; -1 for none.
 */
static void standin(pid_t child, int init, const sigset_t *mask, int report, int reported) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = pass_on;
  sa.sa_flags = SA_RESTART;
  standin_child = child;
  for (int s = 1; s < _NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD)
      sigaction(s, &sa, NULL);
  sigprocmask(SIG_SETMASK, mask, NULL);
  for (;;) {
    int status;
    pid_t pid = waitpid(init ? -1 : child, &status, 0);
    if (pid < 0 && errno == EINTR)
      continue;
    if (pid < 0)
      _exit(1);
    if (pid != child)
      continue;
    if (init && WIFSIGNALED(status)) {
      unsigned char sig = (unsigned char)WTERMSIG(status);
      ssize_t ignored = write(report, &sig, 1);
      (void)ignored;
      _exit(128 + sig);
    }
    unsigned char sig;
    if (reported >= 0 && WIFEXITED(status) && read(reported, &sig, 1) == 1)
      status = sig; /* a wait status of death by that signal */
    mirror_status(status);
  }
}

/* Only the process that execs may hold the pipes: their end of file tells the parent the exec happened. */
static void leave_to_child(struct nsrun_ctx *c, int relay_pidfd) {
  close(c->status_fd);
  if (c->sync_fd >= 0 && c->sync_fd != c->status_fd)
    close(c->sync_fd);
  if (relay_pidfd >= 0)
    close(relay_pidfd);
}

static void relay_child(pid_t child) {
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR)
      _exit(1);
  mirror_status(status);
}

/*
 * Try each candidate path the way execvp does: go on past ENOENT and EACCES,
 * report EACCES first; a file the kernel cannot run (ENOEXEC) goes to
 * /bin/sh. No candidate at all (an empty program name) is ENOENT.
 */
static void exec_paths(const struct nsrun_ctx *c, const struct nsrun_exec *e, const int32_t *paths,
                       int npaths) {
  int seen_eacces = 0;
  errno = ENOENT;
  for (int i = 0; i < npaths; i++) {
    const char *path = str_at(c, paths[i]);
    execve(path, e->argv, e->envp);
    if (errno == ENOEXEC) {
      e->shell_argv[1] = (char *)path;
      execve("/bin/sh", e->shell_argv, e->envp);
      return;
    }
    if (errno == EACCES)
      seen_eacces = 1;
    else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
             errno != ETIMEDOUT)
      return;
  }
  if (seen_eacces)
    errno = EACCES;
}

static int is_user_setns(int32_t nstype) { return (nstype & CLONE_NEWUSER) != 0; }

/*
 * Before joining a user namespace the process must not be dumpable: it still
 * holds copies of the caller's descriptors, and the namespace's owner could
 * otherwise ptrace it or open /proc/PID/fd (runc's CVE-2016-9962). The exec
 * sets dumpable again.
 */
static int setns_hardened(int fd, int32_t nstype) {
  if (is_user_setns(nstype) && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
    return -1;
  return setns(fd, nstype);
}

/*
 * Arms the parent-death signal, if a pdeathsig step asked for one, and leaves
 * if the parent is already gone. The kernel clears the signal on fork and on
 * every change of credentials, so this runs again after those.
 */
static int arm_pdeathsig(struct nsrun_ctx *c) {
  if (!c->pdeathsig)
    return 0;
  if (prctl(PR_SET_PDEATHSIG, c->pdeathsig, 0, 0, 0) < 0)
    return -1;
  struct pollfd p = {c->death_watch, POLLIN, 0};
  if (c->death_watch >= 0 && poll(&p, 1, 0) != 0)
    _exit(1); /* the parent died before the signal was armed */
  return 0;
}

static int set_id(struct nsrun_ctx *c, long sys, int32_t id) {
  /* -1 means "unchanged" to the kernel: a step that asks for it would silently do nothing. */
  if (id == -1) {
    errno = EINVAL;
    return -1;
  }
  if (syscall(sys, id, id, id) < 0)
    return -1;
  return arm_pdeathsig(c);
}

/* Runs steps from index 0; returns the failing step index with errno set. */
static int run_steps(struct nsrun_ctx *c) {
  int i = 1, step = 0, nexec = 0;
  while (i < c->len) {
    const int32_t op = c->prog[i], argc = c->prog[i + 1], *a = c->prog + i + 2;
    int rc = 0;
    errno = 0;
    switch (op) {
    case OP_UNSHARE:
      rc = unshare(a[0]);
      break;
    case OP_SETNS:
      rc = setns_hardened(a[0], a[1]);
      break;
    case OP_WAIT_PARENT: {
      char b;
      ssize_t n;
      while ((n = read(c->sync_fd, &b, 1)) < 0 && errno == EINTR)
        ;
      if (n != 1)
        _exit(1); /* the parent gave up: it reports why */
      break;
    }
    case OP_TELL_PARENT: {
      int32_t msg[2] = {step, 0};
      rc = write(c->status_fd, msg, sizeof msg) == sizeof msg ? 0 : -1;
      break;
    }
    case OP_MOUNT:
      rc = mount(str_at(c, a[0]), str_at(c, a[1]), str_at(c, a[2]), (unsigned long)(uint32_t)a[3],
                 str_at(c, a[4]));
      if (rc < 0 && a[5] && errno == a[5])
        rc = 0;
      break;
    case OP_WRITE_FILE:
      rc = write_file(str_at(c, a[0]), str_at(c, a[1]));
      if (rc < 0 && a[2] && errno == a[2])
        rc = 0;
      break;
    case OP_SETHOSTNAME: {
      const char *name = str_at(c, a[0]);
      rc = sethostname(name, strlen(name));
      break;
    }
    case OP_CHROOT:
      rc = chroot(str_at(c, a[0]));
      break;
    case OP_CHROOT_DOT:
      rc = chroot(".");
      break;
    case OP_CHDIR:
      rc = chdir(str_at(c, a[0]));
      break;
    case OP_FCHDIR:
      rc = fchdir(a[0]);
      break;
    case OP_SETGROUPS:
      rc = syscall(SYS_setgroups, 0, NULL);
      if (rc < 0 && a[0] && errno == a[0])
        rc = 0;
      break;
    case OP_SETRESGID:
      rc = set_id(c, SYS_setresgid, a[0]);
      break;
    case OP_SETRESUID:
      rc = set_id(c, SYS_setresuid, a[0]);
      break;
    case OP_PDEATHSIG:
      c->pdeathsig = a[0];
      c->death_watch = a[1];
      rc = arm_pdeathsig(c);
      break;
    case OP_KEEP_FD: {
      int flags = fcntl(a[0], F_GETFD);
      rc = flags < 0 ? (errno == EBADF ? 0 : -1) : fcntl(a[0], F_SETFD, flags & ~FD_CLOEXEC);
      break;
    }
    case OP_CLOSE:
      close(a[0]);
      break;
    case OP_DUP2:
      rc = a[0] == a[1] ? fcntl(a[0], F_SETFD, 0) : dup2(a[0], a[1]);
      rc = rc < 0 ? -1 : 0;
      break;
    case OP_SETSID:
      rc = setsid() < 0 ? -1 : 0;
      break;
    case OP_FORK_RELAY: {
      /* Ctrl-C is for the program: the relay blocks SIGINT and SIGTERM before the fork, as util-linux does. */
      sigset_t block, old;
      sigemptyset(&block);
      sigaddset(&block, SIGINT);
      sigaddset(&block, SIGTERM);
      sigprocmask(SIG_BLOCK, &block, &old);
      /* A pidfd of the relay tells its child whether the relay is already gone (getppid cannot: it is 0 across a PID namespace). */
      int relay_pidfd = c->pdeathsig ? (int)syscall(SYS_pidfd_open, syscall(SYS_getpid), 0) : -1;
      if (c->pdeathsig && relay_pidfd < 0) {
        rc = -1;
        break;
      }
      pid_t pid = clone_process(0, NULL);
      if (pid < 0) {
        rc = -1;
        break;
      }
      if (pid > 0) {
        leave_to_child(c, relay_pidfd);
        relay_child(pid);
      }
      sigprocmask(SIG_SETMASK, &old, NULL);
      /* fork cleared the parent-death signal: arm it again, now against the relay. */
      c->death_watch = relay_pidfd;
      rc = arm_pdeathsig(c);
      break;
    }
    case OP_FORK_STANDIN: {
      /* Every signal is blocked across the fork: none is lost before the handlers are in place. */
      sigset_t all, old;
      sigfillset(&all);
      sigprocmask(SIG_SETMASK, &all, &old);
      int relay_pidfd = c->pdeathsig ? (int)syscall(SYS_pidfd_open, syscall(SYS_getpid), 0) : -1;
      int report[2] = {-1, -1};
      pid_t pid = (c->pdeathsig && relay_pidfd < 0) || (!a[0] && pipe2(report, O_CLOEXEC) < 0)
                      ? -1
                      : clone_process(0, NULL);
      if (pid < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        rc = -1;
        break;
      }
      if (pid > 0) {
        leave_to_child(c, relay_pidfd);
        if (report[1] >= 0)
          close(report[1]);
        standin(pid, a[0], &old, a[0] ? c->signal_report : -1, report[0]);
      }
      if (report[0] >= 0) {
        close(report[0]);
        c->signal_report = report[1]; /* for an init forked next; the exec closes it */
      }
      sigprocmask(SIG_SETMASK, &old, NULL);
      c->death_watch = relay_pidfd;
      rc = arm_pdeathsig(c);
      break;
    }
    case OP_SIGNAL_STATE:
      sigset_from_bits(&c->ignored, (uint32_t)a[0], (uint32_t)a[1]);
      sigset_from_bits(&c->blocked, (uint32_t)a[2], (uint32_t)a[3]);
      break;
    case OP_SETRLIMIT: {
      struct rlimit rl = {
          .rlim_cur = (rlim_t)((uint64_t)(uint32_t)a[2] << 32 | (uint32_t)a[1]),
          .rlim_max = (rlim_t)((uint64_t)(uint32_t)a[4] << 32 | (uint32_t)a[3]),
      };
      rc = setrlimit(a[0], &rl);
      break;
    }
    case OP_AMBIENT_CAPS:
      rc = ambient_caps();
      break;
    case OP_SETNS_SOFT:
      if (setns_hardened(a[0], a[1]) < 0)
        c->failed |= 1u << (a[2] & 31);
      break;
    case OP_SETNS_RETRY:
      if (c->failed & (1u << (a[2] & 31)))
        rc = setns_hardened(a[0], a[1]);
      break;
    case OP_SETNS_MASK: {
      int32_t nstype = a[1] | (c->failed & (1u << (a[3] & 31)) ? a[2] : 0);
      if (nstype)
        rc = setns_hardened(a[0], nstype);
      break;
    }
    case OP_OPEN_WD:
      c->wd_fd = open(str_at(c, a[0]), O_RDONLY | O_CLOEXEC);
      rc = c->wd_fd < 0 ? -1 : 0;
      break;
    case OP_FCHDIR_WD:
      rc = fchdir(c->wd_fd);
      break;
    case OP_WRITE_FD: {
      const char *text = str_at(c, a[1]);
      size_t n = strlen(text);
      ssize_t w = write(a[0], text, n);
      rc = w < 0 ? -1 : 0;
      if (w >= 0 && (size_t)w != n) {
        errno = EIO;
        rc = -1;
      }
      break;
    }
    case OP_FORK_SIBLING: {
      /*
       * The new process becomes a child of our parent (CLONE_PARENT), so the
       * parent waits for the program itself: no relay process stays behind.
       * It is made after the setns steps, so it starts in the entered PID
       * namespace. We report its PID as the record (-2, pid) and leave.
       */
      if (c->status_fd < 0) {
        errno = EINVAL;
        rc = -1;
        break;
      }
      pid_t pid = clone_process(CLONE_PARENT, NULL);
      if (pid < 0) {
        rc = -1;
        break;
      }
      if (pid > 0) {
        int32_t msg[2] = {-2, pid};
        ssize_t ignored = write(c->status_fd, msg, sizeof msg);
        (void)ignored;
        _exit(0);
      }
      break;
    }
    case OP_EXEC: {
      const int32_t nargs = a[0], nenv = a[1 + nargs];
      const int32_t *paths = a + 2 + nargs + nenv + 1;
      set_signals(&c->ignored, &c->blocked);
      raise_held(); /* pending across the exec where the program blocks them (the waiter does) */
      exec_paths(c, &c->execs[nexec++], paths, a[2 + nargs + nenv]);
      return step;
    }
    default: /* unreachable: check_program refused it */
      errno = EPROTO;
      rc = -1;
    }
    (void)argc;
    if (rc < 0)
      return step;
    i += 2 + argc;
    step++;
  }
  errno = EINVAL; /* a program must end in an exec */
  return step;
}

static int valid_str(const struct nsrun_ctx *c, int32_t off, int nullable) {
  return (nullable && off == -1) || (off >= 0 && off < c->strs_len);
}

/*
 * A malformed program is an error, never undefined behaviour: known opcodes
 * only, argument counts as the table says, every string inside the buffer
 * (which must end in a NUL), one exec and it comes last. Returns the index of
 * the first bad step (errno EPROTO), or -1 when the program is sound.
 */
int nsrun_check(const int32_t *prog, int len, const char *strs, int strs_len) {
  struct nsrun_ctx c = {.prog = prog, .len = len, .strs = strs, .strs_len = strs_len};
  int step = 0, execs = 0;
  errno = EPROTO;
  if (!prog || len < 1 || prog[0] != NSRUN_VERSION || !strs || strs_len < 1 ||
      strs[strs_len - 1] != '\0')
    return 0;
  for (int i = 1; i < len; i += 2 + prog[i + 1], step++) {
    if (i + 1 >= len || execs)
      return step;
    const int32_t op = prog[i], argc = prog[i + 1], *a = prog + i + 2;
    if (op <= 0 || op >= OP_COUNT || !nsrun_op_args[op] || argc < 0 || argc > len - i - 2)
      return step;
    const char *kinds = nsrun_op_args[op];
    if (op == OP_EXEC) {
      if (argc < 3 || a[0] < 0 || a[0] > argc - 3)
        return step;
      int32_t nargs = a[0], nenv = a[1 + nargs];
      if (nenv < 0 || nenv > argc - 3 - nargs)
        return step;
      int32_t npaths = a[2 + nargs + nenv];
      if (npaths != argc - 3 - nargs - nenv)
        return step;
      for (int k = 0; k < argc; k++)
        if (k != 0 && k != 1 + nargs && k != 2 + nargs + nenv && !valid_str(&c, a[k], 0))
          return step;
      execs++;
      continue;
    }
    if ((size_t)argc != strlen(kinds))
      return step;
    for (int k = 0; k < argc; k++)
      if (kinds[k] == 's' && !valid_str(&c, a[k], 1))
        return step;
  }
  if (!execs)
    return step;
  return -1;
}

/* Builds the argv/envp arrays of every exec while malloc is still safe to call. */
static int prepare(struct nsrun_ctx *c) {
  sigemptyset(&c->ignored);
  sigemptyset(&c->blocked);
  if (nsrun_check(c->prog, c->len, c->strs, c->strs_len) >= 0)
    return -1;
  c->nexecs = 0;
  for (int i = 1; i < c->len; i += 2 + c->prog[i + 1])
    c->nexecs += c->prog[i] == OP_EXEC;
  c->execs = calloc(c->nexecs, sizeof *c->execs);
  if (!c->execs)
    return -1;
  int nexec = 0;
  for (int i = 1; i < c->len; i += 2 + c->prog[i + 1]) {
    if (c->prog[i] != OP_EXEC)
      continue;
    const int32_t *a = c->prog + i + 2;
    int nargs = a[0], nenv = a[1 + nargs];
    struct nsrun_exec *e = &c->execs[nexec++];
    e->argv = calloc(nargs + 1, sizeof(char *));
    e->envp = calloc(nenv + 1, sizeof(char *));
    e->shell_argv = calloc(nargs + 2, sizeof(char *));
    if (!e->argv || !e->envp || !e->shell_argv)
      return -1;
    for (int k = 0; k < nargs; k++)
      e->argv[k] = (char *)str_at(c, a[1 + k]);
    for (int k = 0; k < nenv; k++)
      e->envp[k] = (char *)str_at(c, a[2 + nargs + k]);
    /* execvp's fallback: /bin/sh FILE ARG1..., the file slot filled in at exec time. */
    e->shell_argv[0] = "/bin/sh";
    for (int k = 1; k < nargs; k++)
      e->shell_argv[k + 1] = e->argv[k];
  }
  return 0;
}

static void release(struct nsrun_ctx *c) {
  for (int k = 0; k < c->nexecs && c->execs; k++) {
    free(c->execs[k].argv);
    free(c->execs[k].envp);
    free(c->execs[k].shell_argv);
  }
  free(c->execs);
  c->execs = NULL;
}

#define CTX_INIT(p, l, s, sl)                                                                      \
  {.prog = (p), .len = (l), .strs = (s), .strs_len = (sl), .sync_fd = -1, .status_fd = -1,        \
   .wd_fd = -1, .death_watch = -1, .signal_report = -1}

/*
 * Runs the steps in the calling thread and execs. Returns only on failure:
 * the failing step index, with its errno in *err.
 */
int nsrun_here(const int32_t *prog, int len, const char *strs, int strs_len, int *err) {
  struct nsrun_ctx c = CTX_INIT(prog, len, strs, strs_len);
  int step = -1;
  if (prepare(&c) == 0)
    step = run_steps(&c);
  else if (errno == EPROTO)
    step = nsrun_check(prog, len, strs, strs_len);
  *err = errno;
  release(&c);
  return step;
}

/*
 * Clones a child with clone_flags (CLONE_NEW* only) that runs the steps and
 * execs. Returns the child's PID, or -1 with errno in *err. out[0] is the
 * child's pidfd, out[1] the status pipe (read: 8-byte (step, errno) records;
 * errno 0 is a tell-parent; EOF means the exec happened), out[2] the sync
 * pipe (write one byte to release a wait-parent step).
 */
int nsrun_clone(const int32_t *prog, int len, const char *strs, int strs_len,
                uint32_t clone_flags, int *out, int *err) {
  struct nsrun_ctx c = CTX_INIT(prog, len, strs, strs_len);
  int status_pipe[2] = {-1, -1}, sync_pipe[2] = {-1, -1}, pidfd = -1;
  pid_t pid = -1;
  sigset_t all, old;
  if (prepare(&c) < 0 || pipe2(status_pipe, O_CLOEXEC) < 0 || pipe2(sync_pipe, O_CLOEXEC) < 0)
    goto fail;
  c.status_fd = status_pipe[1];
  c.sync_fd = sync_pipe[0];

  /*
   * No signal handler of the parent (Node's, writing to libuv's signal pipe)
   * may run in the child: every signal is blocked across the clone, the
   * child resets the handlers before it unblocks, the parent restores its mask.
   */
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old); /* per thread on Linux, as pthread_sigmask */
  NSRUN_AT_CLONE();
  pid = clone_process((uint64_t)clone_flags | CLONE_PIDFD, &pidfd);
  if (pid == 0) {
    /* The child: a copy of the calling thread, sharing nothing with JavaScript. */
    close(status_pipe[0]);
    close(sync_pipe[1]);
    sigset_t none;
    sigemptyset(&none);
    memset((void *)held, 0, sizeof held); /* the parent's to pass on, not this child's */
    set_signals(NULL, &none);
    int32_t msg[2];
    msg[0] = run_steps(&c);
    msg[1] = errno ? errno : EINVAL;
    ssize_t ignored = write(c.status_fd, msg, sizeof msg);
    (void)ignored;
    _exit(127);
  }
  int clone_errno = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  errno = clone_errno;
  if (pid < 0)
    goto fail;
  close(status_pipe[1]);
  close(sync_pipe[0]);
  release(&c);
  out[0] = pidfd;
  out[1] = status_pipe[0];
  out[2] = sync_pipe[1];
  return pid;

fail:
  *err = errno;
  for (int k = 0; k < 2; k++) {
    if (status_pipe[k] >= 0)
      close(status_pipe[k]);
    if (sync_pipe[k] >= 0)
      close(sync_pipe[k]);
  }
  release(&c);
  return -1;
}

/* Blocking waitpid for one PID, retrying EINTR; returns the raw status or -errno. */
int nsrun_wait(int pid) {
  int status;
  while (waitpid(pid, &status, __WALL) < 0)
    if (errno != EINTR)
      return -errno;
  return status;
}

#ifdef NSRUN_WAITER
/*
 * ns-waiter: replaces a tool's Node process while its child runs, and leaves
 * with the child's status. Its argv is the tool's own (so ps and pgrep show
 * the tool); what to do comes in NS_WAIT=PID,MODE,MASK:
 *   fork     SIGINT and SIGTERM stay blocked: only the child reacts to Ctrl-C
 *            (util-linux's parent with --fork)
 *   forward  SIGINT and SIGTERM are passed on to the child (--forward-signals)
 *   follow   nsenter's parent: signals keep the caller's dispositions (a
 *            SIGTERM ends the waiter, not the child), a stopped child stops
 *            the waiter, and continuing the waiter continues the child
 *   standin  the waiter stands in for a program util-linux would have exec'd
 *            in place: every catchable signal goes to the child, stops are
 *            followed, and the child's end is mirrored
 * Every signal arrives blocked across the exec; once the handlers are in
 * place the waiter sets MASK (hex, bit s-1 for signal s), the caller's mask.
 * Signals the caller ignored stay ignored.
 */
#include <stdio.h>

static pid_t waited_child;

static void forward(int sig) { kill(waited_child, sig); }

static void on(int sig) {
  struct sigaction sa;
  if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
    return;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
  (void)argc;
  const char *spec = getenv("NS_WAIT");
  char mode[16] = "";
  unsigned long long mask = 0;
  int status;
  if (!spec || sscanf(spec, "%d,%15[a-z],%llx", &waited_child, mode, &mask) != 3 ||
      waited_child <= 0) {
    fprintf(stderr, "ns-waiter: NS_WAIT=PID,MODE,MASK is missing\n");
    return 1;
  }
  const char *name = strrchr(argv[0], '/');
  prctl(PR_SET_NAME, name ? name + 1 : argv[0], 0, 0, 0);
  int standin = strcmp(mode, "standin") == 0;
  int follow_stops = standin || strcmp(mode, "follow") == 0;
  if (strcmp(mode, "forward") == 0) {
    on(SIGINT);
    on(SIGTERM);
  } else if (standin) {
    for (int s = 1; s < _NSIG; s++)
      if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD)
        on(s);
  } else if (!follow_stops) {
    mask |= 1ull << (SIGINT - 1) | 1ull << (SIGTERM - 1);
  }
  sigset_t set;
  sigset_from_bits(&set, (uint32_t)mask, (uint32_t)(mask >> 32));
  sigprocmask(SIG_SETMASK, &set, NULL);
  for (;;) {
    if (waitpid(waited_child, &status, follow_stops ? WUNTRACED : 0) < 0) {
      if (errno == EINTR)
        continue;
      perror("ns-waiter: waitpid failed");
      return 1;
    }
    if (WIFSTOPPED(status)) {
      kill(getpid(), SIGSTOP);
      kill(waited_child, SIGCONT);
      continue;
    }
    mirror_status(status);
  }
}
#endif

#ifdef NSRUN_RUNNER
/*
 * ns-run: the process child_process starts for the library's spawn(). It is
 * single-threaded, so every step may run here in place (a new user
 * namespace, setns into one, the forks of a PID namespace), and then it
 * execs the program: the program has its PID, and Node's child_process does
 * the rest (stdio, waiting, kill, timeout).
 *
 *   ns-run PROGRAM_FD SOCKET_FD KEEP
 *
 * PROGRAM_FD holds [words, strings, words..., strings...] (int32 counts),
 * read from offset 0 and closed. SOCKET_FD is both the status and the sync
 * channel: the runner first writes (-3, its PID), a tell-parent (index, 0), a wait-parent reads one byte, a
 * failing step writes (index, errno) and the runner exits 127; the exec
 * closes it (end of file: the program runs). Descriptors from KEEP up are
 * the runner's own (namespace files, pidfds): the exec closes them.
 */
#include <stdio.h>
#include <sys/stat.h>

static int read_all(int fd, void *buf, size_t len, off_t off) {
  for (size_t got = 0; got < len;) {
    ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    got += (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "ns-run: usage: ns-run PROGRAM_FD SOCKET_FD KEEP\n");
    return 127;
  }
  int prog_fd = atoi(argv[1]), sock = atoi(argv[2]), keep = atoi(argv[3]);
  int32_t counts[2];
  int32_t msg[2] = {0, EPROTO};
  int32_t *words = NULL;
  char *strs = NULL;
  /* The program gets the descriptors below KEEP only. */
  if (keep < 0 || syscall(SYS_close_range, (unsigned)keep, ~0u, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) {
    struct rlimit rl;
    rlim_t top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? rl.rlim_cur : 65536;
    for (int fd = keep < 0 ? 3 : keep; (rlim_t)fd < top; fd++)
      fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (read_all(prog_fd, counts, sizeof counts, 0) == 0 && counts[0] > 0 && counts[1] > 0 &&
      counts[0] < (1 << 24) && counts[1] < (1 << 28) &&
      (words = malloc(sizeof *words * (size_t)counts[0])) && (strs = malloc((size_t)counts[1])) &&
      read_all(prog_fd, words, sizeof *words * (size_t)counts[0], sizeof counts) == 0 &&
      read_all(prog_fd, strs, (size_t)counts[1],
               (off_t)(sizeof counts + sizeof *words * (size_t)counts[0])) == 0) {
    close(prog_fd);
    struct nsrun_ctx c = CTX_INIT(words, counts[0], strs, counts[1]);
    c.status_fd = sock;
    c.sync_fd = sock;
    /* (-3, PID) first: whoever does the parent's work may not know our PID */
    int32_t hello[2] = {-3, (int32_t)getpid()};
    if (write(sock, hello, sizeof hello) != sizeof hello)
      return 127;
    if (prepare(&c) == 0)
      msg[0] = run_steps(&c);
    else
      msg[0] = errno == EPROTO ? nsrun_check(words, counts[0], strs, counts[1]) : 0;
    msg[1] = errno ? errno : EINVAL;
  }
  ssize_t ignored = write(sock, msg, sizeof msg);
  (void)ignored;
  return 127;
}
#endif
