/*
 * bench/bench_ring.c -- the live ring against its anchors, side by side in
 * one run (issue 3):
 *
 *   1. Writer rate for records of 64 B, 4 KiB and 1 MiB (single puts; 64 B
 *      also in batches of 64) with 0, 1 and 2 reader processes following it
 *      (lossy readers copying batches out, fork+exec of this program, pinned
 *      to the other core when there is one; the writer is pinned to core 0),
 *      and the readers' rates (records received + lost per second).  Also,
 *      without readers, zero-copy batches (claim_many + fill in place +
 *      commit_many) of 64 x 64 B against put_many x64, and of 4 x 1 MiB
 *      against the bare memcpy ring.
 *   2. Writer-to-reader latency: a reader process spinning on its own core,
 *      the writer putting one 64 B record with a CLOCK_MONOTONIC timestamp
 *      every ~2 us; p50 / p99 / p99.9.
 *   3. Anchors in the same run: H5PTappend of one 64 B record per call and
 *      of 1024 per call (a file in /dev/shm through sec2, so no disk is
 *      involved), a bare memcpy ring (same geometry, private memory,
 *      no protocol: the limit), and a bare shared ring (a tail counter and
 *      64 B slots in a shared mapping; the writer copies a record and
 *      release-stores the tail, the reader spins on the tail with acquire
 *      loads) measured with exactly the method of 1 and 2: same process
 *      layout, pinning, clock, record size, send interval and sample count,
 *      so the latency tail and the reader's cost to the writer can be split
 *      into "this machine" and "our protocol".
 *
 * Goals: 64 B single puts >= 50 M/s and >= 100x H5PTappend one per call;
 * p99 <= 0.5 us; 1 MiB records >= 0.7x the bare memcpy ring; writer with one
 * reader >= 0.9x writer alone.
 *
 *   bench_ring [--quick]
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "benchutil.h"
#include "h5tier_ring.h"

static int quick;
static int ncpu;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
    if (ncpu < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % ncpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_ring: %s: %s (%s)\n", what, h5tier_strerror(err), h5tier_errmsg());
    exit(1);
}

static pid_t spawn(char *const argv[])
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    return pid;
}

static void wait_file(const char *path)
{
    struct stat st;
    for (int i = 0; i < 20000 && stat(path, &st) < 0; i++)
        usleep(500);
}

/* ---- reader processes ------------------------------------------------------------- */

/* Follow the ring from the latest record until nothing comes for 300 ms;
 * write "records lost seconds" to out. */
