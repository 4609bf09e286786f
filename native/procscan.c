/*
 * procscan: a batched reader of /proc for namespace listings (ts-nsls).
 *
 * Mechanism only: for a batch of tasks it reads what it is asked (namespace
 * links, PPID, UID, COMMAND, descriptors that hold namespaces) into the
 * caller's arrays, in one call from JavaScript instead of a dozen calls per
 * process; what to list and how stays in TypeScript. Built into libnsrun.so.
 *
 * nsscan() shares a large batch among threads it starts and joins itself;
 * every function is also safe to call from several threads at once. Nothing
 * is kept from one call to the next: what a thread of a call learns as it
 * reads (the descriptor template and its pidfd, the nsfs device, the known
 * non-nsfs paths, what the kernel supports) is in a struct reader of that
 * call, dropped before it returns, so a call sees the processes as they are
 * then. The record layout (NSSCAN_REC doubles, the kinds below) is read by
 * packages/syscalls/src/procscan.ts.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/types.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NSSCAN_MAX_TYPES 16
/* A descriptor record: task index, descriptor, kind, inode (kinds below). */
#define NSSCAN_REC 4
/* kind of a record: 0..ntypes-1 the namespace type of an nsfs link; or */
#define NSSCAN_KIND_NSFS(ntypes) (ntypes)       /* a file on nsfs: its type needs an ioctl */
#define NSSCAN_KIND_SOCKET(ntypes) ((ntypes) + 1) /* a socket, by its own inode */

#ifndef SYS_kcmp
#define SYS_kcmp 312
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#define KCMP_FILE 0
/* _IOWR(0xff, 11, struct pidfd_info), the struct's first (64-byte) version, Linux 6.13+ */
#define NSSCAN_PIDFD_GET_INFO _IOWR(0xff, 11, char[64])
#define NSSCAN_PIDFD_INFO_PID 1u

/* The names of the types asked for, split once per call. */
struct types {
  int n;
  const char *name[NSSCAN_MAX_TYPES];
  size_t len[NSSCAN_MAX_TYPES];
};

static int split_types(const char *names, int ntypes, struct types *t) {
  if (ntypes < 0 || ntypes > NSSCAN_MAX_TYPES)
    return -1;
  t->n = ntypes;
  for (int i = 0; i < ntypes; i++) {
    t->name[i] = names;
    t->len[i] = strlen(names);
    names += t->len[i] + 1;
  }
  return 0;
}

/* The number after the first '[' of s[0, n), as nsfs and sockfs links show it ("net:[4026531840]"); 0 if none. */
static double bracket_number(const char *s, ssize_t n) {
  const char *open = memchr(s, '[', (size_t)n);
  if (!open)
    return 0;
  double v = 0;
  for (const char *p = open + 1; p < s + n && *p >= '0' && *p <= '9'; p++)
    v = v * 10 + (*p - '0');
  return v;
}

static void task_dir(char *buf, size_t size, int32_t pid, int32_t tgid, const char *tail) {
  if (pid == tgid)
    snprintf(buf, size, "/proc/%d%s", pid, tail);
  else
    snprintf(buf, size, "/proc/%d/task/%d%s", tgid, pid, tail);
}

#define KNOWN_PATHS 32
#define TEMPLATE_FDS 64

/*
 * What one thread of one call learns as it reads, set up when the call
 * starts (reader_init) and dropped before it returns (reader_done): no
 * process, path or descriptor of one call is taken for the same in the next.
 */
struct reader {
  /* PIDFD_GET_INFO works (cleared on a kernel without it, or where /proc is foreign) */
  int pidfd_info_works;
  /* kcmp, pidfds and fd/'s size as its count are there (cleared where not, or /proc is foreign) */
  int can_compare;
  int fd_count_checked; /* can_compare has been checked against fd/'s size */
  long nsfs_major, nsfs_minor; /* the nsfs device (major -1: not known yet) */
  /* link texts of descriptors found not to be on nsfs (/dev/null, log files), a few, round robin */
  char known_path[KNOWN_PATHS][128];
  int known_next;
  /*
   * The last process whose descriptors were all read and found to hold
   * nothing (stdio on /dev/null, a log file, a pipe), with a pidfd to tell
   * whether it is still the same process.
   */
  struct {
    int32_t pid;
    int pidfd; /* -1: no template */
    int nfds;
    int fds[TEMPLATE_FDS];
  } template;
};

