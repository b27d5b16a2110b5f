/*
 * bench/bench_tier.c -- the tier driver against sec2 on the same slow
 * backing store, with the five workloads of the Hermes papers:
 *   (1) alternating compute and I/O: bursts of 1 MiB H5Dwrites, compute
 *       phases, durable at the end; apparent write bandwidth (bytes over
 *       the time the application spent outside compute)
 *   (2) repeated reads of the same region (20 passes)
 *   (3) small operations: random 64-byte H5Dwrites into a dataset being
 *       built, then a durable close
 *   (4) one streaming write larger than the RAM tier (4 MiB H5Dwrites)
 *   (5) a second process re-reading a file a first process read (kept
 *       SSD cache), also compared with a warm read of a local copy
 *
 * The slow store: both drivers' files live in one directory; this program
 * interposes pread/pwrite/pwritev/fsync/fdatasync (symbol interposition of the
 * executable, so libhdf5's sec2 and h5tier's system-call table are charged
 * alike) and makes every call on a file in that directory take at least
 * LAT + bytes/BW (default 1 ms and 200 MB/s; H5TIER_BENCH_LAT_US,
 * H5TIER_BENCH_BW_MBPS).  So no kernel cache hides the store: a page-cache
 * hit still costs the store's time.  The second suite is the plain local
 * disk with a cold page cache (posix_fadvise DONTNEED before each read
 * phase, fdatasync at the end of each write phase), no injection: there the
 * goal is "never more than 10% slower than sec2".
 *
 * The SSD tier's cache files are in another directory on the local disk.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "benchutil.h"
#include "h5tier_tier.h"

#define SUITE "tier"
#define MiB ((size_t)1 << 20)

/* ---- the slow store (interposed system calls) ---------------------------- */

static char slow_dir[PATH_MAX];
static size_t slow_dir_len;
static double lat_s = 0.001, bw_bps = 200e6;
static int slow_on;

static int is_slow(int fd)
{
    if (!slow_on || fd < 0)
        return 0;
    char l[64], p[PATH_MAX];
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(l, p, sizeof p - 1);
    if (n <= 0)
        return 0;
    p[n] = 0;
    return (size_t)n > slow_dir_len && !strncmp(p, slow_dir, slow_dir_len) && p[slow_dir_len] == '/';
}

static void charge(double t0, size_t bytes)
{
    double until = t0 + lat_s + (double)bytes / bw_bps;
    double now = bench_now();
    if (until > now) {
        double d = until - now;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}

ssize_t pread(int fd, void *b, size_t n, off_t o);
ssize_t pwrite(int fd, const void *b, size_t n, off_t o);
int fsync(int fd);
int fdatasync(int fd);

ssize_t pread(int fd, void *b, size_t n, off_t o)
{
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (!real)
        real = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
    double t0 = bench_now();
    ssize_t r = real(fd, b, n, o);
    if (r >= 0 && is_slow(fd))
        charge(t0, (size_t)r);
    return r;
}

ssize_t pwrite(int fd, const void *b, size_t n, off_t o)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real)
        real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    double t0 = bench_now();
    ssize_t r = real(fd, b, n, o);
    if (r >= 0 && is_slow(fd))
        charge(t0, (size_t)r);
    return r;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t o);
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t o)
{
    static ssize_t (*real)(int, const struct iovec *, int, off_t);
    if (!real)
        real = (ssize_t(*)(int, const struct iovec *, int, off_t))dlsym(RTLD_NEXT, "pwritev");
    double t0 = bench_now();
    ssize_t r = real(fd, iov, cnt, o);
    if (r >= 0 && is_slow(fd))
        charge(t0, (size_t)r);
    return r;
}

/* On the stand-in, data is on the store once pwrite returned: a sync costs
 * one round trip, not the local disk's real flush. */
int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    double t0 = bench_now();
    if (is_slow(fd)) {
        charge(t0, 0);
        return 0;
    }
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    double t0 = bench_now();
    if (is_slow(fd)) {
        charge(t0, 0);
        return 0;
    }
    return real(fd);
}