static int reader_main(const char *name, const char *out, int cpu)
{
    pin(cpu);
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_LATEST;
    ro.spin_us = 1000000;
    if (getenv("H5TIER_BENCH_BATCH_WAIT"))
        ro.batch_wait_ns = atoi(getenv("H5TIER_BENCH_BATCH_WAIT"));
    h5tier_ring_reader_t *r;
    int rc = h5tier_ring_reader_open(name, NULL, &ro, &r);
    if (rc < 0)
        die("reader open", rc);
    size_t rs = h5tier_ring_reader_record_size(r);
    size_t batch = rs >= 65536 ? 1 : 65536 / rs;
    char *buf = malloc(rs * batch);
    char ready[512];
    snprintf(ready, sizeof ready, "%s.ready", out);
    FILE *f = fopen(ready, "w");
    fclose(f);
    uint64_t t0 = 0, t1 = 0, got = 0;
    for (;;) {
        uint64_t first;
        long n = h5tier_ring_next_many(r, buf, batch, rs * batch, &first, got ? 300 : 30000);
        if (n < 0)
            break;
        if (!got)
            t0 = now_ns();
        got += (uint64_t)n;
        t1 = now_ns();
    }
    h5tier_ring_reader_stats_t st;
    h5tier_ring_reader_stats(r, &st);
    f = fopen(out, "w");
    fprintf(f, "%" PRIu64 " %" PRIu64 " %.9f\n", st.records, st.lost, (double)(t1 - t0) / 1e9);
    fclose(f);
    h5tier_ring_reader_close(r);
    free(buf);
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Latency reader: spin on the ring, record now - timestamp of every record. */
static int lat_main(const char *name, const char *out, uint64_t count, int cpu)
{
    pin(cpu);
    h5tier_ring_reader_opts_t ro;
    h5tier_ring_reader_opts_init(&ro);
    ro.from = H5TIER_RING_FROM_LATEST;
    ro.spin_us = 100000000;
    if (getenv("H5TIER_BENCH_BATCH_WAIT")) /* to compare with the reader's batching off */
        ro.batch_wait_ns = atoi(getenv("H5TIER_BENCH_BATCH_WAIT"));
    h5tier_ring_reader_t *r;
    int rc = h5tier_ring_reader_open(name, NULL, &ro, &r);
    if (rc < 0)
        die("latency reader open", rc);
    uint32_t *lat = calloc(count, sizeof *lat);
    char ready[512];
    snprintf(ready, sizeof ready, "%s.ready", out);
    FILE *f = fopen(ready, "w");
    fclose(f);
    uint64_t n = 0;
    unsigned char rec[64];
    while (n < count) {
        uint64_t seq;
        if (h5tier_ring_next(r, rec, sizeof rec, &seq, 5000) < 0)
            break;
        uint64_t t = now_ns(), ts;
        memcpy(&ts, rec + 8, 8);
        lat[n++] = t > ts ? (uint32_t)(t - ts < UINT32_MAX ? t - ts : UINT32_MAX) : 0;
    }
    qsort(lat, n, sizeof *lat, cmp_u32);
    f = fopen(out, "w");
    if (n)
        fprintf(f, "%" PRIu64 " %u %u %u\n", n, lat[n / 2], lat[n * 99 / 100], lat[n * 999 / 1000]);
    else
        fprintf(f, "0 0 0 0\n");
    fclose(f);
    h5tier_ring_reader_close(r);
    free(lat);
    return 0;
}


/* ---- the bare shared ring (the limit for latency and reader slowdown) ------------ */

/* Tail counter on its own cache line, a done flag on another, then the slots. */
typedef struct bare_hdr {
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic int done;
} bare_hdr_t;
#define BARE_SLOTS_OFF 128

typedef struct bare {
    bare_hdr_t *h;
    unsigned char *slots;
    size_t len, rs;
    uint64_t cap;
} bare_t;

static void bare_map(bare_t *b, const char *path, size_t rs, uint64_t cap, int create)
{
    b->rs = rs;
    b->cap = cap;
    b->len = BARE_SLOTS_OFF + rs * cap;
    int fd = open(path, create ? O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC : O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 || (create && ftruncate(fd, (off_t)b->len) < 0)) {
        perror(path);
        exit(1);
    }
    void *p = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    b->h = p;
    b->slots = (unsigned char *)p + BARE_SLOTS_OFF;
    if (create)
        bench_fill(b->slots, rs * cap, 3); /* no first-touch faults while measuring */
    else
        for (size_t off = 0; off < rs * cap; off += 4096) /* fault the reader's pages in too */
            (void)*(volatile unsigned char *)(b->slots + off);
}

static void bare_put(bare_t *b, uint64_t *n, const void *rec)
{
    memcpy(b->slots + (*n & (b->cap - 1)) * b->rs, rec, b->rs);
    ++*n;
    atomic_store_explicit(&b->h->tail, *n, memory_order_release);
}

static void touch_ready(const char *out)
{
    char ready[512];
    snprintf(ready, sizeof ready, "%s.ready", out);
    FILE *f = fopen(ready, "w");
    if (f)
        fclose(f);
}

/* Bare latency reader: same as lat_main, on the bare ring. */
static int bare_lat_main(const char *path, const char *out, uint64_t count, int cpu)
{
    pin(cpu);
    bare_t b;
    bare_map(&b, path, 64, 1u << 16, 0);
    uint32_t *lat = calloc(count, sizeof *lat);
    uint64_t next = atomic_load_explicit(&b.h->tail, memory_order_acquire);
    touch_ready(out);
    uint64_t n = 0;
    unsigned char rec[64];
    while (n < count) {
        uint64_t tail = atomic_load_explicit(&b.h->tail, memory_order_acquire);
        if (tail == next) {
            if (atomic_load_explicit(&b.h->done, memory_order_relaxed))
                break;
            continue;
        }
        memcpy(rec, b.slots + (next & (b.cap - 1)) * 64, 64);
        next++;
        uint64_t t = now_ns(), ts;
        memcpy(&ts, rec + 8, 8);
        lat[n++] = t > ts ? (uint32_t)(t - ts < UINT32_MAX ? t - ts : UINT32_MAX) : 0;
    }
    qsort(lat, n, sizeof *lat, cmp_u32);
    FILE *f = fopen(out, "w");
    if (n)
        fprintf(f, "%" PRIu64 " %u %u %u\n", n, lat[n / 2], lat[n * 99 / 100], lat[n * 999 / 1000]);
    else
        fprintf(f, "0 0 0 0\n");
    fclose(f);
    free(lat);
    munmap(b.h, b.len);
    return 0;
}

/* Bare throughput reader: like reader_main (lossy, copies up to 64 KiB per
 * batch out, validates once per batch against the tail, counts what it was
 * lapped out of as lost); stops when the writer sets done. */
static int bare_reader_main(const char *path, const char *out, size_t rs, uint64_t cap, int cpu)
{
    pin(cpu);
    bare_t b;
    bare_map(&b, path, rs, cap, 0);
    size_t batch = rs >= 65536 ? 1 : 65536 / rs;
    unsigned char *buf = malloc(rs * batch);
    uint64_t next = atomic_load_explicit(&b.h->tail, memory_order_acquire);
    touch_ready(out);
    uint64_t t0 = 0, t1 = 0, got = 0, lost = 0;
    for (;;) {
        uint64_t tail = atomic_load_explicit(&b.h->tail, memory_order_acquire);
        if (tail == next) {
            if (atomic_load_explicit(&b.h->done, memory_order_relaxed))
                break;
            continue;
        }
        if (!got && !lost)
            t0 = now_ns();
        if (tail - next > cap) { /* lapped: jump to the oldest record still there */
            lost += tail - next - cap;
            next = tail - cap;
        }
        uint64_t n = tail - next < batch ? tail - next : batch;
        for (uint64_t k = 0; k < n;) { /* at most two runs: up to the end, then from the start */
            uint64_t slot = (next + k) & (cap - 1), run = cap - slot < n - k ? cap - slot : n - k;
            memcpy(buf + k * rs, b.slots + slot * rs, run * rs);
            k += run;
        }
        atomic_thread_fence(memory_order_acquire);
        uint64_t t2 = atomic_load_explicit(&b.h->tail, memory_order_relaxed);
        /* records with seq <= t2 - cap may have been overwritten while we copied */
        uint64_t bad = t2 >= cap && t2 - cap + 1 > next ? t2 - cap + 1 - next : 0;
        if (bad > n)
            bad = n;
        lost += bad;
        got += n - bad;
        next += n;
        t1 = now_ns();
    }
    FILE *f = fopen(out, "w");
    fprintf(f, "%" PRIu64 " %" PRIu64 " %.9f\n", got, lost, (double)(t1 - t0) / 1e9);
    fclose(f);
    free(buf);
    munmap(b.h, b.len);
    return 0;
}

/* ---- the writer side ------------------------------------------------------------------ */

static char tmpdir[128];

static void make_ring(const char *name, size_t rs, uint64_t cap)
{
    char spec[64];
    snprintf(spec, sizeof spec, "u1[%zu]", rs);
    h5tier_ring_stream_spec_t s;
    int rc = h5tier_ring_stream_from_dtype(&s, "data", spec, cap);
    if (rc < 0)
        die("spec", rc);
    rc = h5tier_ring_create(name, &s, 1, 0, H5TIER_RING_CREATE_FORCE);
    if (rc < 0)
        die("create", rc);
    h5tier_ring_stream_spec_free(&s);
}

typedef struct wres {
    double rate;        /* records/s */
    double reader_rate; /* mean over readers: (records + lost) / s */
    double reader_lost; /* fraction lost */
} wres_t;

/* Write for `secs` seconds with `nreaders` reader processes; batch 1 = put. */
static wres_t run_writer(const char *name, size_t rs, int nreaders, size_t batch, double secs)
{
    wres_t res = {0, 0, 0};
    pid_t pids[2];
    char outs[2][200];
    for (int i = 0; i < nreaders; i++) {
        snprintf(outs[i], sizeof outs[i], "%s/reader%d-%d", tmpdir, i, getpid());
        char ready[320];
        snprintf(ready, sizeof ready, "%.200s.ready", outs[i]);
        unlink(ready);
        unlink(outs[i]);
        char *argv[] = {"bench_ring", "reader", (char *)name, outs[i], "1", NULL};
        pids[i] = spawn(argv);
        wait_file(ready);
    }
    h5tier_ring_t *w;
    int rc = h5tier_ring_open_writer(name, NULL, &w);
    if (rc < 0)
        die("open writer", rc);
    char *src = malloc(rs * batch);
    bench_fill(src, rs * batch, 7);
    uint64_t n = 0, t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), t = t0;
    unsigned check = rs >= 65536 ? 1 : rs >= 4096 ? 64 : 4096;
    for (;;) {
        for (unsigned k = 0; k < check; k++) {
            rc = batch == 1 ? h5tier_ring_put(w, 0, src, rs) : h5tier_ring_put_many(w, 0, src, batch, rs);
            if (rc < 0)
                die("put", rc);
        }
        n += (uint64_t)check * batch;
        t = now_ns();
        if (t >= end)
            break;
    }
    res.rate = (double)n / ((double)(t - t0) / 1e9);
    h5tier_ring_close(w);
    free(src);
    for (int i = 0; i < nreaders; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        FILE *f = fopen(outs[i], "r");
        uint64_t recs = 0, lost = 0;
        double dt = 0;
        if (f && fscanf(f, "%" SCNu64 " %" SCNu64 " %lf", &recs, &lost, &dt) == 3 && dt > 0) {
            res.reader_rate += (double)(recs + lost) / dt / nreaders;
            res.reader_lost += (double)lost / (double)(recs + lost ? recs + lost : 1) / nreaders;
        }
        if (f)
            fclose(f);
        unlink(outs[i]);
        char ready[320];
        snprintf(ready, sizeof ready, "%.200s.ready", outs[i]);
        unlink(ready);
    }
    return res;
}