/*
 * Whether /proc numbers processes in another PID namespace than ours (a
 * new one that kept its parent's /proc, as `unshare -pf` without
 * --mount-proc): its /proc/self is not our getpid() then. pidfd_open and
 * kcmp take a PID of the caller's own namespace, where a PID read from that
 * /proc is another process or none: then PPIDs come from stat, as lsns has
 * them, and descriptors are read without a template.
 */
static int proc_is_foreign(void) {
  char link[32];
  ssize_t n = readlink("/proc/self", link, sizeof link - 1);
  if (n <= 0)
    return 0;
  link[n] = 0;
  return atol(link) != (long)getpid();
}

static void reader_init(struct reader *rd) {
  int foreign = proc_is_foreign();
  rd->pidfd_info_works = !foreign;
  rd->can_compare = !foreign;
  rd->fd_count_checked = 0;
  rd->nsfs_major = rd->nsfs_minor = -1;
  for (int i = 0; i < KNOWN_PATHS; i++)
    rd->known_path[i][0] = 0;
  rd->known_next = 0;
  rd->template.pid = 0;
  rd->template.pidfd = -1;
  rd->template.nfds = 0;
}

static void reader_done(struct reader *rd) {
  if (rd->template.pidfd >= 0)
    close(rd->template.pidfd);
  rd->template.pidfd = -1;
}

/* The parent PID of the task whose ns/ directory is nsdir (pid given for a process, -1 for a thread); -1 if gone. */
static double read_ppid(struct reader *rd, int nsdir, int32_t pid) {
  if (pid > 0 && rd->pidfd_info_works) {
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
      uint32_t info[16] = {NSSCAN_PIDFD_INFO_PID};
      int r = ioctl(fd, NSSCAN_PIDFD_GET_INFO, info);
      int err = errno;
      close(fd);
      if (r == 0)
        return info[6]; /* ppid: after mask (u64), cgroupid (u64), pid, tgid */
      if (err == ENOTTY || err == EINVAL)
        rd->pidfd_info_works = 0;
    } else if (errno == ENOSYS)
      rd->pidfd_info_works = 0;
  }
  char buf[1024];
  int fd = openat(nsdir, "../stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n <= 0)
    return -1;
  /* after the last ')': " S PPID" (the command may hold ')' itself) */
  char *p = memrchr(buf, ')', (size_t)n);
  if (!p || p + 4 >= buf + n)
    return -1;
  double v = 0;
  for (p += 4; p < buf + n && *p >= '0' && *p <= '9'; p++)
    v = v * 10 + (*p - '0');
  return v;
}

/*
 * COMMAND as lsns shows it into out[0, cap): the first 8 KiB of cmdline with
 * NULs as blanks and its last byte dropped; for an empty cmdline (a kernel
 * thread) comm less its newline. Its length, or -1 if both are unreadable or
 * empty, or -2 if it does not fit in cap bytes. nsdir: the task's ns/.
 */
static int read_command(int nsdir, char *out, int cap) {
  static const char *const files[] = {"../cmdline", "../comm"};
  char buf[8192];
  for (int f = 0; f < 2; f++) {
    int fd = openat(nsdir, files[f], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0)
      continue;
    if (n - 1 > cap)
      return -2;
    for (ssize_t i = 0; i < n - 1; i++)
      out[i] = buf[i] ? buf[i] : ' ';
    return (int)(n - 1);
  }
  return -1;
}

/*
 * nsscan_list: the processes under /proc, in its order (ascending PIDs), as
 * (pid, pid) pairs in tasks[0, 2 * cap). Returns how many there are (more
 * than cap: the caller asks again with more room), or -errno.
 */
