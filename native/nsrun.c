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
 * NUL-terminated strings; -1 means NULL.
 */
#define _GNU_SOURCE
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSRUN_VERSION 1

enum {
  OP_UNSHARE = 1,      /* flags */
  OP_SETNS = 2,        /* fd, nstype */
  OP_WAIT_PARENT = 3,  /* -: block until the parent writes a byte on the sync pipe */
  OP_TELL_PARENT = 4,  /* -: report (index, 0) on the status pipe */
  OP_MOUNT = 5,        /* src, target, fstype, flags, data, ignored errno */
  OP_WRITE_FILE = 6,   /* path, text, ignored errno */
  OP_SETHOSTNAME = 7,  /* name */
  OP_CHROOT = 8,       /* path */
  OP_CHDIR = 9,        /* path */
  OP_FCHDIR = 10,      /* fd */
  OP_SETGROUPS = 11,   /* ignored errno: setgroups(0, NULL) */
  OP_SETRESGID = 12,   /* gid */
  OP_SETRESUID = 13,   /* uid */
  OP_PDEATHSIG = 14,   /* signal, pidfd of the parent (-1: none) */
  OP_KEEP_FD = 15,     /* fd: clear FD_CLOEXEC */
  OP_FORK_RELAY = 16,  /* -: fork; the parent waits and mirrors the child */
  OP_AMBIENT_CAPS = 17,/* -: raise permitted capabilities into the ambient set */
  OP_EXEC = 18,        /* argc, argv..., envc, envp..., npaths, paths... */
  OP_CLOSE = 19,       /* fd */
  OP_DUP2 = 20,        /* fd, target fd */
  OP_CHROOT_DOT = 21,  /* -: chroot(".") after fchdir to the new root */
  /* nsenter's two passes: the first may fail quietly, the second retries only what failed. */
  OP_SETNS_SOFT = 22,  /* fd, nstype, slot: on failure remember slot (0..31) and go on */
  OP_SETNS_RETRY = 23, /* fd, nstype, slot: setns only if slot failed before */
  OP_OPEN_WD = 24,     /* path: open a directory to fchdir to later (path "." keeps the cwd) */
  OP_FCHDIR_WD = 25,   /* -: fchdir to the directory of the last open-wd */
  OP_WRITE_FD = 26,    /* fd, text: write text to a descriptor opened beforehand */
  OP_FORK_SIBLING = 27,/* -: fork a child of our parent, report its PID, and exit (clone only) */
  OP_IGNORE_SIGNAL = 40, /* signal: SIG_IGN, kept through the exec (closes the waiter's start-up window) */
};

struct nsrun_exec {
  char **argv;
  char **envp;
};

struct nsrun_ctx {
  const int32_t *prog;
  int len;
  const char *strs;
  struct nsrun_exec *execs; /* one per OP_EXEC, built before the clone */
  int sync_fd;              /* read end, child side */
  int status_fd;            /* write end, child side */
  uint32_t failed;          /* slots of soft setns steps that failed */
  int wd_fd;                /* the directory of the last open-wd */
  sigset_t ignored;         /* signals an OP_IGNORE_SIGNAL keeps ignored through the exec */
};

static const char *str_at(const struct nsrun_ctx *c, int32_t off) {
  return off < 0 ? NULL : c->strs + off;
}

static void reset_signals_except(const sigset_t *keep) {
  struct sigaction sa;
  sigset_t none;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < _NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP && !(keep && sigismember(keep, s)))
      sigaction(s, &sa, NULL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static void reset_signals(void) { reset_signals_except(NULL); }

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
 * glibc's fork() and set*id() assume glibc's own thread bookkeeping, which a
 * raw clone of a multithreaded process leaves stale: use the system calls.
 */
static pid_t raw_fork(void) {
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  return syscall(SYS_clone3, &args, sizeof args);
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

static void relay_child(pid_t child) {
  int status;
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, NULL);
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR)
      _exit(1);
  mirror_status(status);
}

