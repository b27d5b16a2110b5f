/*
 * common/sys.c -- the system-call table (h5tier_sys) and the fault injector.
 *
 * Each default entry is a thin function that, when any fault is armed,
 * consults the injector before making the real call.  When nothing is armed
 * the cost is one predictable branch.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/internal.h"

enum {
    SC_OPEN, SC_OPENAT, SC_CLOSE, SC_SHM_OPEN, SC_SHM_UNLINK, SC_FTRUNCATE, SC_FALLOCATE, SC_MMAP,
    SC_MUNMAP, SC_MREMAP, SC_MADVISE, SC_PREAD, SC_PWRITE, SC_FSYNC, SC_FDATASYNC, SC_RENAME,
    SC_UNLINK, SC_FLOCK, SC_FSTAT, SC_FCHMOD, SC_COPY_FILE_RANGE, SC_LINK, SC_SYNC_FILE_RANGE, SC_MKDIR, SC_PWRITEV, SC_N
};
static const char *const sc_names[SC_N] = {
    "open", "openat", "close", "shm_open", "shm_unlink", "ftruncate", "fallocate", "mmap",
    "munmap", "mremap", "madvise", "pread", "pwrite", "fsync", "fdatasync", "rename",
    "unlink", "flock", "fstat", "fchmod", "copy_file_range", "link", "sync_file_range", "mkdir",
    "pwritev"};

struct fault {
    unsigned long nth; /* 0 = not armed */
    int err;
    unsigned flags;
};
static atomic_int armed;              /* any fault armed, or counting */
static atomic_long calls[SC_N];       /* calls seen since arm/clear */
static struct fault faults[SC_N];
static atomic_long fired;

/* Returns 0 to proceed, -1 with errno set to fail, or 1 for a short transfer. */
static int check(int sc)
{
    long n = atomic_fetch_add(&calls[sc], 1) + 1;
    struct fault *f = &faults[sc];
    if (!f->nth || (unsigned long)n < f->nth)
        return 0;
    if ((unsigned long)n > f->nth && !(f->flags & H5TIER_FAULT_PERSIST))
        return 0;
    atomic_fetch_add(&fired, 1);
    if (f->flags & H5TIER_FAULT_KILL)
        raise(SIGKILL);
    if (f->flags & H5TIER_FAULT_SHORT)
        return 1;
    errno = f->err ? f->err : EIO;
    return -1;
}
#define GATE(sc, failval)                                                      \
    do {                                                                       \
        if (H5TIER_UNLIKELY(atomic_load_explicit(&armed, memory_order_relaxed)) && check(sc) < 0) \
            return failval;                                                    \
    } while (0)

static int d_open(const char *p, int fl, mode_t m) { GATE(SC_OPEN, -1); return open(p, fl, m); }
static int d_openat(int d, const char *p, int fl, mode_t m) { GATE(SC_OPENAT, -1); return openat(d, p, fl, m); }
static int d_close(int fd) { GATE(SC_CLOSE, -1); return close(fd); }
/* shm objects are files in h5tier__shm_dir(): see shmdir.c (O_NOFOLLOW|O_NONBLOCK). */
static int d_shm_open(const char *n, int fl, mode_t m) { GATE(SC_SHM_OPEN, -1); return h5tier__shm_open_path(n, fl, m); }
static int d_shm_unlink(const char *n) { GATE(SC_SHM_UNLINK, -1); return h5tier__shm_unlink_path(n); }
static int d_ftruncate(int fd, off_t l) { GATE(SC_FTRUNCATE, -1); return ftruncate(fd, l); }
static int d_fallocate(int fd, off_t o, off_t l)
{
    GATE(SC_FALLOCATE, -1);
    int r = posix_fallocate(fd, o, l);
    if (r) {
        errno = r;
        return -1;
    }
    return 0;
}
static void *d_mmap(void *a, size_t l, int pr, int fl, int fd, off_t o) { GATE(SC_MMAP, MAP_FAILED); return mmap(a, l, pr, fl, fd, o); }
static int d_munmap(void *a, size_t l) { GATE(SC_MUNMAP, -1); return munmap(a, l); }
static void *d_mremap(void *a, size_t ol, size_t nl, int fl) { GATE(SC_MREMAP, MAP_FAILED); return mremap(a, ol, nl, fl); }
static int d_madvise(void *a, size_t l, int adv) { GATE(SC_MADVISE, -1); return madvise(a, l, adv); }
/* The gate of the calls that can transfer short: -1 (errno set) to fail,
 * else 0 with *l halved (at least 1) when a short transfer is injected. */