int nsscan_list(int32_t *tasks, int32_t cap) {
  DIR *d = opendir("/proc");
  if (!d)
    return -errno;
  int32_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *p = e->d_name;
    if (*p < '0' || *p > '9')
      continue;
    int32_t pid = 0;
    for (; *p >= '0' && *p <= '9'; p++)
      pid = pid * 10 + (*p - '0');
    if (n < cap)
      tasks[2 * n] = tasks[2 * n + 1] = pid;
    n++;
  }
  closedir(d);
  return n;
}

/*
 * The namespaces a thread has met, as a set of inodes (open addressing;
 * 0 is never an inode): the first task of a namespace is the one whose
 * details a listing may show.
 */
struct seen {
  uint64_t *slot;
  size_t size; /* a power of two, or 0 before the first insertion */
  size_t used;
};

/* Adds inode v: 1 when it is new, 0 when it was there, -1 out of memory (taken as new). */
static int seen_add(struct seen *s, uint64_t v) {
  if (2 * (s->used + 1) > s->size) {
    size_t size = s->size ? 2 * s->size : 1024;
    uint64_t *slot = calloc(size, sizeof *slot);
    if (!slot)
      return -1;
    for (size_t i = 0; i < s->size; i++)
      if (s->slot[i])
        for (size_t h = (s->slot[i] * 0x9e3779b97f4a7c15ull) & (size - 1);; h = (h + 1) & (size - 1))
          if (!slot[h]) {
            slot[h] = s->slot[i];
            break;
          }
    free(s->slot);
    s->slot = slot;
    s->size = size;
  }
  for (size_t h = (v * 0x9e3779b97f4a7c15ull) & (s->size - 1);; h = (h + 1) & (s->size - 1)) {
    if (s->slot[h] == v)
      return 0;
    if (!s->slot[h]) {
      s->slot[h] = v;
      s->used++;
      return 1;
    }
  }
}

static int known_not_nsfs(const struct reader *rd, const char *link) {
  for (int i = 0; i < KNOWN_PATHS; i++)
    if (rd->known_path[i][0] && strcmp(rd->known_path[i], link) == 0)
      return 1;
  return 0;
}

static void remember_not_nsfs(struct reader *rd, const char *link) {
  if (strlen(link) >= sizeof rd->known_path[0])
    return;
  strcpy(rd->known_path[rd->known_next], link);
  rd->known_next = (rd->known_next + 1) % KNOWN_PATHS;
}

/* Output records being written; full when one more does not fit. */
struct records {
  double *rec;
  int32_t cap, n;
};

static int put_record(struct records *r, int32_t task, int fd, int kind, double inode) {
  if (r->n >= r->cap)
    return -1;
  double *p = r->rec + (size_t)r->n * NSSCAN_REC;
  p[0] = task;
  p[1] = fd;
  p[2] = kind;
  p[3] = inode;
  r->n++;
  return 0;
}

/*
 * What descriptor fd holds, from its link text (len bytes, NUL-ended): an
 * nsfs link "type:[inode]", a socket, a path on nsfs (an opened bind mount
 * of a namespace), or nothing. name is its link relative to dirfd. Returns
 * -1 when the records are full.
 */