/* Try each candidate path the way execvp does: go on past ENOENT and EACCES, report EACCES first. */
static void exec_paths(const struct nsrun_ctx *c, const struct nsrun_exec *e, const int32_t *paths,
                       int npaths) {
  int seen_eacces = 0;
  for (int i = 0; i < npaths; i++) {
    execve(str_at(c, paths[i]), e->argv, e->envp);
    if (errno == EACCES)
      seen_eacces = 1;
    else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
             errno != ETIMEDOUT)
      return;
  }
  if (seen_eacces)
    errno = EACCES;
}

/* Runs steps from index 0; returns the failing step index with errno set, or -1 on a wait-parent EOF. */
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
      rc = setns(a[0], a[1]);
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
      rc = syscall(SYS_setresgid, a[0], a[0], a[0]);
      break;
    case OP_SETRESUID:
      rc = syscall(SYS_setresuid, a[0], a[0], a[0]);
      break;
    case OP_PDEATHSIG:
      rc = prctl(PR_SET_PDEATHSIG, a[0], 0, 0, 0);
      if (rc == 0 && a[1] >= 0) {
        struct pollfd p = {a[1], POLLIN, 0};
        if (poll(&p, 1, 0) > 0)
          _exit(1); /* the parent died before the signal was armed */
      }
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
      rc = dup2(a[0], a[1]) < 0 ? -1 : 0;
      break;
    case OP_FORK_RELAY: {
      pid_t pid = raw_fork();
      if (pid < 0) {
        rc = -1;
        break;
      }
      if (pid > 0) {
        /* Only the grandchild may hold the pipes: their EOF tells the parent the exec happened. */
        close(c->status_fd);
        if (c->sync_fd >= 0)
          close(c->sync_fd);
        relay_child(pid);
      }
      break;
    }
    case OP_IGNORE_SIGNAL:
      signal(a[0], SIG_IGN);
      sigaddset(&c->ignored, a[0]);
      break;
    case OP_AMBIENT_CAPS:
      rc = ambient_caps();
      break;
    case OP_SETNS_SOFT:
      if (setns(a[0], a[1]) < 0)
        c->failed |= 1u << (a[2] & 31);
      break;
    case OP_SETNS_RETRY:
      if (c->failed & (1u << (a[2] & 31)))
        rc = setns(a[0], a[1]);
      break;
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
      struct clone_args args;
      memset(&args, 0, sizeof args);
      args.flags = CLONE_PARENT;
      pid_t pid = syscall(SYS_clone3, &args, sizeof args);
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
      reset_signals_except(&c->ignored);
      exec_paths(c, &c->execs[nexec++], paths, a[2 + nargs + nenv]);
      return step;
    }
    default:
      errno = ENOSYS;
      rc = -1;
    }
    if (rc < 0)
      return step;
    i += 2 + argc;
    step++;
  }
  errno = EINVAL; /* a program must end in an exec */
  return step;
}

/* Builds the argv/envp arrays of every OP_EXEC while malloc is still safe to call. */
static int prepare(struct nsrun_ctx *c) {
  int nexec = 0;
  sigemptyset(&c->ignored);
  if (c->len < 1 || c->prog[0] != NSRUN_VERSION) {
    errno = EPROTO;
    return -1;
  }
  for (int i = 1; i < c->len; i += 2 + c->prog[i + 1])
    if (c->prog[i] == OP_EXEC)
      nexec++;
  c->execs = calloc(nexec ? nexec : 1, sizeof *c->execs);
  if (!c->execs)
    return -1;
  nexec = 0;
  for (int i = 1; i < c->len; i += 2 + c->prog[i + 1]) {
    if (c->prog[i] != OP_EXEC)
      continue;
    const int32_t *a = c->prog + i + 2;
    int nargs = a[0], nenv = a[1 + nargs];
    struct nsrun_exec *e = &c->execs[nexec++];
    e->argv = calloc(nargs + 1, sizeof(char *));
    e->envp = calloc(nenv + 1, sizeof(char *));
    if (!e->argv || !e->envp)
      return -1;
    for (int k = 0; k < nargs; k++)
      e->argv[k] = (char *)str_at(c, a[1 + k]);
    for (int k = 0; k < nenv; k++)
      e->envp[k] = (char *)str_at(c, a[2 + nargs + k]);
  }
  return 0;
}

