/*
 * bench/bench_curves.c -- suite "curves": costs measured over sizes spanning
 * 30x or more, ours and the obvious alternative alternated at each size, the
 * ratio printed per size (and the peak RSS where memory could grow with the
 * wrong thing), so a cost that grows with the wrong quantity shows as a
 * slope in the ratio column.
 *
 *   persist    h5tier_persist of one chunked float32 dataset (a core-driver
 *              shadow file, 4 MiB chunks, unlimited) vs h5repack -l CONTI of
 *              a saved image of it, followed by an fsync of its output (both
 *              sides durable), and vs h5repack default; the faster of the
 *              two repacks is the anchor.  Peak RSS: ours = what persist adds
 *              to the process (VmHWM reset through /proc/self/clear_refs),
 *              h5repack = its whole peak (wait4).  Also a count curve of
 *              small datasets (4x10 int32, created chunked 128x128).
 *              Goal <= 1.0x h5repack at every size.
 *   journal    h5tier__backing_commit of 1% of the 64 KiB pages of a file
 *              (journal mode) vs the floor: the same pages pwritten in place
 *              + one fsync.  Goal <= 2.0x the floor at every size.
 *   load/save  `h5tier shm load FILE NAME` vs `cp FILE /dev/shm/X`, and
 *              `h5tier shm save NAME OUT` vs cp + fsync of OUT, with each
 *              side's peak RSS (wait4).  For information (another part of
 *              the project optimises them).
 *
 *   reopen     a writer's H5Fopen + H5Fclose of an existing backed shm object
 *              that agrees with its backing file, vs the first open (load)
 *              and vs a reopen that must rewrite the whole file.
 *
 * Quick (H5TIER_BENCH_QUICK=1): small sizes, still >= 30x apart, ~10 s.
 * H5TIER_CURVES=persist|journal|loadsave|reopen runs one curve only.
 * Files go to $TMPDIR (default /tmp); shm names carry the pid.
 */

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "benchutil.h"
#include "h5tier.h"
#include "h5tier_persist.h"
#include "shm/shm_internal.h"

#define MiB (1ull << 20)

static char tmpdir[PATH_MAX], cli[PATH_MAX];

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fsync_path(const char *p)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Child processes are started by a small spawner process forked at the
 * start of main, before this process grows: a child forked from a big
 * process would report that process's RSS as its own peak (ru_maxrss
 * survives exec).  Protocol over two pipes: argv as NUL-separated strings
 * ended by an empty one; reply {wall seconds, peak RSS bytes, status}. */
typedef struct reply {
    double t, rss;
    int status;
} reply_t;

static int to_sp = -1, from_sp = -1;

static int read_full(int fd, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = read(fd, (char *)buf + done, len - done);
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

static void spawner_loop(int in, int out)
{
    char buf[16384];
    for (;;) {
        size_t n = 0;
        for (;;) { /* one command: strings until an empty one */
            if (n >= sizeof buf || read(in, buf + n, 1) != 1)
                _exit(0);
            if (buf[n] == 0 && n > 0 && buf[n - 1] == 0)
                break;
            n++;
        }
        char *argv[32];
        int argc = 0;
        for (size_t i = 0; i < n && argc < 31; i += strlen(buf + i) + 1)
            argv[argc++] = buf + i;
        argv[argc] = NULL;
        reply_t r = {0, 0, -1};
        double t0 = bench_now();
        pid_t pid = fork();
        if (pid == 0) {
            int dn = open("/dev/null", O_WRONLY);
            if (dn >= 0) {
                dup2(dn, 1);
                dup2(dn, 2);
            }
            execvp(argv[0], argv);
            _exit(127);
        }
        int st = 0;
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        if (pid > 0 && wait4(pid, &st, 0, &ru) == pid) {
            r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            r.rss = (double)ru.ru_maxrss * 1024.0;
        }
        r.t = bench_now() - t0;
        if (write(out, &r, sizeof r) != (ssize_t)sizeof r)
            _exit(1);
    }
}

static void start_spawner(void)
{
    int a[2], b[2];
    if (pipe(a) < 0 || pipe(b) < 0) {
        perror("pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        spawner_loop(a[0], b[1]);
        _exit(0);
    }
    close(a[0]);
    close(b[1]);
    to_sp = a[1];
    from_sp = b[0];
}

/* Run argv (stdout/stderr to /dev/null) through the spawner: its wall
 * time; its peak RSS in bytes (*rss); exit status in *status. */
static double run_cmd(char *const argv[], double *rss, int *status)
{
    for (int i = 0; argv[i]; i++)
        if (write(to_sp, argv[i], strlen(argv[i]) + 1) < 0) {
            perror("spawner");
            exit(1);
        }
    if (write(to_sp, "", 1) != 1) {
        perror("spawner");
        exit(1);
    }
    reply_t r;
    if (read_full(from_sp, &r, sizeof r) < 0) {
        fprintf(stderr, "bench_curves: the spawner died\n");
        exit(1);
    }
    *rss = r.rss;
    *status = r.status;
    return r.t;
}

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl))
            v = atol(line + kl);
    if (f)
        fclose(f);
    return v;
}

