/*
 * Proves tier faults never lose data, through the project's system-call
 * table (entries replaced by wrappers that fail only the calls on one file):
 * (pread, pwrite and pwritev, the write-back's gathered write)
 * (1) the SSD tier's writes fail (ENOSPC, EIO) or its reads fail (EIO), or
 *     transfer short: the workload's reads stay correct, the file after close
 *     equals the model, the tier is reported failed, and exactly one warning
 *     is printed per failing tier;
 * (2) the backing store's writes fail (EIO, ENOSPC) under write-behind and
 *     in sync mode: the failure comes back from a write call or from
 *     H5FDflush (never silently), no byte is lost, and once the store works
 *     again a flush makes the file equal the model;
 * (3) the backing store's fsync fails: H5FDflush reports it;
 * (4) a backing read fails (EIO): the read call reports it;
 * (5) short backing reads and writes are completed by the I/O loops.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>

#include "h5tier_sys.h"

#include "tiertest.h"

/* Which file the injected faults hit: "ssd" (an unlinked .h5tier-tier-
 * cache file) or "backing" (the name below). */
/* atomics: the write-behind thread reads them while the test arms them */
static _Atomic(const char *) target;
static char backing[4096]; /* set before any file is opened */
static _Atomic int fail_err;  /* errno to fail with, 0 = none */
static _Atomic int fail_short; /* halve transfers instead */
static _Atomic int fail_read, fail_write, fail_fsync;
static _Atomic long fired;
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);

static int hit(int fd)
{
    const char *t = target;
    if (!t)
        return 0;
    char l[64], p[4096];
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(l, p, sizeof p - 1);
    if (n < 0)
        return 0;
    p[n] = 0;
    if (!strcmp(t, "ssd"))
        return strstr(p, ".h5tier-tier-") != NULL;
    return !strcmp(p, backing);
}

static ssize_t f_pread(int fd, void *b, size_t l, off_t o)
{
    if (fail_read && hit(fd)) {
        fired++;
        if (fail_short && l > 1)
            l /= 2;
        else if (!fail_short) {
            errno = fail_err;
            return -1;
        }
    }
    return real_pread(fd, b, l, o);
}

static ssize_t f_pwrite(int fd, const void *b, size_t l, off_t o)
{
    if (fail_write && hit(fd)) {
        fired++;
        if (fail_short && l > 1)
            l /= 2;
        else if (!fail_short) {
            errno = fail_err;
            return -1;
        }
    }
    return real_pwrite(fd, b, l, o);
}

static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t f_pwritev(int fd, const struct iovec *iov, int cnt, off_t o)
{
    if (fail_write && hit(fd)) {
        fired++;
        if (!fail_short) {
            errno = fail_err;
            return -1;
        }
        if (cnt > 1)
            cnt /= 2; /* short: the first half of the buffers */
        else if (iov[0].iov_len > 1) {
            struct iovec h = {iov[0].iov_base, iov[0].iov_len / 2};
            return real_pwritev(fd, &h, 1, o);
        }
    }
    return real_pwritev(fd, iov, cnt, o);
}

static int f_fsync(int fd)
{
    if (fail_fsync && hit(fd)) {
        fired++;
        errno = fail_err;
        return -1;
    }
    return real_fsync(fd);
}

static void arm(const char *t, int err, int sh, int r, int w, int s)
{
    target = t;
    fail_err = err;
    fail_short = sh;
    fail_read = r;
    fail_write = w;
    fail_fsync = s;
    fired = 0;
}

static void disarm(void) { arm(NULL, 0, 0, 0, 0, 0); }

/* Count the lines of the captured stderr that contain s. */
static int count_in(const char *path, const char *s)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, fp))
        if (strstr(line, s))
            n++;
    fclose(fp);
    return n;
}