/* ---- helpers ----------------------------------------------------------------- */

static char dir[1024], ssd[1024];
static int quick;

static void die(const char *what)
{
    fprintf(stderr, "bench_tier: %s failed\n", what);
    H5Eprint2(H5E_DEFAULT, stderr);
    exit(1);
}

static hid_t fapl_of(const char *cfg)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (cfg) {
        if (H5Pset_fapl_tier(fapl, cfg) < 0)
            die(cfg);
    } else {
        H5Pset_fapl_sec2(fapl);
    }
    return fapl;
}

/* Make a file durable and drop it from the page cache (cold reads). */
static void sync_drop(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

static void durable(const char *path)
{
    int fd = open(path, O_RDWR);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static void hyper_write(hid_t d, hsize_t off, hsize_t cnt, const void *buf)
{
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    if (H5Dwrite(d, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, buf) < 0)
        die("H5Dwrite");
    H5Sclose(fs);
    H5Sclose(ms);
}

static void hyper_read(hid_t d, hsize_t off, hsize_t cnt, void *buf)
{
    hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
    if (H5Dread(d, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, buf) < 0)
        die("H5Dread");
    H5Sclose(fs);
    H5Sclose(ms);
}

static hid_t make_file(const char *path, hid_t fapl, size_t bytes, hid_t *d)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (f < 0)
        die("H5Fcreate");
    hsize_t n = bytes;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    *d = H5Dcreate2(f, "d", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (*d < 0)
        die("H5Dcreate2");
    H5Pclose(dcpl);
    H5Sclose(sp);
    return f;
}

/* ---- the workloads: each returns a rate (higher is better) ------------------- */

/* (1) bursts of `burst` bytes, compute phases of `compute_s`, durable close.
 * MB/s over the time outside compute. */
static double w_alternating(const char *cfg, size_t burst, int nburst, double compute_s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/alt-%s.h5", dir, cfg ? "tier" : "sec2");
    hid_t fapl = fapl_of(cfg), d;
    unsigned char *buf = malloc(MiB);
    bench_fill(buf, MiB, 1);
    double t0 = bench_now(), computing = 0;
    hid_t f = make_file(path, fapl, burst * (size_t)nburst, &d);
    int dbg = getenv("H5TIER_BENCH_DEBUG") != NULL;
    if (dbg)
        fprintf(stderr, "  create %.1f ms\n", (bench_now() - t0) * 1e3);
    for (int b = 0; b < nburst; b++) {
        double w0 = bench_now();
        for (size_t off = 0; off < burst; off += MiB)
            hyper_write(d, (hsize_t)(b * burst + off), MiB, buf);
        if (dbg)
            fprintf(stderr, "  burst %d: %.1f ms\n", b, (bench_now() - w0) * 1e3);
        double c0 = bench_now();
        while (bench_now() - c0 < compute_s) /* compute: one core busy */
            ;
        computing += bench_now() - c0;
    }
    double e0 = bench_now();
    H5Dclose(d);
    if (H5Fclose(f) < 0)
        die("H5Fclose");
    if (!cfg)
        durable(path); /* sec2 does not fsync: make its file durable too */
    if (dbg)
        fprintf(stderr, "  close %.1f ms\n", (bench_now() - e0) * 1e3);
    double io = bench_now() - t0 - computing;
    H5Pclose(fapl);
    free(buf);
    return (double)(burst * (size_t)nburst) / io / 1e6;
}

/* (2) a file of `size`, the first `region` bytes read `passes` times in 1 MiB reads. */
static double w_repeat(const char *cfg, size_t size, size_t region, int passes)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/rep-%s.h5", dir, cfg ? "tier" : "sec2");
    hid_t s2 = fapl_of(NULL), d;
    unsigned char *buf = malloc(MiB);
    bench_fill(buf, MiB, 2);
    int was = slow_on;
    slow_on = 0; /* setup is not measured */
    hid_t f = make_file(path, s2, size, &d);
    for (size_t off = 0; off < size; off += MiB)
        hyper_write(d, off, MiB, buf);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(s2);
    sync_drop(path);
    slow_on = was;
    hid_t fapl = fapl_of(cfg);
    double t0 = bench_now();
    f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    d = H5Dopen2(f, "d", H5P_DEFAULT);
    for (int p = 0; p < passes; p++)
        for (size_t off = 0; off < region; off += MiB)
            hyper_read(d, off, MiB, buf);
    H5Dclose(d);
    H5Fclose(f);
    double t = bench_now() - t0;
    H5Pclose(fapl);
    free(buf);
    return (double)region * passes / t / 1e6;
}

/* (3) a dataset of `size` written in 1 MiB blocks and flushed (not
 * measured), then `nops` random 64-byte H5Dwrites and a durable close
 * (measured): ops/s. */
static double w_small(const char *cfg, size_t size, int nops)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/small-%s.h5", dir, cfg ? "tier" : "sec2");
    hid_t fapl = fapl_of(cfg), d;
    unsigned char *buf = malloc(MiB);
    bench_fill(buf, MiB, 3);
    hid_t f = make_file(path, fapl, size, &d);
    for (size_t off = 0; off < size; off += MiB)
        hyper_write(d, off, MiB, buf);
    H5Fflush(f, H5F_SCOPE_GLOBAL); /* both start measured from a durable file */
    if (!cfg)
        durable(path);
    uint64_t s = 88172645463325252ull;
    double t0 = bench_now();
    for (int i = 0; i < nops; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        hyper_write(d, (hsize_t)(s % (size - 64)), 64, buf + (i % 1000));
    }
    H5Dclose(d);
    if (H5Fclose(f) < 0)
        die("H5Fclose");
    if (!cfg)
        durable(path);
    double t = bench_now() - t0;
    H5Pclose(fapl);
    free(buf);
    return nops / t;
}