/* Reset the process's peak RSS to its current RSS; 0 if the kernel cannot. */
static int reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

static const char *sz(uint64_t b, char *buf, size_t len) { return h5tier_format_size(b, buf, len); }

/* ---- persist vs h5repack ------------------------------------------------------- */

/* A core-driver shadow file: one dataset of `bytes` float32 (rows x 1024)
 * chunked 1024x1024, unlimited; or nsmall datasets 4x10 int32 chunked
 * 128x128 (when bytes == 0). */
static hid_t make_shadow(uint64_t bytes, int nsmall)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 64 << 20, 0);
    hid_t f = H5Fcreate("curves-shadow.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0)
        return f;
    hsize_t unl[2] = {H5S_UNLIMITED, H5S_UNLIMITED};
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (bytes) {
        H5Pset_chunk(dcpl, 2, (hsize_t[]){1024, 1024});
        hsize_t rows = bytes / 4 / 1024;
        hid_t sp = H5Screate_simple(2, (hsize_t[]){rows, 1024}, unl);
        hid_t d = H5Dcreate2(f, "data", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        /* write in slabs of 256 rows x 1024 (1 MiB), incompressible */
        size_t slab = 256;
        float *buf = malloc(slab * 1024 * 4);
        for (hsize_t r = 0; r < rows; r += slab) {
            hsize_t n = rows - r < slab ? rows - r : slab;
            bench_fill(buf, (size_t)n * 1024 * 4, r + 1);
            hid_t ms = H5Screate_simple(2, (hsize_t[]){n, 1024}, NULL);
            H5Sselect_hyperslab(sp, H5S_SELECT_SET, (hsize_t[]){r, 0}, NULL, (hsize_t[]){n, 1024}, NULL);
            H5Dwrite(d, H5T_IEEE_F32LE, ms, sp, H5P_DEFAULT, buf);
            H5Sclose(ms);
        }
        free(buf);
        H5Dclose(d);
        H5Sclose(sp);
    } else {
        H5Pset_chunk(dcpl, 2, (hsize_t[]){128, 128});
        int32_t small[40];
        for (int i = 0; i < nsmall; i++) {
            char name[32];
            snprintf(name, sizeof name, "s%06d", i);
            hid_t sp = H5Screate_simple(2, (hsize_t[]){4, 10}, unl);
            hid_t d = H5Dcreate2(f, name, H5T_STD_I32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
            for (int k = 0; k < 40; k++)
                small[k] = i * 40 + k;
            H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, small);
            H5Dclose(d);
            H5Sclose(sp);
        }
    }
    H5Pclose(dcpl);
    return f;
}

static int save_image(hid_t f, const char *path)
{
    H5Fflush(f, H5F_SCOPE_GLOBAL);
    ssize_t len = H5Fget_file_image(f, NULL, 0);
    char *img = len > 0 ? malloc((size_t)len) : NULL;
    int ok = img && H5Fget_file_image(f, img, (size_t)len) == len;
    FILE *fp = ok ? fopen(path, "wb") : NULL;
    ok = fp && fwrite(img, 1, (size_t)len, fp) == (size_t)len;
    if (fp && fclose(fp) != 0)
        ok = 0;
    free(img);
    return ok ? 0 : -1;
}

/* h5repack [-l layout] in out, then an fsync of out: the whole time; the
 * time before the fsync in *nofsync; its peak RSS in *rss. */
static double repack_once(const char *layout, const char *in, const char *out, double *rss, double *nofsync)
{
    char *argv[8];
    int n = 0;
    argv[n++] = "h5repack";
    if (layout) {
        argv[n++] = "-l";
        argv[n++] = (char *)layout;
    }
    argv[n++] = (char *)in;
    argv[n++] = (char *)out;
    argv[n] = NULL;
    unlink(out);
    int st;
    double t0 = bench_now();
    run_cmd(argv, rss, &st);
    *nofsync = bench_now() - t0;
    fsync_path(out);
    double t = bench_now() - t0;
    if (st != 0) {
        fprintf(stderr, "bench_curves: h5repack failed (status %d)\n", st);
        exit(1);
    }
    return t;
}

/* One point of the persist curve; label names the size.  h5repack -l CONTI
 * runs only up to 512 MiB of data (beyond, it is many times slower than
 * h5repack's default, which copies the raw chunks, so it never is the
 * faster anchor and would make the suite last many minutes); h5repack's
 * default only up to 10000 small datasets (see deflt). */
static void persist_point(uint64_t bytes, int nsmall, int reps, const char *label)
{
    char ours[PATH_MAX + 32], image[PATH_MAX + 32], rp[PATH_MAX + 32];
    snprintf(ours, sizeof ours, "%s/curves-ours-%d.h5", tmpdir, (int)getpid());
    snprintf(image, sizeof image, "%s/curves-image-%d.h5", tmpdir, (int)getpid());
    snprintf(rp, sizeof rp, "%s/curves-repack-%d.h5", tmpdir, (int)getpid());
    hid_t f = make_shadow(bytes, nsmall);
    if (f < 0 || save_image(f, image) < 0) {
        fprintf(stderr, "bench_curves: cannot build the shadow file\n");
        exit(1);
    }
    int conti = bytes <= 512 * MiB;
    /* h5repack's default keeps every small dataset's 64 KiB chunk: with
     * 30000 of them it writes ~2 GB and is never the faster anchor */
    int deflt = bytes > 0 || nsmall <= 10000;
    double t_ours[16], t_conti[16], t_def[16], nf_conti[16], nf_def[16];
    double rss_ours = 0, rss_rp = 0, r;
    int hwm = 1;
    for (int i = 0; i < reps; i++) {
        unlink(ours);
        sync();
        long rss0 = status_kb("VmRSS:");
        hwm = hwm && reset_hwm();
        double t0 = bench_now();
        if (h5tier_persist(f, ours, NULL) < 0) {
            fprintf(stderr, "bench_curves: h5tier_persist: %s\n", h5tier_errmsg());
            exit(1);
        }
        t_ours[i] = bench_now() - t0;
        long hw = status_kb("VmHWM:");
        if (hwm && hw > rss0 && (double)(hw - rss0) * 1024 > rss_ours)
            rss_ours = (double)(hw - rss0) * 1024;
        unlink(ours);
        sync();
        t_def[i] = nf_def[i] = 1e30;
        if (deflt) {
            t_def[i] = repack_once(NULL, image, rp, &r, &nf_def[i]);
            rss_rp = r > rss_rp ? r : rss_rp;
        }
        t_conti[i] = nf_conti[i] = 1e30;
        if (conti) {
            sync();
            t_conti[i] = repack_once("CONTI", image, rp, &r, &nf_conti[i]);
            rss_rp = r > rss_rp ? r : rss_rp;
        }
        unlink(rp);
    }
    H5Fclose(f);
    unlink(image);
    double o = median(t_ours, reps), c = median(t_conti, reps), d = median(t_def, reps);
    double nc = median(nf_conti, reps), nd = median(nf_def, reps);
    const char *an = c <= d ? "h5repack -l CONTI + fsync" : "h5repack + fsync";
    char cs[160];
    snprintf(cs, sizeof cs, "persist %s: time vs h5repack", label);
    bench_result("curves", cs, o, "s", an, c <= d ? c : d, GOAL_LE, 1.0);
    snprintf(cs, sizeof cs, "persist %s: time vs h5repack, no fsync", label);
    bench_result("curves", cs, o, "s", nc <= nd ? "h5repack -l CONTI (no fsync)" : "h5repack (no fsync)",
                 nc <= nd ? nc : nd, GOAL_NONE, 0);
    if (hwm) {
        snprintf(cs, sizeof cs, "persist %s: peak RSS added vs h5repack's", label);
        bench_result("curves", cs, rss_ours / 1e6, "MB", "h5repack peak RSS", rss_rp / 1e6, GOAL_NONE, 0);
    }
}

/* ---- journal commit vs in-place floor ---------------------------------------- */

#define JPAGE 65536u

static void journal_point(uint64_t size, int reps)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/curves-journal-%d.h5", tmpdir, (int)getpid());
    unsigned char *img = malloc(size);
    if (!img) {
        fprintf(stderr, "bench_curves: out of memory\n");
        exit(1);
    }
    bench_fill(img, size, 3);
    memcpy(img, "\211HDF\r\n\032\n", 8);
    unlink(path);
    if (h5tier__backing_commit(path, img, size, NULL, 0, 0600, NULL) < 0) {
        fprintf(stderr, "bench_curves: first commit: %s\n", h5tier_errmsg());
        exit(1);
    }
    uint64_t npages = size / JPAGE, ndirty = npages / 100 ? npages / 100 : 1, step = npages / ndirty;
    h5tier_pagemap_t pm;
    h5tier__pagemap_init(&pm, JPAGE, size);
    double tj[16], tf[16];
    unsigned char *page = malloc(JPAGE);
    for (int i = 0; i < reps; i++) {
        /* ours: change 4 KiB in each of the 1% pages, mark them, commit */
        h5tier__pagemap_clear(&pm);
        for (uint64_t k = 0; k < ndirty; k++) {
            uint64_t off = k * step * JPAGE;
            bench_fill(img + off + 128, 4096, (uint64_t)i * 1000 + k);
            h5tier__pagemap_mark(&pm, off + 128, 4096);
        }
        h5tier_persist_stats_t st = {0};
        double t0 = bench_now();
        if (h5tier__backing_commit(path, img, size, &pm, 0, 0600, &st) < 0) {
            fprintf(stderr, "bench_curves: journal commit: %s\n", h5tier_errmsg());
            exit(1);
        }
        tj[i] = bench_now() - t0;
        if (st.full) {
            fprintf(stderr, "bench_curves: the commit was not a journal commit\n");
            exit(1);
        }
        /* floor: the same pages (same bytes) in place + one fsync */
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        t0 = bench_now();
        int ok = fd >= 0;
        for (uint64_t k = 0; k < ndirty && ok; k++) {
            uint64_t off = k * step * JPAGE;
            memcpy(page, img + off, JPAGE);
            ok = pwrite(fd, page, JPAGE, (off_t)off) == (ssize_t)JPAGE;
        }
        ok = ok && fsync(fd) == 0;
        tf[i] = bench_now() - t0;
        if (fd >= 0)
            close(fd);
        if (!ok) {
            fprintf(stderr, "bench_curves: floor write failed\n");
            exit(1);
        }
    }
    free(page);
    h5tier__pagemap_free(&pm);
    free(img);
    unlink(path);
    char cs[160], b[32];
    snprintf(cs, sizeof cs, "journal %s file, 1%% of 64 KiB pages: vs in-place floor", sz(size, b, sizeof b));
    bench_result("curves", cs, median(tj, reps), "s", "same pages in place + fsync", median(tf, reps), GOAL_LE, 2.0);
}