/* The zero-copy batch writer alone: claim_many up to `batch` records, fill
 * the claimed run in place, commit_many them.  Records/s.  The fill stands
 * for a DMA engine writing the burst and copies from a source like the
 * anchor's: small records as one memcpy of the run from a burst of `batch`
 * records (as put_many copies), records >= 64 KiB one memcpy per record
 * from one source record (as put and the bare memcpy ring do, so the
 * source stays in cache alike). */
static double run_claimer(const char *name, size_t rs, size_t batch, double secs)
{
    h5tier_ring_t *w;
    int rc = h5tier_ring_open_writer(name, NULL, &w);
    if (rc < 0)
        die("open writer", rc);
    size_t srcn = rs >= 65536 ? 1 : batch;
    char *src = malloc(rs * srcn);
    bench_fill(src, rs * srcn, 7);
    uint64_t n = 0, t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), t = t0;
    unsigned check = rs >= 4096 ? 1 : 64;
    for (;;) {
        for (unsigned k = 0; k < check; k++) {
            void *slots;
            uint64_t first;
            long got = h5tier_ring_claim_many(w, 0, batch, &slots, &first);
            if (got < 0)
                die("claim_many", (int)got);
            if (srcn == 1)
                for (long i = 0; i < got; i++)
                    memcpy((char *)slots + (size_t)i * rs, src, rs);
            else
                memcpy(slots, src, (size_t)got * rs);
            rc = h5tier_ring_commit_many(w, 0, (size_t)got);
            if (rc < 0)
                die("commit_many", rc);
            n += (uint64_t)got;
        }
        t = now_ns();
        if (t >= end)
            break;
    }
    h5tier_ring_close(w);
    free(src);
    return (double)n / ((double)(t - t0) / 1e9);
}