static inline int gate_short(int sc, size_t *l)
{
    if (H5TIER_UNLIKELY(atomic_load_explicit(&armed, memory_order_relaxed))) {
        int c = check(sc);
        if (c < 0)
            return -1;
        if (c > 0 && *l > 1)
            *l /= 2;
    }
    return 0;
}
static ssize_t d_pread(int fd, void *b, size_t l, off_t o)
{
    return gate_short(SC_PREAD, &l) < 0 ? -1 : pread(fd, b, l, o);
}
static ssize_t d_pwrite(int fd, const void *b, size_t l, off_t o)
{
    return gate_short(SC_PWRITE, &l) < 0 ? -1 : pwrite(fd, b, l, o);
}
static int d_fsync(int fd) { GATE(SC_FSYNC, -1); return fsync(fd); }
static int d_fdatasync(int fd) { GATE(SC_FDATASYNC, -1); return fdatasync(fd); }
static int d_rename(const char *a, const char *b) { GATE(SC_RENAME, -1); return rename(a, b); }
static int d_unlink(const char *p) { GATE(SC_UNLINK, -1); return unlink(p); }
static int d_flock(int fd, int op) { GATE(SC_FLOCK, -1); return flock(fd, op); }
static int d_fstat(int fd, struct stat *st) { GATE(SC_FSTAT, -1); return fstat(fd, st); }
static int d_fchmod(int fd, mode_t m) { GATE(SC_FCHMOD, -1); return fchmod(fd, m); }
static ssize_t d_copy_file_range(int in, off_t *oin, int out, off_t *oout, size_t l, unsigned fl)
{
    return gate_short(SC_COPY_FILE_RANGE, &l) < 0 ? -1 : copy_file_range(in, oin, out, oout, l, fl);
}

static int d_mkdir(const char *p, mode_t m) { GATE(SC_MKDIR, -1); return mkdir(p, m); }
static int d_link(const char *a, const char *b) { GATE(SC_LINK, -1); return link(a, b); }
static int d_sync_file_range(int fd, off_t o, off_t l, unsigned fl)
{
    GATE(SC_SYNC_FILE_RANGE, -1);
    return sync_file_range(fd, o, l, fl);
}

/* A short pwritev transfers the first half of the bytes (at least 1). */
static ssize_t d_pwritev(int fd, const struct iovec *iov, int cnt, off_t o)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    size_t want = total;
    if (gate_short(SC_PWRITEV, &want) < 0)
        return -1;
    if (want == total || cnt <= 0)
        return pwritev(fd, iov, cnt, o);
    struct iovec cut[64];
    int n = 0;
    for (int i = 0; i < cnt && n < 64 && want > 0; i++) {
        cut[n] = iov[i];
        if (cut[n].iov_len > want)
            cut[n].iov_len = want;
        want -= cut[n].iov_len;
        n++;
    }
    return pwritev(fd, cut, n, o);
}

/* The real system calls, as the table starts and as h5tier_sys_reset leaves it. */
#define SYSCALL_DEFAULTS                                                                             \
    {                                                                                                \
        .open = d_open, .openat = d_openat, .close = d_close, .shm_open = d_shm_open,                \
        .shm_unlink = d_shm_unlink, .ftruncate = d_ftruncate, .fallocate = d_fallocate,              \
        .mmap = d_mmap, .munmap = d_munmap, .mremap = d_mremap, .madvise = d_madvise,                \
        .pread = d_pread, .pwrite = d_pwrite, .fsync = d_fsync, .fdatasync = d_fdatasync,            \
        .rename = d_rename, .unlink = d_unlink, .flock = d_flock, .fstat = d_fstat, .fchmod = d_fchmod, \
        .copy_file_range = d_copy_file_range, .link = d_link, .sync_file_range = d_sync_file_range, .mkdir = d_mkdir,        \
        .pwritev = d_pwritev                                                                         \
    }