/* ---- shm load / save vs cp ------------------------------------------------------ */

static int make_h5(const char *path, uint64_t bytes)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return -1;
    hsize_t n = bytes;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const size_t blk = 8 << 20;
    unsigned char *buf = malloc(blk);
    for (hsize_t off = 0; off < bytes; off += blk) {
        hsize_t cnt = bytes - off < blk ? bytes - off : blk;
        bench_fill(buf, (size_t)cnt, off + 1);
        hid_t ms = H5Screate_simple(1, &cnt, NULL);
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
        H5Dwrite(d, H5T_NATIVE_UCHAR, ms, sp, H5P_DEFAULT, buf);
        H5Sclose(ms);
    }
    free(buf);
    H5Dclose(d);
    H5Sclose(sp);
    return H5Fclose(f) < 0 ? -1 : 0;
}

static void loadsave_point(uint64_t bytes, int reps)
{
    char file[PATH_MAX + 32], out[PATH_MAX + 32], name[64], cpdst[128], shmpath[128];
    snprintf(file, sizeof file, "%s/curves-load-%d.h5", tmpdir, (int)getpid());
    snprintf(out, sizeof out, "%s/curves-save-%d.h5", tmpdir, (int)getpid());
    snprintf(name, sizeof name, "h5tier-curves-%d", (int)getpid());
    snprintf(shmpath, sizeof shmpath, "/dev/shm/%s", name);
    snprintf(cpdst, sizeof cpdst, "/dev/shm/h5tier-curves-cp-%d", (int)getpid());
    if (make_h5(file, bytes) < 0) {
        fprintf(stderr, "bench_curves: cannot write %s\n", file);
        exit(1);
    }
    fsync_path(file);
    double tl[16], tc[16], ts[16], tcs[16], rl = 0, rc = 0, rs = 0, rcs = 0, r;
    int st;
    for (int i = 0; i < reps; i++) {
        char *rm[] = {cli, "shm", "rm", "--force", name, NULL};
        run_cmd(rm, &r, &st);
        char *load[] = {cli, "shm", "load", file, name, NULL};
        tl[i] = run_cmd(load, &r, &st);
        if (st != 0) {
            fprintf(stderr, "bench_curves: h5tier shm load failed (%d)\n", st);
            exit(1);
        }
        rl = r > rl ? r : rl;
        unlink(cpdst);
        char *cp[] = {"cp", file, cpdst, NULL};
        tc[i] = run_cmd(cp, &r, &st);
        rc = r > rc ? r : rc;
        unlink(cpdst);
        unlink(out);
        sync();
        char *save[] = {cli, "shm", "save", name, out, NULL};
        ts[i] = run_cmd(save, &r, &st);
        if (st != 0) {
            fprintf(stderr, "bench_curves: h5tier shm save failed (%d)\n", st);
            exit(1);
        }
        rs = r > rs ? r : rs;
        unlink(out);
        sync();
        char *cps[] = {"cp", shmpath, out, NULL};
        double t0 = bench_now();
        run_cmd(cps, &r, &st);
        fsync_path(out);
        tcs[i] = bench_now() - t0;
        rcs = r > rcs ? r : rcs;
        unlink(out);
    }
    char *rm[] = {cli, "shm", "rm", "--force", name, NULL};
    run_cmd(rm, &r, &st);
    unlink(file);
    char cs[160], b[32];
    sz(bytes, b, sizeof b);
    snprintf(cs, sizeof cs, "shm load %s: time vs cp", b);
    bench_result("curves", cs, median(tl, reps), "s", "cp FILE /dev/shm/X", median(tc, reps), GOAL_LE, 1.05);
    snprintf(cs, sizeof cs, "shm load %s: peak RSS vs cp", b);
    bench_result("curves", cs, rl / 1e6, "MB", "cp peak RSS", rc / 1e6, GOAL_NONE, 0);
    snprintf(cs, sizeof cs, "shm save %s: time vs cp + fsync", b);
    bench_result("curves", cs, median(ts, reps), "s", "cp /dev/shm/X OUT + fsync", median(tcs, reps), GOAL_LE, 1.05);
    snprintf(cs, sizeof cs, "shm save %s: peak RSS vs cp", b);
    bench_result("curves", cs, rs / 1e6, "MB", "cp peak RSS", rcs / 1e6, GOAL_NONE, 0);
}