/* (4) one streaming write of `size` in 4 MiB H5Dwrites, durable: MB/s. */
static double w_stream(const char *cfg, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/stream-%s.h5", dir, cfg ? "tier" : "sec2");
    hid_t fapl = fapl_of(cfg), d;
    size_t blk = 4 * MiB;
    unsigned char *buf = malloc(blk);
    bench_fill(buf, blk, 4);
    double t0 = bench_now();
    hid_t f = make_file(path, fapl, size, &d);
    for (size_t off = 0; off < size; off += blk)
        hyper_write(d, off, blk, buf);
    H5Dclose(d);
    if (H5Fclose(f) < 0)
        die("H5Fclose");
    if (!cfg)
        durable(path);
    double t = bench_now() - t0;
    H5Pclose(fapl);
    free(buf);
    return (double)size / t / 1e6;
}

/* (5) child: read the whole dataset of path with cfg ("" = sec2); print s. */
static int child_read(const char *path, const char *cfg)
{
    hid_t fapl = fapl_of(*cfg ? cfg : NULL);
    unsigned char *buf = malloc(MiB);
    double t0 = bench_now();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0)
        die("H5Fopen");
    hid_t d = H5Dopen2(f, "d", H5P_DEFAULT);
    hsize_t n;
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    for (hsize_t off = 0; off < n; off += MiB)
        hyper_read(d, off, MiB, buf);
    H5Dclose(d);
    H5Fclose(f);
    printf("%.9f\n", bench_now() - t0);
    free(buf);
    return 0;
}

static double run_child(const char *path, const char *cfg, int slow)
{
    int p[2];
    if (pipe(p) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        setenv("H5TIER_BENCH_SLOW", slow ? "1" : "0", 1);
        execl("/proc/self/exe", "bench_tier", "--child-read", path, cfg, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char out[64] = "";
    ssize_t n = read(p[0], out, sizeof out - 1);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st))
        die("child read");
    return atof(out);
}