static void ssd_case(const char *what, int err, int sh, int r, int w)
{
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "ram=32KiB page=4KiB ssd=%s:256KiB ssd=%s:256KiB", tu_tmpdir(), tu_tmpdir());
    snprintf(backing, sizeof backing, "%s", tu_path("ssdfault.bin"));
    const char *errlog = tu_path("stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    FILE *e = freopen(errlog, "w", stderr);
    CHECK(e);
    arm("ssd", err, sh, r, w, 0);
    hid_t fapl = tt_fapl(cfg);
    size_t ml;
    unsigned char *m = tt_vfd_workload(backing, fapl, 4242, 1500, 300000, 20000, &ml);
    long n = fired;
    disarm();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    tt_check_model(backing, m, ml);
    int warns = count_in(errlog, "warning: ssd tier");
    CHECKF(n > 0, "%s: no fault fired", what);
    if (!sh)
        CHECKF(warns == 2, "%s: %d warnings (want one per failing tier, 2)", what, warns);
    else
        CHECKF(warns == 0, "%s: short I/O is not a failure, but %d warnings", what, warns);
    free(m);
    H5Pclose(fapl);
    tu_log("ok: ssd %s: %ld faults, %d warnings, file equals the model", what, n, warns);
}

static void backing_write_case(const char *cfg, int err, int sh)
{
    snprintf(backing, sizeof backing, "%s", tu_path("bfault.bin"));
    hid_t fapl = tt_fapl(cfg);
    H5FD_t *f = H5FDopen(backing, H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC, fapl, HADDR_UNDEF);
    CHECK(f);
    size_t span = 1 << 20;
    CHECK(H5FDset_eoa(f, H5FD_MEM_DRAW, span) >= 0);
    unsigned char *model = calloc(1, span), *buf = malloc(8192), *rb = malloc(span);
    uint64_t s = 77;
    arm("backing", err, sh, 0, 1, 0);
    int failed_calls = 0;
    for (int i = 0; i < 400; i++) {
        size_t off = (size_t)(tt_rand(&s) % (span - 8192)), len = 1 + (size_t)(tt_rand(&s) % 8192);
        for (size_t k = 0; k < len; k++)
            buf[k] = (unsigned char)tt_rand(&s);
        if (H5FDwrite(f, H5FD_MEM_DRAW, H5P_DEFAULT, off, len, buf) < 0) {
            /* a write-back failed: this write may be applied in part (whole
             * pages, like a short pwrite); every byte is old or new */
            failed_calls++;
            CHECK(H5FDread(f, H5FD_MEM_DRAW, H5P_DEFAULT, off, len, rb) >= 0);
            for (size_t k = 0; k < len; k++)
                CHECKF(rb[k] == buf[k] || rb[k] == model[off + k], "byte %zu invented by a failed write", off + k);
            memcpy(model + off, rb, len);
            continue;
        }
        memcpy(model + off, buf, len);
    }
    herr_t fl = H5FDflush(f, H5P_DEFAULT, 0);
    if (sh) {
        CHECK(fl >= 0 && failed_calls == 0); /* short writes are completed, not errors */
    } else {
        CHECKF(fl < 0 || failed_calls > 0, "backing EIO never reported (flush ok, no failed call)");
        CHECK(H5FDflush(f, H5P_DEFAULT, 0) < 0); /* still failing: still reported */
    }
    long n = fired;
    /* nothing lost: the cache still has every byte */
    CHECK(H5FDread(f, H5FD_MEM_DRAW, H5P_DEFAULT, 0, span, rb) >= 0);
    CHECK(memcmp(rb, model, span) == 0);
    disarm();
    CHECKF(H5FDflush(f, H5P_DEFAULT, 0) >= 0, "flush after the store recovered");
    CHECK(H5FDtruncate(f, H5P_DEFAULT, 1) >= 0);
    CHECK(H5FDclose(f) >= 0);
    tt_check_model(backing, model, span);
    free(model);
    free(buf);
    free(rb);
    H5Pclose(fapl);
    CHECK(n > 0);
    tu_log("ok: backing %s (%s): %ld faults, %d failed writes + flush error, then flushed intact",
           sh ? "short writes" : strerror(err), cfg, n, failed_calls);
}