/* ---- writer reopen of a backed shm object ---------------------------------------- */

/* Seconds for one writer H5Fopen + H5Fclose (no change) of the shm object
 * name backed by file; -1 on failure. */
static double writer_open_close(const char *name, const char *file)
{
    h5tier_shm_config_t cfg;
    h5tier_shm_config_init(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    snprintf(cfg.backing_file, sizeof cfg.backing_file, "%s", file);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_shm(fapl, &cfg);
    double t0 = bench_now();
    hid_t f = H5Fopen(name, H5F_ACC_RDWR, fapl);
    int ok = f >= 0 && H5Fclose(f) >= 0;
    double t = bench_now() - t0;
    H5Pclose(fapl);
    if (!ok)
        fprintf(stderr, "bench_curves: writer open of %s failed: %s\n", name, h5tier_errmsg());
    return ok ? t : -1;
}

/* At one size, alternated reps times: the first open (the object is loaded
 * from the backing file), a reopen (object and backing file agree: no full
 * commit), and a reopen after the backing file's ctime moved (utimensat: the
 * record is not believed, so the whole file is rewritten: what every reopen
 * cost before). */
static void reopen_point(uint64_t bytes, int reps)
{
    char file[PATH_MAX + 32], name[64], b[32], cs[128];
    snprintf(file, sizeof file, "%s/curves-reopen-%d.h5", tmpdir, (int)getpid());
    snprintf(name, sizeof name, "h5tier-curves-reopen-%d", (int)getpid());
    if (make_h5(file, bytes) < 0) {
        fprintf(stderr, "bench_curves: cannot make %s\n", file);
        return;
    }
    double tl[16], tr[16], tf[16];
    for (int i = 0; i < reps; i++) {
        h5tier_shm_remove(name, 1);
        tl[i] = writer_open_close(name, file);
        tr[i] = writer_open_close(name, file);
        utimensat(AT_FDCWD, file, NULL, 0); /* moves ctime: the record no longer matches */
        tf[i] = writer_open_close(name, file);
    }
    h5tier_shm_remove(name, 1);
    unlink(file);
    snprintf(cs, sizeof cs, "shm writer reopen %s: agreeing vs first open (load)", sz(bytes, b, sizeof b));
    bench_result("curves", cs, median(tr, reps), "s", "first open (load)", median(tl, reps), GOAL_NONE, 0);
    snprintf(cs, sizeof cs, "shm writer reopen %s: agreeing vs backing file touched", sz(bytes, b, sizeof b));
    bench_result("curves", cs, median(tr, reps), "s", "reopen with full commit (before)", median(tf, reps),
                 GOAL_NONE, 0);
}

int main(int argc, char **argv)
{
    int quick = bench_quick(argc, argv);
    const char *td = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s", td && *td ? td : "/tmp");
    /* the CLI: $H5TIER_CLI, else ../h5tier next to this program's directory */
    const char *c = getenv("H5TIER_CLI");
    if (c && *c) {
        snprintf(cli, sizeof cli, "%s", c);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
        snprintf(cli, sizeof cli, "%s/../h5tier", dirname(self));
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    start_spawner();
    const char *only = getenv("H5TIER_CURVES"); /* optional: "persist", "journal", "loadsave" or "reopen" */

    /* sizes: quick 1-128 MiB; full 32 MiB - 4 GiB; each curve >= 30x */
    static const uint64_t psz_q[] = {1 * MiB, 4 * MiB, 32 * MiB};
    static const uint64_t psz_f[] = {64 * MiB, 256 * MiB, 1024 * MiB, 4096 * MiB};
    static const int cnt_q[] = {30, 100, 1000};
    static const int cnt_f[] = {3000, 30000, 100000};
    static const uint64_t jsz_q[] = {4 * MiB, 16 * MiB, 128 * MiB};
    static const uint64_t jsz_f[] = {32 * MiB, 256 * MiB, 1024 * MiB, 4096 * MiB};
    static const uint64_t lsz_q[] = {1 * MiB, 4 * MiB, 32 * MiB};
    static const uint64_t lsz_f[] = {64 * MiB, 512 * MiB, 2048 * MiB};
    const uint64_t *psz = quick ? psz_q : psz_f, *jsz = quick ? jsz_q : jsz_f, *lsz = quick ? lsz_q : lsz_f;
    int np = quick ? 3 : 4, nj = quick ? 3 : 4, nl = 3;
    const int *cnt = quick ? cnt_q : cnt_f;
    char b[32], label[64];

    if (!only || !strcmp(only, "journal")) {
        for (int i = 0; i < nj; i++)
            journal_point(jsz[i], quick ? 5 : 7);
        bench_note("curves", "journal: h5tier__backing_commit (journal mode) of 1%% of the 64 KiB pages of a file "
                             "on %s (4 KiB changed in each, spread over the file) vs the same pages pwritten in "
                             "place + one fsync, alternated, median of %d; the floor keeps no crash guarantee",
                   tmpdir, quick ? 5 : 7);
    }
    if (!only || !strcmp(only, "persist")) {
        for (int i = 0; i < np; i++) {
            snprintf(label, sizeof label, "1 dataset %s", sz(psz[i], b, sizeof b));
            persist_point(psz[i], 0, 3, label);
        }
        for (int i = 0; i < 3; i++) {
            snprintf(label, sizeof label, "%d small datasets", cnt[i]);
            persist_point(0, cnt[i], quick || cnt[i] > 50000 ? 1 : 3, label);
        }
        bench_note("curves", "persist: shadow file in memory (core driver); one float32 dataset chunked 1024x1024 "
                             "unlimited, or N datasets of 4x10 int32 chunked 128x128; output on %s; time includes "
                             "the fsync on both sides (h5repack's output fsynced after it exits; the no-fsync rows "
                             "stop its clock when it exits); h5repack reads a saved image of the shadow (in the "
                             "page cache, not timed); -l CONTI only up to 512 MiB, the default layout only up to "
                             "10000 small datasets (each keeps a 64 KiB chunk); median of the runs; "
                             "h5repack peak RSS from wait4, ours = VmHWM growth during the persist",
                   tmpdir);
    }
    if (!only || !strcmp(only, "loadsave")) {
        if (access(cli, X_OK) != 0) {
            bench_note("curves", "load/save skipped: no h5tier CLI at %s (set H5TIER_CLI)", cli);
        } else {
            for (int i = 0; i < nl; i++)
                loadsave_point(lsz[i], 3);
            bench_note("curves", "load/save: the h5tier CLI and cp run as child processes (time and peak RSS "
                                 "from wait4); the source file is in the page cache; save and its anchor end "
                                 "with the output fsynced; median of 3");
        }
    }
    if (!only || !strcmp(only, "reopen")) {
        static const uint64_t rsz_q[] = {4 * MiB, 32 * MiB, 128 * MiB};
        static const uint64_t rsz_f[] = {64 * MiB, 512 * MiB, 2048 * MiB};
        for (int i = 0; i < 3; i++)
            reopen_point(quick ? rsz_q[i] : rsz_f[i], quick ? 3 : 5);
        bench_note("curves", "reopen: a writer H5Fopen + H5Fclose without change of a backed shm object; backing "
                             "file on %s; the full-commit anchor is the same reopen after utimensat on the backing "
                             "file (the close's record then no longer matches: temp + fsync + rename of the whole "
                             "file, which every reopen did before); alternated, median",
                   tmpdir);
    }
    return 0;
}