static int classify(struct reader *rd, struct records *r, const struct types *t, int32_t task,
                    int dirfd, const char *name, int fd, char *link, ssize_t len) {
  if (link[0] == '/') {
    /* "/" is what a descriptor on a detached mount shows: never take it for a known file */
    int root = len == 1;
    if (!root && known_not_nsfs(rd, link))
      return 0;
    struct stat st;
    if (rd->nsfs_major < 0) {
      if (stat("/proc/self/ns/user", &st) == 0) {
        rd->nsfs_major = major(st.st_dev);
        rd->nsfs_minor = minor(st.st_dev);
      } else
        rd->nsfs_major = rd->nsfs_minor = 0x7fffffff;
    }
    if (fstatat(dirfd, name, &st, 0) < 0)
      return 0;
    if ((long)major(st.st_dev) == rd->nsfs_major && (long)minor(st.st_dev) == rd->nsfs_minor)
      return put_record(r, task, fd, NSSCAN_KIND_NSFS(t->n), (double)st.st_ino);
    if (!root)
      remember_not_nsfs(rd, link);
    return 0;
  }
  const char *colon = memchr(link, ':', (size_t)len);
  /* "socket" or a namespace name (at most 6 letters) before ":[": pipes, anon_inode:[...] are neither */
  if (!colon || colon - link > 6 || colon[1] != '[')
    return 0;
  double inode = bracket_number(colon, len - (colon - link));
  if (inode <= 0)
    return 0;
  size_t head = (size_t)(colon - link);
  if (head == 6 && memcmp(link, "socket", 6) == 0)
    return put_record(r, task, fd, NSSCAN_KIND_SOCKET(t->n), inode);
  for (int i = 0; i < t->n; i++)
    if (t->len[i] == head && memcmp(t->name[i], link, head) == 0)
      return put_record(r, task, fd, i, inode);
  return 0;
}

/*
 * The descriptors of pid by comparison with the template: 1 when done, 0
 * when it does not work out (then read them all), -1 when the records are
 * full. Most processes inherit their descriptors from a common parent, so
 * descriptor N is often the very same open file as the template's
 * descriptor N: kcmp(KCMP_FILE) tells that in one system call, and the same
 * open file holds the same nothing, so only the descriptors that differ have
 * their link read. The number of descriptors (the size of fd/, Linux 6.2+)
 * equal to the template's, and each of the template's numbers open here too
 * (kcmp fails otherwise), mean there is no other descriptor: fd/ need not be
 * listed. Checked last: that the template process is still alive, since
 * kcmp takes a PID, and one reused by another process meanwhile would have
 * compared with that one's files.
 */
static int held_like_template(struct reader *rd, struct records *r, const struct types *t,
                              int32_t task, int32_t pid, int at, const char *fddir) {
  if (rd->template.pidfd < 0 || !rd->can_compare)
    return 0;
  struct stat st;
  if (fstatat(at, fddir, &st, 0) < 0 || st.st_size != rd->template.nfds)
    return 0;
  int32_t mark = r->n;
  for (int i = 0; i < rd->template.nfds; i++) {
    int fd = rd->template.fds[i];
    long same = syscall(SYS_kcmp, rd->template.pid, pid, KCMP_FILE, fd, fd);
    if (same == 0)
      continue; /* the same open file: nothing */
    if (same < 0) {
      if (errno == ENOSYS)
        rd->can_compare = 0;
      r->n = mark;
      return 0; /* not open here (or there): the numbers differ */
    }
    /* open here, but another file: read its link */
    char name[80], link[4096];
    snprintf(name, sizeof name, "%s/%d", fddir, fd);
    ssize_t len = readlinkat(at, name, link, sizeof link - 1);
    if (len <= 0) {
      r->n = mark;
      return 0; /* closed meanwhile */
    }
    link[len] = 0;
    if (classify(rd, r, t, task, at, name, fd, link, len) < 0)
      return -1;
  }
  /* signal 0 only checks: it fails with ESRCH once the template process has ended */
  if (syscall(SYS_pidfd_send_signal, rd->template.pidfd, 0, NULL, 0) != 0 && errno == ESRCH) {
    close(rd->template.pidfd);
    rd->template.pidfd = -1;
    r->n = mark;
    return 0;
  }
  return 1;
}

/* Makes process pid, whose descriptors fds[0, nfds) hold nothing, the template. */
static void remember_template(struct reader *rd, int32_t pid, const int *fds, int nfds) {
  if (!rd->can_compare || nfds == 0 || nfds > TEMPLATE_FDS)
    return;
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    if (errno == ENOSYS)
      rd->can_compare = 0;
    return;
  }
  if (rd->template.pidfd >= 0)
    close(rd->template.pidfd);
  rd->template.pid = pid;
  rd->template.pidfd = pidfd;
  rd->template.nfds = nfds;
  memcpy(rd->template.fds, fds, (size_t)nfds * sizeof *fds);
}