int main(void)
{
    tu_h5_quiet();
    real_pread = h5tier_sys.pread;
    real_pwrite = h5tier_sys.pwrite;
    real_fsync = h5tier_sys.fsync;
    real_pwritev = h5tier_sys.pwritev;
    h5tier_sys.pwritev = f_pwritev;
    h5tier_sys.pread = f_pread;
    h5tier_sys.pwrite = f_pwrite;
    h5tier_sys.fsync = f_fsync;

    ssd_case("write ENOSPC", ENOSPC, 0, 0, 1);
    ssd_case("write EIO", EIO, 0, 0, 1);
    ssd_case("read EIO", EIO, 0, 1, 0);
    ssd_case("short read+write", 0, 1, 1, 1);

    backing_write_case("ram=4MiB page=16KiB flush=async", EIO, 0);
    backing_write_case("ram=256KiB page=16KiB flush=async", ENOSPC, 0);
    backing_write_case("ram=4MiB page=16KiB flush=sync dirty=64KiB", EIO, 0);

    /* fsync failure at flush */
    snprintf(backing, sizeof backing, "%s", tu_path("fsync.bin"));
    hid_t fapl = tt_fapl("ram=4MiB page=16KiB");
    H5FD_t *f = H5FDopen(backing, H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC, fapl, HADDR_UNDEF);
    CHECK(f);
    H5FDset_eoa(f, H5FD_MEM_DRAW, 65536);
    unsigned char b[65536], r[65536];
    memset(b, 7, sizeof b);
    CHECK(H5FDwrite(f, H5FD_MEM_DRAW, H5P_DEFAULT, 0, sizeof b, b) >= 0);
    arm("backing", EIO, 0, 0, 0, 1);
    CHECK(H5FDflush(f, H5P_DEFAULT, 0) < 0);
    CHECK(strstr(h5tier_errmsg(), "fsync"));
    disarm();
    CHECK(H5FDflush(f, H5P_DEFAULT, 0) >= 0);
    CHECK(H5FDclose(f) >= 0);
    tu_log("ok: fsync EIO reported by flush");

    /* a failing backing read is an error of the read */
    f = H5FDopen(backing, H5F_ACC_RDONLY, fapl, HADDR_UNDEF);
    CHECK(f);
    H5FDset_eoa(f, H5FD_MEM_DRAW, 65536);
    arm("backing", EIO, 0, 1, 0, 0);
    CHECK(H5FDread(f, H5FD_MEM_DRAW, H5P_DEFAULT, 0, 100, r) < 0);
    CHECK(strstr(h5tier_errmsg(), "reading"));
    /* short reads are completed */
    arm("backing", 0, 1, 1, 0, 0);
    CHECK(H5FDread(f, H5FD_MEM_DRAW, H5P_DEFAULT, 0, sizeof r, r) >= 0);
    CHECK(memcmp(r, b, sizeof r) == 0);
    disarm();
    CHECK(H5FDclose(f) >= 0);
    tu_log("ok: backing read EIO reported, short reads completed");

    /* short backing writes are completed */
    backing_write_case("ram=1MiB page=4KiB", 0, 1);
    H5Pclose(fapl);

    /* the built-in injector: every gathered write-back short (and one EIO) */
    h5tier_sys_reset();
    CHECK_OK(h5tier_fault_set("pwritev", 1, 0, H5TIER_FAULT_SHORT | H5TIER_FAULT_PERSIST));
    fapl = tt_fapl("ram=256KiB page=4KiB flush=sync dirty=64KiB");
    snprintf(backing, sizeof backing, "%s", tu_path("inj.bin"));
    size_t ml;
    unsigned char *m = tt_vfd_workload(backing, fapl, 5150, 800, 400000, 30000, &ml);
    CHECK(h5tier_fault_fired() > 0);
    h5tier_fault_clear();
    tt_check_model(backing, m, ml);
    free(m);
    H5Pclose(fapl);
    tu_log("ok: H5TIER_FAULT-style short pwritev on every write-back: file equals the model");
    return 0;
}