/* Returns {sec2 MB/s, tier second-process MB/s, warm local MB/s}. */
static void w_kept(size_t size, double r[3], int slow)
{
    char path[PATH_MAX], local[PATH_MAX], cfg[3 * PATH_MAX], cmd[3 * PATH_MAX];
    snprintf(path, sizeof path, "%s/kept.h5", dir);
    snprintf(local, sizeof local, "%s/kept-local.h5", ssd);
    hid_t s2 = fapl_of(NULL), d;
    unsigned char *buf = malloc(MiB);
    bench_fill(buf, MiB, 5);
    int was = slow_on;
    slow_on = 0;
    hid_t f = make_file(path, s2, size, &d);
    for (size_t off = 0; off < size; off += MiB)
        hyper_write(d, off, MiB, buf);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(s2);
    sync_drop(path);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path, local);
    if (system(cmd) != 0)
        die("cp");
    slow_on = was;
    snprintf(cfg, sizeof cfg, "ram=64MiB ssd=%s:%zuMiB keep=yes page=1MiB", ssd, 2 * size / MiB + 16);
    double ts = run_child(path, "", slow);
    sync_drop(path);
    run_child(path, cfg, slow); /* the first process: fills the kept cache */
    sync_drop(path);
    double tt = run_child(path, cfg, slow); /* the second: measured */
    run_child(local, "", 0);                /* warm the page cache */
    double tw = run_child(local, "", 0);
    r[0] = (double)size / ts / 1e6;
    r[1] = (double)size / tt / 1e6;
    r[2] = (double)size / tw / 1e6;
    h5tier_tier_cache_remove(ssd, NULL, 0);
    unlink(local);
    free(buf);
}

static int want(int w)
{
    const char *only = getenv("H5TIER_BENCH_ONLY"); /* for profiling: one workload */
    return !only || atoi(only) == w;
}

static void suite(const char *where, int slow)
{
    slow_on = slow;
    char tcfg[2 * PATH_MAX], name[160];
    snprintf(tcfg, sizeof tcfg, "ram=256MiB dirty=128MiB page=1MiB ssd=%s:1GiB%s", ssd, getenv("H5TIER_BENCH_XCFG") ? getenv("H5TIER_BENCH_XCFG") : "");
    size_t burst = quick ? 8 * MiB : 32 * MiB;
    int nb = 4;
    double compute = quick ? 0.08 : 0.25;
    /* on the PFS stand-in the goals of the issue; on local disk: never 10% slower */
    double g1 = slow ? 8 : 0.9, g2 = slow ? 11 : 0.9, g3 = slow ? 5 : 0.9, g4 = 0.9, g5 = slow ? 10 : 0.9;
    double a, b;
    if (want(1)) {
        a = w_alternating(NULL, burst, nb, compute);
        b = w_alternating(tcfg, burst, nb, compute);
        snprintf(name, sizeof name, "%s (1) compute/I-O bursts %zu MiB x%d, apparent write", where, burst / MiB, nb);
        bench_result(SUITE, name, b, "MB/s", "sec2", a, GOAL_GE, g1);
    }

    size_t size = quick ? 32 * MiB : 128 * MiB, region = quick ? 8 * MiB : 32 * MiB;
    int passes = 20;
    if (want(2)) {
        a = w_repeat(NULL, size, region, passes);
        b = w_repeat(tcfg, size, region, passes);
        snprintf(name, sizeof name, "%s (2) repeated reads %zu MiB x%d", where, region / MiB, passes);
        bench_result(SUITE, name, b, "MB/s", "sec2", a, GOAL_GE, g2);
    }

    size_t ssize = quick ? 16 * MiB : 64 * MiB;
    int nops = slow ? (quick ? 300 : 3000) : (quick ? 20000 : 200000);
    if (want(3)) {
        a = w_small(NULL, ssize, nops);
        b = w_small(tcfg, ssize, nops);
        snprintf(name, sizeof name, "%s (3) %d random 64 B H5Dwrites + durable close", where, nops);
        bench_result(SUITE, name, b, "ops/s", "sec2", a, GOAL_GE, g3);
    }

    char scfg[2 * PATH_MAX];
    snprintf(scfg, sizeof scfg, "ram=16MiB dirty=8MiB page=1MiB ssd=%s:1GiB", ssd);
    size_t stsize = quick ? 48 * MiB : 192 * MiB;
    if (want(4)) {
        a = w_stream(NULL, stsize);
        b = w_stream(scfg, stsize);
        snprintf(name, sizeof name, "%s (4) streaming write %zu MiB, RAM tier 16 MiB", where, stsize / MiB);
        bench_result(SUITE, name, b, "MB/s", "sec2", a, GOAL_GE, g4);
    }

    double r[3];
    size_t ksize = quick ? 32 * MiB : 128 * MiB;
    if (!want(5))
        return;
    w_kept(ksize, r, slow);
    snprintf(name, sizeof name, "%s (5) second process re-reads %zu MiB (kept SSD cache)", where, ksize / MiB);
    bench_result(SUITE, name, r[1], "MB/s", "sec2", r[0], GOAL_GE, g5);
    if (slow) {
        snprintf(name, sizeof name, "%s (5) same, vs a warm local read", where);
        bench_result(SUITE, name, r[1], "MB/s", "sec2 warm local", r[2], GOAL_GE, 0.5);
    }
}