/* The bare shared ring's writer, measured like run_writer (same check
 * interval, same reader process layout); nreaders is 0 or 1. */
static wres_t bare_run_writer(size_t rs, uint64_t cap, int nreaders, double secs)
{
    wres_t res = {0, 0, 0};
    char path[128], out[200], ready[320];
    snprintf(path, sizeof path, "/dev/shm/h5tier-bench-bare-%d", getpid());
    bare_t b;
    bare_map(&b, path, rs, cap, 1);
    pid_t pid = -1;
    snprintf(out, sizeof out, "%s/bare-reader-%d", tmpdir, getpid());
    snprintf(ready, sizeof ready, "%s.ready", out);
    if (nreaders) {
        unlink(ready);
        unlink(out);
        char rsb[32], capb[32];
        snprintf(rsb, sizeof rsb, "%zu", rs);
        snprintf(capb, sizeof capb, "%" PRIu64, cap);
        char *argv[] = {"bench_ring", "bare-reader", path, out, rsb, capb, "1", NULL};
        pid = spawn(argv);
        wait_file(ready);
    }
    char *src = malloc(rs);
    bench_fill(src, rs, 7);
    uint64_t n = 0, t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), t = t0;
    unsigned check = rs >= 65536 ? 1 : rs >= 4096 ? 64 : 4096;
    for (;;) {
        for (unsigned k = 0; k < check; k++)
            bare_put(&b, &n, src);
        t = now_ns();
        if (t >= end)
            break;
    }
    res.rate = (double)n / ((double)(t - t0) / 1e9);
    atomic_store_explicit(&b.h->done, 1, memory_order_release);
    free(src);
    if (nreaders) {
        int st;
        waitpid(pid, &st, 0);
        FILE *f = fopen(out, "r");
        uint64_t recs = 0, lost = 0;
        double dt = 0;
        if (f && fscanf(f, "%" SCNu64 " %" SCNu64 " %lf", &recs, &lost, &dt) == 3 && dt > 0) {
            res.reader_rate = (double)(recs + lost) / dt;
            res.reader_lost = (double)lost / (double)(recs + lost ? recs + lost : 1);
        }
        if (f)
            fclose(f);
        unlink(out);
        unlink(ready);
    }
    munmap(b.h, b.len);
    unlink(path);
    return res;
}