static void release(struct nsrun_ctx *c, int nexec) {
  for (int k = 0; k < nexec && c->execs; k++) {
    free(c->execs[k].argv);
    free(c->execs[k].envp);
  }
  free(c->execs);
}

static int count_execs(const struct nsrun_ctx *c) {
  int n = 0;
  for (int i = 1; i < c->len; i += 2 + c->prog[i + 1])
    n += c->prog[i] == OP_EXEC;
  return n;
}

/*
 * Runs the steps in the calling thread and execs. Returns only on failure:
 * the failing step index, with its errno in *err.
 */
int nsrun_here(const int32_t *prog, int len, const char *strs, int *err) {
  struct nsrun_ctx c = {.prog = prog, .len = len, .strs = strs, .sync_fd = -1, .status_fd = -1, .wd_fd = -1};
  if (prepare(&c) < 0) {
    *err = errno;
    release(&c, count_execs(&c));
    return -1;
  }
  int step = run_steps(&c);
  *err = errno;
  release(&c, count_execs(&c));
  return step;
}

/*
 * Clones a child with clone_flags (CLONE_NEW* only) that runs the steps and
 * execs. Returns the child's PID, or -1 with errno in *err. out[0] is the
 * child's pidfd, out[1] the status pipe (read: 8-byte (step, errno) records;
 * errno 0 is a tell-parent; EOF means the exec happened), out[2] the sync
 * pipe (write one byte to release a wait-parent step).
 */
int nsrun_clone(const int32_t *prog, int len, const char *strs, uint32_t clone_flags, int *out,
                int *err) {
  struct nsrun_ctx c = {.prog = prog, .len = len, .strs = strs, .sync_fd = -1, .status_fd = -1, .wd_fd = -1};
  int status_pipe[2] = {-1, -1}, sync_pipe[2] = {-1, -1}, pidfd = -1;
  pid_t pid = -1;
  if (prepare(&c) < 0 || pipe2(status_pipe, O_CLOEXEC) < 0 || pipe2(sync_pipe, O_CLOEXEC) < 0)
    goto fail;
  c.status_fd = status_pipe[1];
  c.sync_fd = sync_pipe[0];

  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = (uint64_t)clone_flags | CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0)
    goto fail;
  if (pid == 0) {
    /* The child: a copy of the calling thread, sharing nothing with JavaScript. */
    close(status_pipe[0]);
    close(sync_pipe[1]);
    reset_signals();
    int32_t msg[2];
    msg[0] = run_steps(&c);
    msg[1] = errno ? errno : EINVAL;
    ssize_t ignored = write(c.status_fd, msg, sizeof msg);
    (void)ignored;
    _exit(127);
  }
  close(status_pipe[1]);
  close(sync_pipe[0]);
  release(&c, count_execs(&c));
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
  release(&c, count_execs(&c));
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
 * ns-waiter PID [forward] [stop]: waits for PID (a child this process
 * inherited across exec) and leaves with its status. By default SIGINT and
 * SIGTERM are blocked, so only the child reacts to Ctrl-C; with "forward"
 * they are passed on to the child; with "stop" a stopped child stops the
 * waiter too, and continuing the waiter continues the child.
 */
#include <stdio.h>

static pid_t waited_child;

static void forward(int sig) { kill(waited_child, sig); }

int main(int argc, char **argv) {
  int forward_signals = 0, follow_stops = 0, status;
  if (argc < 2 || (waited_child = atoi(argv[1])) <= 0) {
    fprintf(stderr, "usage: ns-waiter PID [forward] [stop]\n");
    return 1;
  }
  for (int i = 2; i < argc; i++) {
    forward_signals |= strcmp(argv[i], "forward") == 0;
    follow_stops |= strcmp(argv[i], "stop") == 0;
  }
  /* Node left SIGINT and SIGTERM ignored across the exec: no window where they kill us. */
  if (forward_signals) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
  } else {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, NULL);
  }
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