/* All descriptors of pid (its fd/ at fddir from at) read and classified; -1 when the records are full. */
static int held_all(struct reader *rd, struct records *r, const struct types *t, int32_t task,
                    int32_t pid, int at, const char *fddir) {
  int dirfd = openat(at, fddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return 0;
  DIR *d = fdopendir(dirfd);
  if (!d) {
    close(dirfd);
    return 0;
  }
  int32_t mark = r->n;
  int fds[TEMPLATE_FDS], nfds = 0, overflow = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    int fd = 0;
    for (const char *p = e->d_name; *p; p++)
      fd = fd * 10 + (*p - '0');
    char link[4096];
    ssize_t len = readlinkat(dirfd, e->d_name, link, sizeof link - 1);
    if (nfds < TEMPLATE_FDS)
      fds[nfds++] = fd;
    else
      overflow = 1;
    if (len <= 0)
      continue; /* closed meanwhile */
    link[len] = 0;
    if (classify(rd, r, t, task, dirfd, e->d_name, fd, link, len) < 0) {
      closedir(d);
      return -1;
    }
  }
  closedir(d);
  if (r->n == mark && !overflow)
    remember_template(rd, pid, fds, nfds);
  return 0;
}

/* Since Linux 6.2 the size of /proc/PID/fd is its number of descriptors. */
static int fd_count_in_size(void) {
  struct stat st;
  return stat("/proc/self/fd", &st) == 0 && st.st_size > 0;
}

/*
 * Descriptors of one task k (skipped for a thread), whose fd/ is at fddir
 * from at; -1 when the records are full (r then unchanged).
 */
static int fds_of_task(struct reader *rd, struct records *r, const struct types *t,
                       const int32_t *tasks, int32_t k, int at, const char *fddir) {
  if (!rd->fd_count_checked) {
    rd->fd_count_checked = 1;
    if (!fd_count_in_size())
      rd->can_compare = 0;
  }
  int32_t pid = tasks[2 * k];
  if (pid != tasks[2 * k + 1])
    return 0;
  int32_t mark = r->n;
  int done = held_like_template(rd, r, t, k, pid, at, fddir);
  if (done == 0)
    done = held_all(rd, r, t, k, pid, at, fddir);
  if (done < 0) {
    r->n = mark;
    return -1;
  }
  return 0;
}

/*
 * nsscan_fds: the descriptors that hold a namespace or a socket, of each
 * process among tasks[0, n) (threads, whose pid differs from their
 * process's, are skipped: they share its descriptors), as records of
 * NSSCAN_REC doubles in rec[0, cap): task index, descriptor, kind (the type
 * index of an nsfs link, ntypes for a file on nsfs, ntypes + 1 for a
 * socket), inode. *nrec gets the number of records. Returns the number of
 * tasks done: fewer than n when the records are full (the caller goes on
 * from there; 0 means one process alone has more than cap), or -errno.
 */
int nsscan_fds(const int32_t *tasks, int32_t n, const char *names, int32_t ntypes, double *rec,
               int32_t cap, int32_t *nrec) {
  struct types t;
  if (split_types(names, ntypes, &t) < 0)
    return -EINVAL;
  struct records r = {rec, cap, 0};
  struct reader rd;
  reader_init(&rd);
  int32_t k = 0;
  for (; k < n; k++) {
    char fddir[48];
    snprintf(fddir, sizeof fddir, "/proc/%d/fd", tasks[2 * k]);
    if (fds_of_task(&rd, &r, &t, tasks, k, AT_FDCWD, fddir) < 0)
      break;
  }
  reader_done(&rd);
  *nrec = r.n;
  return k;
}

/*
 * The parallel scan. Each lane (thread) claims chunks of tasks and reads
 * each task whole: links, details, descriptors, all relative to its ns/
 * directory while it is open (a walk from / through /proc/PID costs as much
 * as a link's read). Chunks keep the lanes on different processes. A lane
 * that gets little CPU (another program on its core) claims little: the
 * work goes to whoever is running.
 */
#define CHUNK 32
#define LANE_RECORDS 256
#define MAX_LANES 8