/* The limit: the same ring geometry in private memory, no protocol, no reader. */
static double bare_ring(size_t rs, uint64_t cap, double secs)
{
    char *ring = malloc(rs * cap), *src = malloc(rs);
    bench_fill(ring, rs * cap, 3);
    bench_fill(src, rs, 7);
    volatile uint64_t pos_pub = 0;
    uint64_t n = 0, t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), t = t0;
    unsigned check = rs >= 65536 ? 1 : rs >= 4096 ? 64 : 4096;
    for (;;) {
        for (unsigned k = 0; k < check; k++) {
            memcpy(ring + (n & (cap - 1)) * rs, src, rs);
            n++;
            pos_pub = n;
            __asm__ __volatile__("" ::: "memory");
        }
        t = now_ns();
        if (t >= end)
            break;
    }
    (void)pos_pub;
    free(ring);
    free(src);
    return (double)n / ((double)(t - t0) / 1e9);
}

/* H5PTappend of 64 B records, `per_call` per call, into a file on /dev/shm (sec2). */
static double h5pt_rate(size_t per_call, double secs)
{
    char path[300];
    snprintf(path, sizeof path, "/dev/shm/h5tier-bench-pt-%d.h5", getpid());
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d = 64;
    hid_t t = H5Tarray_create2(H5T_NATIVE_UCHAR, 1, &d);
    hid_t pt = H5PTcreate(f, "events", t, 1024, H5P_DEFAULT);
    char *buf = malloc(64 * per_call);
    bench_fill(buf, 64 * per_call, 5);
    uint64_t n = 0, t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9), now = t0;
    uint64_t max = quick ? 4000000 : 40000000; /* keep the file small */
    while (now < end && n < max) {
        for (int k = 0; k < 16; k++)
            H5PTappend(pt, per_call, buf);
        n += 16 * per_call;
        now = now_ns();
    }
    H5PTclose(pt);
    H5Tclose(t);
    H5Fclose(f);
    unlink(path);
    free(buf);
    return (double)n / ((double)(now - t0) / 1e9);
}

/* Writer-to-reader latency on our ring (bare = 0) or on the bare shared ring
 * (bare = 1), with the same writer loop, interval, pinning and reader layout. */
static void latency(const char *name, uint64_t count, double out[3], int bare)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/h5tier-bench-bare-%d", getpid());
    bare_t b;
    if (bare)
        bare_map(&b, path, 64, 1u << 16, 1);
    else
        make_ring(name, 64, 1u << 16);
    char res[200], ready[320];
    snprintf(res, sizeof res, "%s/lat-%d", tmpdir, getpid());
    snprintf(ready, sizeof ready, "%s.ready", res);
    unlink(ready);
    char cnt[32];
    snprintf(cnt, sizeof cnt, "%" PRIu64, count);
    char *argv[] = {"bench_ring", bare ? "bare-lat" : "lat", bare ? path : (char *)name, res, cnt, "1", NULL};
    pid_t pid = spawn(argv);
    wait_file(ready);
    h5tier_ring_t *w = NULL;
    if (!bare) {
        int rc = h5tier_ring_open_writer(name, NULL, &w);
        if (rc < 0)
            die("open writer", rc);
    }
    unsigned char rec[64];
    memset(rec, 0x5a, sizeof rec);
    uint64_t gap = ncpu >= 2 ? 2000 : 20000, bn = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t t = now_ns();
        memcpy(rec, &i, 8);
        memcpy(rec + 8, &t, 8);
        if (bare)
            bare_put(&b, &bn, rec);
        else
            h5tier_ring_put(w, 0, rec, sizeof rec);
        while (now_ns() - t < gap)
            ;
    }
    if (bare)
        atomic_store_explicit(&b.h->done, 1, memory_order_release);
    int st;
    waitpid(pid, &st, 0);
    if (bare) {
        munmap(b.h, b.len);
        unlink(path);
    } else {
        h5tier_ring_close(w);
    }
    FILE *f = fopen(res, "r");
    uint64_t n = 0;
    unsigned p50 = 0, p99 = 0, p999 = 0;
    if (f) {
        if (fscanf(f, "%" SCNu64 " %u %u %u", &n, &p50, &p99, &p999) != 4)
            n = 0;
        fclose(f);
    }
    unlink(res);
    unlink(ready);
    out[0] = p50 / 1000.0;
    out[1] = p99 / 1000.0;
    out[2] = p999 / 1000.0;
}