static const h5tier_syscalls_t defaults = SYSCALL_DEFAULTS;
h5tier_syscalls_t h5tier_sys = SYSCALL_DEFAULTS;

void h5tier_sys_reset(void) { h5tier_sys = defaults; }

static int sc_index(const char *call)
{
    for (int i = 0; i < SC_N; i++)
        if (call && !strcmp(call, sc_names[i]))
            return i;
    return -1;
}

void h5tier_fault_clear(void)
{
    atomic_store(&armed, 0);
    memset(faults, 0, sizeof faults);
    for (int i = 0; i < SC_N; i++)
        atomic_store(&calls[i], 0);
    atomic_store(&fired, 0);
}

void h5tier_fault_count_start(void)
{
    h5tier_fault_clear();
    atomic_store(&armed, 1);
}

int h5tier_fault_set(const char *call, unsigned long nth, int err, unsigned flags)
{
    int i = sc_index(call);
    if (i < 0)
        return h5tier__fail(EINVAL, "fault injection: unknown system call '%s'", call ? call : "(null)");
    if (nth == 0)
        return h5tier__fail(EINVAL, "fault injection for '%s': nth must be >= 1", call);
    faults[i] = (struct fault){.nth = nth, .err = err < 0 ? -err : err, .flags = flags};
    atomic_store(&calls[i], 0);
    atomic_store(&armed, 1);
    return 0;
}

long h5tier_fault_calls(const char *call)
{
    int i = sc_index(call);
    return i < 0 ? -EINVAL : atomic_load(&calls[i]);
}

long h5tier_fault_fired(void) { return atomic_load(&fired); }

static int errno_by_name(const char *s)
{
    static const struct { const char *n; int e; } t[] = {
        {"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EINTR", EINTR}, {"EACCES", EACCES}, {"EPERM", EPERM},
        {"ENOMEM", ENOMEM}, {"EDQUOT", EDQUOT}, {"EFBIG", EFBIG}, {"EROFS", EROFS}, {"EAGAIN", EAGAIN},
        {"EWOULDBLOCK", EWOULDBLOCK}, {"ENOENT", ENOENT}, {"EBUSY", EBUSY}, {"EXDEV", EXDEV},
        {"ENOSYS", ENOSYS}, {"EOPNOTSUPP", EOPNOTSUPP}, {"0", 0}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(s, t[i].n))
            return t[i].e;
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v >= 0) ? (int)v : -1;
}

int h5tier_fault_parse(const char *spec)
{
    char buf[512];
    if (!spec || strlen(spec) >= sizeof buf)
        return h5tier__fail(EINVAL, "fault spec missing or too long");
    strcpy(buf, spec);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *f[4] = {0};
        int nf = 0;
        char *s2 = NULL;
        for (char *p = strtok_r(item, ":", &s2); p && nf < 4; p = strtok_r(NULL, ":", &s2))
            f[nf++] = p;
        if (nf < 3)
            return h5tier__fail(EINVAL, "fault spec '%s': expected call:nth:errno[:persist|short|kill]", spec);
        char *end;
        unsigned long nth = strtoul(f[1], &end, 10);
        int err = errno_by_name(f[2]);
        if (*end || err < 0)
            return h5tier__fail(EINVAL, "fault spec '%s': bad nth '%s' or errno '%s'", spec, f[1], f[2]);
        unsigned flags = 0;
        if (f[3]) {
            if (!strcmp(f[3], "persist")) flags = H5TIER_FAULT_PERSIST;
            else if (!strcmp(f[3], "short")) flags = H5TIER_FAULT_SHORT;
            else if (!strcmp(f[3], "kill")) flags = H5TIER_FAULT_KILL;
            else return h5tier__fail(EINVAL, "fault spec '%s': unknown mode '%s'", spec, f[3]);
        }
        int r = h5tier_fault_set(f[0], nth, err, flags);
        if (r < 0)
            return r;
    }
    return 0;
}

__attribute__((constructor)) static void fault_from_env(void)
{
    const char *spec = getenv("H5TIER_FAULT");
    if (spec && *spec && h5tier_fault_parse(spec) < 0)
        fprintf(stderr, "h5tier: ignoring H5TIER_FAULT: %s\n", h5tier_errmsg());
}