struct scan {
  const int32_t *tasks;
  int32_t n;
  struct types t;
  uint32_t mask;
  double *ns;
  uint8_t *alive;
  double *ppid, *uid; /* NULL: not wanted */
  char *cmd;          /* NULL: COMMAND not wanted */
  uint8_t *got;       /* NULL: details of every task; else only of the first of a namespace */
  int32_t cmdcap;
  int32_t *cmdoff, *cmdlen;
  double *rec; /* NULL: no descriptors */
  int32_t cap;
  uint8_t *held;    /* per task: 1 when its descriptors are all in rec */
  int32_t nrec;     /* records reserved so far, never more than cap (atomic) */
  int32_t next_chunk; /* the first task of the next unclaimed chunk (atomic) */
  int32_t next_lane;  /* lanes take a number as they start (atomic) */
  int32_t lanes;
  int32_t error; /* the first -errno (atomic) */
};

/* A lane's share of the COMMAND buffer: cmd[base, end), used up to used; what it has learnt. */
struct lane {
  struct scan *s;
  int32_t base, end, used;
  struct seen seen;
  struct reader rd;
};

static void fail(struct scan *s, int err) {
  int32_t none = 0;
  __atomic_compare_exchange_n(&s->error, &none, err, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Room for n records in s->rec: its first index in *at; 0 when they do not fit. */
static int reserve(struct scan *s, int32_t n, int32_t *at) {
  int32_t cur = __atomic_load_n(&s->nrec, __ATOMIC_SEQ_CST);
  do
    if (cur + n > s->cap)
      return 0;
  while (!__atomic_compare_exchange_n(&s->nrec, &cur, cur + n, 0, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST));
  *at = cur;
  return 1;
}

/*
 * The descriptors of task k, whose ns/ is nsdir: its records go to the
 * lane's own buffer, then into the shared one in one piece; where they do
 * not fit, held[k] is cleared for the caller to read them again.
 */
static void held_of_task(struct reader *rd, struct scan *s, int32_t k, int nsdir) {
  double local[LANE_RECORDS * NSSCAN_REC];
  struct records r = {local, LANE_RECORDS, 0};
  int32_t at;
  if (fds_of_task(rd, &r, &s->t, s->tasks, k, nsdir, "../fd") < 0 || !reserve(s, r.n, &at)) {
    s->held[k] = 0;
    return;
  }
  memcpy(s->rec + (size_t)at * NSSCAN_REC, local, (size_t)r.n * NSSCAN_REC * sizeof *local);
}

/*
 * nsscan_links: for each task k of tasks[0, n) (pid tasks[2k], its process
 * tasks[2k+1]), the inodes of the namespace links asked for (bit i of mask:
 * the type named t->name[i]) into ns[k*t->n + i]: > 0, or 0 when the link
 * may not be read. alive[k] is 0 when the task's directory could not be
 * opened or every link asked for was gone (the task ended, or the kernel
 * lacks the type), else 1.
 *
 * Given ppid, uid, or cmd with cmdoff and cmdlen (else NULL), also PPID and
 * UID (0 for a task that has gone, as lsns' failed reads show) and COMMAND:
 * its bytes are appended to cmd[0, cmdcap), cmdoff[k] and cmdlen[k] say
 * where (cmdlen -1: none). Given seen, the details only of a task that is
 * the first seen of one of its namespaces (got[k] = 1 where they were read).
 * Given fds, also the descriptors of each process, into that scan's
 * records (base: the index of tasks[0] in its tasks).
 * Returns the number of tasks done: fewer than n when cmd is full (the
 * caller goes on from there with a fresh buffer), or -errno for an
 * unexpected failure.
 */
static int nsscan_links(struct reader *rd, const int32_t *tasks, int32_t n, const struct types *t,
                        uint32_t mask, double *ns, uint8_t *alive, double *ppid, double *uid,
                        char *cmd, int32_t cmdcap, int32_t *cmdoff, int32_t *cmdlen,
                        struct seen *seen, uint8_t *got, struct scan *fds, int32_t base) {
  int32_t ntypes = t->n;
  int want_cmd = cmd && cmdoff && cmdlen;
  int info = ppid || uid || want_cmd;
  int32_t used = 0;
  char path[64];
  char link[64];
  for (int32_t k = 0; k < n; k++) {
    int32_t pid = tasks[2 * k], tgid = tasks[2 * k + 1];
    alive[k] = 0;
    if (got)
      got[k] = 0;
    for (int i = 0; i < ntypes; i++)
      ns[k * ntypes + i] = 0;
    if (ppid)
      ppid[k] = 0;
    if (uid)
      uid[k] = 0;
    if (want_cmd) {
      cmdlen[k] = -1;
      cmdoff[k] = used;
    }
    /*
     * The ns/ directory: each link then walks one component, each walk
     * through /proc/PID revalidating it (the kernel's most of a scan); the
     * details are "../" from there.
     */
    task_dir(path, sizeof path, pid, tgid, "/ns");
    int dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
      continue;
    int asked = 0, gone = 0;
    for (int i = 0; i < ntypes; i++) {
      if (!(mask & (1u << i)))
        continue;
      asked++;
      ssize_t len = readlinkat(dir, t->name[i], link, sizeof link);
      if (len < 0) {
        if (errno == ENOENT || errno == ESRCH)
          gone++;
        else if (errno != EACCES) {
          int err = errno;
          close(dir);
          return -err;
        }
        continue;
      }
      ns[k * ntypes + i] = bracket_number(link, len);
    }
    if (asked == 0 || gone < asked)
      alive[k] = 1;
    int first = !seen;
    for (int i = 0; info && seen && i < ntypes; i++)
      if (ns[k * ntypes + i] > 0 && seen_add(seen, (uint64_t)ns[k * ntypes + i]) != 0)
        first = 1;
    if (info && first) {
      if (got)
        got[k] = 1;
      if (ppid) {
        double p = read_ppid(rd, dir, pid == tgid ? pid : -1);
        ppid[k] = p < 0 ? 0 : p;
      }
      struct stat st;
      /* ns/ has the owner of its task's directory (the kernel's task_dump_owner for both) */
      if (uid && fstatat(dir, "", &st, AT_EMPTY_PATH) == 0)
        uid[k] = st.st_uid;
      if (want_cmd) {
        int len = read_command(dir, cmd + used, cmdcap - used);
        if (len == -2) {
          close(dir);
          if (k == 0)
            return -ENOBUFS;
          return k; /* the caller starts again at task k with an empty buffer */
        }
        cmdlen[k] = len;
        if (len > 0)
          used += len;
      }
    }
    if (fds)
      held_of_task(rd, fds, base + k, dir);
    close(dir);
  }
  return n;
}

/*
 * Links and details of tasks [start, end). COMMANDs go to the lane's share
 * of the buffer; those that do not fit are left unread (cmdlen -2), for the
 * caller to read after.
 */
static void links_chunk(struct lane *l, int32_t start, int32_t end) {
  struct scan *s = l->s;
  int want_cmd = s->cmd != NULL;
  for (int32_t k = start; k < end;) {
    int full = want_cmd && l->end - l->used < 8192;
    int r = nsscan_links(&l->rd, s->tasks + 2 * k, end - k, &s->t, s->mask,
                         s->ns + (size_t)k * s->t.n, s->alive + k, s->ppid ? s->ppid + k : NULL,
                         s->uid ? s->uid + k : NULL, want_cmd && !full ? s->cmd + l->used : NULL,
                         l->end - l->used, want_cmd && !full ? s->cmdoff + k : NULL,
                         want_cmd && !full ? s->cmdlen + k : NULL, s->got ? &l->seen : NULL,
                         s->got ? s->got + k : NULL, s->rec ? s : NULL, k);
    if (r < 0) {
      fail(s, r);
      return;
    }
    if (want_cmd && full)
      for (int32_t i = k; i < end; i++)
        s->cmdlen[i] = -2;
    if (want_cmd && !full) {
      /* the offsets nsscan_links gave are from where this call started writing */
      int32_t base = l->used;
      for (int32_t i = k; i < k + r; i++) {
        s->cmdoff[i] += base;
        if (s->cmdlen[i] > 0)
          l->used += s->cmdlen[i];
      }
    }
    k += r;
  }
}

/* Claims and runs chunks until there are none left (or the scan failed). */
static void drain(struct lane *l) {
  struct scan *s = l->s;
  for (;;) {
    if (__atomic_load_n(&s->error, __ATOMIC_SEQ_CST))
      return;
    int32_t start = __atomic_fetch_add(&s->next_chunk, CHUNK, __ATOMIC_SEQ_CST);
    if (start >= s->n)
      return;
    links_chunk(l, start, start + CHUNK < s->n ? start + CHUNK : s->n);
  }
}

/* Lane number i: its share of the COMMAND buffer. */
static void run_lane(struct scan *s, int32_t i) {
  int32_t share = s->cmdcap / s->lanes;
  struct lane l = {.s = s, .base = i * share, .end = (i + 1) * share, .used = i * share};
  reader_init(&l.rd);
  drain(&l);
  reader_done(&l.rd);
  free(l.seen.slot);
}

static void *lane_thread(void *arg) {
  struct scan *s = arg;
  run_lane(s, __atomic_add_fetch(&s->next_lane, 1, __ATOMIC_SEQ_CST));
  return NULL;
}

/*
 * nsscan: nsscan_links of every task of tasks[0, n), details included
 * (COMMANDs that did not fit their lane's share of cmd are left unread,
 * cmdlen -2: the caller reads them after; given got, details only of a task
 * that is the first its thread meets of one of its namespaces, a superset
 * of each namespace's lowest PID: got[k] says which), and given rec and
 * held, the descriptors of every process into rec[0, cap) (records as
 * nsscan_fds writes them, in no particular order between processes; *nrec
 * of them; held[k] is 0 for a process whose records did not fit), in up to
 * `lanes` threads: this one and lanes - 1 it starts (every signal blocked
 * in them) and joins before it returns. Returns 0; 1 when some records did
 * not fit (the caller reads those processes' descriptors with nsscan_fds
 * and more room); or -errno.
 */
int nsscan(const int32_t *tasks, int32_t n, const char *names, int32_t ntypes, uint32_t mask,
           double *ns, uint8_t *alive, double *ppid, double *uid, char *cmd, int32_t cmdcap,
           int32_t *cmdoff, int32_t *cmdlen, uint8_t *got, double *rec, int32_t cap,
           int32_t *nrec, uint8_t *held, int32_t lanes) {
  struct scan s = {.tasks = tasks, .n = n, .mask = mask, .ns = ns, .alive = alive,
                   .ppid = ppid, .uid = uid, .cmd = cmdoff && cmdlen ? cmd : NULL,
                   .cmdcap = cmdcap, .cmdoff = cmdoff, .cmdlen = cmdlen, .got = got,
                   .rec = held ? rec : NULL, .cap = cap, .held = held};
  if (split_types(names, ntypes, &s.t) < 0 || ntypes == 0)
    return -EINVAL;
  if (held)
    memset(held, 1, (size_t)n);
  s.lanes = lanes < 1 ? 1 : lanes > MAX_LANES ? MAX_LANES : lanes;
  pthread_t threads[MAX_LANES];
  int started = 0;
  pthread_attr_t attr;
  sigset_t all;
  sigfillset(&all);
  if (s.lanes > 1 && pthread_attr_init(&attr) == 0) {
    pthread_attr_setsigmask_np(&attr, &all);
    for (; started < s.lanes - 1; started++)
      if (pthread_create(&threads[started], &attr, lane_thread, &s) != 0)
        break; /* fewer lanes: the work gets done all the same */
    pthread_attr_destroy(&attr);
  }
  run_lane(&s, 0);
  for (int i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  if (nrec)
    *nrec = s.nrec;
  if (s.error)
    return s.error;
  return held && memchr(held, 0, (size_t)n) ? 1 : 0;
}