int main(int argc, char **argv)
{
    ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (argc >= 5 && !strcmp(argv[1], "reader"))
        return reader_main(argv[2], argv[3], atoi(argv[4]));
    if (argc >= 6 && !strcmp(argv[1], "lat"))
        return lat_main(argv[2], argv[3], strtoull(argv[4], NULL, 10), atoi(argv[5]));
    if (argc >= 6 && !strcmp(argv[1], "bare-lat"))
        return bare_lat_main(argv[2], argv[3], strtoull(argv[4], NULL, 10), atoi(argv[5]));
    if (argc >= 7 && !strcmp(argv[1], "bare-reader"))
        return bare_reader_main(argv[2], argv[3], strtoull(argv[4], NULL, 10), strtoull(argv[5], NULL, 10),
                                atoi(argv[6]));
    quick = bench_quick(argc, argv);
    if (argc >= 2 && !strcmp(argv[argc - 1], "--latency-only")) { /* for looking at latency alone */
        char nm[64];
        snprintf(nm, sizeof nm, "h5tier-bench-ring-%d", getpid());
        snprintf(tmpdir, sizeof tmpdir, "/tmp/h5tier-bench-ring-%d", getpid());
        mkdir(tmpdir, 0700);
        pin(0);
        double l[3], lb[3];
        uint64_t cnt = quick ? 100000 : 1000000;
        latency(nm, cnt, l, 0);
        latency(nm, cnt, lb, 1);
        printf("latency p50 %.3f us, p99 %.3f us, p99.9 %.3f us\n", l[0], l[1], l[2]);
        printf("bare ring, same run: p50 %.3f us, p99 %.3f us, p99.9 %.3f us\n", lb[0], lb[1], lb[2]);
        h5tier_ring_remove(nm, 1);
        rmdir(tmpdir);
        return 0;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/h5tier-bench-ring-%d", getpid());
    mkdir(tmpdir, 0700);
    pin(0);
    char name[64];
    snprintf(name, sizeof name, "h5tier-bench-ring-%d", getpid());
    double secs = quick ? 0.4 : 2.0;
    const char *S = "ring";

    /* anchors first */
    double pt1 = h5pt_rate(1, secs), pt1024 = h5pt_rate(1024, secs);

    static const struct {
        size_t rs;
        uint64_t cap;
        const char *label;
    } sizes[] = {{64, 1u << 16, "64 B"}, {4096, 1024, "4 KiB"}, {1u << 20, 32, "1 MiB"}};
    wres_t r[3][3], bshm0 = {0, 0, 0}, bshm1 = {0, 0, 0};
    double bare[3];
    for (int s = 0; s < 3; s++) {
        make_ring(name, sizes[s].rs, sizes[s].cap);
        for (int nr = 1; nr < 3; nr++)
            r[s][nr] = run_writer(name, sizes[s].rs, nr, 1, secs);
        /* alone vs the bare ring: interleaved, best of 3, so that load from
           other processes hits both alike */
        bare[s] = 0;
        r[s][0].rate = 0;
        for (int rep = 0; rep < 3; rep++) {
            wres_t w0 = run_writer(name, sizes[s].rs, 0, 1, secs / 3);
            double b = bare_ring(sizes[s].rs, sizes[s].cap, secs / 3);
            if (w0.rate > r[s][0].rate)
                r[s][0] = w0;
            if (b > bare[s])
                bare[s] = b;
            if (s == 0) { /* the bare shared ring alone, measured the same way */
                wres_t bs = bare_run_writer(64, sizes[0].cap, 0, secs / 3);
                if (bs.rate > bshm0.rate)
                    bshm0 = bs;
            }
        }
        if (s == 0) /* and with one spinning reader, like r[0][1] */
            bshm1 = bare_run_writer(64, sizes[0].cap, 1, secs);
    }
    make_ring(name, 64, 1u << 16);
    wres_t b64 = run_writer(name, 64, 0, 64, secs);
    wres_t b64r = run_writer(name, 64, 1, 64, secs);
    double c64 = run_claimer(name, 64, 64, secs);
    make_ring(name, sizes[2].rs, sizes[2].cap);
    double c1m = run_claimer(name, sizes[2].rs, 4, secs);
    double lat[3], blat[3];
    latency(name, quick ? 100000 : 1000000, lat, 0);
    latency(name, quick ? 100000 : 1000000, blat, 1);
    h5tier_ring_remove(name, 1);
    rmdir(tmpdir);

    char c[128];
    /* 64 B single puts */
    bench_result(S, "put 64 B, no reader (M records/s)", r[0][0].rate / 1e6, "M/s", "H5PTappend 1 per call",
                 pt1 / 1e6, GOAL_GE, 100);
    bench_result(S, "put 64 B, no reader vs 50 M/s goal", r[0][0].rate / 1e6, "M/s", "goal 50 M/s", 50, GOAL_GE, 1.0);
    bench_result(S, "put 64 B, no reader vs bare memcpy ring", r[0][0].rate / 1e6, "M/s", "bare memcpy ring",
                 bare[0] / 1e6, GOAL_NONE, 0);
    bench_result(S, "put_many 64 B x64, no reader", b64.rate / 1e6, "M/s", "H5PTappend 1024 per call",
                 pt1024 / 1e6, GOAL_NONE, 0);
    bench_result(S, "claim_many 64 B x64, no reader", c64 / 1e6, "M/s", "put_many 64 B x64, no reader",
                 b64.rate / 1e6, GOAL_NONE, 0);
    bench_result(S, "claim_many 1 MiB x4, no reader", c1m * 1048576 / 1e9, "GB/s", "bare memcpy ring",
                 bare[2] * 1048576 / 1e9, GOAL_NONE, 0);
    bench_result(S, "put_many 64 B x64, 1 reader vs none", b64r.rate / 1e6, "M/s", "put_many, no reader",
                 b64.rate / 1e6, GOAL_NONE, 0);
    for (int s = 0; s < 3; s++) {
        double mb = (double)sizes[s].rs / 1e6;
        snprintf(c, sizeof c, "put %s, 1 reader vs none", sizes[s].label);
        bench_result(S, c, r[s][1].rate * mb / 1e3, "GB/s", "same, no reader", r[s][0].rate * mb / 1e3,
                     s == 0 ? GOAL_GE : GOAL_NONE, s == 0 ? 0.9 : 0);
        snprintf(c, sizeof c, "put %s, 2 readers vs none", sizes[s].label);
        bench_result(S, c, r[s][2].rate * mb / 1e3, "GB/s", "same, no reader", r[s][0].rate * mb / 1e3, GOAL_NONE, 0);
        snprintf(c, sizeof c, "put %s, no reader vs bare memcpy ring", sizes[s].label);
        bench_result(S, c, r[s][0].rate * mb / 1e3, "GB/s", "bare memcpy ring", bare[s] * mb / 1e3,
                     s == 2 ? GOAL_GE : GOAL_NONE, s == 2 ? 0.7 : 0);
        snprintf(c, sizeof c, "reader %s (1 reader; received+lost)", sizes[s].label);
        bench_result(S, c, r[s][1].reader_rate * mb / 1e3, "GB/s", "writer rate", r[s][1].rate * mb / 1e3, GOAL_NONE,
                     0);
        snprintf(c, sizeof c, "reader %s (2 readers, each)", sizes[s].label);
        bench_result(S, c, r[s][2].reader_rate * mb / 1e3, "GB/s", "writer rate", r[s][2].rate * mb / 1e3, GOAL_NONE,
                     0);
    }
    bench_result(S, "bare shm ring 64 B, 1 reader vs none", bshm1.rate * 64 / 1e9, "GB/s",
                 "same, no reader", bshm0.rate * 64 / 1e9, GOAL_NONE, 0);
    bench_result(S, "put 64 B, 1 reader vs bare shm ring, 1 reader", r[0][1].rate * 64 / 1e9, "GB/s",
                 "bare shm ring, 1 reader", bshm1.rate * 64 / 1e9, GOAL_NONE, 0);
    bench_result(S, "writer-to-reader latency p50 (64 B)", lat[0], "us", "bare ring, same run", blat[0], GOAL_NONE, 0);
    bench_result(S, "writer-to-reader latency p99 (64 B)", lat[1], "us", "bare ring, same run", blat[1], GOAL_NONE, 0);
    bench_result(S, "writer-to-reader latency p99.9 (64 B)", lat[2], "us", "bare ring, same run", blat[2], GOAL_NONE,
                 0);
    bench_result(S, "writer-to-reader latency p99 (64 B) vs goal", lat[1], "us", "goal 0.5 us", 0.5, GOAL_LE, 1.0);
    bench_result(S, "bare ring latency p99 (64 B, limit) vs goal", blat[1], "us", "goal 0.5 us", 0.5,
                 GOAL_NONE, 0);
    bench_result(S, "latency p99 (64 B) vs Chronicle Queue", lat[1], "us", "Chronicle Queue p99 0.78 us",
                 0.78, GOAL_NONE, 0);
    bench_note(S,
               "%d CPUs; writer pinned to CPU 0, readers to CPU 1 (2 readers share it). Readers are lossy and copy "
               "batches out (up to 64 KiB per call); their loss fraction: 64 B %.0f%%/%.0f%%, 4 KiB %.0f%%/%.0f%%, "
               "1 MiB %.0f%%/%.0f%% (1/2 readers). H5PTappend writes to a file in /dev/shm through sec2 (no disk). "
               "Latency: writer puts a timestamped record every ~2 us, reader spins.",
               ncpu, 100 * r[0][1].reader_lost, 100 * r[0][2].reader_lost, 100 * r[1][1].reader_lost,
               100 * r[1][2].reader_lost, 100 * r[2][1].reader_lost, 100 * r[2][2].reader_lost);
    char why[600], slow[400];
    if (lat[0] > blat[0] || lat[1] > blat[1])
        snprintf(why, sizeof why,
                 "Ours minus bare: p50 %+.3f us, p99 %+.3f us; a positive part is the protocol's (candidates: the "
                 "writer's two stores per record, tail_intent then tail, to the line the reader spins on, where the "
                 "bare ring stores once; the reader's validation and statistics slot).",
                 lat[0] - blat[0], lat[1] - blat[1]);
    else
        snprintf(why, sizeof why, "Ours is at or below the bare ring at p50 and p99 in this run (within its noise).");
    bench_note(S,
               "Bare shared ring measured in the same run with the same method (tail counter + 64 B slots in a "
               "shared mapping, prefaulted like ours, writer copies then release-stores the tail, reader process "
               "spins on the tail on the other core): latency p50 %.3f / p99 %.3f / p99.9 %.3f us (ours %.3f / "
               "%.3f / %.3f). %s %s Both tails move with the host's noise from run to run (p99 0.5-10 us seen "
               "here), so only the same-run comparison means anything.",
               blat[0], blat[1], blat[2], lat[0], lat[1], lat[2],
               blat[1] > 0.5 ? "The bare ring's own p99 is above the 0.5 us goal, so in this run the goal is out of "
                               "reach of any ring on this machine: the tail is the machine (host preemption of the "
                               "vCPUs, timer ticks), not the protocol."
                             : "The bare ring meets the 0.5 us p99 goal in this run.",
               why);
    double our_ratio = r[0][0].rate > 0 ? r[0][1].rate / r[0][0].rate : 0;
    double bare_ratio = bshm0.rate > 0 ? bshm1.rate / bshm0.rate : 0;
    snprintf(slow, sizeof slow, "%s%s",
             our_ratio >= bare_ratio ? "Our ratio is the better one: relative to its own rate alone, a spinning "
                                       "reader costs our writer no more than it costs the bare ring."
                                     : "The bare ring keeps more of its rate with a reader than ours does (a "
                                       "candidate: our second per-record store, tail_intent, to the line the "
                                       "reader polls).",
             bare_ratio < 0.9 ? " The bare ring itself loses more than 10% with one reader here, so the 0.9 goal is "
                                "out of reach of a ring that publishes every record on this machine."
                              : "");
    bench_note(S,
               "Reader slowdown, 64 B puts, same run: ours %.1f -> %.1f M/s with one reader (x%.2f), the bare shared "
               "ring %.1f -> %.1f M/s (x%.2f; its reader lost %.0f%%). %s",
               r[0][0].rate / 1e6, r[0][1].rate / 1e6, our_ratio, bshm0.rate / 1e6, bshm1.rate / 1e6, bare_ratio,
               100 * bshm1.reader_lost, slow);
    return 0;
}