int main(int argc, char **argv)
{
    const char *e;
    if ((e = getenv("H5TIER_BENCH_LAT_US")))
        lat_s = atof(e) / 1e6;
    if ((e = getenv("H5TIER_BENCH_BW_MBPS")))
        bw_bps = atof(e) * 1e6;
    if (argc == 4 && !strcmp(argv[1], "--child-read")) {
        const char *base = getenv("H5TIER_BENCH_SLOW_DIR");
        if (base) {
            snprintf(slow_dir, sizeof slow_dir, "%s", base);
            slow_dir_len = strlen(slow_dir);
        }
        slow_on = (e = getenv("H5TIER_BENCH_SLOW")) && *e == '1';
        return child_read(argv[2], argv[3]);
    }
    quick = bench_quick(argc, argv);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/h5tier-bench-tier-XXXXXX", tmp);
    snprintf(ssd, sizeof ssd, "%s/h5tier-bench-ssd-XXXXXX", tmp);
    if (!mkdtemp(dir) || !mkdtemp(ssd))
        die("mkdtemp");
    char *rd = realpath(dir, NULL);
    snprintf(slow_dir, sizeof slow_dir, "%s", rd ? rd : dir);
    free(rd);
    slow_dir_len = strlen(slow_dir);
    setenv("H5TIER_BENCH_SLOW_DIR", slow_dir, 1);
    printf("tier vs sec2 on the same stores (%s); PFS stand-in: %.1f ms + bytes / %.0f MB/s per call\n",
           quick ? "quick" : "full", lat_s * 1e3, bw_bps / 1e6);
    suite("PFS", 1);
    suite("local disk", 0);
    bench_note(SUITE,
               "PFS stand-in: every pread/pwrite/fsync on the backing file takes at least %.1f ms + bytes/%.0f MB/s "
               "(system calls interposed in the benchmark process, the same for sec2 and tier; no kernel cache "
               "can hide it). Local disk: the same workloads, cold page cache (fadvise DONTNEED) and no injection. "
               "sec2 files are fsync'ed at the end like tier's. Tier: ram=256MiB page=1MiB ssd=local:1GiB; "
               "(4) ram=16MiB; (5) kept cache keep=yes, child processes. On a VM where fadvise(DONTNEED) does "
               "not empty the page cache, the local-disk sec2 reads run at page-cache speed: there an extra "
               "user-space cache can only add copies. CPU-bound rows (tier's memcpy and first-touch page "
               "faults) suffer most on a loaded host (load 12-16 on 2 cores when measured here).",
               lat_s * 1e3, bw_bps / 1e6);
    char cmd[2 * PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, ssd);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_tier: could not remove %s\n", dir);
    return 0;
}
